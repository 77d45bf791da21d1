import avro from 'avsc'
import { avroBytes } from '../avro-bytes.js'
import type { LanguageLink } from '../events/types.js'
import type { PageState } from '../domain/page-state.js'
import type { StringTable } from './string-table.js'
import type { TitleRecord } from './title-store.js'

// How a title record is stored: Avro binary, not JSON. A record is read and written again each time one of the
// title's pages changes (during a bootstrap, once per wiki), so its encoding is on the projection's hot path:
// Avro is about a third of the JSON's size and cheaper to decode and to encode, with less garbage to collect.
//
// Records that scale with Cognate (store format 7): on a cognate wiki nearly every language link is Cognate's
// same-title row, one per other wiki that has the title, so a page on 150 wikis carries 149 of them. Such a link
// is stored as the number of its wiki code in the store's code table (one byte for the first 64 codes, two up to
// 8,192): `same`, in the page's link order. A link to another title (a written exception) is stored whole in
// `other`, its code numbered too. Links are kept sorted by code and title (sortLinks), so reading merges the two
// lists back into that order; a list that is not in that order is stored in `other` alone, as it is.
// A page's source and snapshot id are numbers of the store's string table (string-table.ts); changedAt is stored
// as its distance from observedAt (0, one byte, for a page whose last observation found its last change).
// The schema is the store's format, not an event schema: changing it changes STORE_FORMAT (title-store.ts), and a
// store in another format is rebuilt from the log.

/** The title of the record being encoded or decoded (both are synchronous, one at a time). */
let current = ''
/** The store's tables (strings, wiki codes), and the numbers the record being encoded uses. */
let table: StringTable | undefined
let codes: StringTable | undefined
let used = new Set<number>()
let usedCodes = new Set<number>()

interface StoredLinks {
  same: number[]
  other: { code: number; title: string }[]
}

interface StoredPage {
  redirect: boolean
  blank: boolean | null
  revision: number | null
  pageId: number | null
  links: StoredLinks | null
  writtenLinks: StoredLinks | null
  createdAt: number | null
  byBot: boolean | null
  observedAt: number
  source: number
  /** 0 for none, else the snapshot id's number + 1. */
  snapshotId: number
  /** observedAt − changedAt. */
  changedBefore: number
}

const inOrder = (x: LanguageLink, y: LanguageLink): boolean => x.code < y.code || (x.code === y.code && x.title <= y.title)

function storeLinks(links: LanguageLink[] | null | undefined): StoredLinks | null {
  if (links === null || links === undefined) return null
  const same: number[] = []
  const other: StoredLinks['other'] = []
  let sorted = true
  for (let i = 0; i < links.length; i++) {
    const l = links[i]!
    if (i > 0 && !inOrder(links[i - 1]!, l)) sorted = false
    if (l.title === current) same.push(codes!.number(l.code, usedCodes))
    else other.push({ code: codes!.number(l.code, usedCodes), title: l.title })
  }
  if (sorted || same.length === 0) return { same, other }
  // Out of order (never so from the rules, which sort): kept as it is, every title written.
  return { same: [], other: links.map((l) => ({ code: codes!.number(l.code, usedCodes), title: l.title })) }
}

function readLinks(stored: StoredLinks | null): LanguageLink[] | null {
  if (stored === null) return null
  const { same, other } = stored
  const out: LanguageLink[] = new Array(same.length + other.length)
  if (other.length === 0) {
    for (let i = 0; i < same.length; i++) out[i] = { code: codes!.string(same[i]!), title: current }
    return out
  }
  // Both lists are in code and title order: merged back into it.
  let i = 0
  let j = 0
  let n = 0
  const sameAt = (k: number): LanguageLink | undefined => (k < same.length ? { code: codes!.string(same[k]!), title: current } : undefined)
  const otherAt = (k: number): LanguageLink | undefined => (k < other.length ? { code: codes!.string(other[k]!.code), title: other[k]!.title } : undefined)
  let next = sameAt(0)
  let nextOther = otherAt(0)
  while (n < out.length) {
    if (next !== undefined && (nextOther === undefined || inOrder(next, nextOther))) {
      out[n++] = next
      next = sameAt(++i)
    } else {
      out[n++] = nextOther!
      nextOther = otherAt(++j)
    }
  }
  return out
}

/** A page as stored: links as code numbers, strings as numbers of the table. */
class StoredPageType extends avro.types.LogicalType {
  override _fromValue(v: StoredPage): PageState {
    return {
      redirect: v.redirect,
      blank: v.blank,
      revision: v.revision,
      pageId: v.pageId,
      links: readLinks(v.links),
      writtenLinks: readLinks(v.writtenLinks),
      createdAt: v.createdAt,
      byBot: v.byBot,
      observedAt: v.observedAt,
      source: table!.string(v.source),
      snapshotId: v.snapshotId === 0 ? null : table!.string(v.snapshotId - 1),
      changedAt: v.observedAt - v.changedBefore,
    }
  }
  // A state from an older version may lack a field that is now kept: null there.
  override _toValue(p: PageState): StoredPage {
    return {
      redirect: p.redirect,
      blank: p.blank ?? null,
      revision: p.revision ?? null,
      pageId: p.pageId ?? null,
      links: storeLinks(p.links),
      writtenLinks: storeLinks(p.writtenLinks),
      createdAt: p.createdAt ?? null,
      byBot: p.byBot ?? null,
      observedAt: p.observedAt,
      source: table!.number(p.source, used),
      snapshotId: p.snapshotId === null || p.snapshotId === undefined ? 0 : table!.number(p.snapshotId, used) + 1,
      changedBefore: p.observedAt - p.changedAt,
    }
  }
}

const storedLinks: avro.Schema = {
  type: 'record',
  name: 'Links',
  fields: [
    { name: 'same', type: { type: 'array', items: 'int' } },
    { name: 'other', type: { type: 'array', items: { type: 'record', name: 'OtherTitleLink', fields: [{ name: 'code', type: 'int' }, { name: 'title', type: 'string' }] } } },
  ],
}

const pageState = {
  type: 'record',
  name: 'PageState',
  logicalType: 'stored-page',
  fields: [
    { name: 'redirect', type: 'boolean' },
    { name: 'blank', type: ['null', 'boolean'] },
    { name: 'revision', type: ['null', 'long'] },
    { name: 'pageId', type: ['null', 'long'] },
    { name: 'links', type: ['null', storedLinks] },
    { name: 'writtenLinks', type: ['null', 'Links'] },
    { name: 'createdAt', type: ['null', 'long'] },
    { name: 'byBot', type: ['null', 'boolean'] },
    { name: 'observedAt', type: 'long' },
    { name: 'source', type: 'int' },
    { name: 'snapshotId', type: 'int' },
    { name: 'changedBefore', type: 'long' },
  ],
} as avro.Schema

const titleRecord = avro.Type.forSchema(
  {
    type: 'record',
    name: 'TitleRecord',
    namespace: 'org.mbwa.store',
    fields: [
      { name: 'pages', type: { type: 'map', values: pageState } },
      { name: 'disc', type: { type: 'array', items: { type: 'array', items: 'string' } } },
    ],
  },
  { logicalTypes: { 'stored-page': StoredPageType } },
)

/** What a record's encoding takes from the store: its string and code tables, and the sets of numbers its batch must store. */
export interface RecordTables {
  strings: StringTable
  codes: StringTable
}

/** The bytes of the record of `title`; the numbers of the tables it uses are added to `uses` (its batch stores them). */
export function encodeTitleRecord(record: TitleRecord, title: string, tables: RecordTables, uses: { strings: Set<number>; codes: Set<number> }): Buffer {
  current = title
  table = tables.strings
  codes = tables.codes
  used = uses.strings
  usedCodes = uses.codes
  return avroBytes(titleRecord, { pages: record.pages, disc: record.disc ?? [] })
}

/** The record of `title` from its bytes. */
export function decodeTitleRecord(bytes: Uint8Array, title: string, tables: RecordTables): TitleRecord {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  current = title
  table = tables.strings
  codes = tables.codes
  const r = titleRecord.fromBuffer(buf) as { pages: TitleRecord['pages']; disc: [string, string][] }
  return r.disc.length > 0 ? { pages: r.pages, disc: r.disc } : { pages: r.pages }
}
