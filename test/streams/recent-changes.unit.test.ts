import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { RecentChangesPoller } from '../../src/streams/recent-changes.js'
import { harness, readEvents, type Harness } from '../setup/events.js'

// What the real farm cannot be made to do on cue: a recentchanges row that appears late, with a timestamp older
// than rows already read (a replica catching up, a slow transaction). A loopback server answers list=recentchanges
// from a list the test grows; the poller must read the late row once and every other row once.

interface Row {
  type: string
  ns: number
  title: string
  rcid: number
  revid: number
  pageid: number
  timestamp: string
  user: string
}

let server: Server | undefined
let h: Harness | undefined
const clients: MediaWikiClient[] = []
afterEach(async () => {
  server?.close()
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await h?.close()
  h = undefined
})

describe('recent-changes polling (unit, loopback API)', () => {
  it('overlaps each poll, so a row inserted late with an older timestamp is read, and drops repeats by rc id', async () => {
    const rows: Row[] = []
    const starts: string[] = []
    server = createServer((req, res) => {
      const q = new URL(req.url!, 'http://x').searchParams
      starts.push(q.get('rcstart')!)
      const from = q.get('rcstart')!
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ batchcomplete: true, query: { recentchanges: rows.filter((r) => r.timestamp >= from).sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.rcid - b.rcid)) } }))
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const client = new MediaWikiClient({ api: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api.php`, contact: 'mbwa tests', maxlag: 0 })
    clients.push(client)
    h = await harness()
    const now = Date.parse('2026-12-01T12:00:00Z')
    const poller = new RecentChangesPoller([{ code: 'en', client }], { events: h.events, topic: h.topics.events, checkpoints: h.checkpoints, lookbackMs: 3600_000, overlapMs: 120_000, now: () => now })
    const row = (rcid: number, title: string, at: string): Row => ({ type: 'edit', ns: 0, title, rcid, revid: rcid * 10, pageid: rcid, timestamp: at, user: 'Someone' })
    rows.push(row(1, 'a', '2026-12-01T11:50:00Z'), row(2, 'b', '2026-12-01T11:55:00Z'))
    expect((await poller.pollOnce({ code: 'en', client })).entries).toBe(2)
    // Later: a new row, and a late one whose timestamp is older than the last one read.
    rows.push(row(4, 'd', '2026-12-01T11:58:00Z'), row(3, 'c late', '2026-12-01T11:54:30Z'))
    expect((await poller.pollOnce({ code: 'en', client })).entries).toBe(2)
    expect(starts[1]).toBe('2026-12-01T11:53:00.000Z') // two minutes before the last change seen
    expect((await poller.pollOnce({ code: 'en', client })).entries).toBe(0) // the overlap again: nothing twice
    const titles = (await readEvents(h.log, h.topics.events)).map((e) => (e.event.value as { title: string }).title).sort()
    expect(titles).toEqual(['a', 'b', 'c late', 'd'])
  })
})
