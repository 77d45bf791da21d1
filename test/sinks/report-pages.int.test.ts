import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import type { ReportRow } from '../../src/projections/report-rows.js'
import { EditQueue } from '../../src/sinks/edit-queue.js'
import { EditSink } from '../../src/sinks/edit-sink.js'
import { MARK_END, MARK_START } from '../../src/sinks/report-page.js'
import { ReportPublisher, type ReportPublisherOptions } from '../../src/sinks/report-publisher.js'
import { Throttle } from '../../src/sinks/throttle.js'
import { WikiEditor } from '../../src/sinks/wiki-editor.js'
import { harness, type Harness } from '../setup/events.js'
import { farmWiki, FarmEditor, readFarm, uniqueTitle } from '../setup/farm.js'
import { waitFor } from '../log/helpers.js'

// The on-wiki report page against the real farm, through the sink (its throttle, its account): written once
// between the markers with the rest of the page kept; nothing written when nothing changed; a person's edit between
// the markers kept; a person's edit between mbwa's read and its write an edit conflict, never overwritten; the
// shutoff page stops it; subpages at a small rowsPerPage, emptied when the report shrinks; a main-namespace title
// refused. MediaWiki's own parse of the page is the judge of what a reader sees.
describe('report pages (int, real MediaWiki)', () => {
  let h: Harness
  let admin: FarmEditor
  let reader: MediaWikiClient
  const clients: MediaWikiClient[] = []
  beforeAll(async () => {
    h = await harness(4)
    admin = await FarmEditor.open('en')
    reader = new MediaWikiClient({ api: farmWiki('en').api, contact: 'mbwa tests', maxlag: 0 })
  })
  afterAll(async () => {
    await admin.close()
    await reader.close()
    await Promise.allSettled(clients.map((c) => c.close()))
    await h.close()
  })

  function row(title: string, kind = 'stale-missing', code = 'fr', target = title): ReportRow {
    return { wiki: 'en', title, url: undefined, kind, code, target, targetUrl: undefined, evidence: 'written in the text; no such page on the target wiki', since: '2026-12-01T10:00:00.000Z' }
  }

  /** The sink with report pages for en, its rows what `rows` holds when asked. */
  async function sink(name: string, page: string, rows: { current: ReportRow[] }, over: Partial<ReportPublisherOptions> = {}, throttleMs = 0) {
    const farm = readFarm()
    const config = loadConfig({ env: {}, searchPaths: [], flags: { wikis: { en: { api: farmWiki('en').api, linkMode: 'cognate' } } } }).config
    const w = new MediaWikiClient({ api: farmWiki('en').api, contact: 'mbwa tests', maxlag: 0 })
    clients.push(w)
    const editor = new WikiEditor('en', w, { username: farm.bot.botPasswordUser, password: farm.bot.botPassword }, 'bot')
    const queue = await EditQueue.open(join(h.dir, `sink-${name}`))
    const throttle = new Throttle({ intervalMs: () => throttleMs, perMinute: 0, smallBacklog: 0, slowdown: 1 })
    const asked = { count: 0 }
    const shown = { text: '' }
    const holder: { sink?: EditSink } = {}
    const reports = new ReportPublisher({
      wikis: [{ code: 'en', page, shutoffPage: over.wikis?.[0]?.shutoffPage }],
      source: {
        rows: async () => {
          asked.count++
          return { rows: rows.current, lastSnapshot: Date.UTC(2026, 11, 6) }
        },
      },
      queue,
      throttle,
      readers: () => w,
      mainPage: async (wiki) => holder.sink?.mainPageOf(wiki),
      editors: () => editor,
      apply: true,
      intervalMs: 3_600_000,
      checkMs: 500,
      rowsPerPage: 500,
      maxPages: 20,
      retryBaseMs: 1000,
      owns: () => true,
      show: async (wiki, text) => holder.sink?.showText(wiki, text),
      ...over,
    })
    await reports.load()
    const s = new EditSink({
      events: h.events,
      topics: h.topics,
      groupId: `g-${name}`,
      queue,
      throttle,
      rules: wikiRules(config),
      clients: new Map([['en', w]]),
      editors: new Map([['en', editor]]),
      codes: new Set(['en', 'fr', 'de']),
      order: () => ({ kind: 'code' }),
      botName: farm.bot.user,
      cooldownMs: 0,
      reports,
      apply: over.apply ?? true,
      diffsDir: join(h.dir, `diffs-${name}`),
      out: { write: (chunk: string) => ((shown.text += chunk), true) } as unknown as NodeJS.WritableStream,
    })
    holder.sink = s
    await s.start()
    return { s, queue, reports, asked, throttle, shown }
  }

  async function revisions(title: string): Promise<{ user: string; comment: string }[]> {
    const res = await reader.get({ action: 'query', titles: title, prop: 'revisions', rvprop: 'user|comment', rvlimit: 'max' })
    const p = (res.query as { pages: { missing?: boolean; revisions?: { user: string; comment: string }[] }[] }).pages[0]!
    return p.revisions ?? []
  }

  async function text(title: string): Promise<string | undefined> {
    const res = await reader.get({ action: 'query', titles: title, prop: 'revisions', rvprop: 'content', rvslots: 'main' })
    const p = (res.query as { pages: { missing?: boolean; revisions?: { slots: { main: { content: string } } }[] }[] }).pages[0]!
    return p.missing ? undefined : p.revisions![0]!.slots.main.content
  }

  /** What a reader sees: MediaWiki's parse of the page (internal and interwiki links, the text). */
  async function parsed(title: string): Promise<{ links: string[]; iwlinks: string[]; text: string }> {
    const res = await reader.get({ action: 'parse', page: title, prop: 'links|iwlinks|text' })
    const p = res.parse as { links: { title: string }[]; iwlinks: { prefix: string; title: string }[]; text: string }
    return { links: p.links.map((l) => l.title), iwlinks: p.iwlinks.map((l) => l.title), text: p.text }
  }

  /** The report edits are a bot's edits (bot=1): recent changes flag them so. */
  async function botFlagged(title: string): Promise<boolean> {
    const res = await reader.get({ action: 'query', list: 'recentchanges', rctitle: title, rcprop: 'flags|user', rclimit: 10 })
    const rcs = (res.query as { recentchanges: { user: string; bot?: boolean }[] }).recentchanges
    return rcs.some((r) => r.user === readFarm().bot.user && r.bot === true)
  }

  it('writes once between the markers, keeps the rest of the page, writes nothing when nothing changed', { timeout: 120_000 }, async () => {
    const page = `User:${readFarm().bot.user}/${uniqueTitle('Reports')}`
    await admin.edit(page, `Intro with {{PAGENAME}} and <nowiki>~~~~</nowiki>.\n${MARK_START}\n${MARK_END}\n[[Category:Bot reports]]\nOutro.`)
    // (Three tildes or more are no title: MediaWiki refuses them.)
    const hostile = ['a ~~ b', "It''s", 'a&b', 'שלום', '!! x', 'Main Page']
    const rows = { current: [...hostile.map((t) => row(t)), row('Cat', 'stale-other-title', 'fr', 'Chat')] }
    const { s, queue, reports } = await sink('once', page, rows)
    await waitFor(() => reports.status().en?.outcome === 'written', 60_000, 'the report page written')
    const after = (await text(page))!
    // The rest of the page, byte for byte; the saved text has no signature where a title had tildes.
    expect(after.startsWith(`Intro with {{PAGENAME}} and <nowiki>~~~~</nowiki>.\n${MARK_START}\n`)).toBe(true)
    expect(after.endsWith(`${MARK_END}\n[[Category:Bot reports]]\nOutro.`)).toBe(true)
    expect(after).not.toContain(`[[User:${readFarm().bot.user}`)
    const seen = await parsed(page)
    for (const t of hostile.filter((x) => x !== 'Main Page')) {
      expect(seen.links, t).toContain(t)
      expect(seen.iwlinks, t).toContain(`fr:${t}`)
    }
    expect(seen.iwlinks).toContain('fr:Chat')
    // The wiki's main page is no report's subject.
    expect(seen.links).not.toContain('Main Page')
    expect(seen.text).toContain('a ~~ b')
    expect(seen.text).toContain('wikitable sortable')
    const revs = await revisions(page)
    expect(revs).toHaveLength(2)
    expect(revs[0]!.user).toBe(readFarm().bot.user)
    expect(revs[0]!.comment).toBe('mbwa: interlanguage link reports')
    expect(await botFlagged(page)).toBe(true)
    // Due again (the interval is over), nothing changed: the page is read, not written.
    await queue.setReportState('en', { nextAt: 0, outcome: 'written' })
    await s.stop()
    await queue.close()
    const again = await sink('once', page, rows)
    await waitFor(() => again.reports.status().en?.outcome === 'unchanged', 60_000, 'the second look')
    expect(await revisions(page)).toHaveLength(2)
    await again.s.stop()
    await again.queue.close()
  })

  it('keeps a person\'s edit between the markers; an edit between the read and the write is a conflict, not overwritten', { timeout: 120_000 }, async () => {
    const page = `User:${readFarm().bot.user}/${uniqueTitle('Kept')}`
    const rows = { current: [row('alpha')] }
    // No page yet: created (createonly).
    const first = await sink('kept', page, rows)
    await waitFor(() => first.reports.status().en?.outcome === 'written', 60_000, 'the page created')
    const written = (await text(page))!
    expect(written.startsWith(MARK_START)).toBe(true)
    // A person fixes a row between the markers: the next run keeps it.
    const human = written.replace('<nowiki>alpha</nowiki>', '<nowiki>alpha (done)</nowiki>')
    await admin.edit(page, human)
    rows.current = [row('alpha'), row('beta')]
    await first.queue.setReportState('en', { nextAt: 0, outcome: 'written' })
    await first.s.stop()
    await first.queue.close()
    const second = await sink('kept', page, rows)
    await waitFor(() => second.reports.status().en?.outcome === 'kept-edit', 60_000, 'the edit kept')
    expect(await text(page)).toBe(human)
    // Emptied between the markers: mbwa's again.
    await admin.edit(page, `Header.\n${MARK_START}\n${MARK_END}\n`)
    await second.queue.setReportState('en', { nextAt: 0, outcome: 'kept-edit' })
    await second.s.stop()
    await second.queue.close()
    // A slow turn (the wiki's edit interval): a person writes between the markers after mbwa read the page and
    // before it writes. (An edit elsewhere on the page meanwhile is merged by MediaWiki: kept too.)
    const third = await sink('kept', page, rows, {}, 4000)
    third.throttle.record('en')
    await waitFor(() => third.reports.ready().includes('en'), 30_000, 'the page edit prepared')
    const meanwhile = `Header.\n${MARK_START}\nA note of mine.\n${MARK_END}\n`
    await admin.edit(page, meanwhile)
    await waitFor(() => third.reports.status().en?.outcome === 'edit-conflict', 30_000, 'the conflict')
    expect(await text(page)).toBe(meanwhile.trimEnd()) // MediaWiki keeps no trailing line break
    // Tried again next interval, not before.
    expect(Date.parse(third.reports.status().en!.nextAt!)).toBeGreaterThan(Date.now() + 3_000_000)
    await third.s.stop()
    await third.queue.close()
  })

  it('the shutoff page stops it; subpages at rowsPerPage, emptied when the report shrinks', { timeout: 180_000 }, async () => {
    const base = `User:${readFarm().bot.user}/${uniqueTitle('Paged')}`
    const shutoff = `User:${readFarm().bot.user}/${uniqueTitle('Shutoff')}`
    await admin.edit(shutoff, 'stop, please')
    const rows = { current: ['r1', 'r2', 'r3', 'r4', 'r5'].map((t) => row(t)) }
    const opts = { wikis: [{ code: 'en', page: base, shutoffPage: shutoff }], rowsPerPage: 2, maxPages: 3 }
    const run = await sink('paged', base, rows, opts)
    await waitFor(() => run.reports.status().en?.outcome === 'shut-off', 30_000, 'shut off')
    expect(await text(base)).toBeUndefined()
    expect(run.asked.count).toBe(0)
    await admin.edit(shutoff, '')
    await waitFor(() => run.reports.status().en?.outcome === 'written', 60_000, 'written once the shutoff page is empty')
    expect(run.reports.status().en!.message).toBe('3 page(s) written')
    for (const [i, t] of [base, `${base}/2`, `${base}/3`].entries()) {
      const seen = await parsed(t)
      expect(seen.links).toEqual(expect.arrayContaining([`r${2 * i + 1}`]))
      expect(seen.text).toContain(`Page ${i + 1} of 3`)
    }
    expect(await text(`${base}/4`)).toBeUndefined()
    // The report shrinks to one page: the subpages are emptied of their rows, not deleted.
    rows.current = [row('r1')]
    await run.queue.setReportState('en', { nextAt: 0, outcome: 'due' })
    await run.s.stop()
    await run.queue.close()
    const shrunk = await sink('paged', base, rows, opts)
    await waitFor(() => shrunk.reports.status().en?.outcome === 'written', 60_000, 'written again')
    expect((await parsed(`${base}/2`)).links).not.toContain('r3')
    expect(await text(`${base}/3`)).toContain('No reports on this page now')
    expect((await parsed(base)).links).toContain('r1')
    await shrunk.s.stop()
    await shrunk.queue.close()
  })

  it('a dry run shows the page\'s diff once an interval and writes nothing', { timeout: 60_000 }, async () => {
    const page = `User:${readFarm().bot.user}/${uniqueTitle('Dry')}`
    await admin.edit(page, `Above.\n${MARK_START}\n${MARK_END}`)
    const run = await sink('dry', page, { current: [row('alpha')] }, { apply: false })
    await waitFor(() => run.reports.status().en?.outcome === 'shown', 30_000, 'the diff shown')
    expect(run.shown.text).toContain(`+++ en:${page}`)
    expect(run.shown.text).toContain('+| [[:alpha|<nowiki>alpha</nowiki>]]')
    expect(readFileSync(join(h.dir, 'diffs-dry', 'en.diff'), 'utf8')).toBe(run.shown.text)
    expect(await revisions(page)).toHaveLength(1)
    expect(Date.parse(run.reports.status().en!.nextAt!)).toBeGreaterThan(Date.now() + 3_000_000)
    await run.s.stop()
    await run.queue.close()
  })

  it('refuses a title the wiki reads as an article', { timeout: 60_000 }, async () => {
    const page = `Nonamespace${uniqueTitle('x').replace(' ', '')}:Reports`
    const run = await sink('refused', page, { current: [row('a')] })
    await waitFor(() => run.reports.status().en?.outcome === 'refused', 30_000, 'refused')
    expect(await text(page)).toBeUndefined()
    await run.s.stop()
    await run.queue.close()
  })
})
