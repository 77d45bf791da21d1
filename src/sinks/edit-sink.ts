import { setTimeout as sleep } from 'node:timers/promises'
import type { EventStore, EventToAppend } from '../events/event-log.js'
import { titleKey } from '../events/titles.js'
import type { EditRequested } from '../events/types.js'
import { silentLogger, type Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import { tpKey, type Subscription } from '../log/types.js'
import { MediaWikiApiError, type MediaWikiClient } from '../mediawiki/client.js'
import { evaluateTitle, type PageVerdict } from '../domain/link-rules.js'
import { REFRESH_LINKS } from '../projections/edit-commands.js'
import type { KnownWiki, RulesByWiki } from '../domain/wiki-rules.js'
import { botsDenied } from '../wikitext/bots.js'
import { isMbwaError } from '../errors/errors.js'
import { isBlank, rewriteLanguageLinks, type LinkOrder } from '../wikitext/interwiki.js'
import type { DiscoveredList, EditQueue, QueuedCommand, Waiting } from './edit-queue.js'
import type { Throttle } from './throttle.js'
import { LinkPurges } from './link-purge.js'
import { appliedEvent, failedEvent, skippedEvent } from './outcome-events.js'
import { asPageState, observation, verifyTitles, type LivePage, type Verification, type VerifyItem } from './verify.js'
import type { WikiEditor } from './wiki-editor.js'
import { doublingDelay } from '../backoff.js'
import { pageUrl } from '../domain/page-url.js'
import type { ReportPublisher } from './report-publisher.js'
import { classifyEditFailure, type EditFailure } from './edit-failure.js'
import { PauseControl } from './pause-control.js'
import { Readings } from './readings.js'
import { WikiFactsCache } from './wiki-facts.js'
import { DiffOutput, unifiedDiff } from './diff-output.js'

// The edit sink: edit commands from the edits topic wait in the sink's queue; at the pace the throttle allows,
// a command's title is verified on the live wikis, and its page is rewritten if it still needs it. Verification
// is batched: when a command's title has no fresh reading, the titles of the commands whose turn comes soon on
// every wiki are read together (verify.ts), and the readings serve the edits that follow. Every outcome is an
// event (applied, skipped, failed), appended before the command leaves the queue: a crash in between leaves the
// command queued, and the next verify finds the page already right.
//
// Failures stay local: a page the wiki refuses (protection, abuse filter, spam blacklist) ends that command; a
// wiki that cannot be written (read-only, a block, lost rights) is paused, checked again with backoff and resumed
// by itself; any other failure sends the command to the end of its wiki's line with backoff, up to a limit.

export interface RetryOptions {
  /** Tries before a command ends with a final EditFailed. */
  maxAttempts: number
  baseDelayMs: number
  maxDelayMs: number
}

export interface EditSinkOptions {
  events: EventStore
  topics: TopicNames
  groupId: string
  queue: EditQueue
  throttle: Throttle
  /** The configured wikis' rules, until the edits topic announces discovered wikis. */
  rules: RulesByWiki
  /**
   * The rules with the discovered wikis (a WikisDiscovered on the edits topic), as the projection makes them from
   * the same facts on the events topic: one set of rules for both.
   */
  rulesWith?: (discovered: readonly KnownWiki[]) => RulesByWiki
  /** A reader for a discovered wiki (never a writer: mbwa edits only wikis its configuration names). */
  readerFor?: (wiki: KnownWiki) => MediaWikiClient | undefined
  /** Readers for every configured wiki (verify reads them all as needed). */
  clients: ReadonlyMap<string, MediaWikiClient>
  /** Writers for the wikis mbwa may edit. Only these are ever written, whatever a command says. */
  editors: ReadonlyMap<string, WikiEditor>
  codes: ReadonlySet<string>
  order: (wiki: string) => LinkOrder
  /** Edit for real; otherwise print a unified diff per page and leave the command queued. */
  apply: boolean
  /** Name the page's {{bots}} templates are checked against where the wiki does not say the account's name (dry run). */
  botName: string
  cooldownMs: number
  /** Purges (refreshLinks) a minute per wiki (default 10). */
  purgesPerMinute?: number
  /** Titles per read request on a wiki (default: 500 where the editing account has apihighlimits, else 50). */
  titlesPerRequest?: (wiki: string) => Promise<number>
  /** Read requests a wiki may have in flight at once (default 1). */
  concurrency?: (wiki: string) => number
  /** Commands verified ahead per wiki: those whose turn comes within this time (default 60 s). */
  verifyAheadMs?: number
  /** A reading older than this is read again before an edit (default 5 min). */
  verifyMaxAgeMs?: number
  /** Most titles verified in one batch (default 500). */
  maxBatchTitles?: number
  /**
   * Before a batch is read, wait while commands are still arriving (one came within this time; default 1 s), up
   * to 10 times as long: commands of one snapshot or catch-up arrive over seconds, and read together they cost a
   * fraction of the requests.
   */
  verifyLingerMs?: number
  retry?: Partial<RetryOptions>
  /** Backoff of the checks of a paused wiki (default 1 min doubling to 1 h). */
  pauseCheck?: { baseDelayMs: number; maxDelayMs: number }
  /** Where `mbwa sink resume WIKI` leaves its requests while mbwa runs (one empty file per wiki). */
  controlDir?: string
  out?: NodeJS.WritableStream
  /** Dry run: where the diffs are kept, a file per wiki. */
  diffsDir?: string
  /** The on-wiki report pages: their page edits take the wikis' turns in the throttle like link edits. */
  reports?: ReportPublisher
  logger?: Logger
  now?: () => number
}

export interface SinkStats {
  applied: number
  skipped: Record<string, number>
  failed: number
  shown: number
  /** Purges with a links update sent (refreshLinks). */
  purged: number
  /** Titles verified, and the batches they were read in. */
  verified: number
  batches: number
}

const DEFAULT_RETRY: RetryOptions = { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 6 * 3600_000 }

export class EditSink {
  readonly stats: SinkStats = { applied: 0, skipped: {}, failed: 0, shown: 0, verified: 0, batches: 0, purged: 0 }
  private purges: LinkPurges | undefined
  private subscription: Subscription | undefined
  private readonly stopping = new AbortController()
  private worker: Promise<void> | undefined
  /** Dry run: commands already shown, and wikis whose commands have all been shown. */
  private readonly shown = new Set<string>()
  private readonly shownWikis = new Set<string>()
  /** Wikis whose first command is not due before this time. */
  private readonly notBefore = new Map<string, number>()
  private readonly readings: Readings
  private readonly pauses: PauseControl
  private readonly facts: WikiFactsCache
  private readonly diffs: DiffOutput
  private lastEnqueueAt = 0
  private rules: RulesByWiki
  private readonly clients: Map<string, MediaWikiClient>
  /** Readers made for discovered wikis (closed by stop()). */
  private readonly discoveredReaders = new Map<string, MediaWikiClient>()
  private readonly codes: Set<string>
  private discoveredAt = -1
  /** Partitions of the edits topic this member holds (a wiki's report page is written by the member holding its partition). */
  private readonly held = new Set<number>()
  private readonly retry: RetryOptions
  private readonly logger: Logger
  private readonly now: () => number

  constructor(private readonly options: EditSinkOptions) {
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
    this.retry = { ...DEFAULT_RETRY, ...options.retry }
    this.rules = options.rules
    this.clients = new Map(options.clients)
    this.codes = new Set(options.codes)
    this.readings = new Readings(options.verifyMaxAgeMs ?? 300_000, 2 * (options.maxBatchTitles ?? 500), this.now)
    this.diffs = new DiffOutput(options.out, options.diffsDir)
    this.facts = new WikiFactsCache({ apply: options.apply, editors: options.editors, clients: this.clients, titlesPerRequest: options.titlesPerRequest, logger: this.logger })
    this.pauses = new PauseControl({ queue: options.queue, editors: options.editors, controlDir: options.controlDir, check: options.pauseCheck, logger: this.logger, now: this.now })
  }

  /** Takes a discovered wiki list into the rules, with a reader for each open wiki not configured. */
  private discover(list: DiscoveredList): void {
    if (list.observedAt < this.discoveredAt || !this.options.rulesWith) return
    this.discoveredAt = list.observedAt
    this.rules = this.options.rulesWith(list.wikis)
    for (const w of list.wikis) {
      this.codes.add(w.code)
      if (w.closed || this.options.clients.has(w.code)) continue
      const known = this.discoveredReaders.get(w.code)
      if (known && known.api.href === new URL(w.api).href) continue
      const reader = this.options.readerFor?.(w)
      if (!reader) continue
      if (known) void known.close()
      this.discoveredReaders.set(w.code, reader)
      this.clients.set(w.code, reader)
    }
  }

  async start(): Promise<void> {
    const { events, topics, queue } = this.options
    // The pace holds across restarts: the throttle starts from the last edits recorded.
    for (const [wiki, at] of await queue.lastEdits()) this.options.throttle.record(wiki, at)
    const discovered = await queue.discovered()
    if (discovered) this.discover(discovered)
    this.subscription = await events.consume({
      groupId: `${this.options.groupId}.sink`,
      topics: [topics.edits],
      deadLetterTopic: topics.deadLetter,
      logger: this.logger,
      onAssign: async (assigned) => {
        this.held.clear()
        for (const tp of assigned) this.held.add(tp.partition)
        return new Map(await Promise.all(assigned.map(async (tp) => [tpKey(tp.topic, tp.partition), await queue.offset(tp.partition)] as [string, number])))
      },
      onRevoke: (revoked) => {
        for (const tp of revoked) this.held.delete(tp.partition)
      },
      eachBatch: async (batch) => {
        const commands = batch.events.flatMap((e) => (e.event.type === 'EditRequested' ? [e.event.value] : []))
        // The discovered list this partition announced last, stored with the batch's offset and taken into the
        // rules before its commands run (they were judged with it).
        let list: DiscoveredList | undefined
        for (const e of batch.events) {
          if (e.event.type === 'WikisDiscovered' && e.event.value.partition === batch.partition) list = { observedAt: e.event.value.observedAt, wikis: e.event.value.wikis.map((w) => ({ code: w.code, api: w.api, closed: w.closed })) }
        }
        if (list && list.observedAt < this.discoveredAt) list = undefined
        if ((await queue.enqueue(commands, batch.partition, batch.lastOffset + 1, list)) > 0) this.lastEnqueueAt = this.now()
        if (list) this.discover(list)
        for (const c of commands) this.notBefore.delete(c.wiki)
      },
    })
    this.worker = this.work()
  }

  /** The wiki's main page, as its siteinfo says (asked once per wiki, with the rest of what the sink knows of it). */
  async mainPageOf(wiki: string): Promise<string | undefined> {
    return (await this.facts.of(wiki)).mainPage
  }

  /** Whether this member holds a partition of the edits topic now. */
  holds(partition: number): boolean {
    return this.held.has(partition)
  }

  /** Settles when the sink's consumer ends (rejects if it failed). */
  get closed(): Promise<void> {
    return this.subscription?.closed ?? Promise.resolve()
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    await this.subscription?.stop()
    await this.worker
    await this.options.reports?.settled()
    await Promise.allSettled([...this.discoveredReaders.values()].map((c) => c.close()))
  }

  /** Waiting commands per wiki, paused wikis left out. */
  backlog(): Map<string, number> {
    const backlog = this.options.queue.backlog()
    for (const wiki of this.options.queue.pausedWikis().keys()) backlog.delete(wiki)
    return backlog
  }

  private async work(): Promise<void> {
    const signal = this.stopping.signal
    const pause = (ms: number) => sleep(Math.max(1, ms), undefined, { signal }).catch(() => undefined)
    while (!signal.aborted) {
      try {
        await this.pauses.checkPaused()
        const backlog = this.backlog()
        const reports = this.options.reports
        reports?.tick()
        const paused = this.options.queue.pausedWikis()
        const reportEdits = (reports?.ready() ?? []).filter((w) => !paused.has(w))
        const total = [...backlog.values()].reduce((a, b) => a + b, 0) + reportEdits.length
        const now = this.now()
        const due = [...new Set([...[...backlog.keys()].filter((w) => !this.allShown(w) && (this.notBefore.get(w) ?? 0) <= now), ...reportEdits])]
        const turn = this.options.throttle.pick(due, total)
        if (!turn) {
          const soonest = Math.min(...[...backlog.keys()].map((w) => this.notBefore.get(w) ?? Infinity))
          await pause(Math.min(250, Math.max(0, soonest - now)))
          continue
        }
        const wait = turn.at - now
        if (wait > 0) {
          await pause(Math.min(wait, 1000))
          continue
        }
        if (reportEdits.includes(turn.wiki)) {
          // A report page's edit goes before the wiki's link edits (it comes once an interval).
          await reports!.editNext(turn.wiki)
          continue
        }
        const next = await this.nextCommand(turn.wiki)
        if (!next) continue
        await this.run(next.key, next.command)
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'sink: worker error')
        await pause(1000)
      }
    }
  }

  private allShown(wiki: string): boolean {
    return !this.options.apply && this.shownWikis.has(wiki)
  }

  private async nextCommand(wiki: string): Promise<Waiting | undefined> {
    if (!this.options.apply) {
      // Dry run: commands stay queued; show each once.
      for await (const next of this.options.queue.waiting(wiki)) {
        if (this.shown.has(next.key)) continue
        // Shown before a restart: not again (the page changed since, and its command is another one).
        if (this.options.queue.wasShown(next.command.commandId)) {
          this.shown.add(next.key)
          continue
        }
        return next
      }
      this.shownWikis.add(wiki)
      return undefined
    }
    const next = await this.options.queue.next(wiki)
    if (next && (next.command.notBefore ?? 0) > this.now()) {
      // The line starts with a retry that is not due: every first try is done; wait for it (or for new commands).
      this.notBefore.set(wiki, next.command.notBefore!)
      return undefined
    }
    return next
  }

  private async outcome(events: EventToAppend[]): Promise<void> {
    if (events.length > 0) await this.options.events.append(this.options.topics.events, events)
  }

  private failed(c: QueuedCommand, code: string, message: string, retriable: boolean): EventToAppend {
    this.stats.failed++
    return failedEvent(c, { code, message, retriable }, this.now())
  }

  private async skip(key: string, c: EditRequested, reason: string): Promise<void> {
    this.stats.skipped[reason] = (this.stats.skipped[reason] ?? 0) + 1
    this.logger.info({ wiki: c.wiki, title: c.title, reason, command: c.reason }, 'sink: skipped')
    await this.outcome([skippedEvent(c, reason, this.now())])
    await this.options.queue.finish(key, c.commandId, reason)
  }

  /**
   * A failure that may pass: the command goes to the end of its wiki's line, due after a backoff that doubles with
   * each try; after the last try it ends with a final EditFailed. One event per try: bounded.
   */
  private async tryLater(key: string, c: QueuedCommand, code: string, message: string): Promise<void> {
    const attempts = (c.attempts ?? 0) + 1
    if (attempts >= this.retry.maxAttempts) {
      await this.outcome([this.failed({ ...c, attempts }, code, `${message} (gave up after ${attempts} tries)`, false)])
      await this.options.queue.finish(key, c.commandId, `failed:${code}`)
      return
    }
    const delay = doublingDelay(attempts, this.retry.baseDelayMs, this.retry.maxDelayMs)
    await this.outcome([this.failed({ ...c, attempts }, code, message, true)])
    await this.options.queue.later(key, c, this.now() + delay, true)
    this.logger.warn({ wiki: c.wiki, title: c.title, code, attempts, retryInMs: delay }, 'sink: will try again')
  }

  private async titlesPerRequest(wiki: string): Promise<number> {
    return (await this.facts.of(wiki)).perRequest
  }

  /**
   * Verifies `first` together with the commands whose turn comes soon on every wiki (up to the batch size),
   * keeps the readings, and appends what was seen as events.
   */
  private async verifyAhead(first: EditRequested): Promise<void> {
    const { queue, throttle } = this.options
    const maxTitles = this.options.maxBatchTitles ?? 500
    const ahead = this.options.verifyAheadMs ?? 60_000
    const items = new Map<string, VerifyItem>()
    const add = (c: EditRequested) => {
      const title = titleKey(c.title)
      let item = items.get(title)
      if (!item) items.set(title, (item = { title, withText: [], also: [] }))
      if (!item.withText.includes(c.wiki)) item.withText.push(c.wiki)
      for (const w of [...(c.read ?? []), ...c.add, ...c.remove]) if (!item.also.includes(w)) item.also.push(w)
    }
    const linger = this.options.verifyLingerMs ?? 1000
    const lingerStart = this.now()
    while (this.now() - this.lastEnqueueAt < linger && this.now() - lingerStart < 10 * linger && !this.stopping.signal.aborted) {
      await sleep(Math.min(100, linger), undefined, { signal: this.stopping.signal }).catch(() => undefined)
    }
    add(first)
    const now = this.now()
    for (const wiki of this.backlog().keys()) {
      if (items.size >= maxTitles) break
      const interval = throttle.interval(wiki)
      const per = await this.titlesPerRequest(wiki)
      const count = interval <= 0 ? per : Math.max(1, Math.min(per, Math.ceil(ahead / interval)))
      for (const w of await queue.take(wiki, count)) {
        if (items.size >= maxTitles) break
        if ((w.command.notBefore ?? 0) > now + ahead || this.shown.has(w.key) || this.readings.forCommand(w.command)) continue
        add(w.command)
      }
    }
    // A reading is as old as its batch's start: a command newer than that is verified again.
    const batchStart = this.now()
    const readings = await verifyTitles([...items.values()], { clients: this.clients, codes: this.codes, titlesPerRequest: (w) => this.titlesPerRequest(w), concurrency: this.options.concurrency })
    const at = batchStart
    this.readings.keep(readings, at)
    const seen: EventToAppend[] = []
    for (const [title, v] of readings) for (const p of v.pages.values()) seen.push({ type: 'PageObserved', key: titleKey(p.asTitle ?? title), value: observation(p, title, at) })
    this.stats.verified += readings.size
    this.stats.batches++
    await this.outcome(seen)
  }

  /**
   * After an edit of ours, the page as it is now, known without reading it: its text is what we wrote and, on a
   * manual wiki, its language links are the text's. Kept in the title's reading; undefined where only a read can
   * tell (a cognate wiki mixes automatic links with written ones).
   */
  private edited(c: EditRequested, page: LivePage, saved: { text: string; links: { code: string; title: string }[]; revision: number; timestamp: string | undefined }): LivePage | undefined {
    const { text, links, revision, timestamp } = saved
    if (this.rules.get(c.wiki)?.linkMode !== 'manual') {
      this.readings.forget(c.title)
      return undefined
    }
    const now: LivePage = { ...page, text, links, writtenLinks: links, blank: isBlank(text, this.codes, { self: c.wiki }), revision, timestamp, readAt: timestamp }
    this.readings.update(c.title, c.wiki, now)
    return now
  }

  /**
   * refreshLinks: the page's langlinks, read just now, are still outdated (a links update would change them): a
   * purge with a links update (LinkPurges), or in a dry run what it would be.
   */
  private async purge(key: string, c: QueuedCommand, verdict: PageVerdict, revision: number | null, editor: WikiEditor | undefined): Promise<void> {
    const outdated = verdict.reports.filter((x) => x.kind === 'langlinks-outdated')
    if (outdated.length === 0 || !verdict.refresh) {
      await this.skip(key, c, 'already-correct')
      return
    }
    const what = outdated.map((x) => `${x.outdated === 'missing' ? '+' : '−'}${x.code}`).join(' ')
    if (!this.options.apply || !editor) {
      await this.show(key, c, `purge ${c.wiki}:${c.title} (revision ${revision}${this.pageUrlOf(c) ? `, ${this.pageUrlOf(c)}` : ''}): langlinks-outdated ${what}; --apply sends action=purge&forcelinkupdate=1\n`)
      return
    }
    this.purges ??= new LinkPurges(this.options.purgesPerMinute ?? 10, this.now, this.logger)
    const at = this.purges.nextAt(c.wiki)
    if (at > this.now()) {
      await this.options.queue.later(key, c, at, false)
      return
    }
    let events: EventToAppend[]
    try {
      events = await this.purges.purge(c, revision, editor, this.clients.get(c.wiki), this.codes)
    } catch (err) {
      if (err instanceof MediaWikiApiError && err.apiCode === 'missingtitle') {
        await this.skip(key, c, 'page-missing')
        return
      }
      await this.tryLater(key, c, err instanceof MediaWikiApiError ? err.apiCode : 'MBWA_MEDIAWIKI_UNREACHABLE', (err as Error).message)
      return
    }
    this.stats.purged++
    this.readings.forget(c.title)
    await this.outcome(events)
    // Not an edit: no cool-down for the page, no edit counted on the wiki's pace.
    await this.options.queue.finish(key, c.commandId, 'purged')
    this.logger.info({ wiki: c.wiki, title: c.title, outdated: what }, 'sink: purged (links update)')
  }

  /** Where a person reads the command's page (the wiki's article path). */
  private pageUrlOf(c: EditRequested): string | undefined {
    return pageUrl(this.clients.get(c.wiki)?.api.href, c.title)
  }

  /**
   * Dry run: what the sink would do, shown once: on its output (coloured on a terminal), appended to the wiki's
   * file of diffs (dataDir/diffs/WIKI.diff) for a person to review, and noted so a restart does not show it
   * again.
   */
  private async show(key: string, c: EditRequested, text: string): Promise<void> {
    this.shown.add(key)
    await this.showText(c.wiki, text)
    await this.options.queue.noteShown(c.commandId)
  }

  /** Dry run: a diff on the sink's output (coloured on a terminal) and in the wiki's file of diffs. */
  async showText(wiki: string, text: string): Promise<void> {
    this.stats.shown++
    await this.diffs.write(wiki, text)
  }

  /** Runs one command to an outcome: judged on a fresh reading, rewritten, sent; each step says how it ended. */
  async run(key: string, c: QueuedCommand): Promise<void> {
    const { queue } = this.options
    if (await queue.isDone(c.commandId)) {
      await queue.finish(key, c.commandId, 'done-before')
      return
    }
    if (!this.mayRun(c)) return this.settle(key, c, { kind: 'skipped', reason: 'not-configured' })
    for (let attempt = 0; attempt < 3; attempt++) {
      const outcome = await this.attempt(key, c)
      // Someone edited meanwhile: read again, judge again.
      if (outcome.kind !== 'conflict') return this.settle(key, c, outcome)
      this.readings.forget(c.title)
    }
    this.readings.forget(c.title)
    await this.settle(key, c, { kind: 'retry', code: 'editconflict', message: 'edit conflicts three times in a row' })
  }

  /** Only configured, editable wikis are ever written, whatever a command says; a purge needs refreshLinks. */
  private mayRun(c: QueuedCommand): boolean {
    const r = this.rules.get(c.wiki)
    const purge = c.reason === REFRESH_LINKS
    return !!r && (purge ? r.refreshLinks : r.edit) && !r.closed && !r.locked && (!this.options.apply || this.options.editors.has(c.wiki))
  }

  /** One try: the reading, the verdict, the new text, and the edit (or the dry run's diff, or a purge). */
  private async attempt(key: string, c: QueuedCommand): Promise<Outcome> {
    const read = await this.freshReading(c)
    if ('kind' in read) return read
    const { v, page } = read
    const verdict = this.verdictOf(c, v)
    if (c.reason === REFRESH_LINKS && verdict) {
      await this.purge(key, c, verdict, page.revision, this.options.editors.get(c.wiki))
      return { kind: 'settled' }
    }
    if (!verdict || !verdict.editable) return { kind: 'skipped', reason: 'not-editable' }
    const plan = this.rewrite(c, page, verdict)
    if ('kind' in plan) return plan
    const editor = this.options.editors.get(c.wiki)
    if (!this.options.apply || !editor) {
      const url = this.pageUrlOf(c)
      await this.show(key, c, unifiedDiff(`${c.wiki}:${c.title}`, page.text ?? '', plan.text, `revision ${page.revision}${url ? ` ${url}` : ''}`, plan.summary))
      return { kind: 'settled' }
    }
    return this.send(c, page, plan, editor)
  }

  /** The command's title as the wikis have it now, with its own page's text (read in a batch when not fresh). */
  private async freshReading(c: QueuedCommand): Promise<{ v: Verification; page: LivePage } | Outcome> {
    let v = this.readings.forCommand(c)
    if (!v) {
      await this.verifyAhead(c)
      v = this.readings.forCommand(c)
    }
    const page = v?.pages.get(c.wiki)
    if (!v || !page) return { kind: 'retry', code: 'MBWA_MEDIAWIKI_UNREACHABLE', message: v?.failed.get(c.wiki) ?? 'not read' }
    if (!page.exists) return { kind: 'skipped', reason: 'page-missing' }
    return { v, page }
  }

  /** The rules' verdict on the command's page, from the reading of every wiki. */
  private verdictOf(c: QueuedCommand, v: Verification): PageVerdict | undefined {
    const rules = this.rules
    const now = this.now()
    const snapshotted = new Set([...rules.keys()].filter((w) => !v.failed.has(w)))
    const states = new Map([...v.pages].filter(([, p]) => p.exists).map(([w, p]) => [w, asPageState(p, now)]))
    const verdict = evaluateTitle(titleKey(c.title), states, rules, { snapshotted, titleCase: (w) => this.facts.known(w)?.titleCase, mainPage: (w) => this.facts.known(w)?.mainPage }).pages.find((pv) => pv.wiki === c.wiki)
    // Cognate mode judges a target under Cognate's key, over every spelling of the word, which a reading of this
    // one title does not see: the live reading may veto a removal the projection asked for, never add one.
    if (verdict?.mode === 'cognate') verdict.remove = verdict.remove.filter((x) => c.remove.includes(x))
    return verdict
  }

  /** The page's new text, or why there is none ({{bots}}, nothing to change, a text mbwa must not touch). */
  private rewrite(c: QueuedCommand, page: LivePage, verdict: PageVerdict): Planned | Outcome {
    if (verdict.add.length === 0 && verdict.remove.length === 0) return { kind: 'skipped', reason: 'already-correct' }
    const text = page.text ?? ''
    // The page may name the account (as the wiki knows it) or the tool.
    const userName = this.facts.known(c.wiki)?.userName
    if (botsDenied(text, [...new Set([...(userName ? [userName] : []), this.options.botName, 'mbwa'])])) return { kind: 'skipped', reason: 'nobots' }
    const desired = new Map((page.writtenLinks ?? []).map((l) => [l.code, l.title]))
    for (const code of verdict.remove) desired.delete(code)
    for (const code of verdict.add) desired.set(code, titleKey(c.title))
    let rewritten
    try {
      rewritten = rewriteLanguageLinks(text, desired, this.codes, this.options.order(c.wiki), { self: c.wiki })
    } catch (err) {
      // Never retried: the title, or the page's text, is what is wrong; a person has to look.
      if (isMbwaError(err, 'MBWA_BAD_TITLE')) return { kind: 'skipped', reason: 'bad-title' }
      if (isMbwaError(err, 'MBWA_UNSAFE_TEXT')) return { kind: 'skipped', reason: 'unsafe-text' }
      throw err
    }
    if (!rewritten.changed) return { kind: 'skipped', reason: 'already-correct' }
    const summary = `mbwa: interwiki ${[...verdict.add.map((x) => `+${x}`), ...verdict.remove.map((x) => `−${x}`)].join(' ')}`
    return { text: rewritten.text, links: rewritten.after, summary, verdict }
  }

  /** The edit, at the page's cool-down, and what the wiki's answer means. */
  private async send(c: QueuedCommand, page: LivePage, plan: Planned, editor: WikiEditor): Promise<Outcome> {
    const { queue } = this.options
    const last = await queue.lastEdit(c.wiki, c.title)
    // The page was edited recently (rule 6): the edit waits until the cool-down is over.
    if (last !== undefined && this.now() - last < this.options.cooldownMs) return { kind: 'later', at: last + this.options.cooldownMs }
    // Noted before sending too: a crash while the edit is in flight (or before its outcome is stored) still
    // leaves the pace and the page's cool-down on record, so a person's revert is not undone within the hour.
    await queue.noteEdit(c.wiki, this.now(), c.title)
    let res
    try {
      res = await editor.edit({ title: c.title, text: plan.text, summary: plan.summary, basetimestamp: page.timestamp, baserevid: page.revision, starttimestamp: page.readAt })
    } catch (err) {
      const failure = classifyEditFailure(err)
      // The wiki answered with an error: nothing was written, the page's cool-down is as it was.
      if (failure.kind !== 'outcome-unknown') await queue.restoreCooldown(c.wiki, c.title, last)
      // The write may or may not have happened: never resent blindly; the next verify tells.
      else this.readings.forget(c.title)
      return failure
    }
    this.options.throttle.record(c.wiki) // on disk: noted before sending, and again with the outcome (settle)
    if (res.revision === null) return { kind: 'skipped', reason: 'already-correct' }
    const now = this.edited(c, page, { text: plan.text, links: plan.links, revision: res.revision, timestamp: res.timestamp })
    return { kind: 'applied', revision: res.revision, verdict: plan.verdict, summary: plan.summary, now }
  }

  /** What an outcome means for the command: its events, and where it goes in the queue. One place for all. */
  private async settle(key: string, c: QueuedCommand, o: Outcome): Promise<void> {
    const { queue } = this.options
    switch (o.kind) {
      case 'settled':
      case 'conflict':
        return
      case 'skipped':
        return this.skip(key, c, o.reason)
      case 'missing':
        return this.skip(key, c, 'page-missing')
      case 'page-refused':
        this.logger.warn({ wiki: c.wiki, title: c.title, code: o.code }, 'sink: the wiki refused this page')
        return this.skip(key, c, o.code)
      case 'later':
        await queue.later(key, c, o.at, false)
        return
      case 'pause-wiki':
        // The command stays where it is; the wiki is paused until it can be written again.
        await this.outcome([this.failed(c, o.code, o.message, true)])
        return this.pauses.pause(c.wiki, `${o.code}: ${o.message}`)
      case 'final':
        await this.outcome([this.failed(c, o.code, o.message, false)])
        await queue.finish(key, c.commandId, `failed:${o.code}`)
        return
      case 'retry':
      case 'outcome-unknown':
        return this.tryLater(key, c, o.code, o.message)
      case 'applied': {
        this.stats.applied++
        const title = titleKey(c.title)
        await this.outcome([
          appliedEvent(c, { revision: o.revision, added: o.verdict.add, removed: o.verdict.remove }, this.now()),
          // What the page is now, known without reading it again (manual wikis: its language links are its text's).
          ...(o.now ? [{ type: 'PageObserved' as const, key: title, value: { ...observation(o.now, title, this.now()), source: 'sink' } }] : []),
        ])
        await queue.finish(key, c.commandId, `applied:${o.revision}`, { wiki: c.wiki, title: c.title, at: this.now() })
        this.logger.info({ wiki: c.wiki, title: c.title, revision: o.revision, summary: o.summary }, 'sink: edited')
        return
      }
    }
  }
}

/** A page's new text, and what it changes. */
interface Planned {
  text: string
  links: { code: string; title: string }[]
  summary: string
  verdict: PageVerdict
}

/** How one try of a command ended. */
type Outcome =
  | EditFailure
  | { kind: 'skipped'; reason: string }
  | { kind: 'later'; at: number }
  | { kind: 'applied'; revision: number; verdict: PageVerdict; summary: string; now: LivePage | undefined }
  /** Already done with its own events (a dry run's diff, a purge). */
  | { kind: 'settled' }
