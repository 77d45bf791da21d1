import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { isWikimediaApi, type Config } from '../../config/schema.js'
import type { EventStore } from '../../events/event-log.js'
import { silentLogger, type Logger } from '../../logging.js'
import type { CheckpointStore } from '../checkpoints.js'
import { RecentChangesPoller } from '../recent-changes.js'
import { SnapshotReader, type SnapshotSchedule } from '../snapshot.js'
import type { SourceMeter } from '../source-meter.js'
import type { WikiSource } from '../wiki-source.js'
import { WikimediaDumpImport, type DumpImportResult } from './dump-import.js'
import { DumpsSite, type CompleteRun } from './dumps-site.js'

// The Wikimedia-dumps source as `mbwa run` and `mbwa import --wikimedia` use it: which wikis it feeds
// (sources.wikimediaDumps.enabled; auto = those on Wikimedia's hosts), which run of a wiki is worth importing now
// (complete, newer than the last one imported, young enough for recent changes to reach back to its date), and
// the import itself, recorded as the wiki's snapshot so the API snapshot is not due on top of it.

export type RunChoice = { run: CompleteRun } | { none: 'no-complete-run' | 'not-newer' | 'too-old'; date?: string }

export interface DumpSourceOptions {
  config: Config
  events: EventStore
  topic: string
  checkpoints: CheckpointStore
  logger?: Logger
  meter?: SourceMeter
  /** Draw progress bars (a terminal). */
  bar?: boolean
  /** The site, when not the configured one (mbwa import --wikimedia URL). */
  url?: string
  /** Waits while the projection is far behind the log (see DumpImportOptions.pace). */
  pace?: () => Promise<void>
  now?: () => number
}

export class WikimediaDumpSource {
  readonly site: DumpsSite
  readonly importer: WikimediaDumpImport
  private readonly logger: Logger
  private readonly now: () => number
  private readonly cacheDir: string

  constructor(private readonly options: DumpSourceOptions) {
    const wd = options.config.sources.wikimediaDumps
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
    this.site = new DumpsSite({ base: options.url ?? wd.url, contact: options.config.userAgent.contact })
    this.cacheDir = resolve(wd.cacheDir ?? join(resolve(options.config.dataDir), 'wikimedia-dumps'))
    this.importer = new WikimediaDumpImport({
      events: options.events,
      topic: options.topic,
      checkpoints: options.checkpoints,
      site: this.site,
      cacheDir: this.cacheDir,
      logger: this.logger,
      meter: options.meter,
      bar: options.bar,
      pace: options.pace,
      parseIn: wd.parseIn,
      now: this.now,
      catchUp: async (wiki, since) => {
        const r = await RecentChangesPoller.catchUp(wiki, since, { events: options.events, topic: options.topic, checkpoints: options.checkpoints, logger: this.logger, now: this.now })
        this.logger.info({ wiki: wiki.code, since: new Date(since).toISOString(), ...r }, 'wikimedia dump: recent changes since the run read')
      },
    })
  }

  /** Whether the dumps feed this wiki (its API is on Wikimedia's hosts, or the setting is on for all). */
  feeds(api: string): boolean {
    const enabled = this.options.config.sources.wikimediaDumps.enabled
    return enabled === 'auto' ? isWikimediaApi(api) : enabled
  }

  /** The run of `dbname` to import now for wiki `code`, or why there is none. */
  async choose(code: string, dbname: string): Promise<RunChoice> {
    const wd = this.options.config.sources.wikimediaDumps
    const last = await this.importer.state(code)
    const imported = last?.completedAt !== undefined ? last.date : undefined
    const run = await this.site.latestComplete(dbname)
    if (!run) return { none: 'no-complete-run' }
    if (imported !== undefined && run.date <= imported) return { none: 'not-newer', date: run.date }
    if (this.now() - run.startedAt > wd.maxRunAgeDays * 86_400_000) return { none: 'too-old', date: run.date }
    return { run }
  }

  /** Imports a run as the wiki's snapshot; the downloads go afterwards unless kept. */
  async import(wiki: WikiSource, run: CompleteRun, signal?: AbortSignal): Promise<DumpImportResult> {
    const started = this.now()
    const result = await this.importer.run(wiki, run, signal)
    const completedAt = this.now()
    const schedule: SnapshotSchedule = { lastStartedAt: started, lastCompletedAt: completedAt, lastDurationMs: completedAt - started, pages: result.pages }
    await this.options.checkpoints.put(SnapshotReader.scheduleKey(wiki.code), schedule)
    if (!this.options.config.sources.wikimediaDumps.keepDownloads && !this.site.local) rmSync(join(this.cacheDir, run.db, run.date), { recursive: true, force: true })
    return result
  }
}
