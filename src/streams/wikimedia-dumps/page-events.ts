import { createReadStream } from 'node:fs'
import { createGunzip } from 'node:zlib'
import { MbwaError } from '../../errors/errors.js'
import type { EventToAppend } from '../../events/event-log.js'
import type { LanguageLink } from '../../events/types.js'
import { titleEvent } from '../event-batch.js'
import { surelyNotBlank } from '../../wikitext/interwiki.js'
import type { DumpFile } from './dumps-site.js'
import { SqlDumpError, sqlDumpRows, type SqlValue } from './sql-dump.js'

// A run's page and langlinks tables as page events: both files read as they stream and joined by page id (both
// come in primary-key order, so memory stays bounded whatever the wiki's size), namespace 0 only. The same join
// runs on the import's thread or in a worker thread of its own (page-events-thread.ts).

/** What the join reads, and what its events say (plain data: it is handed to a worker as it is). */
export interface PageEventsInput {
  pagePath: string
  linksPath: string
  pageFile: DumpFile
  linksFile: DumpFile
  code: string
  snapshotId: string
  startedAt: number
  /** The langlinks job's end as a MediaWiki timestamp: pages whose links are newer are recorded as edited. */
  linksUpTo: string | null
  batchSize: number
}

/** What the join counted, once it is done. */
export interface PageEventCounts {
  pages: number
  /** Pages recorded with links unknown (their links are newer than the run's langlinks table). */
  linksNewer: number
  /** langlinks rows whose page the page table lacks. */
  orphanLinks: number
}

const PAGE_COLUMNS = ['page_id', 'page_namespace', 'page_title', 'page_is_redirect', 'page_latest', 'page_len'] as const
const LINK_COLUMNS = ['ll_from', 'll_lang', 'll_title'] as const

/** The run's namespace-0 pages as events, `batchSize` at a time; `counts` is filled in as they come. */
export async function* pageEventBatches(input: PageEventsInput, counts: PageEventCounts, signal?: AbortSignal): AsyncGenerator<EventToAppend[]> {
  const links = new LinkRows(tableRows(input.linksPath, input.linksFile, 'langlinks', LINK_COLUMNS))
  let lastId = -1
  let batch: EventToAppend[] = []
  for await (const { rows, at } of tableRows(input.pagePath, input.pageFile, 'page', PAGE_COLUMNS)) {
    if (signal?.aborted) throw signal.reason
    for (const row of rows) {
      const id = int(row[at.page_id], 'page_id')
      if (id <= lastId) throw invalid(input.pageFile, `page ids not in ascending order (${id} after ${lastId}): not a mysqldump of the table`)
      lastId = id
      const pageLinks = await links.of(id)
      if (row[at.page_namespace] !== 0) continue
      const event = pageRowEvent(row, at, id, pageLinks, input)
      if (event.type === 'PageEdited') counts.linksNewer++
      batch.push(event)
      counts.pages++
      if (batch.length >= input.batchSize) {
        yield batch
        batch = []
      }
    }
  }
  await links.rest()
  counts.orphanLinks = links.orphans
  if (batch.length > 0) yield batch
}

/**
 * A namespace-0 page row as an event: a PageObserved as of the run's start, or, where the page's links were updated
 * after the langlinks table was dumped, a PageEdited (its links are read again live).
 */
function pageRowEvent(row: SqlValue[], at: Columns<typeof PAGE_COLUMNS>, id: number, pageLinks: LanguageLink[], c: PageEventsInput): EventToAppend {
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

