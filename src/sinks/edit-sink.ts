import { readdirSync, rmSync } from 'node:fs'
import { appendFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createTwoFilesPatch } from 'diff'
import type { EventStore, EventToAppend } from '../events/event-log.js'
import { titleKey } from '../events/titles.js'
import type { EditRequested } from '../events/types.js'
import { silentLogger, type Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import { tpKey, type Subscription } from '../log/types.js'
import { MediaWikiApiError, type MediaWikiClient } from '../mediawiki/client.js'
import { evaluateTitle, type PageVerdict, type TitleCase } from '../domain/link-rules.js'
import { REFRESH_LINKS } from '../projections/edit-commands.js'
import { readTitles } from './verify.js'
import type { KnownWiki, RulesByWiki } from '../domain/wiki-rules.js'
import { botsDenied } from '../wikitext/bots.js'
import { isMbwaError } from '../errors/errors.js'
import { isBlank, rewriteLanguageLinks, type LinkOrder } from '../wikitext/interwiki.js'
import type { DiscoveredList, EditQueue, QueuedCommand, Waiting } from './edit-queue.js'
import { PerMinute, type Throttle } from './throttle.js'
import { asPageState, observation, verifyTitles, type LivePage, type Verification, type VerifyItem } from './verify.js'
import type { WikiEditor } from './wiki-editor.js'
import { doublingDelay } from '../backoff.js'
import { pageUrl } from '../domain/page-url.js'
import { safeWikiCode } from '../domain/wiki-code.js'
import type { ReportPublisher } from './report-publisher.js'

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

/** Refusals that concern one page: the command ends, the wiki goes on. */
const PAGE_REFUSALS = new Set([
  'protectedpage',
  'cascadeprotected',
  'protectedtitle',
  'permissiondenied',
  'abusefilter-disallowed',
  'abusefilter-warning',
  'spamblacklist',
  'titleblacklist-forbidden',
  'contenttoobig',
  'noedit-anon',
])
/** States of the wiki or the account: writing there pauses until a check finds it writable again. */
const WIKI_PAUSES = new Set(['readonly', 'blocked', 'autoblocked', 'assertbotfailed', 'assertuserfailed', 'login-failed', 'noedit', 'writeapidenied'])

const DEFAULT_RETRY: RetryOptions = { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 6 * 3600_000 }

interface Reading {
  at: number
  v: Verification
}

interface WikiFacts {
  /** The editing account's name there (userinfo), for {{bots|deny=…}}. */
  userName?: string
  perRequest: number
  titleCase: TitleCase | undefined
  mainPage: string | undefined
}

function asTitleCase(v: string | undefined): TitleCase | undefined {
  return v === 'first-letter' || v === 'case-sensitive' ? v : undefined
}

export class EditSink {
  readonly stats: SinkStats = { applied: 0, skipped: {}, failed: 0, shown: 0, verified: 0, batches: 0, purged: 0 }
  private purges: PerMinute | undefined
  private subscription: Subscription | undefined
  private readonly stopping = new AbortController()
  private worker: Promise<void> | undefined
  /** Dry run: commands already shown, and wikis whose commands have all been shown. */
  private readonly shown = new Set<string>()
  private readonly shownWikis = new Set<string>()
  /** Wikis whose first command is not due before this time. */
  private readonly notBefore = new Map<string, number>()
  /** Readings of titles, by normalised title. */
  private readonly readings = new Map<string, Reading>()
  private readonly facts = new Map<string, WikiFacts>()
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
        await this.checkPaused()
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

  private skipped(c: EditRequested, reason: string): EventToAppend {
    this.stats.skipped[reason] = (this.stats.skipped[reason] ?? 0) + 1
    this.logger.info({ wiki: c.wiki, title: c.title, reason, command: c.reason }, 'sink: skipped')
    return { type: 'EditSkipped', key: titleKey(c.title), value: { id: `${c.commandId}:skipped`, source: 'sink', observedAt: this.now(), wiki: c.wiki, title: c.title, commandId: c.commandId, reason } }
  }

  private failed(c: QueuedCommand, code: string, message: string, retriable: boolean): EventToAppend {
    this.stats.failed++
    return { type: 'EditFailed', key: titleKey(c.title), value: { id: `${c.commandId}:failed:${c.attempts ?? 0}:${code}`, source: 'sink', observedAt: this.now(), wiki: c.wiki, title: c.title, commandId: c.commandId, code, message, retriable } }
  }

  private async skip(key: string, c: EditRequested, reason: string): Promise<void> {
    await this.outcome([this.skipped(c, reason)])
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

  private async pauseWiki(wiki: string, reason: string): Promise<void> {
    const base = this.options.pauseCheck?.baseDelayMs ?? 60_000
    await this.options.queue.pause(wiki, { reason, since: this.now(), checkAt: this.now() + base, backoffMs: base })
    this.logger.error({ wiki, reason }, 'sink: paused writing to this wiki; it is checked again with backoff (mbwa sink resume resumes it by hand)')
  }

  /** Paused wikis whose check is due (or whose resume was asked for): writable again → resumed. */
  private async checkPaused(): Promise<void> {
    const { queue, editors, controlDir } = this.options
    const asked = new Set<string>()
    if (controlDir) {
      try {
        for (const f of readdirSync(controlDir)) {
          asked.add(f)
          rmSync(join(controlDir, f), { force: true })
        }
      } catch {
        // no requests
      }
    }
    for (const [wiki, info] of queue.pausedWikis()) {
      if (asked.has(wiki)) {
        await queue.resume(wiki)
        this.logger.info({ wiki }, 'sink: resumed by hand')
        continue
      }
      if (info.checkAt > this.now()) continue
      const editor = editors.get(wiki)
      const state = editor ? await editor.writable() : { ok: true as const }
      if (state.ok) {
        await queue.resume(wiki)
        this.logger.info({ wiki, pausedFor: info.reason }, 'sink: the wiki is writable again; resumed')
        continue
      }
      const max = this.options.pauseCheck?.maxDelayMs ?? 3600_000
      const backoffMs = Math.min(max, info.backoffMs * 2)
      await queue.pause(wiki, { ...info, reason: state.reason, checkAt: this.now() + info.backoffMs, backoffMs })
    }
  }

  /**
   * What the sink needs to know of a wiki before reading it, asked once (one request): titles per request (500
   * where the editing account has apihighlimits) and how the wiki compares titles (siteinfo `case`).
   */
  private async wikiFacts(wiki: string): Promise<WikiFacts> {
    const known = this.facts.get(wiki)
    if (known) return known
    const editor = this.options.apply ? this.options.editors.get(wiki) : undefined
    let facts: WikiFacts = { perRequest: 50, titleCase: undefined, mainPage: undefined }
    try {
      if (editor) {
        const f = await editor.facts()
        facts = { perRequest: f.rights.includes('apihighlimits') ? 500 : 50, titleCase: asTitleCase(f.titleCase), mainPage: f.mainPage, userName: f.userName }
      } else {
        const res = await this.clients.get(wiki)?.get({ action: 'query', meta: 'siteinfo', siprop: 'general' })
        const general = (res?.query as { general?: { case?: string; mainpage?: string } } | undefined)?.general
        facts = { perRequest: 50, titleCase: asTitleCase(general?.case), mainPage: general?.mainpage }
      }
    } catch (err) {
      // Read again next time; meanwhile the safe defaults (50 a request, titles compared exactly).
      this.logger.warn({ wiki, err: (err as Error).message }, 'sink: could not read what the wiki says of itself')
      return facts
    }
    if (this.options.titlesPerRequest) facts.perRequest = await this.options.titlesPerRequest(wiki)
    this.facts.set(wiki, facts)
    return facts
  }

  private async titlesPerRequest(wiki: string): Promise<number> {
    return (await this.wikiFacts(wiki)).perRequest
  }

  /**
   * A fresh reading of the command's title that includes its own page's text. A reading older than the command
   * is not used: the command may come from a newer fact (a deletion, an edit) than what the reading saw.
   */
  private reading(c: EditRequested): Verification | undefined {
    const r = this.readings.get(titleKey(c.title))
    if (!r || r.at < c.observedAt || this.now() - r.at > (this.options.verifyMaxAgeMs ?? 300_000)) return undefined
    const own = r.v.pages.get(c.wiki)
    if (!r.v.failed.has(c.wiki) && (!own || (own.exists && own.text === undefined))) return undefined
    return r.v
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
        if ((w.command.notBefore ?? 0) > now + ahead || this.shown.has(w.key) || this.reading(w.command)) continue
        add(w.command)
      }
    }
    // A reading is as old as its batch's start: a command newer than that is verified again.
    const batchStart = this.now()
    const readings = await verifyTitles([...items.values()], { clients: this.clients, codes: this.codes, titlesPerRequest: (w) => this.titlesPerRequest(w), concurrency: this.options.concurrency })
    const at = batchStart
    for (const [title, r] of this.readings) if (this.now() - r.at > (this.options.verifyMaxAgeMs ?? 300_000)) this.readings.delete(title)
    const seen: EventToAppend[] = []
    for (const [title, v] of readings) {
      this.readings.delete(title) // re-inserted last: the map stays in reading order
      this.readings.set(title, { at, v })
      for (const p of v.pages.values()) seen.push({ type: 'PageObserved', key: title, value: observation(p, title, at) })
    }
    // Memory stays bounded: at most two batches of readings (texts included); the oldest go first.
    for (const title of this.readings.keys()) {
      if (this.readings.size <= 2 * maxTitles) break
      this.readings.delete(title)
    }
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
    const key = titleKey(c.title)
    if (this.rules.get(c.wiki)?.linkMode !== 'manual') {
      this.readings.delete(key)
      return undefined
    }
    const now: LivePage = { ...page, text, links, writtenLinks: links, blank: isBlank(text, this.codes, { self: c.wiki }), revision, timestamp, readAt: timestamp }
    this.readings.get(key)?.v.pages.set(c.wiki, now)
    return now
  }

  /**
   * refreshLinks: the page's langlinks, read just now, are still outdated (a links update would change them): a
   * purge with a links update, on its own budget (sink.maxPurgesPerMinute a wiki), recorded like an edit (an
   * EditApplied at the page's revision, adding and removing nothing), then the page read again.
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
    this.purges ??= new PerMinute(this.options.purgesPerMinute ?? 10, this.now)
    const at = this.purges.nextAt(c.wiki)
    if (at > this.now()) {
      await this.options.queue.later(key, c, at, false)
      return
    }
    this.purges.record(c.wiki)
    try {
      await editor.purge(c.title)
    } catch (err) {
      if (err instanceof MediaWikiApiError && err.apiCode === 'missingtitle') {
        await this.skip(key, c, 'page-missing')
        return
      }
      await this.tryLater(key, c, err instanceof MediaWikiApiError ? err.apiCode : 'MBWA_MEDIAWIKI_UNREACHABLE', (err as Error).message)
      return
    }
    this.stats.purged++
    this.readings.delete(titleKey(c.title))
    const events: EventToAppend[] = [
      { type: 'EditApplied', key: titleKey(c.title), value: { id: `${c.commandId}:applied`, source: 'sink', observedAt: this.now(), wiki: c.wiki, title: c.title, commandId: c.commandId, revision: revision ?? 0, added: [], removed: [] } },
    ]
    // The page as the links update left it (read again: what the purge did is the wiki's to say).
    const client = this.clients.get(c.wiki)
    if (client) {
      try {
        const again = await readTitles(client, c.wiki, [c.title], { text: true, perRequest: 1, codes: this.codes })
        for (const [title, p] of again) events.push({ type: 'PageObserved', key: title, value: observation(p, title, this.now()) })
      } catch (err) {
        this.logger.warn({ wiki: c.wiki, title: c.title, err: (err as Error).message }, 'sink: the page could not be read again after its purge')
      }
    }
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
    const out = this.options.out as (NodeJS.WritableStream & { isTTY?: boolean }) | undefined
    out?.write(out.isTTY ? colourDiff(text) : text)
    if (this.options.diffsDir) {
      await mkdir(this.options.diffsDir, { recursive: true })
      await appendFile(join(this.options.diffsDir, `${safeWikiCode(wiki)}.diff`), text)
    }
  }

  /** Runs one command to an outcome. */
  async run(key: string, c: QueuedCommand): Promise<void> {
    const { queue, editors } = this.options
    const rules = this.rules
    if (await queue.isDone(c.commandId)) {
      await queue.finish(key, c.commandId, 'done-before')
      return
    }
    const r = rules.get(c.wiki)
    const editor = editors.get(c.wiki)
    // A purge (refreshLinks) writes nothing; it needs the wiki to ask for it, and the account where it is sent.
    const purge = c.reason === REFRESH_LINKS
    if (!r || !(purge ? r.refreshLinks : r.edit) || r.closed || r.locked || (this.options.apply && !editor)) {
      // Only configured, editable wikis are ever written, whatever a command says.
      await this.skip(key, c, 'not-configured')
      return
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      let v = this.reading(c)
      if (!v) {
        await this.verifyAhead(c)
        v = this.reading(c)
      }
      const page = v?.pages.get(c.wiki)
      if (!v || !page) {
        await this.tryLater(key, c, 'MBWA_MEDIAWIKI_UNREACHABLE', v?.failed.get(c.wiki) ?? 'not read')
        return
      }
      if (!page.exists) {
        await this.skip(key, c, 'page-missing')
        return
      }
      const now = this.now()
      const snapshotted = new Set([...rules.keys()].filter((w) => !v.failed.has(w)))
      const states = new Map([...v.pages].filter(([, p]) => p.exists).map(([w, p]) => [w, asPageState(p, now)]))
      const verdict = evaluateTitle(titleKey(c.title), states, rules, { snapshotted, titleCase: (w) => this.facts.get(w)?.titleCase, mainPage: (w) => this.facts.get(w)?.mainPage }).pages.find((pv) => pv.wiki === c.wiki)
      if (purge && verdict) {
        await this.purge(key, c, verdict, page.revision, editor)
        return
      }
      if (!verdict || !verdict.editable) {
        await this.skip(key, c, 'not-editable')
        return
      }
      // Cognate mode judges a target under Cognate's key, over every spelling of the word, which a reading of this
      // one title does not see: the live reading may veto a removal the projection asked for, never add one.
      if (verdict.mode === 'cognate') verdict.remove = verdict.remove.filter((x) => c.remove.includes(x))
      if (verdict.add.length === 0 && verdict.remove.length === 0) {
        await this.skip(key, c, 'already-correct')
        return
      }
      const text = page.text ?? ''
      // The page may name the account (as the wiki knows it) or the tool.
      const userName = this.facts.get(c.wiki)?.userName
      if (botsDenied(text, [...new Set([...(userName ? [userName] : []), this.options.botName, 'mbwa'])])) {
        await this.skip(key, c, 'nobots')
        return
      }
      const desired = new Map((page.writtenLinks ?? []).map((l) => [l.code, l.title]))
      for (const code of verdict.remove) desired.delete(code)
      for (const code of verdict.add) desired.set(code, titleKey(c.title))
      let rewritten
      try {
        rewritten = rewriteLanguageLinks(text, desired, this.codes, this.options.order(c.wiki), { self: c.wiki })
      } catch (err) {
        // Never retried: the title, or the page's text, is what is wrong; a person has to look.
        if (isMbwaError(err, 'MBWA_BAD_TITLE')) await this.skip(key, c, 'bad-title')
        else if (isMbwaError(err, 'MBWA_UNSAFE_TEXT')) await this.skip(key, c, 'unsafe-text')
        else throw err
        return
      }
      if (!rewritten.changed) {
        await this.skip(key, c, 'already-correct')
        return
      }
      const summary = `mbwa: interwiki ${[...verdict.add.map((x) => `+${x}`), ...verdict.remove.map((x) => `−${x}`)].join(' ')}`
      if (!this.options.apply || !editor) {
        // Both sides end with a line break, so no hunk ends with "\\ No newline at end of file".
        const nl = (t: string) => (t.endsWith('\n') ? t : `${t}\n`)
        const url = this.pageUrlOf(c)
        await this.show(key, c, createTwoFilesPatch(`${c.wiki}:${c.title}`, `${c.wiki}:${c.title}`, nl(text), nl(rewritten.text), `revision ${page.revision}${url ? ` ${url}` : ''}`, summary))
        return
      }
      const last = await queue.lastEdit(c.wiki, c.title)
      if (last !== undefined && this.now() - last < this.options.cooldownMs) {
        // The page was edited recently (rule 6): the edit waits until the cool-down is over.
        await queue.later(key, c, last + this.options.cooldownMs, false)
        return
      }
      // Noted before sending too: a crash while the edit is in flight (or before its outcome is stored) still
      // leaves the pace and the page's cool-down on record, so a person's revert is not undone within the hour.
      await queue.noteEdit(c.wiki, this.now(), c.title)
      try {
        const res = await editor.edit({ title: c.title, text: rewritten.text, summary, basetimestamp: page.timestamp, baserevid: page.revision, starttimestamp: page.readAt })
        this.options.throttle.record(c.wiki) // on disk: noted before sending, and again with the outcome (finish)
        if (res.revision === null) {
          await this.skip(key, c, 'already-correct')
          return
        }
        const now = this.edited(c, page, { text: rewritten.text, links: rewritten.after, revision: res.revision, timestamp: res.timestamp })
        this.stats.applied++
        await this.outcome([
          { type: 'EditApplied', key: titleKey(c.title), value: { id: `${c.commandId}:applied`, source: 'sink', observedAt: this.now(), wiki: c.wiki, title: c.title, commandId: c.commandId, revision: res.revision, added: verdict.add, removed: verdict.remove } },
          // What the page is now, known without reading it again (manual wikis: its language links are its text's).
          ...(now ? [{ type: 'PageObserved' as const, key: titleKey(c.title), value: { ...observation(now, titleKey(c.title), this.now()), source: 'sink' } }] : []),
        ])
        await queue.finish(key, c.commandId, `applied:${res.revision}`, { wiki: c.wiki, title: c.title, at: this.now() })
        this.logger.info({ wiki: c.wiki, title: c.title, revision: res.revision, summary }, 'sink: edited')
        return
      } catch (err) {
        if (err instanceof MediaWikiApiError) {
          // The wiki answered with an error: nothing was written, the page's cool-down is as it was.
          await queue.restoreCooldown(c.wiki, c.title, last)
          if (err.apiCode === 'editconflict') {
            this.readings.delete(titleKey(c.title)) // someone edited meanwhile: verify again
            continue
          }
          if (err.apiCode === 'pagedeleted' || err.apiCode === 'missingtitle') {
            await this.skip(key, c, 'page-missing')
            return
          }
          if (PAGE_REFUSALS.has(err.apiCode) || err.apiCode.startsWith('abusefilter-')) {
            this.logger.warn({ wiki: c.wiki, title: c.title, code: err.apiCode }, 'sink: the wiki refused this page')
            await this.skip(key, c, err.apiCode)
            return
          }
          if (WIKI_PAUSES.has(err.apiCode)) {
            // The command stays where it is; the wiki is paused until it can be written again.
            await this.outcome([this.failed(c, err.apiCode, err.info, true)])
            await this.pauseWiki(c.wiki, `${err.apiCode}: ${err.info}`)
            return
          }
          if (!err.retriable) {
            await this.outcome([this.failed(c, err.apiCode, err.info, false)])
            await queue.finish(key, c.commandId, `failed:${err.apiCode}`)
            return
          }
          await this.tryLater(key, c, err.apiCode, err.info)
          return
        }
        // The write may or may not have happened: never resend blindly; the next verify tells.
        this.readings.delete(titleKey(c.title))
        await this.tryLater(key, c, 'MBWA_MEDIAWIKI_UNREACHABLE', (err as Error).message)
        return
      }
    }
    this.readings.delete(titleKey(c.title))
    await this.tryLater(key, c, 'editconflict', 'edit conflicts three times in a row')
  }
}

/** A unified diff with additions green and removals red (ANSI), for a terminal. */
function colourDiff(text: string): string {
  return text
    .split('\n')
    .map((l) => (l.startsWith('+') && !l.startsWith('+++') ? `\x1b[32m${l}\x1b[0m` : l.startsWith('-') && !l.startsWith('---') ? `\x1b[31m${l}\x1b[0m` : l.startsWith('@@') ? `\x1b[36m${l}\x1b[0m` : l))
    .join('\n')
}
