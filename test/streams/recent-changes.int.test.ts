import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { titleKey } from '../../src/events/titles.js'
import { partitionForKey } from '../../src/log/partitioner.js'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { RecentChangesPoller } from '../../src/streams/recent-changes.js'
import { farmWiki, FarmEditor, readFarm, uniqueTitle } from '../setup/farm.js'
import { harness, readEvents, type Harness } from '../setup/events.js'

// Against the real farm (MediaWiki 1.39): changes made on a wiki come out of list=recentchanges as the right
// events, keyed by title, and the position survives a restart.
describe('recent-changes polling source (int, real MediaWiki)', () => {
  let h: Harness
  let admin: FarmEditor
  let client: MediaWikiClient
  beforeAll(async () => {
    h = await harness()
    admin = await FarmEditor.open('en')
    client = new MediaWikiClient({ api: farmWiki('en').api, contact: 'mbwa tests' })
  })
  afterAll(async () => {
    await Promise.allSettled([admin.close(), client.close()])
    await h.close()
  })

  const poller = () =>
    new RecentChangesPoller([{ code: 'en', client }], {
      events: h.events,
      topic: h.topics.events,
      checkpoints: h.checkpoints,
      minIntervalMs: 1000,
      maxIntervalMs: 60_000,
      initialIntervalMs: 8000,
      limit: 3, // small pages, so continuation is exercised
    })

  it('turns creations, edits, moves, deletions and undeletions into events, once each', async () => {
    await poller().pollOnce({ code: 'en', client }) // catch up with whatever earlier runs left on the wiki

    const a = uniqueTitle('rc alpha')
    const b = uniqueTitle('rc beta')
    const c = uniqueTitle('rc gamma')
    const created = await admin.edit(a, 'alpha [[fr:alpha]]')
    const edited = await admin.edit(a, 'alpha, more [[fr:alpha]] [[de:Alpha]]')
    await admin.move(a, b, true)
    await admin.edit(c, 'gamma')
    await admin.delete(c)
    await admin.undelete(c)
    const bot = new MediaWikiClient({ api: farmWiki('en').api, contact: 'mbwa tests' })
    const { bot: botAccount } = readFarm()
    await bot.login(botAccount.botPasswordUser, botAccount.botPassword)
    const d = uniqueTitle('rc delta')
    await bot.post({ action: 'edit', title: d, text: 'made by a bot', bot: true, token: await bot.csrfToken() })
    await bot.close()

    const r = await poller().pollOnce({ code: 'en', client })
    // MediaWiki drops the recentchanges rows of a page when it is deleted: c's creation is gone by now.
    expect(r.entries).toBeGreaterThanOrEqual(6)
    const all = await readEvents(h.log, h.topics.events) // titles are unique to this test
    const ours = all.filter((e) => {
      const v = e.event.value as { title?: string; fromTitle?: string; toTitle?: string }
      return [a, b, c, d].some((t) => v.title === t || v.fromTitle === t || v.toTitle === t)
    })
    const summary = ours.map((e) => [e.event.type, (e.event.value as { title?: string }).title ?? `${(e.event.value as { fromTitle: string }).fromTitle}→${(e.event.value as { toTitle: string }).toTitle}`])
    expect(summary).toEqual(
      expect.arrayContaining([
        ['PageCreated', a],
        ['PageEdited', a],
        ['PageMoved', `${a}→${b}`],
        ['PageDeleted', c],
        ['PageCreated', d],
      ]),
    )
    // the move is under both titles' keys; c's deletion and undeletion are two facts
    expect(ours.filter((e) => e.event.type === 'PageMoved').map((e) => e.key).sort()).toEqual([titleKey(a), titleKey(b)].sort())
    expect(ours.filter((e) => (e.event.value as { title?: string }).title === c).map((e) => e.event.type)).toEqual(['PageDeleted', 'PageCreated'])
    for (const e of ours) {
      if (e.key) expect(e.partition).toBe(partitionForKey(e.key, 4))
      expect(e.event.value.source).toBe('rc')
    }
    const creation = ours.find((e) => e.event.type === 'PageCreated' && (e.event.value as { title: string }).title === a)!
    expect(creation.event.value).toMatchObject({ id: `en:rev:${created.newrevid}`, pageId: created.pageid, revision: created.newrevid, byBot: false })
    const edit = ours.find((e) => e.event.type === 'PageEdited')!
    expect(edit.event.value).toMatchObject({ id: `en:rev:${edited.newrevid}`, revision: edited.newrevid })
    const move = ours.find((e) => e.event.type === 'PageMoved')!
    expect(move.event.value).toMatchObject({ redirectLeft: true, wiki: 'en' })
    expect(ours.find((e) => (e.event.value as { title?: string }).title === d)!.event.value).toMatchObject({ byBot: true })
    // every fact once
    expect(new Set(ours.map((e) => `${e.event.value.id}|${e.key}`)).size).toBe(ours.length)

    // A restarted poller (same checkpoint store) finds nothing new; the interval has adapted.
    const again = poller()
    expect((await again.pollOnce({ code: 'en', client })).entries).toBe(0)
    expect(await again.intervalOf('en')).toBeGreaterThan(1000)
  })

  it('sees a page moved from another namespace into the main one (MediaWiki lists the move under its source namespace)', async () => {
    const p = poller()
    await p.pollOnce({ code: 'en', client })
    const draft = `User:Admin/${uniqueTitle('rc draft')}`
    const target = uniqueTitle('rc published')
    await admin.edit(draft, 'a draft [[fr:brouillon]]')
    await admin.move(draft, target, false)
    await p.pollOnce({ code: 'en', client })
    const events = (await readEvents(h.log, h.topics.events)).filter((e) => (e.event.value as { title?: string }).title === target)
    expect(events.map((e) => e.event.type)).toEqual(['PageCreated'])
    expect(events[0]!.key).toBe(titleKey(target))
    // Nothing of the draft itself (not in the main namespace) became an event.
    expect((await readEvents(h.log, h.topics.events)).some((e) => JSON.stringify(e.event.value).includes('rc draft') && (e.event.value as { title?: string }).title !== target)).toBe(false)
  })

  it('adapts the interval: shorter while a wiki changes, longer while quiet, within bounds', async () => {
    const p = poller()
    await p.pollOnce({ code: 'en', client })
    const quiet1 = await p.intervalOf('en')
    await p.pollOnce({ code: 'en', client })
    const quiet2 = await p.intervalOf('en')
    expect(quiet2).toBeGreaterThan(quiet1)
    await admin.edit(uniqueTitle('rc busy'), 'busy')
    await p.pollOnce({ code: 'en', client })
    expect(await p.intervalOf('en')).toBeLessThan(quiet2)
    for (let i = 0; i < 20; i++) await p.pollOnce({ code: 'en', client })
    expect(await p.intervalOf('en')).toBe(60_000)
  })
})
