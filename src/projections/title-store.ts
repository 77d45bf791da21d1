import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import type { PendingCommand } from './edit-commands.js'
import type { KnownWiki } from '../domain/wiki-rules.js'
import { sealStore, unsealStore } from './store-check.js'
import type { PageState } from '../domain/page-state.js'
import { MbwaError } from '../errors/errors.js'
import { StringTable } from './string-table.js'
import { decodeTitleRecord, encodeTitleRecord, type RecordTables } from './title-record-codec.js'
import { TimeSlice } from '../time-slice.js'

// The title-links store on LevelDB. Everything is grouped by partition of the events topic, so a consumer-group
// member keeps, restores and drops partitions independently, and a partition's offset lives next to its state
// and is written in the same batch (exactly-once state: after a crash, state and offset agree).
//
// Keys (P = partition, 4 hex digits; \0 separates):
//   t P title            → TitleRecord              all that is known of a title, one read per title: its pages
//                                                   (wiki → PageState) and its discrepancy index entries
//   x P wiki kind title  → codes                  discrepancy index (the HTTP endpoint pages through it)
//   e P title            → { wiki → PendingCommand } edit commands sent and not yet answered
//   d P due title        → ''                     titles to look at again when new pages have settled
//   s P wiki             → SnapshotMark           the last snapshot completed in this partition
//   n P wiki             → count                  titles of a wiki
//   o P                  → next offset            of this partition of the events topic
//   f                    → STORE_FORMAT           how values are encoded (title records: Avro, title-record-codec.ts)
//   h P                  → '1'                    titles wait for the pass over every title (a first snapshot's
//                                                   pages are stored unevaluated until every open wiki has one)
//   r P                  → '1'                    the pass over every title came while an open wiki had no snapshot
//                                                   (its snapshots failing): first snapshots' pages are judged as
//                                                   they come until every open wiki has one
//   j n                  → string                 the string table: sources and snapshot ids, which title records
//                                                   and sweep stamps store as numbers (string-table.ts); not by
//                                                   partition
//   k P wiki             → failures               the wiki's snapshots failed since the last one completed here (if
//                                                   none ever did, the pass over every title does not wait for it)
//   q P wiki title       → revision               cognate mode: pages whose reports wait for their text (the text
//                                                   reader reads them); kept in the title record's entries like x
//   v P key              → titles (\0 between)    titles that share a Cognate key with others (`l'eau`, `l’eau`):
//                                                   only titles with a character the folding touches are listed
//   u n                  → code                   the code table: wiki codes of language links, as title records
//                                                   store them (title-record-codec.ts); not by partition
//   g P wiki title       → time                   tombstones (below)
//   c P wiki kind        → count                  entries of the discrepancy index (and q) per wiki and kind
//   m P rank title       → codes                  titles with real pages (not redirects, not blank) on two wikis or
//                                                   more, most-present first (rank = 99999 − how many): "missing
//                                                   here" lists of a wiki are the entries whose codes lack it

/**
 * The store's format: 7 = 6 with language links as numbers of a code table where they name the record's own title
 * (records that scale with Cognate), changedAt as its distance from observedAt, and one value per Cognate key
 * listing its titles (v); 6 = 5 with the presence index (m, "missing here"); 5 = 4 with the index of titles sharing a Cognate key (titles are partitioned by that key); 4 = title records in Avro, a link to the record's own title without it, sources and snapshot
 * ids as numbers of the string table (3 kept the strings, 2 every link's title; 1, unmarked, was JSON). Another
 * format is rebuilt from the log.
 */
export const STORE_FORMAT = '7'

export type TitlePages = Record<string, PageState>

/**
 * The entry kind of a page whose cognate reports wait for its text. Kept in a title record's entries with the
 * discrepancy kinds (so it is replaced the same way), but indexed under its own prefix (q), never shown as one.
 */
export const TEXT_WANTED = 'text-wanted'

export interface TitleRecord {
  pages: TitlePages
  /** The title's entries in the discrepancy index ([wiki, kind]), so they can be replaced without a lookup. */
  disc?: [string, string][]
}

/** A title a wiki lacks, with the wikis that have it (a "missing here" list). */
export interface MissingItem {
  title: string
  wikis: string[]
  /** Where the list goes on after it (its index key within the partition): the next page's cursor. */
  position: string
}

export interface SnapshotMark {
  snapshotId: string
  startedAt: number
  completedAt: number
  pages: number
  /** How the wiki compares titles, as its siteinfo said when the snapshot began. */
  titleCase?: 'first-letter' | 'case-sensitive' | null
  /** The wiki's main page, as its siteinfo said. */
  mainPage?: string | null
}

const S = '\x00'
// Keys are UTF-8 in LevelDB, so a string bound like '\xff' sorts below most non-Latin titles: every prefix
// here ends with the \x00 separator, and the same prefix ending in \x01 bounds it from above.
const end = (prefix: string): string => prefix.slice(0, -1) + '\x01'
const hex = (p: number): string => p.toString(16).padStart(4, '0')
/** Ranks sort most-present first: 99999 − count, five digits. */
const presenceRank = (count: number): string => String(99999 - Math.min(count, 99999)).padStart(5, '0')
const dueHex = (t: number): string => Math.max(0, Math.floor(t)).toString(16).padStart(12, '0')

/** The title of a title record's key (`t P title`: every partition's prefix has the same length). */
const TITLE_PREFIX_LENGTH = `t${S}${hex(0)}${S}`.length
export const titleOfKey = (key: string): string => key.slice(TITLE_PREFIX_LENGTH)

export const keys = {
  end,
  title: (p: number, title: string) => `t${S}${hex(p)}${S}${title}`,
  titlePrefix: (p: number) => `t${S}${hex(p)}${S}`,
  disc: (p: number, wiki: string, kind: string, title: string) => (kind === TEXT_WANTED ? `q${S}${hex(p)}${S}${wiki}${S}${title}` : `x${S}${hex(p)}${S}${wiki}${S}${kind}${S}${title}`),
  textWantedPrefix: (p: number, wiki?: string) => `q${S}${hex(p)}${S}${wiki === undefined ? '' : wiki + S}`,
  reportCount: (p: number, wiki: string, kind: string) => `c${S}${hex(p)}${S}${wiki}${S}${kind}`,
  reportCountPrefix: (p: number) => `c${S}${hex(p)}${S}`,
  /** A title with real pages on `codes.length` ≥ 2 wikis, ranked most-present first. */
  presence: (p: number, count: number, title: string) => `m${S}${hex(p)}${S}${presenceRank(count)}${S}${title}`,
  presencePrefix: (p: number) => `m${S}${hex(p)}${S}`,
  /** The titles with pages that share a Cognate key (one value: a batch reads all its keys' lists in one call). */
  spelling: (p: number, key: string) => `v${S}${hex(p)}${S}${key}`,
  discPrefix: (p: number, wiki: string, kind?: string) => `x${S}${hex(p)}${S}${wiki}${S}${kind === undefined ? '' : kind + S}`,
  pending: (p: number, title: string) => `e${S}${hex(p)}${S}${title}`,
  deferred: (p: number, due: number, title: string) => `d${S}${hex(p)}${S}${dueHex(due)}${S}${title}`,
  deferredPrefix: (p: number) => `d${S}${hex(p)}${S}`,
  deferredUntil: (p: number, due: number) => `d${S}${hex(p)}${S}${dueHex(due)}\x01`,
  snapshot: (p: number, wiki: string) => `s${S}${hex(p)}${S}${wiki}`,
  /**
   * When a page was deleted (or moved away without a redirect), kept until the wiki's next snapshot: a reading
   * made before the deletion and appended after it must not bring the page back.
   */
  gone: (p: number, wiki: string, title: string) => `g${S}${hex(p)}${S}${wiki}${S}${title}`,
  gonePrefix: (p: number, wiki: string) => `g${S}${hex(p)}${S}${wiki}${S}`,
  /** The discovered wiki list as this partition's log last said (WikisDiscovered). */
  discovered: (p: number) => `w${S}${hex(p)}`,
  snapshotPrefix: (p: number) => `s${S}${hex(p)}${S}`,
  count: (p: number, wiki: string) => `n${S}${hex(p)}${S}${wiki}`,
  countPrefix: (p: number) => `n${S}${hex(p)}${S}`,
  offset: (p: number) => `o${S}${hex(p)}`,
  /** Titles a wiki has in a partition (a sweep reads a wiki's pages, not every title). */
  wikiTitle: (p: number, wiki: string, title: string) => `y${S}${hex(p)}${S}${wiki}${S}${title}`,
  wikiTitlePrefix: (p: number, wiki: string) => `y${S}${hex(p)}${S}${wiki}${S}`,
  /** Set when the partition's wiki-title index is complete (kept since its first event). */
  indexed: (p: number) => `i${S}${hex(p)}`,
  /** Set while titles of first snapshots are stored unevaluated, waiting for the pass over every title. */
  held: (p: number) => `h${S}${hex(p)}`,
  /** Set when a pass over every title came while an open wiki had no snapshot (its snapshots failing). */
  released: (p: number) => `r${S}${hex(p)}`,
  /** A wiki whose snapshot attempts failed since its last completed one in this partition (SnapshotFailed). */
  snapshotFailures: (p: number, wiki: string) => `k${S}${hex(p)}${S}${wiki}`,
  snapshotFailuresPrefix: (p: number) => `k${S}${hex(p)}${S}`,
  partition: (p: number) => hex(p),
  format: 'f',
  /** An entry of the string table. */
  string: (n: number) => `j${S}${n.toString(16).padStart(8, '0')}`,
  stringPrefix: `j${S}`,
  /** An entry of the code table (wiki codes of language links, numbered as title records store them). */
  code: (n: number) => `u${S}${n.toString(16).padStart(8, '0')}`,
  codePrefix: `u${S}`,
}

/** An entry of the discrepancy index as read back. */
export interface DiscrepancyItem {
  kind: string
  title: string
  codes: string[]
  links?: { code: string; title: string; outdated?: 'stale' | 'missing' }[]
  /** Reports: when the page was last observed (what the report is as of). */
  at?: number
}

/** What a sweep asks of a page, kept in its wiki-title index entry: when it was last seen, and by which snapshot. */
export interface SweepStamp {
  observedAt: number
  snapshotId: string | null
}

/**
 * `observedAt` in base 36, then the number of the snapshot id in the store's string table (absent for a page no
 * snapshot saw last): ~12 bytes where the id itself took ~45, for every page in the store.
 */
export function encodeSweepStamp(page: SweepStamp, strings: StringTable, used: Set<number>): string {
  return page.snapshotId === null ? page.observedAt.toString(36) : `${page.observedAt.toString(36)} ${strings.number(page.snapshotId, used).toString(36)}`
}

/** undefined for an entry written before entries had stamps (''): the sweep reads its record. */
export function decodeSweepStamp(value: string, strings: StringTable): SweepStamp | undefined {
  if (value === '') return undefined
  const space = value.indexOf(' ')
  const observedAt = parseInt(space < 0 ? value : value.slice(0, space), 36)
  if (!Number.isSafeInteger(observedAt)) return undefined
  return { observedAt, snapshotId: space < 0 ? null : strings.string(parseInt(value.slice(space + 1), 36)) }
}

/** The string table of an open store (or its code table: `keys.codePrefix`). */
export async function loadStringTable(db: ClassicLevel<string, string> | ClassicLevel<string, Buffer>, prefix: string = keys.stringPrefix): Promise<StringTable> {
  const entries: [number, string][] = []
  for await (const [k, v] of (db as ClassicLevel<string, string>).iterator({ gte: prefix, lt: end(prefix), valueEncoding: 'utf8' })) entries.push([parseInt(k.slice(prefix.length), 16), v])
  return new StringTable(entries)
}

/** The tables title records are read with, from an open store. */
export async function loadRecordTables(db: ClassicLevel<string, string> | ClassicLevel<string, Buffer>): Promise<RecordTables> {
  return { strings: await loadStringTable(db), codes: await loadStringTable(db, keys.codePrefix) }
}

/** The format of an open store: its mark, '1' for an unmarked store with keys (JSON records), 'empty' for none. */
export async function storeFormat(db: ClassicLevel<string, string> | ClassicLevel<string, Buffer>): Promise<string> {
  const mark = await (db as ClassicLevel<string, string>).get(keys.format, { valueEncoding: 'utf8' })
  if (mark !== undefined) return mark
  for await (const _ of (db as ClassicLevel<string, string>).keys({ limit: 1 })) return '1 (JSON title records, unmarked)'
  return 'empty'
}

/** A put of a title record carries the record, and one of a wiki-title index entry its stamp; both are encoded when written. */
export type Op = { type: 'put'; key: string; value: string } | { type: 'put'; key: string; record: TitleRecord } | { type: 'put'; key: string; stamp: SweepStamp } | { type: 'del'; key: string }

const BUFFER = { valueEncoding: 'buffer' } as const

export class TitleStore {
  private constructor(
    readonly db: ClassicLevel<string, string>,
    readonly path: string,
    /** The strings title records store as numbers. */
    readonly strings: StringTable,
    /** The wiki codes of language links, as title records store them. */
    readonly codes: StringTable,
  ) {}

  static async open(path: string): Promise<TitleStore> {
    mkdirSync(path, { recursive: true })
    // A larger memtable than LevelDB's 4 MiB: replays write in big batches, and fewer, larger flushes mean less
    // compaction in the way. 16 MiB, not more: memory must stay bounded for any number of titles (at 64 MiB a
    // 1 M-page bootstrap peaked at 400 MB of anonymous memory, at 16 MiB at 352 MB, with the same ratio to the
    // snapshots' time; BENCHMARKS.md).
    // At most 48 table files open (LevelDB maps each, ~2 MB, into memory): RSS stays bounded however many titles
    // there are (128 → 48: 5 M-page bootstrap peak RSS 616 → 535 MB; BENCHMARKS.md).
    const db = new ClassicLevel<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8', writeBufferSize: 16 * 1024 * 1024, maxOpenFiles: 48 })
    await db.open()
    const format = await storeFormat(db)
    if (format === 'empty') await db.put(keys.format, STORE_FORMAT)
    else if (format !== STORE_FORMAT) {
      await db.close()
      throw new MbwaError('MBWA_STORE_FORMAT', `the projection store at ${path} has format ${format}, this mbwa reads format ${STORE_FORMAT}: start \`mbwa run\` (it rebuilds the store from the log) or run \`mbwa rebuild\``, { path, format })
    }
    const { strings, codes } = await loadRecordTables(db)
    unsealStore(path) // a crash from here on leaves no seal: the next start reads the store through
    return new TitleStore(db, path, strings, codes)
  }

  async close(): Promise<void> {
    await this.db.close()
    sealStore(this.path)
  }

  /** Next offset to read for a partition (0 when it was never read). */
  async offset(p: number): Promise<number> {
    const v = await this.db.get(keys.offset(p))
    return v === undefined ? 0 : Number(v)
  }

  async records(p: number, titles: string[]): Promise<(TitleRecord | undefined)[]> {
    const values = await this.db.getMany<string, Buffer>(titles.map((t) => keys.title(p, t)), BUFFER)
    const out: (TitleRecord | undefined)[] = new Array(values.length)
    const slice = new TimeSlice()
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      out[i] = v === undefined ? undefined : decodeTitleRecord(v, titles[i]!, this)
      if (slice.over()) await slice.handOver()
    }
    return out
  }

  async title(p: number, title: string): Promise<TitlePages | undefined> {
    return (await this.records(p, [title]))[0]?.pages
  }

  /** Every title record of a partition, in key order. */
  async *entries(p: number): AsyncGenerator<[string, TitleRecord]> {
    const prefix = keys.titlePrefix(p)
    for await (const run of this.runs<Buffer>(prefix, BUFFER)) {
      for (const [k, v] of run) {
        const title = k.slice(prefix.length)
        yield [title, decodeTitleRecord(v, title, this)]
      }
    }
  }

  /**
   * The titles a wiki has in a partition, in key order, from the wiki-title index, with their pages' stamps: in runs
   * of consecutive entries (a sweep goes through every entry of the wiki, and one promise per entry was most of
   * its cost).
   */
  async *wikiTitles(p: number, wiki: string): AsyncGenerator<[string, SweepStamp | undefined][]> {
    const prefix = keys.wikiTitlePrefix(p, wiki)
    for await (const run of this.runs<string>(prefix)) yield run.map(([k, v]) => [k.slice(prefix.length), decodeSweepStamp(v, this.strings)])
  }

  /** The entries under a key prefix, in key order, read 1,000 at a time. */
  private async *runs<V>(prefix: string, options: { valueEncoding?: 'buffer' } = {}): AsyncGenerator<[string, V][]> {
    const it = this.db.iterator<string, V>({ gte: prefix, lt: end(prefix), ...options })
    try {
      for (;;) {
        const run = await it.nextv(1000)
        if (run.length === 0) return
        yield run
      }
    } finally {
      await it.close()
    }
  }

  async isIndexed(p: number): Promise<boolean> {
    return (await this.db.get(keys.indexed(p))) === '1'
  }

  async isHeld(p: number): Promise<boolean> {
    return (await this.db.get(keys.held(p))) === '1'
  }

  async isReleased(p: number): Promise<boolean> {
    return (await this.db.get(keys.released(p))) === '1'
  }

  async pending(p: number, titles: string[]): Promise<Record<string, PendingCommand>[]> {
    const values = await this.db.getMany(titles.map((t) => keys.pending(p, t)))
    return values.map((v) => (v === undefined ? {} : (JSON.parse(v) as Record<string, PendingCommand>)))
  }

  /** A title's pages and pending commands in one read (the query path). */
  async titleWithPending(p: number, title: string): Promise<{ pages: TitlePages; pending: Record<string, PendingCommand> }> {
    const [pages, pending] = await this.db.getMany<string, Buffer>([keys.title(p, title), keys.pending(p, title)], BUFFER)
    return {
      pages: pages === undefined ? {} : decodeTitleRecord(pages, title, this).pages,
      pending: pending === undefined ? {} : (JSON.parse(pending.toString('utf8')) as Record<string, PendingCommand>),
    }
  }

  async discovered(p: number): Promise<KnownWiki[] | undefined> {
    const v = await this.db.get(keys.discovered(p))
    return v === undefined ? undefined : (JSON.parse(v) as KnownWiki[])
  }

  async snapshots(p: number): Promise<Record<string, SnapshotMark>> {
    const out: Record<string, SnapshotMark> = {}
    const prefix = keys.snapshotPrefix(p)
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: end(prefix) })) out[k.slice(prefix.length)] = JSON.parse(v) as SnapshotMark
    return out
  }

  /** Wikis whose snapshots failed since their last completed one in this partition, with the failures in a row. */
  async snapshotFailures(p: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    const prefix = keys.snapshotFailuresPrefix(p)
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: end(prefix) })) out[k.slice(prefix.length)] = Number(v)
    return out
  }

  async counts(p: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    const prefix = keys.countPrefix(p)
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: end(prefix) })) out[k.slice(prefix.length)] = Number(v)
    return out
  }

  /** Discrepancy entries of a wiki in a partition, optionally one kind, after a cursor title. */
  async discrepancies(p: number, wiki: string, kind: string | undefined, after: string | undefined, limit: number): Promise<DiscrepancyItem[]> {
    const prefix = keys.discPrefix(p, wiki, kind)
    const out: DiscrepancyItem[] = []
    const gt = after === undefined ? undefined : after
    for await (const [k, v] of this.db.iterator({ ...(gt === undefined ? { gte: prefix } : { gt: prefix + gt }), lt: end(prefix), limit })) {
      const rest = k.slice(keys.discPrefix(p, wiki).length)
      const i = rest.indexOf(S)
      // Codes alone (missing, remove), or the reports' codes with the links they are about.
      const value = JSON.parse(v) as string[] | { codes: string[]; links: DiscrepancyItem['links']; at?: number }
      const item = { kind: rest.slice(0, i), title: rest.slice(i + 1) }
      out.push(Array.isArray(value) ? { ...item, codes: value } : { ...item, codes: value.codes, links: value.links, ...(value.at !== undefined ? { at: value.at } : {}) })
    }
    return out
  }

  /** A wiki's pages in partition `p`, in title order after `after`, at most `limit`; `next` continues them (null at the end). */
  async wikiPages(p: number, wiki: string, after: string | undefined, limit: number): Promise<{ items: { title: string; page: PageState }[]; next: string | null }> {
    const prefix = keys.titlePrefix(p)
    const items: { title: string; page: PageState }[] = []
    let last: string | null = null
    for await (const [k, v] of this.db.iterator<string, Buffer>({ ...(after === undefined ? { gte: prefix } : { gt: prefix + after }), lt: end(prefix), valueEncoding: 'buffer' })) {
      last = k.slice(prefix.length)
      const page = decodeTitleRecord(v, last, this).pages[wiki]
      if (page) items.push({ title: last, page })
      if (items.length >= limit) break
    }
    return { items, next: items.length >= limit ? last : null }
  }

  /**
   * Titles of partition `p` with real pages on at least `minWikis` wikis and none on `wiki`, most-present first
   * (then by title), after the position `after` (a `rank \0 title` a previous answer ended with), at most `limit`.
   */
  async missingHere(p: number, wiki: string, minWikis: number, after: string | undefined, limit: number): Promise<MissingItem[]> {
    const prefix = keys.presencePrefix(p)
    const out: MissingItem[] = []
    // Entries rank below this one have fewer wikis than asked.
    const lt = `${prefix}${presenceRank(minWikis - 1)}`
    for await (const [k, v] of this.db.iterator({ ...(after === undefined ? { gte: prefix } : { gt: prefix + after }), lt })) {
      const codes = v.split(',')
      if (codes.includes(wiki)) continue
      const rest = k.slice(prefix.length)
      out.push({ title: rest.slice(6), wikis: codes, position: rest })
      if (out.length >= limit) break
    }
    return out
  }

  /** The partitions this store holds (those with a stored offset). */
  async partitions(): Promise<number[]> {
    const out: number[] = []
    for await (const k of this.db.keys({ gte: `o${S}`, lt: `o\x01` })) out.push(parseInt(k.slice(2), 16))
    return out.sort((a, b) => a - b)
  }

  /** Entries of the discrepancy index per wiki and kind in a partition (`wiki \0 kind` → count). */
  async reportCounts(p: number): Promise<Map<string, number>> {
    const prefix = keys.reportCountPrefix(p)
    const out = new Map<string, number>()
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: end(prefix) })) out.set(k.slice(prefix.length), Number(v))
    return out
  }

  /**
   * The titles listed under each of some Cognate keys in a partition, in one read: a batch has a few dozen such
   * titles, and a key range read for each, one after the other, made the projection wait on LevelDB
   * (BENCHMARKS.md).
   */
  async spellings(p: number, cognateKeys: Iterable<string>): Promise<Map<string, string[]>> {
    const list = [...new Set(cognateKeys)]
    const values = list.length === 0 ? [] : await this.db.getMany(list.map((key) => keys.spelling(p, key)))
    return new Map(list.map((key, i) => [key, values[i] === undefined ? [] : values[i]!.split(S)]))
  }

  /** Pages of a wiki whose cognate reports wait for their text: title and the revision known when it was listed. */
  async textWanted(p: number, wiki: string, limit: number): Promise<{ title: string; revision: string }[]> {
    const prefix = keys.textWantedPrefix(p, wiki)
    const out: { title: string; revision: string }[] = []
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: end(prefix), limit })) out.push({ title: k.slice(prefix.length), revision: v })
    return out
  }

  /** The wikis with pages waiting for their text in a partition. */
  async textWantedWikis(p: number): Promise<string[]> {
    return this.wikisUnder(keys.textWantedPrefix(p))
  }

  /** The wikis with tombstones in a partition (pages deleted since the wiki's last snapshot). */
  async tombstoneWikis(p: number): Promise<string[]> {
    return this.wikisUnder(`g${S}${hex(p)}${S}`)
  }

  /** The wikis that have entries under `prefix` (keys `prefix wiki \0 …`). */
  private async wikisUnder(prefix: string): Promise<string[]> {
    const out: string[] = []
    let from = prefix
    // A skip scan: one seek per wiki, not one step per page.
    for (;;) {
      let found: string | undefined
      for await (const k of this.db.keys({ gte: from, lt: end(prefix), limit: 1 })) found = k
      if (found === undefined) return out
      const wiki = found.slice(prefix.length, found.indexOf(S, prefix.length))
      out.push(wiki)
      from = prefix + wiki + '\x01'
    }
  }

  /** Titles whose re-evaluation is due by `now`. */
  async due(p: number, now: number, limit = 10_000): Promise<{ key: string; title: string }[]> {
    const prefix = keys.deferredPrefix(p)
    const out: { key: string; title: string }[] = []
    for await (const k of this.db.keys({ gte: prefix, lt: keys.deferredUntil(p, now), limit })) {
      out.push({ key: k, title: k.slice(prefix.length + 13) })
    }
    return out
  }

  async write(ops: Op[], sync = false): Promise<void> {
    if (ops.length === 0) return
    // A chained batch goes to LevelDB's WriteBatch op by op, without abstract-level's array preprocessing.
    const batch = this.db.batch()
    const slice = new TimeSlice()
    const used = { strings: new Set<number>(), codes: new Set<number>() }
    for (const op of ops) {
      if (op.type === 'del') batch.del(op.key)
      else if ('record' in op) batch.put<string, Buffer>(op.key, encodeTitleRecord(op.record, titleOfKey(op.key), this, used), BUFFER)
      else if ('stamp' in op) batch.put(op.key, encodeSweepStamp(op.stamp, this.strings, used.strings))
      else batch.put(op.key, op.value)
      if (slice.over()) await slice.handOver()
    }
    // The tables' entries go with every batch of records (and index entries) that uses them until a write that
    // stored them has completed: a record never outlives a crash without its strings, whichever batches of other
    // partitions were written or lost.
    for (const n of used.strings) batch.put(keys.string(n), this.strings.string(n))
    for (const n of used.codes) batch.put(keys.code(n), this.codes.string(n))
    await batch.write({ sync })
    this.strings.markStored(used.strings)
    this.codes.markStored(used.codes)
  }

  /** Removes everything of a partition (its state is rebuilt from the log). */
  async dropPartition(p: number): Promise<void> {
    for (const tag of ['t', 'x', 'e', 'd', 's', 'n', 'y', 'k', 'g', 'q', 'v', 'c', 'm']) await this.db.clear({ gte: `${tag}${S}${hex(p)}${S}`, lt: `${tag}${S}${hex(p)}\x01` })
    await this.db.batch([keys.offset(p), keys.indexed(p), keys.discovered(p), keys.held(p), keys.released(p)].map((key) => ({ type: 'del' as const, key })))
  }

  /**
   * A digest of the page state of some partitions: the sum (mod 2^256) of a SHA-256 per (title, wiki, state), so
   * it does not depend on order, batch sizes or how partitions are spread over instances; digests of disjoint
   * partition sets add up to the digest of their union.
   */
  async digest(partitions: number[] | 'all'): Promise<{ sum: bigint; pages: number }> {
    let sum = 0n
    let pages = 0
    const ranges = partitions === 'all' ? [`t${S}`] : partitions.map((p) => keys.titlePrefix(p))
    for (const prefix of ranges) {
      for await (const [k, v] of this.db.iterator<string, Buffer>({ gte: prefix, lt: end(prefix), ...BUFFER })) {
        const title = titleOfKey(k)
        const byWiki = decodeTitleRecord(v, title, this).pages
        for (const wiki of Object.keys(byWiki).sort()) {
          sum = (sum + pageHash(title, wiki, byWiki[wiki]!)) & MASK
          pages++
        }
      }
    }
    return { sum, pages }
  }
}

const MASK = (1n << 256n) - 1n

function pageHash(title: string, wiki: string, s: PageState): bigint {
  const canonical = JSON.stringify([title, wiki, s.redirect, s.blank, s.revision, s.pageId, s.links, s.writtenLinks, s.createdAt, s.byBot, s.observedAt, s.source, s.snapshotId, s.changedAt])
  return BigInt('0x' + createHash('sha256').update(canonical).digest('hex'))
}

/**
 * The content digest of one wiki: what the pages carry (redirect, blank, revision, page id, links), not when or by
 * whom it was observed, so a deployment that imported a dump of the wiki has the same one as the source.
 */
export async function wikiDigest(store: TitleStore, wiki: string): Promise<{ sum: bigint; pages: number }> {
  let sum = 0n
  let pages = 0
  for await (const [k, v] of store.db.iterator<string, Buffer>({ gte: `t${S}`, lt: `t\x01`, ...BUFFER })) {
    const title = titleOfKey(k)
    const page = decodeTitleRecord(v, title, store).pages[wiki]
    if (!page) continue
    const canonical = JSON.stringify([title, wiki, page.redirect, page.blank, page.revision, page.pageId, page.links, page.writtenLinks])
    sum = (sum + BigInt('0x' + createHash('sha256').update(canonical).digest('hex'))) & MASK
    pages++
  }
  return { sum, pages }
}

/** The pages of one wiki, one part per partition of the store, to be read in parallel. */
export async function wikiPageParts(store: TitleStore, wiki: string): Promise<AsyncIterable<{ title: string; page: PageState }>[]> {
  const partitions: number[] = []
  for await (const k of store.db.keys({ gte: `o${S}`, lt: `o\x01` })) partitions.push(parseInt(k.slice(2), 16))
  return partitions.map((p) => ({
    async *[Symbol.asyncIterator]() {
      for await (const [title, record] of store.entries(p)) {
        const page = record.pages[wiki]
        if (page) yield { title, page }
      }
    },
  }))
}

export function digestHex(sum: bigint): string {
  return sum.toString(16).padStart(64, '0')
}
