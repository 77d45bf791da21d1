import { setTimeout as sleep } from 'node:timers/promises'
import { silentLogger, type Logger } from '../logging.js'
import type { CheckpointStore } from './checkpoints.js'
import { SnapshotReader, type SnapshotSchedule } from './snapshot.js'
import type { WikiSource } from './wiki-source.js'
import type { SourceMeter } from './source-meter.js'
import { doublingDelay } from '../backoff.js'
import type { WikimediaDumpSource } from './wikimedia-dumps/dump-source.js'
import { WikimediaDumpImport, type DumpImportState } from './wikimedia-dumps/dump-import.js'

// Which wiki to snapshot next, as the old bot's addtasks() did: an interrupted snapshot first (it resumes),
// then the least recently snapshotted wiki once it is due (its target interval, default one week, has passed
// since its last snapshot). Snapshots run one at a time, so requests to a wiki stay serial. The pace adapts by
// itself: with N wikis due every T, the scheduler sleeps until the next one is due, so reads spread over T
// instead of bunching up; a wiki that took long to read is still due T after it *started*.
// A snapshot that fails is tried again after a backoff that doubles with each failure in a row (from one minute
// to an hour), and until then the other wikis go on: one wiki whose API keeps failing must not hold up the
// ~170 others (an interrupted snapshot comes first only once its backoff has passed).
// A wiki the Wikimedia dumps feed is looked at every `checkEveryMs` for a newer complete run, which becomes its
// snapshot; it is read over the API only when no usable run is there (none yet, or too old for recent changes to
// reach back to its date) and its last snapshot is older than `fallbackAfterMs` (or it has none).

export interface SchedulerOptions {
  reader: SnapshotReader
  checkpoints: CheckpointStore
  /** Target interval between two snapshots of a wiki. Default one week. */
  intervalMs?: number
  /** Per-wiki overrides of the interval. */
  intervals?: Record<string, number>
  /** Longest sleep before looking again (new wikis may appear). Default 10 minutes. */
  maxSleepMs?: number
  /** First wait before a failed snapshot is tried again; it doubles with each failure in a row. Default 1 minute. */
  retryMs?: number
  /** Longest wait before a failed snapshot is tried again. Default 1 hour. */
  maxRetryMs?: number
  /** Failures are counted here (the reader counts pages). */
  meter?: SourceMeter
  /** The Wikimedia dumps, for the wikis they feed. */
  dumps?: { source: WikimediaDumpSource; checkEveryMs: number; fallbackAfterMs: number }
  /** Snapshots over the API (default true); off, only the dumps make snapshots. */
  api?: boolean
  logger?: Logger
  now?: () => number
}

export class SnapshotScheduler {
  private readonly logger: Logger
  private readonly now: () => number
  private readonly stopping = new AbortController()
  private wake = new AbortController()
  private loop: Promise<void> | undefined
  private wikis: WikiSource[]
  /** Wikis whose last snapshot attempts failed: how many in a row, and when to try again. */
  private readonly failures = new Map<string, { count: number; retryAt: number }>()

  constructor(
    wikis: WikiSource[],
    private readonly options: SchedulerOptions,
  ) {
    this.wikis = wikis
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
  }

  /** Replace the wiki list (discovery refreshed it), and look at once for one that is due. */
  setWikis(wikis: WikiSource[]): void {
    this.wikis = wikis
    this.wake.abort()
    this.wake = new AbortController()
  }

  private interval(wiki: string): number {
    return this.options.intervals?.[wiki] ?? this.options.intervalMs ?? 7 * 86_400_000
  }

  /** The next wiki to snapshot and when it is due (ms since epoch; <= now means now). */
  async next(): Promise<{ wiki: WikiSource; dueAt: number } | undefined> {
    const now = this.now()
    // Every wiki's entries in four range reads, not four reads a wiki: with ~170 wikis this runs once a snapshot.
    const all = async <T>(prefix: string): Promise<Map<string, T>> => new Map((await this.options.checkpoints.entries<T>(prefix)).map(([k, v]) => [k.slice(prefix.length), v]))
    const [running, schedules, imports, checks] = await Promise.all([
      all<unknown>(SnapshotReader.stateKey('')),
      all<SnapshotSchedule>(SnapshotReader.scheduleKey('')),
      this.options.dumps ? all<DumpImportState>(WikimediaDumpImport.stateKey('')) : new Map<string, DumpImportState>(),
      this.options.dumps ? all<number>(checkedKey('')) : new Map<string, number>(),
    ])
    let best: { wiki: WikiSource; dueAt: number; last: number } | undefined
    for (const wiki of this.wikis) {
      const retryAt = this.failures.get(wiki.code)?.retryAt ?? 0
      let dueAt: number
      let last: number
      const fed = this.fedByDumps(wiki)
      const imported = imports.get(wiki.code)
      const schedule = schedules.get(wiki.code)
      if (running.has(wiki.code) || (fed && imported !== undefined && imported.completedAt === undefined)) {
        if (retryAt <= now) return { wiki, dueAt: 0 } // an interrupted snapshot resumes first
        dueAt = retryAt
        last = 0
      } else if (fed) {
        const { checkEveryMs, fallbackAfterMs } = this.options.dumps!
        const checked = checks.get(wiki.code) ?? 0
        last = schedule?.lastStartedAt ?? 0
        dueAt = Math.max(schedule ? Math.min(last + fallbackAfterMs, checked + checkEveryMs) : checked === 0 ? 0 : this.options.api === false ? checked + checkEveryMs : 0, retryAt)
      } else if (this.options.api === false) {
        continue
      } else {
        last = schedule?.lastStartedAt ?? 0
        dueAt = Math.max(schedule ? last + this.interval(wiki.code) : 0, retryAt)
      }
      if (!best || dueAt < best.dueAt || (dueAt === best.dueAt && last < best.last)) best = { wiki, dueAt, last }
    }
    return best && { wiki: best.wiki, dueAt: best.dueAt }
  }

  /** Failed attempts in a row per wiki, and when each is tried again (what this process knows; the log has SnapshotFailed). */
  failing(): Record<string, { count: number; retryAt: number }> {
    return Object.fromEntries([...this.failures].map(([code, f]) => [code, { ...f }]))
  }

  start(): void {
    this.loop = this.run()
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal
    while (!signal.aborted) {
      const next = await this.next().catch((err: unknown) => {
        this.logger.warn({ err: (err as Error).message }, 'snapshot schedule unreadable')
        return undefined
      })
      const wait = next ? Math.max(0, next.dueAt - this.now()) : this.options.maxSleepMs ?? 600_000
      if (!next || wait > 0) {
        await sleep(Math.min(wait, this.options.maxSleepMs ?? 600_000), undefined, { signal: AbortSignal.any([signal, this.wake.signal]) }).catch(() => undefined)
        continue
      }
      const code = next.wiki.code
      try {
        await this.snapshot(next.wiki, signal)
        this.failures.delete(code)
      } catch (err) {
        if (signal.aborted) break
        this.options.meter?.failed(err)
        const count = (this.failures.get(code)?.count ?? 0) + 1
        const waitMs = doublingDelay(count, this.options.retryMs ?? 60_000, this.options.maxRetryMs ?? 3_600_000)
        this.failures.set(code, { count, retryAt: this.now() + waitMs })
        this.logger.warn({ wiki: code, failures: count, retryInMs: waitMs, err: (err as Error).message }, 'snapshot failed; it resumes after a wait, other wikis go on')
        // In the log, so the projection does not hold every title's verdict back for this wiki.
        await this.options.reader.failed(next.wiki.code, count, err).catch((e: unknown) => this.logger.warn({ wiki: code, err: (e as Error).message }, 'could not record the failed snapshot'))
      }
    }
  }

  private fedByDumps(wiki: WikiSource): boolean {
    return this.options.dumps !== undefined && wiki.dbname !== undefined && this.options.dumps.source.feeds(wiki.client.api.href)
  }

  /** One snapshot of a wiki: a newer dump run where the dumps feed it, otherwise (or failing that) the API's. */
  private async snapshot(wiki: WikiSource, signal: AbortSignal): Promise<void> {
    if (this.fedByDumps(wiki) && !(await this.options.reader.state(wiki.code))) {
      const { source, fallbackAfterMs } = this.options.dumps!
      const choice = await source.choose(wiki.code, wiki.dbname!).catch((err: unknown) => {
        this.logger.warn({ wiki: wiki.code, site: source.site.where, err: (err as Error).message }, 'wikimedia dumps: the site could not be read')
        return undefined
      })
      await this.options.checkpoints.put(checkedKey(wiki.code), this.now())
      if (choice && 'run' in choice) {
        this.logger.info({ wiki: wiki.code, db: choice.run.db, date: choice.run.date }, 'wikimedia dumps: importing a complete run as the snapshot')
        await source.import(wiki, choice.run, signal)
        return
      }
      const schedule = await this.options.checkpoints.get<SnapshotSchedule>(SnapshotReader.scheduleKey(wiki.code))
      if (this.options.api === false || (schedule && this.now() - schedule.lastStartedAt < fallbackAfterMs)) return
      this.logger.info({ wiki: wiki.code, why: choice ? choice.none : 'site unreadable', date: choice && 'date' in choice ? choice.date : undefined }, 'wikimedia dumps: no usable run; reading the wiki over the API')
    }
    await this.options.reader.run(wiki, { signal })
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    await this.loop
  }
}

/** When the dumps site was last looked at for a newer run of a wiki (ms). */
function checkedKey(wiki: string): string {
  return `wikimedia-dump-checked:${wiki}`
}
