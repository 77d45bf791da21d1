import { silentLogger, type Logger } from '../logging.js'
import { MediaWikiApiError, type MediaWikiClient } from '../mediawiki/client.js'
import type { ReportRow } from '../projections/report-rows.js'
import { doublingDelay } from '../backoff.js'
import type { EditQueue, ReportPageState } from './edit-queue.js'
import { emptySection, findSection, pageTitle, reportSections, sectionDigest, withSection, type ReportPagesInput } from './report-page.js'
import type { Throttle } from './throttle.js'
import type { WikiEditor } from './wiki-editor.js'
import { unifiedDiff } from './diff-output.js'

// The on-wiki report pages (wikis.CODE.reportPage), written by the sink: at most once per interval a wiki's
// reports are read from the query endpoint, its report page and subpages are read from the wiki, and each page whose
// section would change becomes a page edit that waits for the wiki's turn in the sink's throttle, like a link edit.
//
// What keeps it safe: nothing outside the markers is touched; a section a person edited is kept (report-page.ts);
// each edit sends the revision's basetimestamp and the read's starttimestamp (a human edit in between is an edit
// conflict: nothing is written, and the page is tried again next interval); a missing page is created with
// createonly; a non-empty shutoff page stops every write, checked before each edit; a title in the main namespace
// is refused. Exactly once: a run that crashed after an edit reads the page again next time, finds its section
// unchanged (the digest) and does not edit it again.

export interface ReportPageWiki {
  code: string
  page: string
  shutoffPage?: string
}

export interface ReportSource {
  /** The wiki's report rows, when the projection can give a whole report (undefined: not yet, say why). */
  rows(wiki: string): Promise<{ rows: ReportRow[]; lastSnapshot: number | undefined } | { notReady: string }>
}

export interface ReportPublisherOptions {
  wikis: readonly ReportPageWiki[]
  source: ReportSource
  queue: EditQueue
  throttle: Throttle
  readers: (wiki: string) => MediaWikiClient | undefined
  /** The wiki's main page, as the sink knows it (siteinfo, asked once): no report's subject. */
  mainPage: (wiki: string) => Promise<string | undefined>
  editors: (wiki: string) => WikiEditor | undefined
  apply: boolean
  intervalMs: number
  checkMs: number
  rowsPerPage: number
  maxPages: number
  publicUrl?: string
  /** Backoff of a run that failed (doubling, up to the interval). */
  retryBaseMs: number
  /** In a group, only the member that owns a wiki's report writes it. */
  owns: (wiki: string) => boolean
  /** Dry run: a page edit shown (and kept with the wiki's diffs) instead of sent. */
  show: (wiki: string, text: string) => Promise<void>
  logger?: Logger
  now?: () => number
}

interface PageEdit {
  title: string
  text: string
  basetimestamp: string | undefined
  baserevid: number | undefined
  starttimestamp: string | undefined
  create: boolean
}

interface ReadPage {
  title: string
  ns: number | undefined
  missing: boolean
  invalid: boolean
  text: string
  timestamp: string | undefined
  revision: number | undefined
}

export interface ReportPageStatus {
  page: string
  /** How the last look ended (written, unchanged, kept-edit, shut-off, waiting, edit-conflict, refused, failed:CODE, shown). */
  outcome: string
  message: string | null
  /** ISO times: the last run that wrote or found nothing to change, and the next look. */
  lastRunAt: string | null
  nextAt: string | null
  pendingEdits: number
}

export class ReportPublisher {
  private readonly pending = new Map<string, { edits: PageEdit[]; written: number; kept: string[] }>()
  private readonly states = new Map<string, ReportPageState>()
  private preparing: Promise<void> | undefined
  private lastTick = -Infinity
  private readonly logger: Logger
  private readonly now: () => number

  constructor(private readonly options: ReportPublisherOptions) {
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
  }

  async load(): Promise<void> {
    for (const w of this.options.wikis) {
      const s = await this.options.queue.reportState(w.code)
      if (s) this.states.set(w.code, s)
    }
  }

  status(): Record<string, ReportPageStatus> {
    const out: Record<string, ReportPageStatus> = {}
    const iso = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString())
    for (const w of this.options.wikis) {
      const s = this.states.get(w.code)
      out[w.code] = { page: w.page, outcome: s?.outcome ?? 'not yet', message: s?.message ?? null, lastRunAt: iso(s?.lastRunAt), nextAt: iso(s?.nextAt), pendingEdits: this.pending.get(w.code)?.edits.length ?? 0 }
    }
    return out
  }

  /** Wikis with a page edit ready, waiting for their turn. */
  ready(): string[] {
    return [...this.pending].filter(([, p]) => p.edits.length > 0).map(([w]) => w)
  }

  /** Looks at the wikis whose report is due, in the background, at most once per second; never two at once. */
  tick(): void {
    if (this.preparing || this.now() - this.lastTick < 1000) return
    this.lastTick = this.now()
    this.preparing = this.prepareDue()
      .catch((err: unknown) => this.logger.error({ err: (err as Error).message }, 'report pages: could not look at the due wikis'))
      .finally(() => {
        this.preparing = undefined
      })
  }

  /** Waits for a look in progress (stop, tests). */
  async settled(): Promise<void> {
    await this.preparing
  }

  private async setState(wiki: string, state: ReportPageState): Promise<void> {
    const was = this.states.get(wiki)
    this.states.set(wiki, state)
    await this.options.queue.setReportState(wiki, state)
    if (was?.outcome !== state.outcome || was?.message !== state.message) this.logger.info({ wiki, outcome: state.outcome, message: state.message, nextAt: new Date(state.nextAt).toISOString() }, 'report page')
  }

  private async prepareDue(): Promise<void> {
    for (const w of this.options.wikis) {
      const state = this.states.get(w.code)
      if ((state?.nextAt ?? 0) > this.now() || this.pending.has(w.code) || !this.options.owns(w.code)) continue
      try {
        await this.prepare(w, state)
      } catch (err) {
        await this.failed(w.code, state, err)
      }
    }
  }

  private async failed(wiki: string, state: ReportPageState | undefined, err: unknown): Promise<void> {
    const failures = (state?.failures ?? 0) + 1
    const code = err instanceof MediaWikiApiError ? err.apiCode : ((err as { code?: string }).code ?? 'error')
    const delay = doublingDelay(failures, this.options.retryBaseMs, this.options.intervalMs)
    this.logger.warn({ wiki, code, err: (err as Error).message, retryInMs: delay }, 'report page: failed; tried again later')
    await this.setState(wiki, { ...state, nextAt: this.now() + delay, outcome: `failed:${code}`, message: (err as Error).message, failures })
  }

  /** Later, without counting a failure: waiting for the projection, or the shutoff page. */
  private async later(wiki: string, state: ReportPageState | undefined, outcome: string, message: string): Promise<void> {
    await this.setState(wiki, { ...state, nextAt: this.now() + this.options.checkMs, outcome, message, failures: 0 })
  }

  private async shutOff(w: ReportPageWiki): Promise<string | undefined> {
    if (!w.shutoffPage) return undefined
    const [page] = (await this.read(w.code, [w.shutoffPage])).pages
    return page && !page.missing && page.text.trim() !== '' ? `${w.shutoffPage} is not empty` : undefined
  }

  private async prepare(w: ReportPageWiki, state: ReportPageState | undefined): Promise<void> {
    const off = await this.shutOff(w)
    if (off) return this.later(w.code, state, 'shut-off', off)
    const got = await this.options.source.rows(w.code)
    if ('notReady' in got) return this.later(w.code, state, 'waiting', got.notReady)
    const main = await this.options.mainPage(w.code)
    const readAt = this.now()
    const input: ReportPagesInput = {
      wiki: w.code,
      title: w.page,
      // The wiki's main page is never a report's subject.
      rows: got.rows.filter((r) => r.title !== main),
      rowsPerPage: this.options.rowsPerPage,
      maxPages: this.options.maxPages,
      readAt,
      lastSnapshot: got.lastSnapshot,
      publicUrl: this.options.publicUrl,
    }
    const sections = reportSections(input)
    const { pages, at } = await this.read(w.code, Array.from({ length: this.options.maxPages }, (_, i) => pageTitle(w.page, i)))
    const first = pages[0]
    if (!first || first.invalid || first.ns === 0) {
      // Config names a title the wiki reads as an article (an unknown namespace prefix), or no title at all.
      this.logger.error({ wiki: w.code, page: w.page, ns: first?.ns }, 'report page: the wiki reads this title as a main-namespace page (or not as a title): refused; set wikis.CODE.reportPage to a title in another namespace (User:…)')
      await this.setState(w.code, { ...state, nextAt: this.now() + this.options.intervalMs, outcome: 'refused', message: `${w.page} is not outside the main namespace on ${w.code}`, failures: 0 })
      return
    }
    const edits: PageEdit[] = []
    const kept: string[] = []
    for (let i = 0; i < pages.length; i++) {
      const page = pages[i]!
      const found = findSection(page.missing ? '' : page.text)
      let want = sections[i]
      if (want === undefined) {
        // A subpage past the report's end: emptied of its rows if mbwa's section there still has some.
        if (page.missing || found.kind !== 'ours') continue
        want = emptySection(input, i, sections.length)
      }
      if (found.kind === 'edited' || found.kind === 'broken') {
        kept.push(page.title)
        this.logger.warn({ wiki: w.code, page: page.title, why: found.kind === 'broken' ? found.why : 'someone edited between the markers' }, 'report page: the section is kept as it is (not overwritten)')
        continue
      }
      if (found.kind === 'ours' && found.digest === sectionDigest(want)) continue
      edits.push({ title: page.title, text: withSection(page.missing ? '' : page.text, found, want), basetimestamp: page.timestamp, baserevid: page.revision, starttimestamp: at, create: page.missing })
      if (!this.options.apply) await this.options.show(w.code, diffOf(w.code, page, edits[edits.length - 1]!.text))
    }
    if (edits.length === 0 || !this.options.apply) {
      const outcome = !this.options.apply && edits.length > 0 ? 'shown' : kept.length > 0 ? 'kept-edit' : 'unchanged'
      const message = kept.length > 0 ? `kept as someone left them: ${kept.join(', ')}` : !this.options.apply && edits.length > 0 ? `${edits.length} page edit(s) shown (dry run)` : undefined
      await this.setState(w.code, { lastRunAt: this.now(), nextAt: this.now() + this.options.intervalMs, outcome, message, failures: 0 })
      return
    }
    this.pending.set(w.code, { edits, written: 0, kept })
  }

  /** The pages, and the wiki's time when they were read (the starttimestamp of edits made from this reading). */
  private async read(wiki: string, titles: string[]): Promise<{ pages: ReadPage[]; at: string | undefined }> {
    const client = this.options.readers(wiki)
    if (!client) throw new MediaWikiApiError('no-reader', `no client for ${wiki}`, wiki)
    const res = await client.get({ action: 'query', prop: 'revisions|info', rvprop: 'content|timestamp|ids', rvslots: 'main', titles, curtimestamp: true })
    const q = res.query as { normalized?: { from: string; to: string }[]; pages?: { title: string; ns?: number; missing?: boolean; invalid?: boolean; revisions?: { revid?: number; timestamp: string; slots?: { main?: { content?: string } } }[] }[] } | undefined
    const byTitle = new Map((q?.pages ?? []).map((p) => [p.title, p]))
    const normal = new Map((q?.normalized ?? []).map((n) => [n.from, n.to]))
    const pages = titles.map((t) => {
      const p = byTitle.get(normal.get(t) ?? t)
      const rev = p?.revisions?.[0]
      return { title: p?.title ?? t, ns: p?.ns, missing: !p || p.missing === true, invalid: !p || p.invalid === true, text: rev?.slots?.main?.content ?? '', timestamp: rev?.timestamp, revision: rev?.revid }
    })
    return { pages, at: (res as { curtimestamp?: string }).curtimestamp }
  }

  /** Sends the wiki's next page edit (its turn in the throttle has come). */
  async editNext(wiki: string): Promise<void> {
    const run = this.pending.get(wiki)
    const w = this.options.wikis.find((x) => x.code === wiki)
    const edit = run?.edits.shift()
    if (!run || !w || !edit) return
    const state = this.states.get(wiki)
    const editor = this.options.editors(wiki)
    try {
      if (!editor) throw new MediaWikiApiError('no-editor', `no account for ${wiki}: report pages need wikis.${wiki}.credentials`, wiki)
      const off = await this.shutOff(w)
      if (off) {
        this.pending.delete(wiki)
        return this.later(wiki, state, 'shut-off', off)
      }
      // The page as it is now: MediaWiki tells an edit conflict by the base revision's time, to the second, and
      // misses a person's edit made within the same second as that revision; the revision id does not.
      const [now] = (await this.read(wiki, [edit.title])).pages
      if (!now || (edit.create ? !now.missing : now.revision !== edit.baserevid)) throw new MediaWikiApiError('editconflict', `${edit.title} was edited since mbwa read it`, wiki)
      await this.options.queue.noteEdit(wiki, this.now())
      const res = await editor.edit({ title: edit.title, text: edit.text, summary: 'mbwa: interlanguage link reports', basetimestamp: edit.basetimestamp, baserevid: edit.baserevid, starttimestamp: edit.starttimestamp, create: edit.create })
      this.options.throttle.record(wiki)
      if (res.revision !== null) run.written++
      this.logger.info({ wiki, page: edit.title, revision: res.revision }, 'report page: written')
    } catch (err) {
      this.options.throttle.record(wiki)
      this.pending.delete(wiki)
      if (err instanceof MediaWikiApiError && (err.apiCode === 'editconflict' || err.apiCode === 'articleexists' || err.apiCode === 'pagedeleted')) {
        // Someone edited (or created, or deleted) the page since it was read: their edit stands; next interval.
        await this.setState(wiki, { ...state, nextAt: this.now() + this.options.intervalMs, outcome: 'edit-conflict', message: `${edit.title}: ${err.apiCode}; tried again next interval`, failures: 0 })
        return
      }
      return this.failed(wiki, state, err)
    }
    if (run.edits.length > 0) return
    this.pending.delete(wiki)
    await this.setState(wiki, {
      lastRunAt: this.now(),
      nextAt: this.now() + this.options.intervalMs,
      outcome: run.kept.length > 0 ? 'kept-edit' : 'written',
      message: `${run.written} page(s) written${run.kept.length > 0 ? `; kept as someone left them: ${run.kept.join(', ')}` : ''}`,
      failures: 0,
    })
  }
}

function diffOf(wiki: string, page: ReadPage, text: string): string {
  return unifiedDiff(`${wiki}:${page.title}`, page.missing ? '' : page.text, text, page.missing ? 'new page' : `as of ${page.timestamp ?? '?'}`, 'report page')
}
