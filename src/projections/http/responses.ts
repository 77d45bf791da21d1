import type { SourceStatus } from '../../streams/source-meter.js'
import type { WikiDumpStatus } from '../dump-monitor.js'
import type { PageState } from '../../domain/page-state.js'

// What the JSON routes answer: the types the server builds and the CLI clients read (one declaration for both),
// and the response schemas fastify serializes them with. A schema names every field a route sends (a field it
// does not name would be dropped: test/projections/query-server.unit.test.ts holds each route's payload to what
// was sent); parts whose shape belongs to another module (a page's state, a verdict, a source's status) are sent
// as they are.

/** Any JSON value, serialized as it is. */
const ANY = {}
const STRING = { type: 'string' }
const NUMBER = { type: 'number' }
const BOOLEAN = { type: 'boolean' }
const STRINGS = { type: 'array', items: STRING }
const nullable = (type: string) => ({ type: [type, 'null'] })

/** What every 4xx and 5xx answers (the error catalogue's code and a message). */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> }
}

export interface Health {
  status: 'ok'
}

export interface WikiSummary {
  code: string
  linkMode: 'manual' | 'cognate'
  closed: boolean
  locked: boolean
  edit: boolean
  titles: number
  /** ISO 8601. */
  lastSnapshot: string | null
  lag: number
  /** Failed snapshot attempts in a row since the wiki's last completed one. */
  snapshotFailures: number
}

export interface WikisResponse {
  wikis: WikiSummary[]
}

/** One entry of a wiki's discrepancy index. */
export interface DiscrepancyEntry {
  kind: string
  title: string
  codes: string[]
  links?: { code: string; title: string; outdated?: 'stale' | 'missing' }[]
  /** ISO 8601 in the public form; ms in one partition's internal page. */
  at?: string | number | null
}

export interface DiscrepanciesResponse {
  wiki?: string
  kind?: string | null
  items: DiscrepancyEntry[]
  /** The next page's cursor; null on the last page. */
  cursor?: string | null
}

export interface MissingResponse {
  wiki?: string
  minWikis?: number
  items: { title: string; wikis: string[]; count?: number; position?: string }[]
  cursor?: string | null
}

export interface PagesResponse {
  partition: number
  items: { title: string; page: PageState }[]
  /** The `after` of the next page; null on the last. */
  next: string | null
}

export interface DigestResponse {
  digest: string
  sum: string
  pages: number
  partitions: number[]
  /** Whether every partition is counted (a member that did not answer leaves it false). */
  complete: boolean
}

/** `/v1/stats`; the sink's part is the app's (`SinkStatus`), named by the reader. */
export interface StatsResponse<Sink = unknown> {
  eventsApplied: number
  eventsInStore: number
  commandsSent: number
  partitions: { partition: number; offset: number; end: number; lag: number; restoring: boolean }[]
  partitionCount: number
  lag: number
  members: string[]
  storeBytes: number
  /** Failed snapshot attempts in a row per wiki, from the log (absent from an older mbwa). */
  snapshotFailures?: Record<string, number>
  /** Entries of the discrepancy index per wiki, then kind (absent from an older mbwa). */
  reports?: Record<string, Record<string, number>>
  sources: { sources: SourceStatus[]; wikis: { total: number; closed: number; discoveredAt: number | null } } | null
  sink: Sink | null
  dumps: WikiDumpStatus[] | null
  /** ISO 8601. */
  at: string
}

const link = { type: 'object', properties: { code: STRING, title: STRING, outdated: STRING } }

export const responseSchemas = {
  health: { 200: { type: 'object', properties: { status: STRING } } },
  wikis: {
    200: {
      type: 'object',
      properties: {
        wikis: {
          type: 'array',
          items: {
            type: 'object',
            properties: { code: STRING, linkMode: STRING, closed: BOOLEAN, locked: BOOLEAN, edit: BOOLEAN, titles: NUMBER, lastSnapshot: nullable('string'), lag: NUMBER, snapshotFailures: NUMBER },
          },
        },
      },
    },
  },
  discrepancies: {
    200: {
      type: 'object',
      properties: {
        wiki: STRING,
        kind: nullable('string'),
        items: { type: 'array', items: { type: 'object', properties: { kind: STRING, title: STRING, codes: STRINGS, links: { type: 'array', items: link }, at: { type: ['string', 'number', 'null'] } } } },
        cursor: nullable('string'),
      },
    },
  },
  missing: {
    200: {
      type: 'object',
      properties: {
        wiki: STRING,
        minWikis: NUMBER,
        items: { type: 'array', items: { type: 'object', properties: { title: STRING, wikis: STRINGS, count: NUMBER, position: STRING } } },
        cursor: nullable('string'),
      },
    },
  },
  pages: { 200: { type: 'object', properties: { partition: NUMBER, items: { type: 'array', items: { type: 'object', properties: { title: STRING, page: ANY } } }, next: nullable('string') } } },
  digest: { 200: { type: 'object', properties: { digest: STRING, sum: STRING, pages: NUMBER, partitions: { type: 'array', items: NUMBER }, complete: BOOLEAN } } },
  stats: {
    200: {
      type: 'object',
      properties: {
        eventsApplied: NUMBER,
        eventsInStore: NUMBER,
        commandsSent: NUMBER,
        partitions: { type: 'array', items: { type: 'object', properties: { partition: NUMBER, offset: NUMBER, end: NUMBER, lag: NUMBER, restoring: BOOLEAN } } },
        partitionCount: NUMBER,
        lag: NUMBER,
        members: STRINGS,
        storeBytes: NUMBER,
        snapshotFailures: ANY,
        reports: ANY,
        sources: ANY,
        sink: ANY,
        dumps: ANY,
        at: STRING,
      },
    },
  },
  title: {
    200: {
      type: 'object',
      properties: { title: STRING, partition: NUMBER, wikis: ANY, linkSet: STRINGS, complete: BOOLEAN, incomplete: STRINGS, pages: ANY, pendingEdits: ANY },
    },
  },
} as const
