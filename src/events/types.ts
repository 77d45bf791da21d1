// TypeScript shapes of the Avro records in schemas/ (kept in step by test/events/schemas.unit.test.ts, which
// round-trips a sample of every type through its schema).

export type Source = 'stream' | 'rc' | 'snapshot' | 'verify' | 'text' | 'sink' | 'dump' | 'import' | 'projection' | 'cli'

/**
 * A reading: what a page was when a request read it, appended some time later (the sink's verify; the text
 * reader's reads for cognate reports; a Wikimedia dump's tables, as of the run's date). A fact observed after the
 * read, which the log holds before it, stays.
 */
export function isReadingSource(source: string): boolean {
  return source === 'verify' || source === 'text' || source === 'dump'
}

/** The sources whose pages are a wiki's snapshot (the API's allpages, or a Wikimedia dump run). */
export function isSnapshotSource(source: string): boolean {
  return source === 'snapshot' || source === 'dump'
}

interface Fact {
  /** Deterministic id of the fact, for dedupe across replays and resumed feeds. */
  id: string
  source: Source | string
  /** ms since epoch */
  observedAt: number
}

interface OnPage extends Fact {
  wiki: string
  title: string
}

export interface LanguageLink {
  code: string
  title: string
}

export interface PageCreated extends OnPage {
  pageId: number | null
  revision: number | null
  byBot: boolean
  createdAt: number | null
  redirect: boolean | null
}

export interface PageEdited extends OnPage {
  pageId: number | null
  revision: number | null
  byBot: boolean
}

/**
 * What a read of the page saw. A text reading (source `text`) reads the text, not the langlinks: its `links` are
 * empty and say nothing (the page keeps the langlinks known at that revision).
 */
export interface PageObserved extends OnPage {
  pageId: number | null
  exists: boolean
  redirect: boolean
  blank: boolean | null
  revision: number | null
  links: LanguageLink[]
  writtenLinks: LanguageLink[] | null
  snapshotId: string | null
}

export interface PageDeleted extends OnPage {
  pageId: number | null
  logId: number | null
}

export interface PageMoved extends Fact {
  wiki: string
  fromTitle: string
  toTitle: string
  redirectLeft: boolean | null
  pageId: number | null
  revision: number | null
  logId: number | null
  /** Whether the moved page itself is a redirect, when the source says (EventStreams' page_is_redirect). */
  redirect?: boolean | null
}

export interface SnapshotStarted extends Fact {
  wiki: string
  snapshotId: string
}

export interface SnapshotCompleted extends Fact {
  wiki: string
  snapshotId: string
  partition: number
  startedAt: number
  pages: number
  /** How the wiki compares titles (siteinfo `case`), when the snapshot read it. */
  titleCase?: string | null
  /** The wiki's main page (siteinfo `mainpage`), when the snapshot read it. */
  mainPage?: string | null
}

/** A snapshot attempt failed (one marker per partition): the projection stops waiting for that wiki's first one. */
export interface SnapshotFailed extends Fact {
  wiki: string
  snapshotId: string | null
  partition: number
  failures: number
  reason: string
}

/** The wikis a sitematrix lists (WikisDiscovered): one per partition, whenever the list changes. */
export interface WikisDiscovered extends Fact {
  partition: number
  family: string
  wikis: { code: string; dbname: string; api: string; closed: boolean }[]
}

export interface EditRequested extends OnPage {
  commandId: string
  add: string[]
  remove: string[]
  /** Wikis known to have the title, for the sink to read when verifying. */
  read: string[]
  priority: number
  reason: string
}

export interface EditApplied extends OnPage {
  commandId: string
  revision: number
  added: string[]
  removed: string[]
}

export interface EditSkipped extends OnPage {
  commandId: string
  reason: string
}

export interface EditFailed extends OnPage {
  commandId: string
  code: string
  message: string
  retriable: boolean
}

interface DumpFact extends Fact {
  wiki: string
  jobId: string
}

export interface DumpRequested extends DumpFact {
  requestedBy: string | null
}

export interface DumpStarted extends DumpFact {
  host: string
  pid: number
  leaseMs: number
}

export interface DumpHeartbeat extends DumpFact {
  host: string
  pid: number
  titlesWritten: number
  titlesTotal: number | null
}

export interface DumpCompleted extends DumpFact {
  path: string
  bytes: number
  count: number
  sha256: string
}

export interface DumpFailed extends DumpFact {
  error: string
}

export interface DumpAbandoned extends DumpFact {
  lastHeartbeatAt: number
  declaredBy: string
}

/** Event type name (the Avro record's short name) → its value. */
export interface EventMap {
  PageCreated: PageCreated
  PageEdited: PageEdited
  PageObserved: PageObserved
  PageDeleted: PageDeleted
  PageMoved: PageMoved
  SnapshotStarted: SnapshotStarted
  SnapshotCompleted: SnapshotCompleted
  SnapshotFailed: SnapshotFailed
  WikisDiscovered: WikisDiscovered
  EditRequested: EditRequested
  EditApplied: EditApplied
  EditSkipped: EditSkipped
  EditFailed: EditFailed
  DumpRequested: DumpRequested
  DumpStarted: DumpStarted
  DumpHeartbeat: DumpHeartbeat
  DumpCompleted: DumpCompleted
  DumpFailed: DumpFailed
  DumpAbandoned: DumpAbandoned
}

export type EventType = keyof EventMap

/** A decoded event: its type and value, as a discriminated union. */
export type MbwaEvent = { [K in EventType]: { type: K; value: EventMap[K] } }[EventType]
