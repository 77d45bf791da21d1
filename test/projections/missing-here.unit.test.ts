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
import { deleted, observed, snapshotDone } from './fixtures.js'

// "Missing here": the presence index kept with the projection as facts arrive (creations, deletions, redirects,
// blank pages, a snapshot's sweep), and the list of a wiki over every partition, most-present first, paginated.
const PARTITIONS = 4
const t0 = 1_700_000_000_000
let h: Harness
let store: TitleStore
let projector: Projector
let server: QueryServer
let base: string
const config = loadConfig({ env: {}, searchPaths: [], flags: { wikiDefaults: { linkMode: 'manual' }, wikis: Object.fromEntries(['en', 'fr', 'de', 'nl'].map((w) => [w, { api: `https://${w}.wiktionary.org/w/api.php` }])) } }).config

type Missing = { items: { title: string; wikis: string[]; count: number }[]; cursor: string | null }
const missing = async (wiki: string, query: string): Promise<Missing> => (await (await request(`${base}/v1/wikis/${wiki}/missing?${query}`)).body.json()) as Missing

async function caughtUp(): Promise<void> {
  const ends = await h.log.endOffsets(h.topics.events)
  await waitFor(() => projector.status().length === PARTITIONS && projector.status().every((s) => s.offset >= ends[s.partition]!), 20_000, 'catch up')
}

beforeAll(async () => {
  h = await harness(PARTITIONS)
  const on = (title: string, wikis: string[], over: Parameters<typeof observed>[3] = {}) => wikis.map((w) => observed(w, title, [], { at: t0, ...over }))
  await h.events.append(h.topics.events, [
    ...['en', 'fr', 'de', 'nl'].flatMap((w) => snapshotDone(w, `s-${w}`, PARTITIONS, t0 - 100_000, t0 - 90_000)),
    ...on('cat', ['fr', 'de', 'nl']),
    ...on('dog', ['fr', 'de']),
    ...on('here', ['en', 'fr', 'de']),
    ...on('alone', ['fr']),
    ...on('<b>"x"</b> & שלום', ['fr', 'de', 'nl']),
    ...on('redirected', ['de', 'nl']),
    observed('fr', 'redirected', [], { at: t0, redirect: true }),
    ...on('blankish', ['de']),
    observed('fr', 'blankish', [], { at: t0, blank: true }),
  ])
  store = await TitleStore.open(join(h.dir, 'projection'))
  projector = new Projector({ store, events: h.events, topics: h.topics, groupId: 'm', rules: wikiRules(config), settleMs: 0 })
  server = new QueryServer({ store, projector, rules: wikiRules(config), partitions: PARTITIONS, apiOf: (w) => config.wikis[w]?.api })
  base = await server.listen('127.0.0.1', 0)
  await projector.start()
  await caughtUp()
})
afterAll(async () => {
  await server.close()
  await projector.stop()
  await store.close()
  await h.close()
})

describe('missing here', () => {
  it('lists titles real on other wikis and absent here, most-present first, over every partition', async () => {
    const all = await missing('en', 'minWikis=2')
    expect(all.items.map((i) => [i.title, i.count])).toEqual([
      ['<b>"x"</b> & שלום', 3],
      ['cat', 3],
      ['dog', 2],
      ['redirected', 2],
    ])
    expect(all.items[1]!.wikis).toEqual(['de', 'fr', 'nl'])
    expect(all.cursor).toBeNull()
    expect((await missing('en', 'minWikis=3')).items.map((i) => i.title)).toEqual(['<b>"x"</b> & שלום', 'cat'])
    // A wiki that has the title does not list it: nl lacks "here" and "dog".
    expect((await missing('nl', 'minWikis=2')).items.map((i) => i.title)).toEqual(['here', 'dog'])
  })

  it('pages with a cursor that orders every partition alike', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: Missing = await missing('en', `minWikis=2&limit=1${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...page.items.map((i) => i.title))
      cursor = page.cursor
    } while (cursor !== null && seen.length < 10)
    expect(seen).toEqual(['<b>"x"</b> & שלום', 'cat', 'dog', 'redirected'])
  })

  it('follows deletions and sweeps', async () => {
    await h.events.append(h.topics.events, [
      deleted('nl', 'cat'),
      // de's next snapshot no longer has "dog": its sweep removes the page.
      ...['cat', 'here', '<b>"x"</b> & שלום', 'redirected', 'blankish'].map((t) => observed('de', t, [], { at: t0 + 2000, snapshotId: 's2-de' })),
      ...snapshotDone('de', 's2-de', PARTITIONS, t0 + 1000, t0 + 3000),
    ])
    await caughtUp()
    expect((await missing('en', 'minWikis=2')).items.map((i) => [i.title, i.count])).toEqual([
      ['<b>"x"</b> & שלום', 3],
      ['cat', 2],
      ['redirected', 2],
    ])
  })

  it('says what is wrong with a request', async () => {
    expect((await request(`${base}/v1/wikis/en/missing?minWikis=1`)).statusCode).toBe(400)
    expect((await request(`${base}/v1/wikis/en/missing?limit=0`)).statusCode).toBe(400)
    expect((await request(`${base}/v1/wikis/en/missing?cursor=bm9wZQ`)).statusCode).toBe(400)
    const unknown = await request(`${base}/v1/wikis/zz/missing`)
    expect(unknown.statusCode).toBe(404)
    expect(((await unknown.body.json()) as { error: { code: string } }).error.code).toBe('MBWA_NOT_FOUND')
  })

  it('shows the list as a page, every title escaped, each wiki linked to its page', async () => {
    const res = await request(`${base}/reports/en/missing?minWikis=2`)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    const html = await res.body.text()
    expect(html).toContain('&lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; שלום')
    expect(html).not.toContain('<b>"x"</b>')
    expect(html).toContain('href="https://fr.wiktionary.org/wiki/cat"')
  })
})
