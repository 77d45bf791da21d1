import { join } from 'node:path'
import type { EventStore } from '../../events/event-log.js'
import { silentLogger, type Logger } from '../../logging.js'
import { Progress } from '../../progress.js'
import type { CheckpointStore } from '../checkpoints.js'
import type { SourceMeter } from '../source-meter.js'
import type { WikiSource } from '../wiki-source.js'
import type { CompleteRun, DumpFile, DumpsSite } from './dumps-site.js'
import { pageEventBatches, type PageEventCounts, type PageEventsInput } from './page-events.js'
import { encodedPageEvents, workerAvailable } from './page-events-thread.js'

// One wiki's snapshot from one complete run of Wikimedia's dumps, instead of reading every page over the API: the
// run's page and langlinks tables, downloaded and checked before anything is appended, joined by page id as they
// stream (both come in primary-key order, so memory stays bounded whatever the wiki's size), namespace 0 only.
// Each page becomes a PageObserved of source `dump` with `page_latest` as its revision and the run's date as its
// observation time: a live fact newer than the run wins, an older one loses (by revision, and for deletions and
// moves by that time). Then the wiki's recent changes from the run's date (what happened while the tables were
// dumped and since), then the snapshot's markers, whose sweep removes titles the run did not have and nothing saw
// since its date.
//
// The tables of one run are not one moment (each is dumped hours or days after the other):
// - a langlinks row whose page the page table lacks is dropped (the page is newer than that table, or gone);
//   recent changes from the run's date bring the page;
// - a page whose links were written after the langlinks table was dumped (`page_links_updated` later than that
//   job's end) is recorded as edited at `page_latest`, its links unknown, so they are read before anything is
//   judged on them;
// - a page without langlinks rows has none (as of that table).

export interface DumpImportOptions {
  events: EventStore
  topic: string
  checkpoints: CheckpointStore
  site: DumpsSite
  /** Where downloads are kept (a mirror folder is read where it is). */
  cacheDir: string
  logger?: Logger
  meter?: SourceMeter
  /** Reads the wiki's recent changes from a time to now (appending them), after the run's pages. */
  catchUp?: (wiki: WikiSource, since: number) => Promise<void>
  /** Draw a progress bar (a terminal); otherwise log lines. */
  bar?: boolean
  /**
   * Waits while what reads the log is far behind (mbwa run: the projection): the import, which can append faster
   * than the projection applies, then shares the thread with it instead of taking it.
   */
  pace?: () => Promise<void>
  progressEveryMs?: number
  now?: () => number
  /** Where a run's tables are parsed: auto (a worker thread for a page file of 1 MB or more), always a worker, or this thread. */
  parseIn?: 'auto' | 'worker' | 'main'
}

/** A page file this large (gzipped: some 60,000 pages, a second of parsing; a worker takes ~0.1 s to start) is parsed in a worker thread. */
const WORKER_FROM_BYTES = 1024 * 1024

export interface DumpImportResult {
  snapshotId: string
  date: string
  pages: number
  /** Pages recorded with links unknown (their links are newer than the run's langlinks table). */
  linksNewer: number
  /** langlinks rows whose page the page table lacks. */
  orphanLinks: number
  seconds: number
}

/** What is stored while a run's import goes on, and after it, per wiki. */
export interface DumpImportState {
  date: string
  snapshotId: string
  completedAt?: number
}


export class WikimediaDumpImport {
  private readonly logger: Logger
  private readonly now: () => number

  constructor(private readonly options: DumpImportOptions) {
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
  }

  static stateKey(wiki: string): string {
    return `wikimedia-dump:${wiki}`
  }

  async state(wiki: string): Promise<DumpImportState | undefined> {
    return this.options.checkpoints.get<DumpImportState>(WikimediaDumpImport.stateKey(wiki))
  }

  /** The run's page and langlinks files, downloaded (or found in the cache) and checked, in series. */
  private async download(run: CompleteRun, code: string): Promise<{ pagePath: string; linksPath: string }> {
    const { site } = this.options
    const total = (run.files.page.size ?? 0) + (run.files.langlinks.size ?? 0)
    const dl = new Progress({ label: `download ${run.db}-${run.date}`, unit: 'MB', total: total > 0 ? mb(total) : null, logger: this.logger, bar: this.options.bar ?? false, everyMs: this.options.progressEveryMs ?? 30_000, fields: { wiki: code } })
    let before = 0
    const fetchOne = async (f: DumpFile): Promise<string> => {
      const path = await site.fetch(f, join(this.options.cacheDir, run.db, run.date), (bytes) => dl.update(mb(before + bytes)))
      before += f.size ?? 0
      return path
    }
    const pagePath = await fetchOne(run.files.page)
    const linksPath = await fetchOne(run.files.langlinks)
    dl.stop()
    return { pagePath, linksPath }
  }

  /** The run's end: a marker in every partition (as a snapshot's), and the import's state marked complete. */
  private async complete(code: string, state: DumpImportState, mark: { startedAt: number; pages: number; titleCase: 'first-letter' | 'case-sensitive' | null; mainPage: string | null }): Promise<void> {
    const { events, topic, checkpoints } = this.options
    const { snapshotId } = state
    const { startedAt, pages, titleCase, mainPage } = mark
    const completedAt = this.now()
    await events.appendToEveryPartition(topic, 'SnapshotCompleted', (partition) => ({
      id: `${snapshotId}:completed:${partition}`,
      source: 'dump',
      observedAt: completedAt,
      wiki: code,
      snapshotId,
      partition,
      startedAt,
      pages,
      titleCase,
      mainPage,
    }))
    await checkpoints.put(WikimediaDumpImport.stateKey(code), { ...state, completedAt })
    this.options.meter?.snapshotEnded(code)
  }

  /** Imports `run` as the snapshot of `wiki` (its API client reads siteinfo and the recent changes). */
  /** The run's snapshot begun: its state (a new one for a newer run), SnapshotStarted, and how the wiki compares titles. */
  private async begin(wiki: WikiSource, run: CompleteRun): Promise<{ state: DumpImportState; titleCase: 'first-letter' | 'case-sensitive' | null; mainPage: string | null }> {
    const { events, topic, checkpoints } = this.options
    const code = wiki.code
    let state = await this.state(code)
    if (!state || state.date !== run.date || state.completedAt !== undefined) {
      state = { date: run.date, snapshotId: `wikimedia:${code}:${run.date}` }
      await checkpoints.put(WikimediaDumpImport.stateKey(code), state)
    }
    const snapshotId = state.snapshotId
    await events.append(topic, [{ type: 'SnapshotStarted', key: `snapshot:${code}`, value: { id: `${snapshotId}:started`, source: 'dump', observedAt: run.startedAt, wiki: code, snapshotId } }])
    const info = await wiki.client.get({ action: 'query', meta: 'siteinfo', siprop: 'general' })
    const general = (info.query as { general?: { case?: string; mainpage?: string } } | undefined)?.general
    const titleCase = general?.case === 'first-letter' || general?.case === 'case-sensitive' ? general.case : null
    return { state, titleCase, mainPage: general?.mainpage ?? null }
  }

  /**
   * The run's page events, batch by batch, each with how to append it: read, joined and encoded in a worker thread
   * where the run is large (its parse is the import's main cost, and `mbwa run`'s projection needs the thread), on
   * this thread otherwise (a worker costs more to start than a small run to read).
   */
  private async *batches(input: PageEventsInput, counts: PageEventCounts, signal?: AbortSignal): AsyncGenerator<{ append: () => Promise<unknown>; size: number; pages: number }> {
    const { events, topic } = this.options
    const parse = this.options.parseIn ?? 'auto'
    if (parse === 'worker' || (parse === 'auto' && (input.pageFile.size ?? 0) >= WORKER_FROM_BYTES && workerAvailable())) {
      for await (const { messages, pages } of encodedPageEvents(input, counts, signal)) yield { append: () => events.appendEncoded(topic, messages), size: messages.length, pages }
    } else {
      for await (const batch of pageEventBatches(input, counts, signal)) yield { append: () => events.append(topic, batch), size: batch.length, pages: counts.pages }
    }
  }

  async run(wiki: WikiSource, run: CompleteRun, signal?: AbortSignal): Promise<DumpImportResult> {
    const began = this.now()
    const code = wiki.code
    // Everything downloaded and checked first: a cut or altered file stops here, before any event is appended.
    const { pagePath, linksPath } = await this.download(run, code)
    if (signal?.aborted) throw signal.reason

    const { state, titleCase, mainPage } = await this.begin(wiki, run)
    const snapshotId = state.snapshotId
    const startedAt = run.startedAt
    const linksFinished = run.finishedAt.langlinks
    const input: PageEventsInput = { pagePath, linksPath, pageFile: run.files.page, linksFile: run.files.langlinks, code, snapshotId, startedAt, linksUpTo: linksFinished === null ? null : mwTimestamp(linksFinished), batchSize: 5000 }
    const progress = new Progress({ label: `import ${run.db}-${run.date}`, unit: 'pages', total: null, logger: this.logger, bar: this.options.bar ?? false, everyMs: this.options.progressEveryMs ?? 30_000, fields: { wiki: code } })
    this.options.meter?.snapshotProgress(code, snapshotId, startedAt, 0, null)
    const counts: PageEventCounts = { pages: 0, linksNewer: 0, orphanLinks: 0 }
    let inFlight: Promise<unknown> | undefined
    try {
      for await (const { append, size, pages } of this.batches(input, counts, signal)) {
        // One append in flight while the next batch is read: the log's write and the parse overlap.
        const appending = append()
        await inFlight
        inFlight = appending
        await this.options.pace?.()
        progress.update(pages)
        this.options.meter?.appended(size, null, code)
        this.options.meter?.snapshotProgress(code, snapshotId, startedAt, pages, null)
      }
      await inFlight
    } finally {
      await inFlight?.catch(() => undefined)
      progress.stop()
    }
    const { pages, linksNewer } = counts
    // What happened during the run's dumping and since: recent changes from the run's date, after its pages.
    if (this.options.catchUp) await this.options.catchUp(wiki, startedAt)
    await this.complete(code, state, { startedAt, pages, titleCase, mainPage })
    const seconds = (this.now() - began) / 1000
    const result = { snapshotId, date: run.date, pages, linksNewer, orphanLinks: counts.orphanLinks, seconds }
    this.logger.info({ wiki: code, ...result }, 'wikimedia dump imported')
    return result
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 1e5) / 10
}

/** A time as MediaWiki's 14-digit timestamp (YYYYMMDDHHMMSS, UTC), which compares as a string. */
export function mwTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)
}
