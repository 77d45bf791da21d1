import avro from 'avsc'
import { avroBytes } from '../avro-bytes.js'
import type { StringTable } from './string-table.js'
import type { TitleRecord } from './title-store.js'

// How a title record is stored: Avro binary, not JSON. A record is read and written again each time one of the
// title's pages changes (during a bootstrap, once per wiki), so its encoding is on the projection's hot path:
// Avro is about a third of the JSON's size and cheaper to decode and to encode, with less garbage to collect.
// A language link to the record's own title (nearly every link between Wiktionaries) is stored without the title:
// null in its place, the record's title when read. Records are smaller (each is rewritten once per wiki in a
// bootstrap, and LevelDB compacts every byte several times over) and decoding makes no string for it.
// A page's source and snapshot id are numbers of the store's string table (string-table.ts).
// The schema is the store's format, not an event schema: changing it changes STORE_FORMAT (title-store.ts), and a
// store in another format is rebuilt from the log.

/** The title of the record being encoded or decoded (both are synchronous, one at a time). */
let current = ''
/** The store's string table, and the numbers the record being encoded uses. */
let table: StringTable | undefined
let used = new Set<number>()

type Link = { code: string; title: string }

/** A link whose title is the record's own is written as title null, and read back as the record's title. */
class OwnTitleLink extends avro.types.LogicalType {
  override _fromValue(v: { code: string; title: string | null }): Link {
    if (v.title === null) v.title = current
    return v as Link
  }
  override _toValue(v: Link): { code: string; title: string | null } {
    return v.title === current ? { code: v.code, title: null } : v
  }
}

/** A string of the store's table, as its number. */
class TableString extends avro.types.LogicalType {
  override _fromValue(n: number): string {
    return table!.string(n)
  }
  override _toValue(s: string): number {
    return table!.number(s, used)
  }
}

/** A nullable string of the table: 0 for null, else its number + 1 (a logical type inside a union is not needed). */
class NullableTableString extends avro.types.LogicalType {
  override _fromValue(n: number): string | null {
    return n === 0 ? null : table!.string(n - 1)
  }
  override _toValue(s: string | null | undefined): number {
    return s === null || s === undefined ? 0 : table!.number(s, used) + 1
  }
}

const link = (name: string): avro.Schema =>
  ({ type: 'record', name, logicalType: 'own-title-link', fields: [{ name: 'code', type: 'string' }, { name: 'title', type: ['null', 'string'] }] }) as avro.Schema

const pageState: avro.Schema = {
  type: 'record',
  name: 'PageState',
  fields: [
    { name: 'redirect', type: 'boolean' },
    { name: 'blank', type: ['null', 'boolean'] },
    { name: 'revision', type: ['null', 'long'] },
    { name: 'pageId', type: ['null', 'long'] },
    { name: 'links', type: ['null', { type: 'array', items: link('Link') }] },
    { name: 'writtenLinks', type: ['null', { type: 'array', items: link('WrittenLink') }] },
    { name: 'createdAt', type: ['null', 'long'] },
    { name: 'byBot', type: ['null', 'boolean'] },
    { name: 'observedAt', type: 'long' },
    { name: 'source', type: { type: 'int', logicalType: 'table-string' } },
    { name: 'snapshotId', type: { type: 'int', logicalType: 'nullable-table-string' } },
    { name: 'changedAt', type: 'long' },
  ],
}

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
  { logicalTypes: { 'own-title-link': OwnTitleLink, 'table-string': TableString, 'nullable-table-string': NullableTableString } },
)

const NULLABLE = ['blank', 'revision', 'pageId', 'links', 'writtenLinks', 'createdAt', 'byBot', 'snapshotId'] as const

/** The bytes of the record of `title`; the numbers of `strings` it uses are added to `uses` (its batch stores them). */
export function encodeTitleRecord(record: TitleRecord, title: string, strings: StringTable, uses: Set<number>): Buffer {
  current = title
  table = strings
  used = uses
  try {
    return avroBytes(titleRecord, { pages: record.pages, disc: record.disc ?? [] })
  } catch {
    // A state from an older version may lack a field that is now kept (undefined where the schema says null).
    const pages: TitleRecord['pages'] = {}
    for (const [wiki, page] of Object.entries(record.pages)) {
      const p: Record<string, unknown> = { ...page }
      for (const k of NULLABLE) p[k] ??= null
      pages[wiki] = p as unknown as TitleRecord['pages'][string]
    }
    return avroBytes(titleRecord, { pages, disc: record.disc ?? [] })
  }
}

/** The record of `title` from its bytes. */
export function decodeTitleRecord(bytes: Uint8Array, title: string, strings: StringTable): TitleRecord {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  current = title
  table = strings
  const r = titleRecord.fromBuffer(buf) as { pages: TitleRecord['pages']; disc: [string, string][] }
  return r.disc.length > 0 ? { pages: r.pages, disc: r.disc } : { pages: r.pages }
}
