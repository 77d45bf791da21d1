import avro from 'avsc'
import type { TitleRecord } from './title-store.js'

// How a title record is stored: Avro binary, not JSON. A record is read and written again each time one of the
// title's pages changes (during a bootstrap, once per wiki), so its encoding is on the projection's hot path:
// Avro is about a third of the JSON's size and cheaper to decode and to encode, with less garbage to collect.
// The schema is the store's format, not an event schema: changing it changes STORE_FORMAT (title-store.ts), and a
// store in another format is rebuilt from the log.

const link: avro.Schema = { type: 'record', name: 'Link', fields: [{ name: 'code', type: 'string' }, { name: 'title', type: 'string' }] }

const pageState: avro.Schema = {
  type: 'record',
  name: 'PageState',
  fields: [
    { name: 'redirect', type: 'boolean' },
    { name: 'blank', type: ['null', 'boolean'] },
    { name: 'revision', type: ['null', 'long'] },
    { name: 'pageId', type: ['null', 'long'] },
    { name: 'links', type: ['null', { type: 'array', items: link }] },
    { name: 'writtenLinks', type: ['null', { type: 'array', items: 'Link' }] },
    { name: 'createdAt', type: ['null', 'long'] },
    { name: 'byBot', type: ['null', 'boolean'] },
    { name: 'observedAt', type: 'long' },
    { name: 'source', type: 'string' },
    { name: 'snapshotId', type: ['null', 'string'] },
    { name: 'changedAt', type: 'long' },
  ],
}

const titleRecord = avro.Type.forSchema({
  type: 'record',
  name: 'TitleRecord',
  namespace: 'org.mbwa.store',
  fields: [
    { name: 'pages', type: { type: 'map', values: pageState } },
    { name: 'disc', type: { type: 'array', items: { type: 'array', items: 'string' } } },
  ],
})

const NULLABLE = ['blank', 'revision', 'pageId', 'links', 'writtenLinks', 'createdAt', 'byBot', 'snapshotId'] as const

export function encodeTitleRecord(record: TitleRecord): Buffer {
  try {
    return titleRecord.toBuffer({ pages: record.pages, disc: record.disc ?? [] })
  } catch {
    // A state from an older version may lack a field that is now kept (undefined where the schema says null).
    const pages: TitleRecord['pages'] = {}
    for (const [wiki, page] of Object.entries(record.pages)) {
      const p: Record<string, unknown> = { ...page }
      for (const k of NULLABLE) p[k] ??= null
      pages[wiki] = p as unknown as TitleRecord['pages'][string]
    }
    return titleRecord.toBuffer({ pages, disc: record.disc ?? [] })
  }
}

export function decodeTitleRecord(bytes: Uint8Array): TitleRecord {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const r = titleRecord.fromBuffer(buf) as { pages: TitleRecord['pages']; disc: [string, string][] }
  return r.disc.length > 0 ? { pages: r.pages, disc: r.disc } : { pages: r.pages }
}
