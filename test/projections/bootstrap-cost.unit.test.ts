import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import type { DecodedEvent, EventToAppend } from '../../src/events/event-log.js'
import type { MbwaEvent } from '../../src/events/types.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { PartitionApplier, type ApplyStats } from '../../src/projections/partition-applier.js'
import { TitleStore } from '../../src/projections/title-store.js'
import { created, observed, snapshotDone } from './fixtures.js'

// A bootstrap of W wikis costs O(titles), not O(W × titles): the first snapshot of each wiki does not look at every
// title again; only the one that leaves no open wiki unsnapshotted does, once. The end state is the one of looking
// at every title after every snapshot (the old way), so nothing is lost by waiting.

const WIKIS = ['en', 'fr', 'de', 'nl', 'pl', 'ru', 'es', 'it']
const TITLES = 1500

describe('bootstrap cost of the projection (unit)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bootstrap-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it(`looks at each title once after ${WIKIS.length} first snapshots, and ends with every title complete`, async () => {
    const rules = wikiRules(loadConfig({ env: {}, searchPaths: [], flags: { wikis: Object.fromEntries(WIKIS.map((c) => [c, { api: `http://127.0.0.1/${c}/api.php`, linkMode: 'manual' }])) } }).config)
    const store = await TitleStore.open(join(dir, 'store'))
    const applier = new PartitionApplier(store, 0, { rules, settleMs: 0, emitCommands: false, now: () => 1_800_000_000_000 })
    let offset = 0
    const decoded = (e: EventToAppend): DecodedEvent => ({ offset: offset++, key: e.key, timestamp: 0, event: { type: e.type, value: e.value } as MbwaEvent })
    const total: ApplyStats = { events: 0, commands: 0, swept: 0, sweepReads: 0, reevaluated: 0, evaluated: 0 }
    const evaluatedBeforeLast: number[] = []
    let pages = 0
    // Wiki by wiki, as snapshots run: every title on the first wiki, fewer on each next one, linking to the others.
    for (const [w, wiki] of WIKIS.entries()) {
      const batch: DecodedEvent[] = []
      for (let t = 0; t < TITLES; t++) {
        if (w > 0 && t % (w + 1) !== 0) continue
        batch.push(decoded(observed(wiki, `word ${t}`, WIKIS.filter((x) => x !== wiki && (t + x.length) % 3 !== 0), { snapshotId: `s-${wiki}`, at: 1_700_000_000_000 + w })))
        pages++
      }
      batch.push(decoded(snapshotDone(wiki, `s-${wiki}`, 1, 1_699_999_999_000 + w)[0]!))
      const s = await applier.apply(batch, offset)
      for (const k of ['events', 'commands', 'swept', 'sweepReads', 'reevaluated', 'evaluated'] as const) total[k] += s[k]
      evaluatedBeforeLast.push(total.evaluated)
    }
    // One pass over the titles at the last first snapshot; none at the seven before it.
    expect(total.reevaluated).toBe(TITLES)
    expect(total.reevaluated).toBeLessThan((WIKIS.length * TITLES) / 4)
    // The sweeps of the first snapshots find nothing left behind from the index's stamps: they read no record.
    expect(total.sweepReads).toBe(TITLES)
    // Pages of first snapshots wait for that pass unjudged: the rules judge each title once in the whole bootstrap,
    // not once per wiki that has it.
    expect(evaluatedBeforeLast.slice(0, -1)).toEqual(WIKIS.slice(1).map(() => 0))
    expect(total.evaluated).toBe(TITLES)
    expect(await store.isHeld(0)).toBe(false)
    // Every title is complete, and its discrepancies show.
    let complete = 0
    let withDisc = 0
    for await (const [title, record] of store.entries(0)) {
      if (applier.verdict(title, record.pages).complete) complete++
      if ((record.disc ?? []).length > 0) withDisc++
    }
    expect(complete).toBe(TITLES)
    expect(withDisc).toBeGreaterThan(0)
    expect(pages).toBeGreaterThan(TITLES)
    await store.close()
  })

  it('judges live changes at once, and gives held titles their pass when the wiki they waited for leaves the configuration', async () => {
    const config = (codes: string[]) => wikiRules(loadConfig({ env: {}, searchPaths: [], flags: { wikis: Object.fromEntries(codes.map((c) => [c, { api: `http://127.0.0.1/${c}/api.php`, linkMode: 'manual' }])) } }).config)
    const path = join(dir, 'held')
    let offset = 0
    const decoded = (e: EventToAppend): DecodedEvent => ({ offset: offset++, key: e.key, timestamp: 0, event: { type: e.type, value: e.value } as MbwaEvent })
    let store = await TitleStore.open(path)
    const before = new PartitionApplier(store, 0, { rules: config(['en', 'fr', 'de']), settleMs: 0, emitCommands: false, now: () => 1_800_000_000_000 })
    // The first snapshots of en and fr: their pages wait (de has none yet); a page created on fr is judged at once.
    const first = await before.apply([decoded(observed('en', 'alpha', [])), decoded(observed('en', 'beta', ['fr'])), ...snapshotDone('en', 's-en', 1, 1_699_999_999_000).map(decoded)], offset)
    const second = await before.apply([decoded(observed('fr', 'alpha', ['en'])), ...snapshotDone('fr', 's-fr', 1, 1_699_999_999_500).map(decoded)], offset)
    expect(first.evaluated + second.evaluated).toBe(0)
    expect(await store.isHeld(0)).toBe(true)
    const live = await before.apply([decoded(created('fr', 'gamma', 5))], offset)
    expect(live.evaluated).toBe(1)
    expect((await store.records(0, ['beta']))[0]?.disc).toBeUndefined()
    await store.close()

    // Restarted with de gone from the configuration: no snapshot will end the wait, so the next batch does.
    store = await TitleStore.open(path)
    const after = new PartitionApplier(store, 0, { rules: config(['en', 'fr']), settleMs: 0, emitCommands: false, now: () => 1_800_000_000_000 })
    const stats = await after.apply([decoded(created('fr', 'delta', 6))], offset)
    expect(await store.isHeld(0)).toBe(false)
    const [alpha, beta] = await store.records(0, ['alpha', 'beta'])
    // beta links fr, which lacks it: a complete verdict asks to remove it; alpha (en and fr) lacks the link to fr.
    expect(beta?.disc).toEqual([['en', 'remove']])
    expect(alpha?.disc).toEqual([['en', 'missing']])
    expect(stats.reevaluated).toBe(3)
    await store.close()
  })

  it('does not hold every verdict back for a wiki whose snapshots fail: the pass comes without it, and again when it completes', async () => {
    const rules = wikiRules(loadConfig({ env: {}, searchPaths: [], flags: { wikis: Object.fromEntries(['en', 'fr', 'de'].map((c) => [c, { api: `http://127.0.0.1/${c}/api.php`, linkMode: 'manual' }])) } }).config)
    const path = join(dir, 'failed')
    let offset = 0
    const decoded = (e: EventToAppend): DecodedEvent => ({ offset: offset++, key: e.key, timestamp: 0, event: { type: e.type, value: e.value } as MbwaEvent })
    const failed = (failures: number): EventToAppend => ({ type: 'SnapshotFailed', key: null, partition: 0, value: { id: `f-${failures}`, source: 'snapshot', observedAt: 1_700_000_100_000, wiki: 'de', snapshotId: 's-de', partition: 0, failures, reason: 'HTTP 503' } })
    let store = await TitleStore.open(path)
    const options = { rules, settleMs: 0, emitCommands: false, now: () => 1_800_000_000_000 }
    let applier = new PartitionApplier(store, 0, options)
    // en and fr have their first snapshots; de's first attempt read one page and failed.
    await applier.apply([decoded(observed('en', 'alpha', [])), decoded(observed('en', 'beta', ['de'])), ...snapshotDone('en', 's-en', 1, 1_699_999_999_000).map(decoded)], offset)
    await applier.apply([decoded(observed('fr', 'alpha', ['en'])), decoded(observed('de', 'gamma', [], { snapshotId: 's-de' })), ...snapshotDone('fr', 's-fr', 1, 1_699_999_999_500).map(decoded)], offset)
    expect(await store.isHeld(0)).toBe(true)
    const waited = await applier.apply([decoded(failed(1))], offset)
    // The failure ends the wait: every title judged once. alpha lacks its link to fr on en ('missing'); beta's link
    // to de is not removed, as de's titles are unknown (rule 4).
    expect(await store.isHeld(0)).toBe(false)
    expect(waited.reevaluated).toBe(3)
    const [alpha, beta] = await store.records(0, ['alpha', 'beta'])
    expect(alpha?.disc).toEqual([['en', 'missing']])
    expect(beta?.disc).toBeUndefined()
    expect(await store.snapshotFailures(0)).toEqual({ de: 1 })
    await store.close()

    // After a restart the wiki is still not waited for: its pages are judged as they come, not held.
    store = await TitleStore.open(path)
    applier = new PartitionApplier(store, 0, options)
    const again = await applier.apply([decoded(failed(2)), decoded(observed('de', 'delta', ['en'], { snapshotId: 's-de' }))], offset)
    expect(again.evaluated).toBe(1)
    expect(await store.isHeld(0)).toBe(false)
    // de's snapshot completes at last (beta is not on de): every title is complete, and beta's link to de goes.
    const done = await applier.apply(snapshotDone('de', 's-de', 1, 1_700_000_000_000 - 1).map(decoded), offset)
    expect(done.reevaluated).toBe(4)
    expect((await store.records(0, ['beta']))[0]?.disc).toEqual([['en', 'remove']])
    expect(await store.snapshotFailures(0)).toEqual({})
    // A later snapshot of a wiki that has one failing is counted (for /v1/wikis), and changes nothing else.
    const later = await applier.apply([decoded({ ...failed(1), value: { ...failed(1).value, wiki: 'en' } as EventToAppend['value'] })], offset)
    expect(later.reevaluated).toBe(0)
    expect(applier.snapshotFailures.get('en')).toBe(1)
    expect(await store.snapshotFailures(0)).toEqual({ en: 1 })
    await store.close()
  })

  it('after an outage that fails every remaining snapshot, passes over every title twice, not once per wiki', async () => {
    const codes = ['en', 'fr', 'de', 'nl', 'pl']
    const rules = wikiRules(loadConfig({ env: {}, searchPaths: [], flags: { wikis: Object.fromEntries(codes.map((c) => [c, { api: `http://127.0.0.1/${c}/api.php`, linkMode: 'manual' }])) } }).config)
    const store = await TitleStore.open(join(dir, 'outage'))
    const applier = new PartitionApplier(store, 0, { rules, settleMs: 0, emitCommands: false, now: () => 1_800_000_000_000 })
    let offset = 0
    const decoded = (e: EventToAppend): DecodedEvent => ({ offset: offset++, key: e.key, timestamp: 0, event: { type: e.type, value: e.value } as MbwaEvent })
    const failed = (wiki: string): EventToAppend => ({ type: 'SnapshotFailed', key: null, partition: 0, value: { id: `f-${wiki}`, source: 'snapshot', observedAt: 1_700_000_100_000, wiki, snapshotId: null, partition: 0, failures: 1, reason: 'connect ECONNREFUSED' } })
    const snapshot = (wiki: string) => [...Array.from({ length: 200 }, (_, t) => decoded(observed(wiki, `word ${t}`, codes.filter((c) => c !== wiki), { snapshotId: `s-${wiki}` }))), ...snapshotDone(wiki, `s-${wiki}`, 1, 1_699_999_999_000).map(decoded)]
    const passes: number[] = []
    const apply = async (events: DecodedEvent[]) => passes.push((await applier.apply(events, offset)).reevaluated)
    await apply(snapshot('en'))
    // The network goes: fr, de, nl and pl fail one after the other. The last failure ends the wait: one pass.
    for (const w of ['fr', 'de', 'nl']) await apply([decoded(failed(w))])
    expect(passes).toEqual([0, 0, 0, 0])
    await apply([decoded(failed('pl'))])
    expect(passes.at(-1)).toBe(200)
    expect(await store.isReleased(0)).toBe(true)
    // It comes back: each wiki's pages are judged as they come, and only the last first snapshot brings a pass.
    for (const w of ['fr', 'de', 'nl']) await apply(snapshot(w))
    expect(passes.slice(-3)).toEqual([0, 0, 0])
    expect(await store.isHeld(0)).toBe(false)
    await apply(snapshot('pl'))
    expect(passes.at(-1)).toBe(200)
    expect(passes.reduce((a, b) => a + b, 0)).toBe(400)
    expect(await store.isReleased(0)).toBe(false)
    for await (const [title, record] of store.entries(0)) expect(applier.verdict(title, record.pages).complete, title).toBe(true)
    await store.close()
  })
})
