import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PageObserved, SnapshotCompleted } from '../../src/events/types.js'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { SnapshotReader } from '../../src/streams/snapshot.js'
import { SnapshotScheduler } from '../../src/streams/snapshot-scheduler.js'
import { farmWiki, FarmEditor, uniqueTitle } from '../setup/farm.js'
import { harness, readEvents, type Harness } from '../setup/events.js'

// Against the real farm: an allpages snapshot with small pages (gaplimit 3, lllimit 2, so both generator and
// langlinks continuation happen) observes every page once with all its links, marks every partition, and one
// interrupted mid-way resumes without reading again what it had read.
describe('allpages snapshot source (int, real MediaWiki)', () => {
  let h: Harness
  let admin: FarmEditor
  let client: MediaWikiClient
  const titles = { many: '', redirect: '', plain: '' }

  beforeAll(async () => {
    h = await harness(4)
    admin = await FarmEditor.open('de')
    client = new MediaWikiClient({ api: farmWiki('de').api, contact: 'mbwa tests' })
    titles.many = uniqueTitle('snap many')
    titles.redirect = uniqueTitle('snap redirect')
    titles.plain = uniqueTitle('snap plain')
    await admin.edit(titles.many, `Ein Wort mit vielen Übersetzungen, lang genug, um nicht leer zu sein.\n[[en:word]]\n[[fr:mot]]\n[[nl:woord]]`)
    await admin.edit(titles.redirect, `#REDIRECT [[${titles.many}]]`)
    await admin.edit(titles.plain, 'x')
    for (let i = 0; i < 7; i++) await admin.edit(uniqueTitle('snap filler'), `Füller ${i} [[en:filler ${i}]]`)
  })
  afterAll(async () => {
    await Promise.allSettled([admin.close(), client.close()])
    await h.close()
  })

  const reader = () => new SnapshotReader({ events: h.events, topic: h.topics.events, checkpoints: h.checkpoints, pageSize: 3, linkLimit: 2 })

  async function allPages(): Promise<number> {
    let n = 0
    for await (const res of client.continued({ action: 'query', list: 'allpages', apnamespace: 0, aplimit: 'max' })) {
      n += ((res.query as { allpages: unknown[] }).allpages ?? []).length
    }
    return n
  }

  it('observes every page once, with all its links merged across continuation, and marks every partition', async () => {
    const expected = await allPages()
    expect(expected).toBeGreaterThan(6) // more than two generator batches of 3
    const result = await reader().run({ code: 'de', client })
    expect(result).toMatchObject({ completed: true, resumed: false, pages: expected })
    expect(result.batches).toBe(Math.ceil(expected / 3))

    const events = await readEvents(h.log, h.topics.events)
    const observed = events.filter((e) => e.event.type === 'PageObserved' && (e.event.value as PageObserved).snapshotId === result.snapshotId)
    expect(observed.length).toBe(expected)
    expect(new Set(observed.map((e) => (e.event.value as PageObserved).pageId)).size).toBe(expected)
    const byTitle = new Map(observed.map((e) => [(e.event.value as PageObserved).title, e.event.value as PageObserved]))
    expect(byTitle.get(titles.many)!.links.map((l) => `${l.code}:${l.title}`).sort()).toEqual(['en:word', 'fr:mot', 'nl:woord'])
    expect(byTitle.get(titles.many)).toMatchObject({ exists: true, redirect: false, blank: false, source: 'snapshot' })
    expect(byTitle.get(titles.redirect)).toMatchObject({ redirect: true })
    expect(byTitle.get(titles.plain)!.blank).toBeNull() // too short to be sure without reading the text

    const markers = events.filter((e) => e.event.type === 'SnapshotCompleted' && (e.event.value as SnapshotCompleted).snapshotId === result.snapshotId)
    expect(markers.map((m) => m.partition).sort()).toEqual([0, 1, 2, 3])
    // The farm's wikis are case-sensitive, as every Wiktionary (siteinfo case, carried to every partition).
    for (const m of markers) expect(m.event.value).toMatchObject({ partition: m.partition, pages: expected, wiki: 'de', titleCase: 'case-sensitive', mainPage: expect.any(String) })
    expect(await reader().state('de')).toBeUndefined()
  })

  it('resumes an interrupted snapshot from its stored continuation without re-reading', async () => {
    const expected = await allPages()
    const first = await reader().run({ code: 'de', client }, { maxBatches: 2 })
    expect(first).toMatchObject({ completed: false, pages: 6, batches: 2 })
    const stored = await reader().state('de')
    expect(stored?.continue).toBeDefined()

    // A new reader, as after a restart, on the same checkpoint store.
    const second = await reader().run({ code: 'de', client })
    expect(second).toMatchObject({ completed: true, resumed: true, snapshotId: first.snapshotId, pages: expected })

    const observed = (await readEvents(h.log, h.topics.events)).filter(
      (e) => e.event.type === 'PageObserved' && (e.event.value as PageObserved).snapshotId === first.snapshotId,
    )
    const ids = observed.map((e) => (e.event.value as PageObserved).pageId)
    expect(ids.length).toBe(expected) // each page once: nothing read before the interruption was read again
    expect(new Set(ids).size).toBe(expected)
    const started = (await readEvents(h.log, h.topics.events)).filter(
      (e) => e.event.type === 'SnapshotStarted' && (e.event.value as { snapshotId: string }).snapshotId === first.snapshotId,
    )
    expect(started.length).toBe(1)
  })

  it('schedules the least recently snapshotted wiki, and an interrupted one first', async () => {
    const en = new MediaWikiClient({ api: farmWiki('en').api, contact: 'mbwa tests' })
    try {
      let now = Date.parse('2030-01-01T00:00:00Z')
      const r = new SnapshotReader({ events: h.events, topic: h.topics.events, checkpoints: h.checkpoints, pageSize: 'max', now: () => now })
      const wikis = [{ code: 'de', client }, { code: 'en', client: en }]
      const scheduler = new SnapshotScheduler(wikis, { reader: r, checkpoints: h.checkpoints, intervalMs: 7 * 86_400_000, now: () => now })
      // de was snapshotted by the tests above (its schedule is stored); en never: en first, due now.
      expect(await scheduler.next()).toMatchObject({ wiki: { code: 'en' }, dueAt: 0 })
      await r.run(wikis[1]!)
      const next = await scheduler.next()
      expect(next!.wiki.code).toBe('de')
      now += 8 * 86_400_000
      expect(next!.dueAt).toBeLessThan(now)
      // An interrupted snapshot of en comes before de, however due de is (en gets pages enough for two batches).
      const enEditor = await FarmEditor.open('en')
      for (let i = 0; i < 3; i++) await enEditor.edit(uniqueTitle('sched'), 'x')
      await enEditor.close()
      await new SnapshotReader({ events: h.events, topic: h.topics.events, checkpoints: h.checkpoints, pageSize: 2, now: () => now }).run(wikis[1]!, { maxBatches: 1 })
      expect(await scheduler.next()).toMatchObject({ wiki: { code: 'en' }, dueAt: 0 })
    } finally {
      await en.close()
    }
  })
})
