import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import type { DecodedEvent, EventToAppend } from '../../src/events/event-log.js'
import type { MbwaEvent } from '../../src/events/types.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { discrepancies } from '../../src/domain/link-rules.js'
import { applyToPage, type PageState } from '../../src/domain/page-state.js'
import { PartitionApplier } from '../../src/projections/partition-applier.js'
import { TitleStore, type TitlePages } from '../../src/projections/title-store.js'
import { created, deleted, edited, observed, snapshotDone } from './fixtures.js'

// The pages of first snapshots are stored unjudged (held) until the pass over every title. Whatever the order of
// events and the size of batches, with live changes, re-reads and sweeps mixed in, every reader (records, the
// query path, whole-partition scans), the title counts and the wiki-title index (with the stamps sweeps trust)
// must hold exactly what applying each event at once gives, while titles are held and after the pass; and the
// pass must leave the discrepancy index the verdicts' own.

const WIKIS = ['en', 'fr', 'de', 'nl']
// Titles in many scripts, including code points above U+FFFF and in U+E000–FFFF (UTF-16 and UTF-8 order differ).
const TITLES = ['alpha', 'Beta', 'ß', 'Ωmega', '中文', '𝔸lgebra', '\uE000private', '\uFFFDreplaced', 'ﬁ ligature', '😀 smile', 'a', 'ab', 'a b', 'Zeta/sub', 'ῷ', 'ㄱ', '𠀀 ext-b', 'é', 'e\u0301']
  .flatMap((t) => [t, `${t} 2`, `${t}𝔸`])

function random(seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    return s / 0x80000000
  }
}

/** Every event of a bootstrap with live changes mixed in: four first snapshots, and a second one of en. */
function events(seed: number): EventToAppend[] {
  const r = random(seed)
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!
  const out: EventToAppend[] = []
  let at = 1_700_000_000_000
  const live = () => {
    const wiki = pick(WIKIS)
    const title = pick(TITLES)
    const x = r()
    at += 10
    out.push(x < 0.4 ? created(wiki, title, 50 + Math.floor(r() * 200), false, at) : x < 0.7 ? edited(wiki, title, 50 + Math.floor(r() * 200)) : deleted(wiki, title))
  }
  const snapshot = (wiki: string, id: string) => {
    const startedAt = (at += 10)
    for (const title of TITLES) {
      if (r() < 0.2) continue // not on this wiki (a page from live changes is swept unless seen since)
      at += 10
      const links = WIKIS.filter((w) => w !== wiki && r() < 0.5)
      out.push(observed(wiki, title, links, { snapshotId: id, at, revision: 100 + Math.floor(r() * 50), blank: r() < 0.1 ? null : false }))
      if (r() < 0.1) out.push(observed(wiki, title, links, { snapshotId: id, at: at + 1, revision: 90 })) // re-read, older
      if (r() < 0.05) out.push(observed(wiki, title, [], { snapshotId: id, at: at + 2, revision: 160 })) // re-read, newer
      if (r() < 0.15) live()
    }
    out.push(snapshotDone(wiki, id, 1, startedAt, (at += 10))[0]!)
  }
  // Snapshot attempts that fail (SnapshotFailed, seeds 1 and 2): with de and nl failing, the pass comes at fr's first
  // snapshot, and the pages of de's and nl's first snapshots are judged as they come.
  const failed = (wiki: string) => {
    if (seed % 3 !== 0) out.push({ type: 'SnapshotFailed', key: null, partition: 0, value: { id: `f-${out.length}`, source: 'snapshot', observedAt: (at += 10), wiki, snapshotId: null, partition: 0, failures: 1, reason: 'HTTP 503' } })
  }
  for (let i = 0; i < 20; i++) live()
  failed('nl')
  failed('de')
  snapshot('en', 's-en-1')
  snapshot('fr', 's-fr-1')
  snapshot('en', 's-en-2') // a second snapshot while de and nl have none: its sweep reads held records
  snapshot('de', 's-de-1')
  for (let i = 0; i < 10; i++) live()
  snapshot('nl', 's-nl-1')
  for (let i = 0; i < 20; i++) live()
  return out
}

/** What applying each event at once gives: pages by title, with sweeps. */
class Reference {
  readonly titles = new Map<string, TitlePages>()

  apply(e: EventToAppend): void {
    const event = { type: e.type, value: e.value } as MbwaEvent
    if (event.type === 'SnapshotFailed') return // no page changes
    if (event.type === 'SnapshotCompleted') {
      const { wiki, snapshotId, startedAt } = event.value
      for (const [title, pages] of this.titles) {
        const page = pages[wiki]
        if (page && page.snapshotId !== snapshotId && page.observedAt < startedAt) delete pages[wiki]
        if (Object.keys(pages).length === 0) this.titles.delete(title)
      }
      return
    }
    const pages = { ...(this.titles.get(e.key!) ?? {}) }
    const wiki = (event.value as { wiki: string }).wiki
    const next = applyToPage(pages[wiki], event, e.key!)
    if (next === null) delete pages[wiki]
    else if (next !== undefined) pages[wiki] = next
    if (Object.keys(pages).length === 0) this.titles.delete(e.key!)
    else this.titles.set(e.key!, pages)
  }
}

/** LevelDB's order of UTF-8 keys (UTF-16 order differs above U+D7FF). */
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))
const canonical = (pages: TitlePages | undefined) => JSON.stringify(Object.fromEntries(Object.entries(pages ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([w, p]) => [w, pageFacts(p)])))
const pageFacts = (p: PageState) => [p.redirect, p.blank, p.revision, p.pageId, p.links, p.writtenLinks, p.createdAt, p.byBot, p.observedAt, p.source, p.snapshotId, p.changedAt]

describe('titles held for the pass over every title (unit)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-held-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const rules = wikiRules(loadConfig({ env: {}, searchPaths: [], flags: { wikis: Object.fromEntries(WIKIS.map((c) => [c, { api: `http://127.0.0.1/${c}/api.php`, linkMode: 'manual' }])) } }).config)

  for (const seed of [1, 2, 3]) {
    it(`every reader sees each event applied at once, in batches of any size (seed ${seed})`, async () => {
      const all = events(seed)
      const store = await TitleStore.open(join(dir, `s${seed}`))
      const applier = new PartitionApplier(store, 0, { rules, settleMs: 0, emitCommands: false, now: () => 1_800_000_000_000 })
      const reference = new Reference()
      const r = random(seed * 7)
      let heldSeen = false
      let swept = 0
      let offset = 0
      for (let i = 0; i < all.length; ) {
        const n = 1 + Math.floor(r() * 120)
        const batch: DecodedEvent[] = all.slice(i, i + n).map((e) => ({ offset: offset++, key: e.key, timestamp: 0, event: { type: e.type, value: e.value } as MbwaEvent }))
        for (const e of all.slice(i, i + n)) reference.apply(e)
        i += n
        swept += (await applier.apply(batch, offset)).swept
        heldSeen ||= await store.isHeld(0)

        // Records, the query path and a scan of the partition agree with the reference, title by title.
        const records = await store.records(0, TITLES)
        TITLES.forEach((t, k) => expect(canonical(records[k]?.pages), `${t} after ${i} events`).toBe(canonical(reference.titles.get(t))))
        for (const t of TITLES.slice(0, 12)) expect(canonical((await store.titleWithPending(0, t)).pages)).toBe(canonical(reference.titles.get(t)))
        const scanned: string[] = []
        for await (const [title, record] of store.entries(0)) {
          scanned.push(title)
          expect(canonical(record.pages)).toBe(canonical(reference.titles.get(title)))
        }
        expect(scanned).toEqual([...reference.titles.keys()].sort(utf8Order))

        // Title counts and the wiki-title index (with each page's sweep stamp).
        const counts: Record<string, number> = {}
        for (const pages of reference.titles.values()) for (const w of Object.keys(pages)) counts[w] = (counts[w] ?? 0) + 1
        const stored = await store.counts(0)
        for (const w of WIKIS) expect(stored[w] ?? 0, `count of ${w} after ${i} events`).toBe(counts[w] ?? 0)
        const got: string[] = []
        for (const w of WIKIS) for await (const run of store.wikiTitles(0, w)) for (const [title, stamp] of run) got.push(`${w} ${title} ${stamp!.observedAt} ${stamp!.snapshotId}`)
        const expected = [...reference.titles].flatMap(([title, pages]) => Object.entries(pages).map(([w, page]) => `${w} ${title} ${page.observedAt} ${page.snapshotId}`))
        expect(got.sort()).toEqual(expected.sort())
      }
      expect(heldSeen).toBe(true)
      expect(swept).toBeGreaterThan(0) // pages of live changes that a snapshot did not see

      // After the last first snapshot: nothing held, and the discrepancy index is the verdicts' own.
      expect(await store.isHeld(0)).toBe(false)
      const want: string[] = []
      for (const [title, pages] of reference.titles) for (const pv of applier.verdict(title, pages).pages) for (const d of discrepancies(pv)) want.push(`${pv.wiki} ${d.kind} ${title}`)
      const have: string[] = []
      for await (const k of store.db.keys({ gte: 'x\x00', lt: 'x\x01' })) have.push(k.split('\x00').slice(2).join(' '))
      expect(have.sort()).toEqual(want.sort())
      expect(want.length).toBeGreaterThan(0)
      await store.close()
    })
  }
})
