import type { EventToAppend } from '../events/event-log.js'
import { isBot, titleEvent } from './event-batch.js'
import { isLegalTitle } from '../events/titles.js'
import { moveFacts } from './recent-changes.js'

// Turns one Wikimedia EventStreams event into mbwa events (see notes/eventstreams.md). Each MediaWiki action is
// taken from one stream only, so the same fact is not counted twice: creations from page-create (it knows the
// redirect flag and the performer), deletions from page-delete, undeletions from page-undelete, moves from
// page-move (it knows both namespaces), edits from recentchange (type edit). recentchange's new and log entries
// repeat the page-* streams and are left out. Parsing is lenient: fields are used where present, never pinned
// to an exact $schema version.

export type Mapped =
  | { kind: 'canary' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'malformed'; reason: string; metaId?: string }
  | { kind: 'events'; metaId: string | undefined; events: EventToAppend[] }

interface Meta {
  id?: string
  domain?: string
  stream?: string
  dt?: string
}

type Json = Record<string, unknown>

// Ids and namespaces are integers: anything else from the feed is as good as absent (never a value that cannot be stored).
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined)
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/**
 * @param wikiByDbName configured wikis: database name (enwiktionary) → mbwa wiki code (en)
 */
export function mapStreamEvent(data: unknown, wikiByDbName: ReadonlyMap<string, string>, observedAt: number): Mapped {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { kind: 'malformed', reason: 'not-an-object' }
  const e = data as Json
  const meta = (typeof e.meta === 'object' && e.meta !== null ? e.meta : undefined) as Meta | undefined
  if (!meta) return { kind: 'malformed', reason: 'no-meta' }
  // Canaries first, before any validation: they are not real events and not malformed either.
  if (meta.domain === 'canary') return { kind: 'canary' }
  const stream = str(meta.stream) ?? streamOfSchema(str(e.$schema))
  const db = str(e.database) ?? str(e.wiki) ?? str(e.wiki_id)
  if (!db) return { kind: 'malformed', reason: 'no-wiki', metaId: str(meta.id) }
  const wiki = wikiByDbName.get(db)
  if (!wiki) return { kind: 'ignored', reason: 'wiki-not-configured' }
  const base = { source: 'stream', observedAt, wiki }
  const metaId = str(meta.id)
  const fallbackId = `${wiki}:stream:${metaId ?? 'no-id'}`

  const c: Context = { base, metaId, fallbackId, wiki }
  switch (stream) {
    case 'mediawiki.recentchange':
      return recentChange(e, stream, c)
    case 'mediawiki.page-create':
    case 'mediawiki.page-undelete':
      return pageCreate(e, stream, c)
    case 'mediawiki.page-delete':
      return pageDelete(e, stream, c)
    case 'mediawiki.page-move':
      return pageMove(e, stream, c)
    default:
      return { kind: 'ignored', reason: `stream-${stream ?? 'unknown'}` }
  }
}

/** What every stream's mapping starts from. */
interface Context {
  base: { source: string; observedAt: number; wiki: string }
  metaId: string | undefined
  fallbackId: string
  wiki: string
}

/** An edit (recentchange of type edit): its title and new revision; creations and logs come from the page streams. */
function recentChange(e: Json, stream: string, c: Context): Mapped {
  const { base, metaId, fallbackId, wiki } = c
  const type = str(e.type)
  if (type !== 'edit') return { kind: 'ignored', reason: type === 'new' || type === 'log' ? 'covered-by-page-streams' : `rc-${type ?? 'unknown'}` }
  if (num(e.namespace) !== 0) return { kind: 'ignored', reason: 'namespace' }
  const title = str(e.title)
  const rev = num((e.revision as Json | undefined)?.new)
  if (!title) return { kind: 'malformed', reason: 'rc-edit-without-title' }
  if (!isLegalTitle(title)) return { kind: 'malformed', reason: 'illegal-title', metaId }
  return {
    kind: 'events',
    metaId,
    events: [titleEvent('PageEdited', { ...base, id: rev ? `${wiki}:rev:${rev}` : fallbackId, title, pageId: null, revision: rev ?? null, byBot: isBot(e.bot === true, str(e.user)) })],
  }
}

/** A page created or undeleted. */
function pageCreate(e: Json, stream: string, c: Context): Mapped {
  const { base, metaId, fallbackId, wiki } = c
  if (num(e.page_namespace) !== 0) return { kind: 'ignored', reason: 'namespace' }
  const title = str(e.page_title)
  if (!title) return { kind: 'malformed', reason: 'no-page-title' }
  if (!isLegalTitle(title)) return { kind: 'malformed', reason: 'illegal-title', metaId }
  const performer = e.performer as Json | undefined
  const rev = num(e.rev_id)
  const created = stream === 'mediawiki.page-create'
  const at = Date.parse(str(e.rev_timestamp) ?? '')
  return {
    kind: 'events',
    metaId,
    events: [
      titleEvent('PageCreated', {
        ...base,
        id: created && rev ? `${wiki}:rev:${rev}` : fallbackId,
        title,
        pageId: num(e.page_id) || null,
        revision: rev ?? null,
        byBot: isBot(performer?.user_is_bot === true, str(performer?.user_text)),
        createdAt: created && Number.isFinite(at) ? at : null,
        redirect: typeof e.page_is_redirect === 'boolean' ? e.page_is_redirect : null,
      }),
    ],
  }
}

/** A page deleted. */
function pageDelete(e: Json, stream: string, c: Context): Mapped {
  const { base, metaId, fallbackId } = c
  if (num(e.page_namespace) !== 0) return { kind: 'ignored', reason: 'namespace' }
  const title = str(e.page_title)
  if (!title) return { kind: 'malformed', reason: 'no-page-title' }
  if (!isLegalTitle(title)) return { kind: 'malformed', reason: 'illegal-title', metaId }
  return { kind: 'events', metaId, events: [titleEvent('PageDeleted', { ...base, id: fallbackId, title, pageId: num(e.page_id) || null, logId: null })] }
}

/** A page moved: the facts of both titles (moveFacts). */
function pageMove(e: Json, stream: string, c: Context): Mapped {
  const { base, metaId, fallbackId } = c
  const prior = e.prior_state as Json | undefined
  const fromNs = num(prior?.page_namespace)
  const toNs = num(e.page_namespace)
  const fromTitle = str(prior?.page_title)
  const toTitle = str(e.page_title)
  if (fromNs === undefined || toNs === undefined || !fromTitle || !toTitle) return { kind: 'malformed', reason: 'move-without-titles' }
  if (!isLegalTitle(fromTitle) || !isLegalTitle(toTitle)) return { kind: 'malformed', reason: 'illegal-title', metaId }
  if (fromNs !== 0 && toNs !== 0) return { kind: 'ignored', reason: 'namespace' }
  const performer = e.performer as Json | undefined
  // page_is_redirect says whether the moved page itself is a redirect: a moved redirect stays one.
  const redirect = typeof e.page_is_redirect === 'boolean' ? e.page_is_redirect : null
  const events = moveFacts(base, {
    id: fallbackId,
    fromNs,
    fromTitle,
    toNs,
    toTitle,
    redirectLeft: e.new_redirect_page !== undefined && e.new_redirect_page !== null,
    pageId: num(e.page_id) ?? null,
    logId: null,
    byBot: isBot(performer?.user_is_bot === true, str(performer?.user_text)),
    redirect,
  })
  return { kind: 'events', metaId, events }
}

function streamOfSchema(schema: string | undefined): string | undefined {
  if (!schema) return undefined
  if (schema.startsWith('/mediawiki/recentchange/')) return 'mediawiki.recentchange'
  if (schema.startsWith('/mediawiki/page/delete/')) return 'mediawiki.page-delete'
  if (schema.startsWith('/mediawiki/page/move/')) return 'mediawiki.page-move'
  if (schema.startsWith('/mediawiki/page/undelete/')) return 'mediawiki.page-undelete'
  return undefined
}

/**
 * The Last-Event-ID to resume with (notes/eventstreams.md §3). Timestamps resume at the first message at or after
 * them, and KafkaSSE sends the last one + 1 ms: every later message of the same millisecond would be skipped. So
 * every timestamp is moved back by `overlapMs` (default 1: exactly the last one seen, so its millisecond is read
 * again; more overlap also covers Kafka's non-monotonic timestamps, but must stay well below what one connection
 * delivers, or a connection that keeps dropping would never get past the overlap); and `offset: -1` entries (partitions this connection never delivered from), which
 * would resume at "latest" and lose what that datacenter produced meanwhile, become a timestamp `marginMs` before
 * the newest one seen. The repeats this causes are dropped by meta.id (and are harmless facts anyway).
 */
export function resumeId(id: string, marginMs = 60_000, overlapMs = 1): string {
  let entries: Json[]
  try {
    const parsed: unknown = JSON.parse(id)
    if (!Array.isArray(parsed)) return id
    entries = parsed as Json[]
  } catch {
    return id
  }
  const newest = Math.max(...entries.map((x) => num(x.timestamp) ?? -Infinity))
  if (!Number.isFinite(newest)) return id
  return JSON.stringify(
    entries.map((x) => {
      const ts = num(x.timestamp)
      if (ts !== undefined) return { ...x, timestamp: ts - overlapMs }
      if (num(x.offset) === -1) return { topic: x.topic, partition: x.partition, timestamp: newest - marginMs }
      return x
    }),
  )
}
