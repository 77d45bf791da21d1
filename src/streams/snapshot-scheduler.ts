import { setTimeout as sleep } from 'node:timers/promises'
import { silentLogger, type Logger } from '../logging.js'
import type { CheckpointStore } from './checkpoints.js'
import { SnapshotReader, type SnapshotSchedule } from './snapshot.js'
import type { WikiSource } from './wiki-source.js'
import type { SourceMeter } from './source-meter.js'
import { doublingDelay } from '../backoff.js'

// Which wiki to snapshot next, as the old bot's addtasks() did: an interrupted snapshot first (it resumes),
// then the least recently snapshotted wiki once it is due (its target interval, default one week, has passed
// since its last snapshot). Snapshots run one at a time, so requests to a wiki stay serial. The pace adapts by
// itself: with N wikis due every T, the scheduler sleeps until the next one is due, so reads spread over T
// instead of bunching up; a wiki that took long to read is still due T after it *started*.
// A snapshot that fails is tried again after a backoff that doubles with each failure in a row (from one minute
// to an hour), and until then the other wikis go on: one wiki whose API keeps failing must not hold up the
// ~170 others (an interrupted snapshot comes first only once its backoff has passed).

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
    let best: { wiki: WikiSource; dueAt: number; last: number } | undefined
    for (const wiki of this.wikis) {
      const retryAt = this.failures.get(wiki.code)?.retryAt ?? 0
      let dueAt: number
      let last: number
      if (await this.options.reader.state(wiki.code)) {
        if (retryAt <= now) return { wiki, dueAt: 0 } // an interrupted snapshot resumes first
        dueAt = retryAt
        last = 0
      } else {
        const schedule = await this.options.checkpoints.get<SnapshotSchedule>(SnapshotReader.scheduleKey(wiki.code))
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
        await this.options.reader.run(next.wiki, { signal })
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

  async stop(): Promise<void> {
    this.stopping.abort()
    await this.loop
  }
}
