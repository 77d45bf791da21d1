import { join, resolve } from 'node:path'
import { wikiApi, type Config } from '../config/schema.js'
import { readSecret } from '../config/secrets.js'
import { MbwaError } from '../errors/errors.js'
import type { EventStore } from '../events/event-log.js'
import type { Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import { MediaWikiClient } from '../mediawiki/client.js'
import { wikiRules, type RulesByWiki } from '../domain/wiki-rules.js'
import { EditQueue, type PauseInfo } from '../sinks/edit-queue.js'
import { EditSink } from '../sinks/edit-sink.js'
import { Throttle } from '../sinks/throttle.js'
import { interlanguageCodes, linkOrder } from '../sinks/wiki-codes.js'
import { WikiEditor } from '../sinks/wiki-editor.js'
import { ReportPublisher, type ReportPageStatus } from '../sinks/report-publisher.js'
import { fetchReportItems, fetchTextsWanted, fetchWikiState } from '../projections/report-client.js'
import { REPORT_KINDS, reportRows } from '../projections/report-rows.js'
import { partitionForKey } from '../log/partitioner.js'

/** Where `mbwa sink resume WIKI` leaves a request for a running sink (the sink store is locked while it runs). */
export function sinkControlDir(config: Config): string {
  return join(resolve(config.dataDir), 'sink-control')
}

export interface SinkStatus {
  apply: boolean
  waiting: Record<string, number>
  paused: Record<string, PauseInfo>
  applied: number
  /** Dry run: diffs (and purges) printed instead of sent. */
  shown: number
  /** Purges with a links update sent (refreshLinks). */
  purged: number
  skipped: Record<string, number>
  failed: number
  verified: number
  verifyBatches: number
  /** The on-wiki report pages (wikis.CODE.reportPage) and how each last run ended. */
  reportPages?: Record<string, ReportPageStatus>
}

/** The projection may have this many events still to apply and its reports count as current. */
const REPORT_MAX_LAG = 1000
/** Pages whose texts are still to be read, above which a report page waits (for at most REPORT_TEXTS_WAIT_MS after the snapshot). */
const REPORT_MAX_TEXTS_WANTED = 100
const REPORT_TEXTS_WAIT_MS = 6 * 3600_000

// The sink side of `mbwa run`: readers for every configured wiki (and for discovered ones, as the edits topic
// announces them), writers (logged in) for those mbwa may edit,
// the queue, the throttle. Secrets are read here, from the environment or files, and go nowhere but the login.

export class SinkService {
  private constructor(
    readonly sink: EditSink,
    private readonly queue: EditQueue,
    private readonly clients: MediaWikiClient[],
    private readonly apply: boolean,
    private readonly reports: ReportPublisher | undefined,
    private readonly endpoint: { url?: string; headers: Record<string, string> },
  ) {}

  /** Where the report pages read the reports: the query endpoint (it gathers every member's partitions). */
  reportsFrom(url: string, headers: Record<string, string>): void {
    this.endpoint.url = url
    this.endpoint.headers = headers
  }

  static async start(config: Config, events: EventStore, topics: TopicNames, logger: Logger): Promise<SinkService> {
    const rules = wikiRules(config)
    const concurrency = (wiki: string) => config.wikis[wiki]?.maxConcurrentRequests ?? config.wikiDefaults.maxConcurrentRequests ?? 1
    const { readers, editors, all, botName } = wikiClients(config, rules, concurrency, logger)
    const queue = await EditQueue.open(join(resolve(config.dataDir), 'sink'))
    const throttle = new Throttle({
      intervalMs: (wiki) => (config.wikis[wiki]?.editIntervalSeconds ?? config.wikiDefaults.editIntervalSeconds ?? config.sink.editIntervalSeconds) * 1000,
      perMinute: config.sink.maxEditsPerMinute,
      smallBacklog: config.sink.smallBacklog,
      slowdown: config.sink.slowdownFactor,
    })
    const endpoint: { url?: string; headers: Record<string, string> } = { headers: {} }
    // The sink, once made: the report pages ask it which partitions this member holds, and show diffs through it.
    const made: { sink?: EditSink } = {}
    const reports = reportPublisher(config, rules, { queue, throttle, readers, editors, endpoint, made, logger })
    await reports?.load()
    const sink = new EditSink({
      events,
      topics,
      groupId: config.log.groupId,
      queue,
      throttle,
      rules,
      rulesWith: (discovered) => wikiRules(config, discovered),
      // Discovered wikis are read (never written); a configured wiki keeps its own client, or none when closed.
      readerFor: (w) => (config.wikis[w.code] ? undefined : new MediaWikiClient({ api: w.api, contact: config.userAgent.contact, logger, connections: 2 })),
      clients: readers,
      editors,
      codes: interlanguageCodes(config),
      order: (wiki) => linkOrder(config, wiki),
      apply: config.sink.apply,
      botName,
      cooldownMs: config.sink.cooldownMinutes * 60_000,
      purgesPerMinute: config.sink.maxPurgesPerMinute,
      retry: { baseDelayMs: config.sink.retryAfterSeconds * 1000, maxAttempts: config.sink.maxAttempts },
      controlDir: sinkControlDir(config),
      concurrency,
      out: process.stdout,
      diffsDir: diffsDirOf(config),
      reports,
      logger,
    })
    made.sink = sink
    await sink.start()
    logger.info({ apply: config.sink.apply, editable: [...editors.keys()] }, config.sink.apply ? 'sink: editing' : 'sink: dry run (diffs on stdout; --apply to edit)')
    return new SinkService(sink, queue, all, config.sink.apply, reports, endpoint)
  }

  /** What /v1/stats shows of the sink. */
  async status(): Promise<SinkStatus> {
    return {
      apply: this.apply,
      waiting: Object.fromEntries(this.queue.backlog()),
      paused: Object.fromEntries(this.queue.pausedWikis()),
      applied: this.sink.stats.applied,
      shown: this.sink.stats.shown,
      purged: this.sink.stats.purged,
      skipped: this.sink.stats.skipped,
      failed: this.sink.stats.failed,
      verified: this.sink.stats.verified,
      verifyBatches: this.sink.stats.batches,
      reportPages: this.reports?.status() ?? {},
    }
  }

  async stop(): Promise<void> {
    await this.sink.stop()
    await this.queue.close()
    await Promise.allSettled(this.clients.map((c) => c.close()))
  }
}

/**
 * A client for every configured open wiki: a reader, or where mbwa may write (edits, purges, a report page) one
 * logged-in client that reads and writes, with its editor. Secrets are read here and go nowhere but the login.
 */
function wikiClients(config: Config, rules: RulesByWiki, concurrency: (wiki: string) => number, logger: Logger) {
  const readers = new Map<string, MediaWikiClient>()
  const editors = new Map<string, WikiEditor>()
  const all: MediaWikiClient[] = []
  let botName = 'mbwa'
  for (const [code, w] of Object.entries(config.wikis)) {
    const r = rules.get(code)!
    if (r.closed) continue
    const connections = Math.max(2, concurrency(code))
    if ((!r.edit && !r.refreshLinks && !reportPageOf(config, code)) || r.locked || !config.sink.apply) {
      const reader = new MediaWikiClient({ api: w.api, contact: config.userAgent.contact, logger, connections })
      readers.set(code, reader)
      all.push(reader)
      continue
    }
    const cred = w.credentials
    const oauth = cred?.oauthToken ? readSecret(cred.oauthToken, `wikis.${code}.credentials.oauthToken`) : undefined
    if (!oauth && !(cred?.username && cred.password)) {
      throw new MbwaError('MBWA_CONFIG_INVALID', `config key wikis.${code}.credentials: an editable wiki (or one with a reportPage) needs username and password, or oauthToken`, { wiki: code })
    }
    const writer = new MediaWikiClient({ api: w.api, contact: config.userAgent.contact, logger, bearerToken: oauth, connections })
    all.push(writer)
    // The wiki's one client: reads go through the logged-in session too, so apihighlimits (500 titles) apply.
    readers.set(code, writer)
    const login = oauth ? undefined : { username: cred!.username!, password: readSecret(cred!.password!, `wikis.${code}.credentials.password`) }
    if (cred?.username) botName = cred.username.split('@')[0]!
    editors.set(code, new WikiEditor(code, writer, login, config.sink.assert))
  }
  return { readers, editors, all, botName }
}

interface ReportParts {
  queue: EditQueue
  throttle: Throttle
  readers: ReadonlyMap<string, MediaWikiClient>
  editors: ReadonlyMap<string, WikiEditor>
  /** The query endpoint, once it is up (the reports are read there: it gathers every member's partitions). */
  endpoint: { url?: string; headers: Record<string, string> }
  made: { sink?: EditSink }
  logger: Logger
}

/** The on-wiki report pages of the wikis that name one (none: undefined). */
function reportPublisher(config: Config, rules: RulesByWiki, parts: ReportParts): ReportPublisher | undefined {
  const { queue, throttle, readers, editors, endpoint, made, logger } = parts
  const reportWikis = Object.entries(config.wikis)
    .filter(([code]) => reportPageOf(config, code) !== undefined && !rules.get(code)!.closed && !rules.get(code)!.locked)
    .map(([code, w]) => ({ code, page: reportPageOf(config, code)!, shutoffPage: w.reportShutoffPage ?? config.wikiDefaults.reportShutoffPage ?? config.reports.shutoffPage }))
  const apiOf = (w: string) => wikiApi(config, w)
  if (reportWikis.length === 0) return undefined
  return new ReportPublisher({
    wikis: reportWikis,
    source: {
      rows: async (wiki) => {
        if (!endpoint.url) return { notReady: 'the query endpoint is not up yet' }
        const { lastSnapshot, lag } = await fetchWikiState(endpoint.url, endpoint.headers, wiki)
        if (lastSnapshot === undefined) return { notReady: `no complete reading of ${wiki} yet (its first snapshot)` }
        if (lag > REPORT_MAX_LAG) return { notReady: `the projection has ${lag} events still to apply` }
        // Reports that wait for a page's text are not made yet: the first hours after a snapshot, wait for them.
        const wanted = await fetchTextsWanted(endpoint.url, endpoint.headers, wiki)
        if (wanted > REPORT_MAX_TEXTS_WANTED && Date.now() - lastSnapshot < REPORT_TEXTS_WAIT_MS) return { notReady: `${wanted} pages' texts still to read` }
        const items = await fetchReportItems(endpoint.url, endpoint.headers, wiki, REPORT_KINDS)
        return { rows: reportRows(wiki, items, apiOf), lastSnapshot }
      },
    },
    queue,
    throttle,
    readers: (wiki) => readers.get(wiki),
    mainPage: async (wiki) => made.sink?.mainPageOf(wiki),
    editors: (wiki) => editors.get(wiki),
    apply: config.sink.apply,
    intervalMs: config.reports.intervalHours * 3600_000,
    checkMs: config.reports.checkMinutes * 60_000,
    rowsPerPage: config.reports.rowsPerPage,
    maxPages: config.reports.maxPages,
    publicUrl: config.reports.publicUrl,
    retryBaseMs: config.sink.retryAfterSeconds * 1000,
    // One member of a group writes a wiki's report page: the one holding the edits partition of its key.
    owns: (wiki) => made.sink?.holds(partitionForKey(`report-page:${wiki}`, config.log.partitions.edits)) ?? false,
    show: async (wiki, text) => made.sink?.showText(wiki, text),
    logger,
  })
}

/** A configured wiki's report page (wikis.CODE.reportPage, else wikiDefaults.reportPage), if it has one. */
export function reportPageOf(config: Config, code: string): string | undefined {
  return config.wikis[code]?.reportPage ?? config.wikiDefaults.reportPage
}

/** Where a deployment's sink keeps its dry-run diffs, a file per wiki (its endpoint shows them). */
export function diffsDirOf(config: Config): string {
  return join(resolve(config.dataDir), 'diffs')
}
