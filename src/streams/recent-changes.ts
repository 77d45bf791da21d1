import { setTimeout as sleep } from 'node:timers/promises'
import type { EventStore, EventToAppend } from '../events/event-log.js'
import { silentLogger, type Logger } from '../logging.js'
import type { CheckpointStore } from './checkpoints.js'
import { isBot, moveEvents, titleEvent } from './event-batch.js'
import type { WikiSource } from './wiki-source.js'
import type { SourceMeter } from './source-meter.js'

// Polls list=recentchanges of any MediaWiki for namespace-0 creations, edits, deletions, undeletions and moves,
// as the old bot's recent() did, with adaptive intervals: a wiki that shows changes is read more often, a quiet
// one less, within configured bounds. Its position (the API's continue, or the last timestamp and rc id) is
// stored per wiki after the events are appended.

export interface RecentChangesOptions {
  events: EventStore
  topic: string
  checkpoints: CheckpointStore
  logger?: Logger
  /** Bounds and start of the adaptive interval. */
  minIntervalMs?: number
  maxIntervalMs?: number
  initialIntervalMs?: number
  /** On first start, how far back to read. Default 48 h. */
  lookbackMs?: number
  /** rclimit; 'max' lets the API decide (500, or 5000 with apihighlimits). */
  limit?: number | 'max'
  /**
   * Each poll starts this far before the last change seen (default 2 min): a row inserted late with an older
   * timestamp is still read; repeats are dropped by rc id.
   */
  overlapMs?: number
  /** Counts for status and metrics, stored with each wiki's position. */
  meter?: SourceMeter
  /** Where each wiki's position is stored (default `rc`; a one-off catch-up keeps its own). */
  keyPrefix?: string
  now?: () => number
}

interface RcCheckpoint {
  /** ISO timestamp of the last change seen (a poll starts overlapMs before it) when there is no continuation. */
  rcstart: string
  /** The API's continue object of an unfinished read. */
  continue?: Record<string, string>
  /** Highest rc id handled (checkpoints of earlier versions skipped entries at or below it). */
  lastRcId: number
  /** Rc ids handled within the overlap window, with their times (ms): repeats of the overlap are dropped. */
  seen?: [number, number][]
  intervalMs: number
}

interface RcEntry {
  type: 'new' | 'edit' | 'log' | string
  ns: number
  title: string
  pageid?: number
  revid?: number
  rcid: number
  user?: string
  bot?: boolean
  redirect?: boolean
  timestamp: string
  logid?: number
  logtype?: string
  logaction?: string
  logparams?: { target_ns?: number; target_title?: string; suppressredirect?: boolean }
}

export interface PollResult {
  entries: number
  events: number
}

export class RecentChangesPoller {
  private readonly logger: Logger
  private readonly min: number
  private readonly max: number
  private readonly now: () => number
  private readonly stopping = new AbortController()
  private loops: Promise<void>[] = []

  constructor(
    private readonly wikis: WikiSource[],
    private readonly options: RecentChangesOptions,
  ) {
    this.logger = options.logger ?? silentLogger
    this.min = options.minIntervalMs ?? 10_000
    this.max = options.maxIntervalMs ?? 86_400_000
    this.now = options.now ?? Date.now
  }

  private key(wiki: string): string {
    return `${this.options.keyPrefix ?? 'rc'}:${wiki}`
  }

  /**
   * Reads a wiki's changes from `since` to now once, appending them (a bootstrap from a dump run catches up from
   * the run's date with it); its position is its own, kept until it is through, so a crash resumes it.
   */
  static async catchUp(wiki: WikiSource, since: number, options: Omit<RecentChangesOptions, 'keyPrefix' | 'lookbackMs'>): Promise<PollResult> {
    const now = options.now ?? Date.now
    const poller = new RecentChangesPoller([wiki], { ...options, keyPrefix: `rc-catch-up:${since}`, lookbackMs: Math.max(0, now() - since) })
    const result = await poller.pollOnce(wiki)
    await options.checkpoints.delete(poller.key(wiki.code))
    return result
  }

  private async checkpoint(wiki: string): Promise<RcCheckpoint> {
    return (
      (await this.options.checkpoints.get<RcCheckpoint>(this.key(wiki))) ?? {
        rcstart: new Date(this.now() - (this.options.lookbackMs ?? 48 * 3_600_000)).toISOString(),
        lastRcId: 0,
        intervalMs: Math.min(this.max, Math.max(this.min, this.options.initialIntervalMs ?? 60_000)),
      }
    )
  }

  /** Reads everything new on one wiki, appends it, and moves its checkpoint; returns what it saw. */
  async pollOnce(wiki: WikiSource): Promise<PollResult> {
    let cp = await this.checkpoint(wiki.code)
    const result: PollResult = { entries: 0, events: 0 }
    const overlap = this.options.overlapMs ?? 120_000
    // Where this poll starts: a continuation goes on where it stopped; otherwise overlapMs before the last change.
    const start = new Date(Date.parse(cp.rcstart) - (cp.seen ? overlap : 0)).toISOString()
    for (;;) {
      // Every namespace: MediaWiki records a move under its source namespace, so a move from a draft or user
      // page into the main namespace is listed under that namespace. Rows of other namespaces are dropped here
      // (toEvents keeps what starts or ends in namespace 0).
      const res = await wiki.client.get({
        action: 'query',
        list: 'recentchanges',
        rctype: 'new|edit|log',
        rcprop: 'title|ids|timestamp|user|flags|loginfo|redirect',
        rcdir: 'newer',
        rclimit: this.options.limit ?? 'max',
        rcstart: start,
        ...(cp.continue ?? { continue: '' }),
      })
      const seen = new Set((cp.seen ?? []).map(([id]) => id))
      const entries = ((res.query as { recentchanges?: RcEntry[] } | undefined)?.recentchanges ?? []).filter(
        (e) => (cp.seen ? !seen.has(e.rcid) : e.rcid > cp.lastRcId),
      )
      const events = entries.flatMap((e) => this.toEvents(wiki.code, e))
      if (events.length > 0) await this.options.events.append(this.options.topic, events)
      result.entries += entries.length
      result.events += events.length
      const lastRcId = entries.reduce((m, e) => Math.max(m, e.rcid), cp.lastRcId)
      const latest = entries.reduce((m, e) => (e.timestamp > m ? e.timestamp : m), cp.rcstart)
      // Ids of the overlap window only: the list stays as small as the window's changes.
      const keepFrom = Date.parse(latest) - overlap
      const window = [...(cp.seen ?? []), ...entries.map((e): [number, number] => [e.rcid, Date.parse(e.timestamp)])].filter(([, at]) => at >= keepFrom)
      cp = res.continue
        ? { ...cp, continue: res.continue, lastRcId, seen: window }
        : { rcstart: latest, lastRcId, seen: window, intervalMs: cp.intervalMs }
      const meter = this.options.meter
      if (meter) {
        meter.appended(events.length, entries.length > 0 ? Date.parse(latest) : null, wiki.code)
        await this.options.checkpoints.putAll([[this.key(wiki.code), cp], meter.entry()])
      } else await this.options.checkpoints.put(this.key(wiki.code), cp)
      if (!res.continue) break
    }
    // Adapt: halve the interval while the wiki shows changes, stretch it by half while it is quiet.
    const intervalMs = result.entries > 0 ? Math.max(this.min, cp.intervalMs / 2) : Math.min(this.max, cp.intervalMs * 1.5)
    await this.options.checkpoints.put(this.key(wiki.code), { ...cp, intervalMs })
    return result
  }

  /** The interval the next poll of this wiki waits. */
  async intervalOf(wiki: string): Promise<number> {
    return (await this.checkpoint(wiki)).intervalMs
  }

  toEvents(wiki: string, e: RcEntry): EventToAppend[] {
    const observedAt = this.now()
    const base = { source: 'rc', observedAt, wiki }
    const byBot = isBot(e.bot, e.user)
    const at = Date.parse(e.timestamp)
    if (e.type === 'new' && e.ns === 0) {
      return [
        titleEvent('PageCreated', {
          ...base,
          id: `${wiki}:rev:${e.revid}`,
          title: e.title,
          pageId: e.pageid ?? null,
          revision: e.revid ?? null,
          byBot,
          createdAt: Number.isFinite(at) ? at : null,
          // rcprop=redirect tells what the title is now, not then: not a fact about the creation.
          redirect: null,
        }),
      ]
    }
    if (e.type === 'edit' && e.ns === 0) {
      return [
        titleEvent('PageEdited', { ...base, id: `${wiki}:rev:${e.revid}`, title: e.title, pageId: e.pageid ?? null, revision: e.revid ?? null, byBot }),
      ]
    }
    if (e.type !== 'log') return []
    const id = `${wiki}:log:${e.logid}`
    if (e.logtype === 'delete' && e.ns === 0) {
      if (e.logaction === 'restore') {
        return [titleEvent('PageCreated', { ...base, id, title: e.title, pageId: e.pageid || null, revision: null, byBot, createdAt: null, redirect: null })]
      }
      if (e.logaction === 'delete' || e.logaction === 'delete_redir' || e.logaction === 'delete_redir2') {
        return [titleEvent('PageDeleted', { ...base, id, title: e.title, pageId: e.pageid || null, logId: e.logid ?? null })]
      }
      return []
    }
    if (e.logtype === 'move' && (e.logaction === 'move' || e.logaction === 'move_redir')) {
      return moveFacts(base, { id, fromNs: e.ns, fromTitle: e.title, toNs: e.logparams?.target_ns, toTitle: e.logparams?.target_title, redirectLeft: !e.logparams?.suppressredirect, pageId: e.pageid ?? null, logId: e.logid ?? null, byBot })
    }
    return []
  }

  /** Polls every wiki on its own adaptive schedule until stop(). */
  start(): void {
    for (const wiki of this.wikis) this.loops.push(this.loop(wiki))
  }

  private async loop(wiki: WikiSource): Promise<void> {
    const signal = this.stopping.signal
    while (!signal.aborted) {
      try {
        const r = await this.pollOnce(wiki)
        if (this.options.meter) this.options.meter.connected = true
        if (r.entries > 0) this.logger.info({ wiki: wiki.code, ...r }, 'recent changes read')
      } catch (err) {
        this.options.meter?.failed(err)
        if (this.options.meter) this.options.meter.connected = false
        this.logger.warn({ wiki: wiki.code, err: (err as Error).message }, 'recent changes poll failed; trying again later')
      }
      const wait = await this.intervalOf(wiki.code).catch(() => this.min)
      await sleep(wait, undefined, { signal }).catch(() => undefined)
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    await Promise.allSettled(this.loops)
    this.loops = []
  }
}

/** What a source knows of a move, whatever the source. */
export interface MoveSeen {
  /** The log entry's id (deterministic: a repeat is a duplicate). */
  id: string
  fromNs: number
  fromTitle: string
  toNs: number | undefined
  toTitle: string | undefined
  /** A redirect was left at the old title (null: the source cannot say). */
  redirectLeft: boolean | null
  pageId: number | null
  logId: number | null
  byBot: boolean
  /** The moved page is a redirect (null: not known). */
  redirect?: boolean | null
}

/**
 * The facts of a move: within namespace 0 a PageMoved under both titles; out of namespace 0 the old title is
 * gone (or a redirect); into namespace 0 a new title exists.
 */
export function moveFacts(base: { source: string; observedAt: number; wiki: string }, m: MoveSeen): EventToAppend[] {
  const { id, fromNs, fromTitle, toNs, toTitle, redirectLeft, pageId, logId, byBot } = m
  const redirect = m.redirect ?? null
  if (toTitle === undefined) return []
  if (fromNs === 0 && toNs === 0) {
    return moveEvents({ ...base, id, fromTitle, toTitle, redirectLeft, pageId, revision: null, logId, redirect })
  }
  if (fromNs === 0) {
    return redirectLeft
      ? [titleEvent('PageObserved', { ...base, id, title: fromTitle, pageId: null, exists: true, redirect: true, blank: null, revision: null, links: [], writtenLinks: null, snapshotId: null })]
      : [titleEvent('PageDeleted', { ...base, id, title: fromTitle, pageId, logId })]
  }
  if (toNs === 0) {
    return [titleEvent('PageCreated', { ...base, id, title: toTitle, pageId, revision: null, byBot, createdAt: null, redirect })]
  }
  return []
}
