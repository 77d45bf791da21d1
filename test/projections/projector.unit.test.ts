import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import type { EventToAppend } from '../../src/events/event-log.js'
import { partitionForKey } from '../../src/log/partitioner.js'
import { Projector } from '../../src/projections/projector.js'
import { decodeSweepStamp, digestHex, keys, TitleStore } from '../../src/projections/title-store.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { harness, readEvents, type Harness } from '../setup/events.js'
import { waitFor } from '../log/helpers.js'
import { created, deleted, edited, moved, observed, snapshotDone } from './fixtures.js'

const PARTITIONS = 4
const rules = wikiRules(
  loadConfig({
    env: {},
    searchPaths: [],
    flags: { wikis: Object.fromEntries(['en', 'fr', 'de', 'nl'].map((c) => [c, { api: `http://127.0.0.1/${c}/api.php`, edit: true, linkMode: 'manual' }])) },
  }).config,
)

let h: Harness | undefined
const stores: TitleStore[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined)
  await h?.close()
  h = undefined
})

async function project(name: string, options: { maxBatchSize?: number; settleMs?: number; now?: () => number; stopAfter?: number } = {}): Promise<{ store: TitleStore; projector: Projector }> {
  const store = await TitleStore.open(join(h!.dir, name))
  stores.push(store)
  const projector = new Projector({ store, events: h!.events, topics: h!.topics, groupId: `g-${name}`, rules, settleMs: options.settleMs ?? 0, maxBatchSize: options.maxBatchSize, now: options.now })
  await projector.start()
  return { store, projector }
}

async function caughtUp(projector: Projector): Promise<void> {
  const ends = await h!.log.endOffsets(h!.topics.events)
  await waitFor(() => projector.status().length === PARTITIONS && projector.status().every((s) => s.offset >= ends[s.partition]!), 20_000, 'projection to catch up')
}

const all = [0, 1, 2, 3]

/** Every wiki snapshotted; "chat" on en, fr and de, observed at `now`, en lacking its link to de. */
function chatLackingDe(now: number): EventToAppend[] {
  return [
    ...['en', 'fr', 'de', 'nl'].flatMap((w) => snapshotDone(w, `s-${w}`, PARTITIONS, now - 100_000, now - 90_000)),
    observed('en', 'chat', ['fr'], { at: now }),
    observed('fr', 'chat', ['en', 'de'], { at: now }),
    observed('de', 'chat', ['en', 'fr'], { at: now }),
  ]
}

function story(): EventToAppend[] {
  return [
    observed('en', 'chat', ['fr']),
    observed('fr', 'chat', ['en', 'de']),
    observed('de', 'chat', []),
    observed('en', 'dog', ['nl'], { revision: 5 }),
    observed('nl', 'hond', []),
    created('fr', 'chien', 7),
    edited('en', 'chat', 101),
    observed('en', 'chat', ['fr', 'de'], { revision: 101 }),
    observed('en', 'chat', ['fr'], { revision: 50 }), // an older read arriving late
    ...moved('nl', 'hond', 'dog', false),
    deleted('de', 'chat'),
    observed('de', 'chat', [], { revision: 200 }),
    ...Array.from({ length: 60 }, (_, i) => observed(['en', 'fr', 'de', 'nl'][i % 4]!, `word ${i % 20}`, i % 3 === 0 ? ['en'] : [])),
  ]
}

describe('title-links projection (unit, embedded log)', () => {
  it('applies page facts in order, newest revision wins, moves and deletions included', async () => {
    h = await harness(PARTITIONS)
    await h.events.append(h.topics.events, story())
    const { store, projector } = await project('a')
    await caughtUp(projector)
    await projector.stop()
    const chat = await store.title(partitionForKey('chat', PARTITIONS), 'chat')
    expect(Object.keys(chat!).sort()).toEqual(['de', 'en', 'fr'])
    expect(chat!.en!.revision).toBe(101)
    expect(chat!.en!.links!.map((l) => l.code)).toEqual(['de', 'fr'])
    expect(chat!.de!.revision).toBe(200)
    expect(await store.title(partitionForKey('hond', PARTITIONS), 'hond')).toBeUndefined()
    const dog = await store.title(partitionForKey('dog', PARTITIONS), 'dog')
    expect(Object.keys(dog!).sort()).toEqual(['en', 'nl'])
    expect(dog!.nl!.links).toBeNull() // moved in: links unknown until read
    const chien = await store.title(partitionForKey('chien', PARTITIONS), 'chien')
    expect(chien!.fr).toMatchObject({ revision: 7, links: null, byBot: false })
  })

  it('a reading of the sink never undoes a fact observed after the read, in either direction (issue 28)', async () => {
    h = await harness(PARTITIONS)
    const T = 1_700_000_000_000
    const reading = (wiki: string, title: string, exists: boolean, at: number): EventToAppend => {
      const e = observed(wiki, title, [], { at, revision: exists ? 100 : undefined })
      return { ...e, value: { ...(e.value as object), source: 'verify', exists, ...(exists ? {} : { revision: null, links: [], writtenLinks: null, blank: null }) } } as unknown as EventToAppend
    }
    const del = (wiki: string, title: string, at: number): EventToAppend => {
      const e = deleted(wiki, title)
      return { ...e, value: { ...(e.value as object), observedAt: at } } as EventToAppend
    }
    await h.events.append(h.topics.events, [
      // fr:chat read as missing at T+5; created at T+10; the reading appended after the creation.
      observed('en', 'chat', [], { at: T }),
      created('fr', 'chat', 7, false, T + 10),
      reading('fr', 'chat', false, T + 5),
      // fr:moon read as existing at T+5; deleted at T+10; the reading appended after the deletion.
      observed('fr', 'moon', [], { at: T }),
      del('fr', 'moon', T + 10),
      reading('fr', 'moon', true, T + 5),
      // A reading after the deletion is newer: it stands (the page was undeleted or created again).
      observed('de', 'star', [], { at: T }),
      del('de', 'star', T + 10),
      reading('de', 'star', true, T + 20),
    ])
    const { store, projector } = await project('race')
    await caughtUp(projector)
    await projector.stop()
    const at = (t: string) => store.title(partitionForKey(t, PARTITIONS), t)
    expect(Object.keys((await at('chat'))!).sort()).toEqual(['en', 'fr'])
    expect(await at('moon')).toBeUndefined()
    expect(Object.keys((await at('star'))!)).toEqual(['de'])
  })

  it('gives the same digest whatever the batch sizes and restarts', async () => {
    h = await harness(PARTITIONS)
    await h.events.append(h.topics.events, story())
    const one = await project('whole', { maxBatchSize: 5000 })
    await caughtUp(one.projector)
    await one.projector.stop()
    const expected = digestHex((await one.store.digest(all)).sum)

    const small = await project('small', { maxBatchSize: 1 })
    await caughtUp(small.projector)
    await small.projector.stop()
    expect(digestHex((await small.store.digest(all)).sum)).toBe(expected)

    // Restarted every few batches: each start resumes from the offsets stored with the state.
    const store = await TitleStore.open(join(h.dir, 'restarts'))
    stores.push(store)
    const ends = await h.log.endOffsets(h.topics.events)
    for (let round = 0; round < 50; round++) {
      const p = new Projector({ store, events: h.events, topics: h.topics, groupId: 'g-restarts', rules, settleMs: 0, maxBatchSize: 3 })
      await p.start()
      await new Promise((r) => setTimeout(r, 5))
      await p.stop()
      const offsets = await Promise.all(all.map((x) => store.offset(x)))
      if (offsets.every((o, i) => o >= ends[i]!)) break
    }
    expect(digestHex((await store.digest(all)).sum)).toBe(expected)
  })

  it('sweeps titles a completed snapshot did not see, in every partition, and keeps what was seen since', async () => {
    h = await harness(PARTITIONS)
    const t0 = 1_700_000_000_000
    await h.events.append(h.topics.events, [
      observed('en', 'kept', [], { snapshotId: 's1', at: t0 }),
      observed('en', 'gone', [], { snapshotId: 'old', at: t0 - 10_000 }),
      observed('en', 'gone too', [], { snapshotId: 'old', at: t0 - 10_000 }),
      observed('en', 'seen after start', [], { at: t0 + 500 }),
      observed('fr', 'gone', [], { snapshotId: 'fr-old', at: t0 - 10_000 }),
      ...snapshotDone('en', 's1', PARTITIONS, t0),
    ])
    const { store, projector } = await project('sweep')
    await caughtUp(projector)
    await projector.stop()
    const get = (t: string) => store.title(partitionForKey(t, PARTITIONS), t)
    expect(await get('kept')).toBeDefined()
    expect(await get('seen after start')).toBeDefined()
    expect(await get('gone too')).toBeUndefined()
    expect(Object.keys((await get('gone'))!)).toEqual(['fr']) // only en's page went
    const marks = await store.snapshots(partitionForKey('kept', PARTITIONS))
    expect(marks.en).toMatchObject({ snapshotId: 's1', startedAt: t0 })
  })

  it('sweeps a later snapshot from the stamps in the wiki-title index, and reads the record of an entry without one', async () => {
    h = await harness(PARTITIONS)
    const t0 = 1_700_000_000_000
    const t1 = t0 + 86_400_000
    const titles = ['seen again', 'left behind', 'edited since', 'old entry', 'old entry seen']
    await h.events.append(h.topics.events, [...titles.map((t, i) => observed('en', t, [], { snapshotId: 's1', at: t0 + i })), ...snapshotDone('en', 's1', PARTITIONS, t0)])
    const first = await project('stamps')
    await caughtUp(first.projector)
    await first.projector.stop()
    const p = (t: string) => partitionForKey(t, PARTITIONS)
    // Entries as a store written before stamps has them: the sweep must read those records to decide.
    for (const t of ['old entry', 'old entry seen']) {
      expect(await first.store.db.get(keys.wikiTitle(p(t), 'en', t))).not.toBe('')
      await first.store.db.put(keys.wikiTitle(p(t), 'en', t), '')
    }
    await h.events.append(h.topics.events, [
      observed('en', 'seen again', [], { snapshotId: 's2', at: t1 + 1 }),
      observed('en', 'old entry seen', [], { snapshotId: 's2', at: t1 + 2 }),
      observed('en', 'edited since', [], { at: t1 + 3, revision: 300 }),
      ...snapshotDone('en', 's2', PARTITIONS, t1),
    ])
    const again = new Projector({ store: first.store, events: h.events, topics: h.topics, groupId: 'g-stamps', rules, settleMs: 0 })
    await again.start()
    await caughtUp(again)
    await again.stop()
    const get = (t: string) => first.store.title(p(t), t)
    expect(await get('seen again')).toBeDefined()
    expect(await get('edited since')).toBeDefined()
    expect(await get('old entry seen')).toBeDefined()
    expect(await get('left behind')).toBeUndefined()
    expect(await get('old entry')).toBeUndefined()
    expect(await first.store.db.get(keys.wikiTitle(p('left behind'), 'en', 'left behind'))).toBeUndefined()
    expect(decodeSweepStamp((await first.store.db.get(keys.wikiTitle(p('seen again'), 'en', 'seen again')))!, first.store.strings)).toEqual({ observedAt: t1 + 1, snapshotId: 's2' })
  })

  it('compares titles as the snapshot said the wiki does, and leaves its main page out (siteinfo case and mainpage, facts in the log)', async () => {
    h = await harness(PARTITIONS)
    const t0 = 1_700_000_000_000
    await h.events.append(h.topics.events, [
      observed('en', 'Chat', ['fr:chat'], { at: t0 }),
      observed('fr', 'Chat', ['en:Chat'], { at: t0 }),
      observed('en', 'Main Page', ['fr:Main Page'], { at: t0 }),
      observed('fr', 'Main Page', [], { at: t0 }),
      ...snapshotDone('en', 's-en', PARTITIONS, t0 - 1, t0 + 1, 'first-letter', 'Main Page'),
      ...snapshotDone('fr', 's-fr', PARTITIONS, t0 - 1, t0 + 1, 'first-letter', 'Accueil'),
    ])
    const { store, projector } = await project('case')
    await caughtUp(projector)
    await projector.stop()
    const p = partitionForKey('Chat', PARTITIONS)
    expect((await store.snapshots(p)).fr).toMatchObject({ titleCase: 'first-letter' })
    // [[fr:chat]] names fr's "Chat" there: nothing to add, nothing to replace.
    const again = await project('case-read')
    await caughtUp(again.projector)
    const verdict = again.projector.owned.get(p)!.applier.verdict('Chat', (await again.store.title(p, 'Chat'))!)
    const mp = partitionForKey('Main Page', PARTITIONS)
    const main = again.projector.owned.get(mp)!.applier.verdict('Main Page', (await again.store.title(mp, 'Main Page'))!)
    await again.projector.stop()
    expect(verdict.pages.find((x) => x.wiki === 'en')).toMatchObject({ add: [], remove: [] })
    // The main page as siteinfo named it (carried by the markers too) takes no part, with no main page configured.
    expect(main.linkSet).toEqual(['fr'])
    expect(main.pages.find((x) => x.wiki === 'en')).toMatchObject({ participates: false, editable: false, add: [] })
  })

  it("issue 28 item 9b: case-sensitive wikis' `chat` is asked to link to a first-letter wiki's `Chat` (one partition), and no more once it is gone", async () => {
    h = await harness(PARTITIONS)
    let now = 1_700_000_000_000
    // nl compares first letters (its snapshot says so); en, fr, de are case-sensitive (every Wiktionary).
    await h.events.append(h.topics.events, [
      ...['en', 'fr', 'de'].flatMap((w) => snapshotDone(w, `s-${w}`, PARTITIONS, now - 100_000, now - 90_000, 'case-sensitive')),
      ...snapshotDone('nl', 's-nl', PARTITIONS, now - 100_000, now - 90_000, 'first-letter'),
      observed('en', 'chat', ['fr'], { at: now }),
      observed('fr', 'chat', ['en'], { at: now }),
      observed('nl', 'Chat', [], { at: now }),
    ])
    expect(partitionForKey('chat', PARTITIONS)).toBe(partitionForKey('Chat', PARTITIONS))
    const a = await project('first-letter', { settleMs: 1000, now: () => now })
    await caughtUp(a.projector)
    now += 1001
    await a.projector.settleAll()
    const sent = () => readEvents(h!.log, h!.topics.edits).then((es) => es.map((e) => e.event.value as { wiki: string; title: string; add: string[]; remove: string[] }).map((c) => `${c.wiki}:${c.title} +${c.add.join(',')} -${c.remove.join(',')}`).sort())
    // nl:Chat's own verdict (under "Chat", where en and fr have no page) asks nothing of it.
    expect(await sent()).toEqual(['en:chat +nl -', 'fr:chat +nl -'])
    const p = partitionForKey('chat', PARTITIONS)
    expect((await a.store.discrepancies(p, 'en', undefined, undefined, 10)).map((d) => [d.kind, d.title, d.codes])).toEqual([['missing', 'chat', ['nl']]])
    // nl's page goes: chat is judged again with it, and nothing is missing any more.
    await h.events.append(h.topics.events, [deleted('nl', 'Chat')])
    await caughtUp(a.projector)
    const applier = a.projector.owned.get(p)!.applier
    const verdict = applier.verdict('chat', (await a.store.title(p, 'chat'))!, undefined, (await applier.firstLetterOf(['chat'])).get('chat'))
    const left = await a.store.discrepancies(p, 'en', undefined, undefined, 10)
    await a.projector.stop()
    expect(verdict.pages.map((x) => x.add)).toEqual([[], []])
    expect(left).toEqual([])
  })

  it('sends an edit command per discrepancy once pages settled, with a deterministic id, and not again on replay', async () => {
    h = await harness(PARTITIONS)
    let now = 1_700_000_000_000
    await h.events.append(h.topics.events, chatLackingDe(now))
    const a = await project('cmd', { settleMs: 3_600_000, now: () => now, maxBatchSize: 2 })
    await caughtUp(a.projector)
    expect(await readEvents(h.log, h.topics.edits)).toEqual([]) // not settled yet
    now += 3_600_001
    await a.projector.settleAll()
    const commands = (await readEvents(h.log, h.topics.edits)).map((e) => e.event.value as { wiki: string; add: string[]; remove: string[]; commandId: string })
    expect(commands.map((c) => [c.wiki, c.add, c.remove])).toEqual([['en', ['de'], []]])
    await a.projector.settleAll()
    await a.projector.stop()
    expect((await readEvents(h.log, h.topics.edits)).length).toBe(1) // pending: not sent again

    // A rebuilt store replaying everything would send the same id again, never a different one.
    const b = await project('cmd-replay', { settleMs: 0, now: () => now })
    await caughtUp(b.projector)
    await b.projector.stop()
    const ids = (await readEvents(h.log, h.topics.edits)).map((e) => (e.event.value as { commandId: string }).commandId)
    expect(new Set(ids)).toEqual(new Set([commands[0]!.commandId]))
  })

  it('a store rebuilt without sending commands keeps the settle schedule: its next live run sends the command when due (issue 28)', async () => {
    h = await harness(PARTITIONS)
    let now = 1_700_000_000_000
    await h.events.append(h.topics.events, chatLackingDe(now))
    const store = await TitleStore.open(join(h.dir, 'rebuilt'))
    stores.push(store)
    // The rebuild: no commands; its settle timer comes round after the page settled, and must keep the entry.
    const rebuild = new Projector({ store, events: h.events, topics: h.topics, groupId: 'g-rebuild', rules, settleMs: 3_600_000, emitCommands: false, now: () => now })
    await rebuild.start()
    await caughtUp(rebuild)
    now += 3_600_001
    await rebuild.settleAll()
    await rebuild.stop()
    expect(await readEvents(h.log, h.topics.edits)).toEqual([])
    // Swapped in: the live run sends the command once the page has settled.
    const live = new Projector({ store, events: h.events, topics: h.topics, groupId: 'g-rebuild', rules, settleMs: 3_600_000, now: () => now })
    await live.start()
    await caughtUp(live)
    await live.settleAll()
    await live.stop()
    const commands = (await readEvents(h.log, h.topics.edits)).map((e) => e.event.value as { wiki: string; add: string[] })
    expect(commands.map((c) => [c.wiki, c.add])).toEqual([['en', ['de']]])
  })
})

describe('cognate mode in the projection (unit)', () => {
  const cognateRules = wikiRules(
    loadConfig({ env: {}, searchPaths: [], flags: { wikiDefaults: { linkMode: 'cognate' }, wikis: Object.fromEntries(['en', 'fr'].map((c) => [c, { api: `http://127.0.0.1/${c}/api.php` }])) } }).config,
  )

  it("judges a title's spellings together: a change to one is looked at from the others; the text is asked for where reports wait for it", async () => {
    h = await harness(PARTITIONS)
    const t0 = 1_700_000_000_000
    // One partition for every spelling Cognate takes for one word.
    expect(new Set(["l'eau", 'l\u2019eau', 'l\u02BCeau'].map((t) => partitionForKey(t, PARTITIONS))).size).toBe(1)
    await h.events.append(h.topics.events, [...['en', 'fr'].flatMap((w) => snapshotDone(w, `s-${w}`, PARTITIONS, t0 - 100_000, t0 - 90_000)), observed('en', "l'eau", [], { at: t0, written: [] }), observed('en', 'house', ['fr'], { at: t0, written: null })])
    const store = await TitleStore.open(join(h.dir, 'cognate'))
    stores.push(store)
    const projector = new Projector({ store, events: h.events, topics: h.topics, groupId: 'g-cognate', rules: cognateRules, settleMs: 0 })
    await projector.start()
    await caughtUp(projector)
    const p = partitionForKey("l'eau", PARTITIONS)
    expect(await store.discrepancies(p, 'en', undefined, undefined, 10)).toEqual([])
    // en:house's fr row may be written or Cognate's stale one: its text is wanted, nothing is reported yet.
    const ph = partitionForKey('house', PARTITIONS)
    expect(await store.textWanted(ph, 'en', 10)).toEqual([{ title: 'house', revision: '100' }])
    expect(await store.discrepancies(ph, 'en', undefined, undefined, 10)).toEqual([])
    // fr:l’eau appears: en:l'eau's langlinks lack Cognate's link to it.
    await h.events.append(h.topics.events, [observed('fr', 'l\u2019eau', [], { at: t0 + 1, written: [] })])
    await caughtUp(projector)
    expect(await store.discrepancies(p, 'en', undefined, undefined, 10)).toEqual([{ kind: 'langlinks-outdated', title: "l'eau", codes: ['fr'], links: [{ code: 'fr', title: 'l\u2019eau', outdated: 'missing' }], at: t0 }])
    // The key's titles are listed together, in one entry a batch reads at once.
    expect((await store.spellings(p, ["l'eau"])).get("l'eau")!.sort()).toEqual(["l'eau", 'l\u2019eau'])
    // The text read: written, so a stale-missing; the entry is gone.
    const reading = observed('en', 'house', [], { at: t0 + 2, written: ['fr'] })
    await h.events.append(h.topics.events, [{ ...reading, value: { ...(reading.value as object), source: 'text' } } as EventToAppend])
    await caughtUp(projector)
    expect(await store.textWanted(ph, 'en', 10)).toEqual([])
    expect(await store.discrepancies(ph, 'en', undefined, undefined, 10)).toEqual([{ kind: 'stale-missing', title: 'house', codes: ['fr'], links: [{ code: 'fr', title: 'house' }], at: t0 + 2 }])
    // Counted per wiki and kind with the entries, and the count survives a restart (it is stored with them).
    const counted = (m: ReadonlyMap<string, number>) => Object.fromEntries([...m].filter(([, n]) => n > 0))
    expect(counted(projector.owned.get(ph)!.applier.entryCounts)).toMatchObject({ 'en\0stale-missing': 1 })
    expect(counted(await store.reportCounts(ph))).toEqual(counted(projector.owned.get(ph)!.applier.entryCounts))
    expect((await store.reportCounts(ph)).get('en\0text-wanted')).toBe(0)
    // The text reading did not read langlinks: the known ones stay (same revision).
    expect((await store.records(ph, ['house']))[0]!.pages.en!.links).toEqual([{ code: 'fr', title: 'house' }])
    // fr:l’eau deleted: it leaves the key's list, and en:l'eau has nothing missing any more.
    const gone = deleted('fr', 'l\u2019eau')
    await h.events.append(h.topics.events, [{ ...gone, value: { ...(gone.value as object), observedAt: t0 + 3 } } as EventToAppend])
    await caughtUp(projector)
    expect((await store.spellings(p, ["l'eau"])).get("l'eau")).toEqual(["l'eau"])
    expect(await store.discrepancies(p, 'en', undefined, undefined, 10)).toEqual([])
    await projector.stop()
  })
})
