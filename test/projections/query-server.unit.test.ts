import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { loadConfig } from '../../src/config/load.js'
import { Projector } from '../../src/projections/projector.js'
import { QueryServer } from '../../src/projections/http/query-server.js'
import { TitleStore } from '../../src/projections/title-store.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { harness, type Harness } from '../setup/events.js'
import { waitFor } from '../log/helpers.js'
import { observed, snapshotDone } from './fixtures.js'

// The read-only query endpoint over a real store fed by the projector from the embedded log.
const PARTITIONS = 4
let h: Harness
let store: TitleStore
let projector: Projector
let server: QueryServer
let base: string
const returned = new Map<string, unknown>()

const config = loadConfig({
  env: {},
  searchPaths: [],
  flags: {
    wikis: {
      en: { api: 'http://127.0.0.1/en/api.php', edit: true, linkMode: 'manual' },
      fr: { api: 'http://127.0.0.1/fr/api.php', edit: true, linkMode: 'manual' },
      de: { api: 'http://127.0.0.1/de/api.php', edit: true, linkMode: 'cognate' },
    },
  },
}).config

beforeAll(async () => {
  h = await harness(PARTITIONS)
  const t0 = 1_700_000_000_000
  await h.events.append(h.topics.events, [
    ...['en', 'fr', 'de'].flatMap((w) => snapshotDone(w, `s-${w}`, PARTITIONS, t0 - 100_000, t0 - 90_000)),
    observed('en', 'Ελλάδα', ['fr'], { at: t0 }),
    observed('fr', 'Ελλάδα', [], { at: t0 }),
    observed('de', 'Ελλάδα', ['en', 'fr'], { at: t0 }),
    // A written link to a title en does not have: stale-missing (en and fr follow no Cognate: no other report).
    observed('de', 'Kuchen', ['en', 'fr:gâteau'], { at: t0, written: ['en', 'fr:gâteau'] }),
    ...Array.from({ length: 30 }, (_, i) => observed('en', `word ${String(i).padStart(2, '0')}`, [], { at: t0 })),
    ...Array.from({ length: 30 }, (_, i) => observed('fr', `word ${String(i).padStart(2, '0')}`, [], { at: t0 })),
  ])
  store = await TitleStore.open(join(h.dir, 'projection'))
  projector = new Projector({ store, events: h.events, topics: h.topics, groupId: 'q', rules: wikiRules(config), settleMs: 0 })
  server = new QueryServer({ store, projector, rules: wikiRules(config), partitions: PARTITIONS })
  // What each handler returned, before its response schema serialized it (a field the schema lacks is dropped).
  server.app.addHook('preSerialization', async (req, _reply, payload) => {
    returned.set(req.url, JSON.parse(JSON.stringify(payload)))
    return payload
  })
  base = await server.listen('127.0.0.1', 0)
  await projector.start()
  const ends = await h.log.endOffsets(h.topics.events)
  await waitFor(() => projector.status().length === PARTITIONS && projector.status().every((s) => s.offset >= ends[s.partition]!), 20_000, 'catch up')
})
afterAll(async () => {
  await server.close()
  await projector.stop()
  await store.close()
  await h.close()
})

async function get(path: string, method: 'GET' | 'POST' | 'DELETE' = 'GET') {
  const res = await request(`${base}${path}`, { method })
  const text = await res.body.text()
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
  const body: any = text.startsWith('{') ? JSON.parse(text) : text
  return { status: res.statusCode, headers: res.headers, body }
}

describe('query endpoint (unit, embedded log)', () => {
  it('answers a title given percent-encoded in any Unicode: per-wiki state, link set, what each page should carry', async () => {
    const { status, body } = await get(`/v1/titles/${encodeURIComponent('Ελλάδα')}`)
    // Times as every answer gives them: ISO 8601.
    expect((body as { wikis: Record<string, { observedAt: string }> }).wikis.en!.observedAt).toBe(new Date(1_700_000_000_000).toISOString())
    expect(status).toBe(200)
    expect(body.title).toBe('Ελλάδα')
    expect(Object.keys(body.wikis as object).sort()).toEqual(['de', 'en', 'fr'])
    expect(body.linkSet).toEqual(['de', 'en', 'fr'])
    const pages = body.pages as { wiki: string; add: string[]; reports: { kind: string }[] }[]
    expect(pages.find((p) => p.wiki === 'en')!.add).toEqual(['de'])
    expect(pages.find((p) => p.wiki === 'fr')!.add).toEqual(['de', 'en'])
    expect(pages.find((p) => p.wiki === 'de')!.reports).toEqual([]) // en and fr are not Cognate's: their links are needed
    expect(Object.keys(body.pendingEdits as object).sort()).toEqual(['en', 'fr'])
    // underscores and spaces are one title
    expect((await get('/v1/titles/word_01')).body.title).toBe('word 01')
  })

  it('answers a title nobody has with an empty record, not an error', async () => {
    const { status, body } = await get('/v1/titles/nowhere')
    expect(status).toBe(200)
    expect(body).toMatchObject({ wikis: {}, linkSet: [] })
    // A title with slashes, as written or encoded.
    for (const path of ['/v1/titles/and/or', '/v1/titles/and%2For']) {
      const res = await get(path)
      expect([path, res.status, res.body.title]).toEqual([path, 200, 'and/or'])
    }
  })

  it('rejects bad titles and parameters with a 4xx and a JSON error', async () => {
    const cases: [string, number][] = [
      [`/v1/titles/${encodeURIComponent('a[b]')}`, 400],
      [`/v1/titles/${encodeURIComponent('x'.repeat(256))}`, 400],
      [`/v1/titles/${encodeURIComponent('é'.repeat(128))}`, 400], // 256 bytes
      ['/v1/titles/%E0%A4%A', 400],
      [`/v1/titles/${encodeURIComponent('   ')}`, 400],
      ['/v1/wikis/xx/discrepancies', 404],
      ['/v1/wikis/en/discrepancies?kind=bogus', 400],
      ['/v1/wikis/en/discrepancies?limit=0', 400],
      ['/v1/wikis/en/discrepancies?limit=5000', 400],
      ['/v1/wikis/en/discrepancies?cursor=garbage', 400],
      ['/v1/wikis/en/discrepancies?limit=1.5', 400],
      ['/v1/wikis/en/discrepancies?partition=99', 400],
      ['/v1/wikis/en/discrepancies?partition=-1', 400],
      ['/v1/wikis/en/missing?minWikis=1', 400],
      ['/v1/wikis/en/missing?limit=abc', 400],
      ['/v1/wikis/en/pages', 400],
      ['/v1/wikis/en/pages?partition=0&limit=20000', 400],
      ['/reports/en?kind=missing', 400],
      ['/reports/en/csv?kind=<script>', 400],
      ['/reports/en/diffs?format=pdf', 400],
      [`/v1/wikis/${'x'.repeat(101)}/discrepancies`, 400],
      ['/v1/nothing', 404],
    ]
    for (const [path, status] of cases) {
      const res = await get(path)
      expect([path, res.status]).toEqual([path, status])
      expect((res.body as { error: { code: string } }).error.code).toMatch(/^MBWA_/)
    }
    // The route's schema names what is wrong.
    const bad = await get('/v1/wikis/en/discrepancies?limit=5000')
    expect(bad.body).toEqual({ error: { code: 'MBWA_BAD_REQUEST', message: expect.stringMatching(/limit must be <= 1000/) } })
  })

  it('sends every field a JSON route returns: the response schemas drop nothing', async () => {
    const title = encodeURIComponent('Ελλάδα')
    const paths = ['/healthz', '/v1/stats', '/v1/digest', '/v1/wikis', `/v1/titles/${title}`, '/v1/titles/Kuchen', '/v1/wikis/de/discrepancies', '/v1/wikis/de/discrepancies?kind=stale-missing', '/v1/wikis/de/missing?minWikis=2', '/v1/wikis/en/pages?partition=0&limit=5']
    for (let p = 0; p < PARTITIONS; p++) paths.push(`/v1/wikis/de/discrepancies?partition=${p}`, `/v1/wikis/de/missing?partition=${p}`, `/v1/wikis/en/pages?partition=${p}`)
    for (const path of paths) {
      const { status, body } = await get(path)
      expect(status, path).toBe(200)
      expect(returned.has(path), path).toBe(true)
      expect(body, path).toEqual(returned.get(path))
    }
    // Not an empty comparison: the pages and entries are there.
    expect((returned.get('/v1/wikis/de/discrepancies') as { items: unknown[] }).items.length).toBeGreaterThan(0)
    expect((returned.get('/v1/wikis/en/pages?partition=0&limit=5') as { items: unknown[] }).items.length).toBeGreaterThan(0)
  })

  it('is read-only: other methods get 405', async () => {
    for (const method of ['POST', 'DELETE'] as const) {
      const res = await get('/v1/titles/chat', method)
      expect(res.status).toBe(405)
      expect((res.body as { error: { code: string } }).error.code).toBe('MBWA_METHOD_NOT_ALLOWED')
    }
  })

  it('pages through a wiki\'s discrepancies with a cursor, by kind', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await get(`/v1/wikis/en/discrepancies?kind=missing&limit=7${cursor ? `&cursor=${cursor}` : ''}`)
      expect(res.status).toBe(200)
      const body = res.body as { items: { title: string; kind: string; codes: string[] }[]; cursor: string | null }
      expect(body.items.length).toBeLessThanOrEqual(7)
      seen.push(...body.items.map((i) => i.title))
      cursor = body.cursor
      pages++
    } while (cursor && pages < 20)
    expect(seen.sort()).toEqual(['word 00', 'word 01', 'word 02', 'word 03', 'word 04', 'word 05', 'word 06', 'word 07', 'word 08', 'word 09', ...Array.from({ length: 20 }, (_, i) => `word ${i + 10}`), 'Ελλάδα'].sort())
    expect(new Set(seen).size).toBe(seen.length)
    expect(pages).toBeGreaterThan(4)
    const de = await get('/v1/wikis/de/discrepancies?kind=stale-missing')
    expect((de.body as { items: { title: string; codes: string[] }[] }).items).toEqual([{ kind: 'stale-missing', title: 'Kuchen', codes: ['en'], links: [{ code: 'en', title: 'Kuchen' }], at: new Date(1_700_000_000_000).toISOString() }])
  })

  it('lists wikis with titles known and last snapshot; stats, health, readiness and metrics', async () => {
    const wikis = (await get('/v1/wikis')).body as { wikis: { code: string; titles: number; lastSnapshot: string | null; lag: number }[] }
    expect(wikis.wikis.map((w) => [w.code, w.titles])).toEqual([
      ['de', 2],
      ['en', 31],
      ['fr', 31],
    ])
    expect(wikis.wikis.every((w) => w.lastSnapshot !== null && w.lag === 0)).toBe(true)
    const reports = (await get('/v1/reports')).body as { reports: Record<string, Record<string, number>>; partitions: number[] }
    expect(reports.partitions).toEqual(Array.from({ length: PARTITIONS }, (_, i) => i))
    expect(reports.reports.de).toMatchObject({ 'stale-missing': 1 })
    const stats = (await get('/v1/stats')).body as { eventsApplied: number; partitions: unknown[] }
    expect(stats.eventsApplied).toBeGreaterThanOrEqual(63)
    expect(stats.partitions.length).toBe(PARTITIONS)
    expect((await get('/healthz')).status).toBe(200)
    expect(await get('/readyz')).toMatchObject({ status: 200, body: { ready: true, restoring: [] } })
    const metrics = await get('/metrics')
    expect(metrics.status).toBe(200)
    expect(String(metrics.body)).toContain('mbwa_events_consumed_total')
    // Reports per wiki and kind: in /v1/stats and as a metric.
    const counts = (await get('/v1/stats')).body as { reports: Record<string, Record<string, number>> }
    expect(counts.reports.de).toEqual({ 'stale-missing': 1 })
    expect(counts.reports.en!.missing).toBe(31)
    expect(String(metrics.body)).toContain('mbwa_reports{wiki="de",kind="stale-missing"} 1')
    const digest = (await get('/v1/digest')).body as { digest: string; pages: number; complete: boolean }
    expect(digest).toMatchObject({ pages: 64, complete: true })
    expect(digest.digest).toMatch(/^[0-9a-f]{64}$/)
  })

  it('computes the digest once for many requests while nothing moves, and again once something does', async () => {
    const before = server.digestScans
    const answers = await Promise.all(Array.from({ length: 10 }, () => get('/v1/digest')))
    expect(new Set(answers.map((a) => (a.body as { digest: string }).digest)).size).toBe(1)
    expect(server.digestScans - before).toBeLessThanOrEqual(1)
    const first = (answers[0]!.body as { digest: string }).digest
    await h.events.append(h.topics.events, [observed('nl', 'digest moves', [], { at: 1_700_000_000_001 })])
    const ends = await h.log.endOffsets(h.topics.events)
    await waitFor(() => projector.status().every((x) => x.offset >= ends[x.partition]!), 20_000, 'the new event applied')
    const after = (await get('/v1/digest')).body as { digest: string; pages: number }
    expect(after.digest).not.toBe(first)
    expect(after.pages).toBe(65)
  })

  it('asks for its bearer token (http.token) on every route but the probes, and never shows it', async () => {
    const guarded = new QueryServer({ store, projector, rules: wikiRules(config), partitions: PARTITIONS, token: 's3cret-token' })
    const url = await guarded.listen('127.0.0.1', 0)
    try {
      const ask = async (path: string, authorization?: string) => {
        const res = await request(`${url}${path}`, { headers: authorization ? { authorization } : {} })
        return { status: res.statusCode, text: await res.body.text() }
      }
      const none = await ask('/v1/stats')
      expect(none.status).toBe(401)
      expect(JSON.parse(none.text)).toMatchObject({ error: { code: 'MBWA_UNAUTHORIZED' } })
      expect(none.text).not.toContain('s3cret')
      expect((await ask('/v1/titles/chat', 'Bearer wrong')).status).toBe(401)
      expect((await ask('/metrics', 'Bearer s3cret-token-and-more')).status).toBe(401)
      expect((await ask('/v1/titles/chat', 'Bearer s3cret-token')).status).toBe(200)
      expect((await ask('/healthz')).status).toBe(200)
      expect((await ask('/readyz')).status).toBe(200)
    } finally {
      await guarded.close()
    }
  })

  it("serves a wiki's pages only for wikis in the configuration", async () => {
    expect((await get('/v1/wikis/en/pages?partition=0')).status).toBe(200)
    const unknown = await get('/v1/wikis/xx/pages?partition=0')
    expect(unknown.status).toBe(404)
    expect(unknown.body).toMatchObject({ error: { code: 'MBWA_NOT_FOUND' } })
    expect((await get(`/v1/wikis/${encodeURIComponent('../en')}/pages?partition=0`)).status).toBe(404)
  })
})
