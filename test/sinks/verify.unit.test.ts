import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { observation, readTitles, verifyTitles } from '../../src/sinks/verify.js'

// Batched reads against a loopback server that speaks the part of the Action API verify uses, and watches how it
// is asked: titles per request, requests in flight, continuation (langlinks split over answers), normalisation.
// (The real farm cannot show how many requests are in flight at once.)

const CODES = new Set(['en', 'fr', 'de', 'nl'])

interface Seen {
  requests: number
  maxInFlight: number
  titlesPerRequest: number[]
}

function fakeWiki(pages: Record<string, { text: string; links: string[] }>): Promise<{ api: string; seen: Seen; server: Server }> {
  const seen: Seen = { requests: 0, maxInFlight: 0, titlesPerRequest: [] }
  let inFlight = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const params = new URLSearchParams(new URL(req.url!, 'http://x').search)
      for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString())) params.set(k, v)
      seen.requests++
      inFlight++
      seen.maxInFlight = Math.max(seen.maxInFlight, inFlight)
      const titles = params.get('titles')!.split('|')
      if (!params.has('llcontinue')) seen.titlesPerRequest.push(titles.length)
      // Answer slowly, so concurrent requests overlap; langlinks one per answer (as lllimit=1 would).
      setTimeout(() => {
        inFlight--
        const step = Number(params.get('llcontinue') ?? 0)
        const normalized = titles.filter((t) => t !== t.replace(/^./, (c) => c.toUpperCase())).map((t) => ({ from: t, to: t.replace(/^./, (c) => c.toUpperCase()) }))
        const out = titles.map((t) => t.replace(/^./, (c) => c.toUpperCase())).map((t) => {
          const p = pages[t]
          if (!p) return { title: t, missing: true }
          return {
            title: t,
            pageid: 1,
            lastrevid: 7,
            length: Buffer.byteLength(p.text),
            ...(p.links[step] ? { langlinks: [{ lang: p.links[step], title: t }] } : {}),
            ...(params.get('prop')!.includes('revisions') && step === 0 ? { revisions: [{ revid: 7, timestamp: '2026-01-01T00:00:00Z', slots: { main: { content: p.text } } }] } : {}),
          }
        })
        const more = Object.values(pages).some((p) => p.links.length > step + 1)
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ curtimestamp: '2026-01-01T00:00:01Z', ...(more ? { continue: { llcontinue: String(step + 1), continue: '||' } } : { batchcomplete: true }), query: { normalized, pages: out } }))
      }, 20)
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ api: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api.php`, seen, server })))
}

const servers: Server[] = []
const clients: MediaWikiClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  for (const s of servers.splice(0)) s.close()
})

async function wiki(pages: Record<string, { text: string; links: string[] }>) {
  const w = await fakeWiki(pages)
  servers.push(w.server)
  const client = new MediaWikiClient({ api: w.api, contact: 'mbwa tests', maxlag: 0, connections: 8 })
  clients.push(client)
  return { client, seen: w.seen }
}

describe('batched verify (unit, loopback API)', () => {
  it('reads many titles per request, one request at a time by default, more where the wiki allows', async () => {
    const pages = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`Word ${i}`, { text: `Text of word ${i}, long enough to be surely not blank at all.`, links: ['fr'] }]))
    const titles = Object.keys(pages)
    const a = await wiki(pages)
    const read = await readTitles(a.client, 'en', titles, { text: false, perRequest: 50, codes: CODES })
    expect(a.seen.titlesPerRequest).toEqual([50, 50, 20])
    expect(a.seen.maxInFlight).toBe(1)
    expect(read.size).toBe(120)
    expect(read.get('Word 7')).toMatchObject({ exists: true, blank: false, text: undefined, writtenLinks: null, links: [{ code: 'fr', title: 'Word 7' }] })
    const b = await wiki(pages)
    await readTitles(b.client, 'en', titles, { text: false, perRequest: 10, codes: CODES, concurrency: 3 })
    expect(b.seen.maxInFlight).toBe(3)
    expect(b.seen.titlesPerRequest.length).toBe(12)
  })

  it('merges langlinks split over continued answers, maps normalised titles back, reads texts where asked', async () => {
    const { client, seen } = await wiki({ Chat: { text: 'Un chat.\n[[de:Chat]]\n[[en:Chat]]\n[[nl:Chat]]', links: ['de', 'en', 'nl'] } })
    const read = await readTitles(client, 'fr', ['chat', 'absent'], { text: true, perRequest: 50, codes: CODES })
    expect(seen.requests).toBe(3) // one batch, three answers
    expect(read.get('chat')).toMatchObject({ exists: true, blank: false, revision: 7, timestamp: '2026-01-01T00:00:00Z', readAt: '2026-01-01T00:00:01Z' })
    expect(read.get('chat')!.links.map((l) => l.code)).toEqual(['de', 'en', 'nl'])
    expect(read.get('chat')!.writtenLinks!.map((l) => l.code)).toEqual(['de', 'en', 'nl'])
    expect(read.get('absent')).toMatchObject({ exists: false })
    // Read as the wiki read them (`Chat`, `Absent`): what was seen is recorded as those pages' facts (issue 28, 9b).
    expect(read.get('chat')!.asTitle).toBe('Chat')
    expect(observation(read.get('chat')!, 'chat', Date.now())).toMatchObject({ title: 'Chat', wiki: 'fr', exists: true })
    expect(observation(read.get('absent')!, 'absent', Date.now())).toMatchObject({ title: 'Absent', exists: false })
    const same = await readTitles(client, 'fr', ['Chat'], { text: false, perRequest: 50, codes: CODES })
    expect(same.get('Chat')!.asTitle).toBeUndefined()
  })

  it('reads a title on its command wiki with text, elsewhere without, and the text only where blankness is open', async () => {
    const en = await wiki({ Chat: { text: 'A cat, a word long enough to settle its blankness without the text.\n[[fr:Chat]]', links: ['fr'] } })
    const fr = await wiki({ Chat: { text: '[[en:Chat]]', links: ['en'] } }) // short: only its text tells it is blank
    const v = await verifyTitles([{ title: 'Chat', withText: ['en'], also: ['fr'] }], { clients: new Map([['en', en.client], ['fr', fr.client]]), codes: CODES, titlesPerRequest: async () => 50 })
    const chat = v.get('Chat')!
    expect(chat.pages.get('en')!.text).toBeDefined()
    expect(chat.pages.get('fr')).toMatchObject({ blank: true }) // read again, with its text
    expect(fr.seen.requests).toBe(2)
    expect(en.seen.requests).toBe(1)
    expect(chat.failed.size).toBe(0)
  })
})
