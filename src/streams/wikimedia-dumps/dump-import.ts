import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { createGunzip } from 'node:zlib'
import { MbwaError } from '../../errors/errors.js'
import type { EventStore, EventToAppend } from '../../events/event-log.js'
import type { LanguageLink } from '../../events/types.js'
import { silentLogger, type Logger } from '../../logging.js'
import { Progress } from '../../progress.js'
import type { CheckpointStore } from '../checkpoints.js'
import { titleEvent } from '../event-batch.js'
import type { SourceMeter } from '../source-meter.js'
import type { WikiSource } from '../wiki-source.js'
import { surelyNotBlank } from '../../wikitext/interwiki.js'
import type { CompleteRun, DumpFile, DumpsSite } from './dumps-site.js'
import { SqlDumpError, sqlDumpRows, type SqlValue } from './sql-dump.js'

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
}

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

const PAGE_COLUMNS = ['page_id', 'page_namespace', 'page_title', 'page_is_redirect', 'page_latest', 'page_len'] as const
const LINK_COLUMNS = ['ll_from', 'll_lang', 'll_title'] as const

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

  async run(wiki: WikiSource, run: CompleteRun, signal?: AbortSignal): Promise<DumpImportResult> {
    const { events, topic } = this.options
    const began = this.now()
    const code = wiki.code
    // Everything downloaded and checked first: a cut or altered file stops here, before any event is appended.
    const { pagePath, linksPath } = await this.download(run, code)
    if (signal?.aborted) throw signal.reason

    const { state, titleCase, mainPage } = await this.begin(wiki, run)
    const snapshotId = state.snapshotId
    const startedAt = run.startedAt
    const linksFinished = run.finishedAt.langlinks
    const rowContext = { code, snapshotId, startedAt, linksUpTo: linksFinished === null ? null : mwTimestamp(linksFinished) }
    const progress = new Progress({ label: `import ${run.db}-${run.date}`, unit: 'pages', total: null, logger: this.logger, bar: this.options.bar ?? false, everyMs: this.options.progressEveryMs ?? 30_000, fields: { wiki: code } })
    this.options.meter?.snapshotProgress(code, snapshotId, startedAt, 0, null)
    let pages = 0
    let linksNewer = 0
    let batch: EventToAppend[] = []
    const links = new LinkRows(tableRows(linksPath, run.files.langlinks, 'langlinks', LINK_COLUMNS))
    let lastId = -1
    let inFlight: Promise<unknown> | undefined
    try {
      for await (const { rows, at } of tableRows(pagePath, run.files.page, 'page', PAGE_COLUMNS)) {
        if (signal?.aborted) throw signal.reason
        for (const row of rows) {
          const id = int(row[at.page_id], 'page_id')
          if (id <= lastId) throw invalid(run.files.page, `page ids not in ascending order (${id} after ${lastId}): not a mysqldump of the table`)
          lastId = id
          const pageLinks = await links.of(id)
          if (row[at.page_namespace] !== 0) continue
          const event = pageRowEvent(row, at, id, pageLinks, rowContext)
          if (event.type === 'PageEdited') linksNewer++
          batch.push(event)
          pages++
          if (batch.length >= 5000) {
            // One append in flight while the next batch is read: the log's write and the parse overlap.
            const appending = events.append(topic, batch)
            batch = []
            await inFlight
            inFlight = appending
            await this.options.pace?.()
            progress.update(pages)
            this.options.meter?.appended(5000, null, code)
            this.options.meter?.snapshotProgress(code, snapshotId, startedAt, pages, null)
          }
        }
      }
      await links.rest()
      await inFlight
    } finally {
      await inFlight?.catch(() => undefined)
      progress.stop()
    }
    if (batch.length > 0) {
      await events.append(topic, batch)
      this.options.meter?.appended(batch.length, null, code)
    }
    // What happened during the run's dumping and since: recent changes from the run's date, after its pages.
    if (this.options.catchUp) await this.options.catchUp(wiki, startedAt)
    await this.complete(code, state, { startedAt, pages, titleCase, mainPage })
    const seconds = (this.now() - began) / 1000
    const result = { snapshotId, date: run.date, pages, linksNewer, orphanLinks: links.orphans, seconds }
    this.logger.info({ wiki: code, ...result }, 'wikimedia dump imported')
    return result
  }
}

/**
 * A namespace-0 page row as an event: a PageObserved as of the run's start, or, where the page's links were updated
 * after the langlinks table was dumped, a PageEdited (its links are read again live).
 */
function pageRowEvent(row: SqlValue[], at: Columns<typeof PAGE_COLUMNS>, id: number, pageLinks: LanguageLink[], c: { code: string; snapshotId: string; startedAt: number; linksUpTo: string | null }): EventToAppend {
  const title = String(row[at.page_title]).replace(/_/g, ' ')
  const revision = int(row[at.page_latest], 'page_latest')
  const updated = at.page_links_updated === undefined ? null : row[at.page_links_updated]
  // Object literals, not spreads of a shared base: V8 builds a spread of that many fields ten times slower,
  // and the event's encoding then reads a slower object (measured: 10 µs against 1 µs an event).
  const eventId = `${c.snapshotId}:${id}`
  if (c.linksUpTo !== null && typeof updated === 'string' && updated > c.linksUpTo) {
    return titleEvent('PageEdited', { id: eventId, source: 'dump', observedAt: c.startedAt, wiki: c.code, title, pageId: id, revision, byBot: false })
  }
  const blank = surelyNotBlank(int(row[at.page_len], 'page_len'), pageLinks) ? false : null
  return titleEvent('PageObserved', { id: eventId, source: 'dump', observedAt: c.startedAt, wiki: c.code, title, pageId: id, exists: true, redirect: row[at.page_is_redirect] === 1, blank, revision, links: pageLinks, writtenLinks: null, snapshotId: c.snapshotId })
}

type Columns<C extends readonly string[]> = { [K in C[number]]: number } & Record<string, number | undefined>

/**
 * Rows of one table file, with the index of each column mbwa reads (from the file's own CREATE TABLE). A file that
 * does not read (damaged gzip, malformed or cut SQL, another table, a column missing) is MBWA_WIKIMEDIA_DUMP_INVALID.
 */
async function* tableRows<C extends readonly string[]>(path: string, file: DumpFile, table: string, wanted: C): AsyncGenerator<{ rows: SqlValue[][]; at: Columns<C> }> {
  let at: Columns<C> | undefined
  const input = createReadStream(path, { highWaterMark: 1 << 20 })
  const gunzip = input.pipe(createGunzip({ chunkSize: 1 << 18 }))
  input.on('error', (err) => gunzip.destroy(err))
  try {
    for await (const b of sqlDumpRows(gunzip)) {
      if (b.table !== table) throw new SqlDumpError(`rows of table \`${b.table}\` in the ${table} file`, 0)
      if (!at) {
        const found: Record<string, number> = {}
        b.columns.forEach((c, i) => (found[c] = i))
        for (const c of wanted) if (found[c] === undefined) throw new SqlDumpError(`the ${table} table has no column ${c}`, 0)
        at = found as Columns<C>
      }
      yield { rows: b.rows, at }
    }
  } catch (err) {
    if (err instanceof SqlDumpError) throw invalid(file, err.message, err)
    if ((err as { code?: string }).code?.startsWith('Z_')) throw invalid(file, `not gzip, or damaged: ${(err as Error).message}`, err)
    throw err
  } finally {
    gunzip.destroy()
    input.destroy()
  }
}

/** The langlinks rows, consumed in page-id order alongside the page table. */
class LinkRows {
  private rows: SqlValue[][] = []
  private i = 0
  private at: Columns<typeof LINK_COLUMNS> | undefined
  private ended = false
  private last = -1
  orphans = 0

  constructor(private readonly source: AsyncGenerator<{ rows: SqlValue[][]; at: Columns<typeof LINK_COLUMNS> }>) {}

  /** The links of page `id` (pages come in ascending id; rows of pages before it that the page table lacks are dropped). */
  async of(id: number): Promise<LanguageLink[]> {
    const out: LanguageLink[] = []
    for (;;) {
      if (this.i >= this.rows.length && !(await this.fill())) return out
      const row = this.rows[this.i]!
      const at = this.at!
      const from = row[at.ll_from] as number
      if (from > id) return out
      if (from < this.last) throw new SqlDumpError(`langlinks rows not in ascending ll_from order (${from} after ${this.last})`, 0)
      this.last = from
      if (from < id) this.orphans++
      else out.push({ code: String(row[at.ll_lang]), title: String(row[at.ll_title]) })
      this.i++
    }
  }

  /** Reads what is left (rows of pages after the last page are orphans); the file is read to its end either way. */
  async rest(): Promise<void> {
    await this.of(Number.MAX_SAFE_INTEGER)
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false
    const next = await this.source.next()
    if (next.done) {
      this.ended = true
      return false
    }
    this.rows = next.value.rows
    this.at = next.value.at
    this.i = 0
    return true
  }
}

function int(v: SqlValue | undefined, column: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new SqlDumpError(`${column} is not an integer: ${JSON.stringify(v)}`, 0)
  return v
}

function invalid(file: DumpFile, why: string, cause?: unknown): MbwaError {
  return new MbwaError('MBWA_WIKIMEDIA_DUMP_INVALID', `${file.name}: ${why}`, { file: file.name }, { cause })
}

function mb(bytes: number): number {
  return Math.round(bytes / 1e5) / 10
}

/** A time as MediaWiki's 14-digit timestamp (YYYYMMDDHHMMSS, UTC), which compares as a string. */
export function mwTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)
}
