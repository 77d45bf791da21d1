import { createHash } from 'node:crypto'
import { EventSource, type FetchLike } from 'eventsource'
import { DLQ_HEADERS, type EventStore, type EventToAppend } from '../events/event-log.js'
import { silentLogger, type Logger } from '../logging.js'
import { userAgent } from '../mediawiki/client.js'
import type { CheckpointStore } from './checkpoints.js'
import { mapStreamEvent, resumeId } from './eventstreams-mapping.js'
import type { SourceMeter } from './source-meter.js'
import { doubled } from '../backoff.js'

// Wikimedia EventStreams (SSE) as a source: one connection for all streams (the service allows two per IP),
// events of configured wikis mapped to mbwa events, canaries dropped, malformed data to the dead-letter topic.
// Events are buffered and appended in batches; the Last-Event-ID of a batch is stored only after the batch is
// durably appended, so a restart resumes where the log is. An append that failed may still have reached the log
// in part (a produce request some partitions took before the broker went away), so a source that did not stop
// cleanly first reads the log after its last acknowledged append and drops what the feed sends again of it: the
// log, not the checkpoint, says what is there. The server closes connections routinely (~15 min)
// and sends no heartbeats, so a silence watchdog reconnects, and every reconnect backs off exponentially.

export const DEFAULT_STREAMS = [
  'mediawiki.recentchange',
  'mediawiki.page-create',
  'mediawiki.page-delete',
  'mediawiki.page-move',
  'mediawiki.page-undelete',
]

export interface EventStreamsOptions {
  /** Base URL of the stream route, e.g. https://stream.wikimedia.org/v2/stream */
  url: string
  streams?: string[]
  events: EventStore
  topic: string
  deadLetterTopic: string
  checkpoints: CheckpointStore
  /** database name (enwiktionary) → wiki code (en), for the configured wikis only */
  wikiByDbName: ReadonlyMap<string, string>
  contact?: string
  /** On first start (no stored Last-Event-ID), ask for events since this time (ms since epoch). */
  since?: number
  /** Reconnect when nothing arrived for this long. Default 120 s. */
  idleTimeoutMs?: number
  /** Backoff between reconnects: starts here, doubles, capped. Defaults 1 s and 60 s. */
  reconnectMinMs?: number
  reconnectMaxMs?: number
  /** Append when this many events are buffered, or after flushMs. Defaults 500 and 1000 ms. */
  batchSize?: number
  flushMs?: number
  /**
   * Most events held in memory waiting for the log (default 20 batches). Past it the source stops reading: it
   * closes the connection and opens it again from where it stopped once the log has caught up to half of it.
   */
  maxBuffered?: number
  /** How many recent meta.ids to remember for dropping duplicates after a resume. Default 50,000. */
  dedupeWindow?: number
  /** How many of them are stored with the checkpoint, to drop repeats after a restart too. Default 2,000. */
  storedDedupe?: number
  /** How far before the last seen timestamp a resume starts (see resumeId). Default 1 ms. */
  resumeOverlapMs?: number
  /** After a start that was not clean, most messages per partition read past the last acknowledged append. Default 50,000. */
  tailScan?: number
  /** Wait after HTTP 429 (another connection from this address is open). Default 30 s. */
  tooManyConnectionsWaitMs?: number
  /** Counts for status and metrics, stored with the position. */
  meter?: SourceMeter
  logger?: Logger
  now?: () => number
}

/** When the wiki says an EventStreams event happened: meta.dt (every stream), else dt. */
function eventTime(parsed: unknown): number | undefined {
  const e = parsed as { meta?: { dt?: unknown }; dt?: unknown } | null
  const t = Date.parse(String(e?.meta?.dt ?? e?.dt ?? ''))
  return Number.isFinite(t) ? t : undefined
}

export interface EventStreamsStats {
  received: number
  appended: number
  duplicates: number
  canaries: number
  ignored: number
  malformed: number
  connections: number
  flushes: number
  /** Times the source stopped reading because the log was behind. */
  pauses: number
}

const CHECKPOINT_KEY = 'eventstreams:position'
const TAIL_KEY = 'eventstreams:tail'

/** Where this source's acknowledged appends end in the events topic, and whether it stopped cleanly after them. */
interface Tail {
  /** Per partition: the offset after this source's last acknowledged append (the end, when it first started). */
  offsets: number[]
  /** False from start to an orderly stop: a crash or a failed append may have left unacknowledged events after `offsets`. */
  clean: boolean
}

interface Position {
  /** The Last-Event-ID covering everything appended. */
  lastEventId: string
  /** meta.ids of the last events appended, to recognise repeats after a restart. */
  recent: string[]
}

interface Pending {
  id: string | undefined
  /** When the wiki says it happened (meta.dt), for the source's lag. */
  at?: number
  metaId?: string
  events: EventToAppend[]
  dead?: { value: Buffer; reason: string }
}

export class EventStreamsSource {
  readonly stats: EventStreamsStats = { received: 0, appended: 0, duplicates: 0, canaries: 0, ignored: 0, malformed: 0, connections: 0, flushes: 0, pauses: 0 }
  /** Settles (with the error) when an append failed and the source stopped: its supervisor starts it again. */
  readonly failed: Promise<unknown>
  private fail: (err: unknown) => void = () => undefined
  /** Received but not yet appended (in the buffer or in a flush). */
  private held = 0
  private paused = false
  private es: EventSource | undefined
  private lastReceivedId: string | undefined
  private buffer: Pending[] = []
  private flushing: Promise<void> = Promise.resolve()
  private flushTimer: NodeJS.Timeout | undefined
  private watchdog: NodeJS.Timeout | undefined
  private reconnectTimer: NodeJS.Timeout | undefined
  private lastActivity = 0
  private backoffMs: number
  private gotMessageOnConnection = false
  /** Connections in a row that ended before any message. */
  private failedConnects = 0
  private stopped = false
  private readonly seen = new Map<string, true>()
  /** `id|key` of events found in the log after the last acknowledged append (see Tail): not appended again. */
  private inLog = new Set<string>()
  private tail: number[] = []
  /** meta.ids of appended events, newest last: only these may be stored as seen. */
  private appendedIds: string[] = []
  private readonly logger: Logger
  private readonly now: () => number
  private failure: unknown

  constructor(private readonly options: EventStreamsOptions) {
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
    this.backoffMs = options.reconnectMinMs ?? 1000
    this.failed = new Promise((resolve) => (this.fail = resolve))
  }

  private get maxBuffered(): number {
    return this.options.maxBuffered ?? 20 * (this.options.batchSize ?? 500)
  }

  /** The stored Last-Event-ID (what the log has), if any. */
  async storedId(): Promise<string | undefined> {
    return (await this.options.checkpoints.get<Position>(CHECKPOINT_KEY))?.lastEventId
  }

  /** Reads its position (and, after a start that was not clean, the log's tail), then connects. A failure here fails the source. */
  async start(): Promise<void> {
    let position: Position | undefined
    try {
      await this.readTail()
      position = await this.options.checkpoints.get<Position>(CHECKPOINT_KEY)
    } catch (err) {
      this.failure = err
      this.logger.error({ err: (err as Error).message }, 'eventstreams: cannot read where the log is; stopping the source')
      await this.stop()
      this.fail(err)
      return
    }
    this.lastReceivedId = position?.lastEventId
    for (const metaId of position?.recent ?? []) this.remember(metaId)
    this.appendedIds = [...(position?.recent ?? [])]
    this.connect()
    const idle = this.options.idleTimeoutMs ?? 120_000
    this.watchdog = setInterval(() => {
      if (this.es && this.now() - this.lastActivity > idle) {
        this.logger.warn({ idleMs: this.now() - this.lastActivity }, 'eventstreams: silent too long, reconnecting')
        this.reconnect(0)
      }
    }, Math.max(50, Math.min(idle / 4, 10_000)))
  }

  /**
   * The tail of the events topic this source may have written without an acknowledgement: read when the last run
   * did not stop cleanly, so what reached the log is not appended twice. Marks the run as not clean until stop().
   */
  private async readTail(): Promise<void> {
    const { checkpoints, events, topic } = this.options
    const stored = await checkpoints.get<Tail>(TAIL_KEY)
    const ends = await events.log.endOffsets(topic)
    const max = this.options.tailScan ?? 50_000
    if (stored && !stored.clean) {
      const reads = ends.map(async (end, p) => {
        const from = stored.offsets[p] ?? Math.max(0, end - max)
        const to = Math.min(end, from + max)
        for (let offset = from; offset < to; ) {
          const batch = await events.log.read(topic, p, offset, to - offset)
          if (batch.length === 0) break
          for (const m of batch) {
            const value = events.registry.decode(m.value).value as { id?: unknown }
            if (typeof value.id === 'string') this.inLog.add(`${value.id}|${m.key ?? ''}`)
          }
          offset = batch[batch.length - 1]!.offset + 1
        }
      })
      await Promise.all(reads)
      if (this.inLog.size > 0) this.logger.info({ events: this.inLog.size }, 'eventstreams: the last run did not stop cleanly; events it left in the log are not appended again')
    }
    this.tail = ends.map((end, p) => stored?.offsets[p] ?? end)
    await checkpoints.put(TAIL_KEY, { offsets: this.tail, clean: false } satisfies Tail)
  }

  private connect(): void {
    if (this.stopped) return
    const streams = (this.options.streams ?? DEFAULT_STREAMS).join(',')
    const url = new URL(`${this.options.url.replace(/\/$/, '')}/${streams}`)
    const resume = this.lastReceivedId ? resumeId(this.lastReceivedId, 60_000, this.options.resumeOverlapMs ?? 1) : undefined
    if (!resume && this.options.since !== undefined) url.searchParams.set('since', new Date(this.options.since).toISOString())
    const ua = userAgent(this.options.contact)
    this.stats.connections++
    if (this.options.meter) this.options.meter.connections++
    this.lastActivity = this.now()
    this.gotMessageOnConnection = false
    const es = new EventSource(url, {
      fetch: (input: Parameters<FetchLike>[0], init?: Parameters<FetchLike>[1]) => {
        const headers: Record<string, string> = { ...(init?.headers as Record<string, string> | undefined), 'User-Agent': ua }
        // Our resume point, not the library's: a fresh EventSource starts without one.
        if (resume && !headers['Last-Event-ID']) headers['Last-Event-ID'] = resume
        return fetch(input, { ...init, headers })
      },
    })
    this.es = es
    es.addEventListener('open', () => {
      if (this.options.meter) this.options.meter.connected = true
      this.lastActivity = this.now()
      this.logger.info({ resume: resume !== undefined }, 'eventstreams: connected')
    })
    es.addEventListener('message', (ev) => this.onMessage(String(ev.data), ev.lastEventId))
    es.addEventListener('error', (ev) => {
      if (this.es !== es) return
      if (this.options.meter) this.options.meter.connected = false
      const code = (ev as unknown as { code?: number }).code
      // 429: another connection from this address is open; wait longer before trying again.
      const wait = code === 429 ? Math.max(this.backoffMs, this.options.tooManyConnectionsWaitMs ?? 30_000) : this.gotMessageOnConnection ? (this.options.reconnectMinMs ?? 1000) : this.backoffMs
      // Said once per streak of failures (a feed that is down, no network): then quietly, with the backoff.
      const fields = { url: this.options.url, status: code, waitMs: wait, message: (ev as unknown as { message?: string }).message }
      if (this.gotMessageOnConnection || this.failedConnects === 0) this.logger.warn(fields, this.gotMessageOnConnection ? 'eventstreams: connection ended' : `eventstreams: cannot connect to ${this.options.url}; trying again with a backoff`)
      else this.logger.debug({ ...fields, failures: this.failedConnects + 1 }, 'eventstreams: still cannot connect')
      this.failedConnects = this.gotMessageOnConnection ? 0 : this.failedConnects + 1
      this.reconnect(wait)
    })
  }

  private reconnect(waitMs: number): void {
    this.es?.close()
    this.es = undefined
    if (this.stopped) return
    clearTimeout(this.reconnectTimer)
    if (!this.gotMessageOnConnection) this.backoffMs = doubled(this.backoffMs, this.options.reconnectMaxMs ?? 60_000)
    else this.backoffMs = this.options.reconnectMinMs ?? 1000
    this.reconnectTimer = setTimeout(() => this.connect(), waitMs)
  }

  private onMessage(data: string, id: string): void {
    this.lastActivity = this.now()
    this.gotMessageOnConnection = true
    this.failedConnects = 0
    this.stats.received++
    if (id) this.lastReceivedId = id
    let parsed: unknown
    try {
      parsed = JSON.parse(data)
    } catch {
      // No meta.id to recognise a repeat by: the bytes themselves are the identity.
      if (this.repeated(`raw:${createHash('sha1').update(data).digest('base64')}`)) return
      this.stats.malformed++
      this.options.meter?.dropped('malformed')
      this.push({ id: id || undefined, events: [], dead: { value: Buffer.from(data, 'utf8'), reason: 'not-json' } })
      return
    }
    const mapped = mapStreamEvent(parsed, this.options.wikiByDbName, this.now())
    switch (mapped.kind) {
      case 'canary':
        this.stats.canaries++
        this.options.meter?.dropped('canaries')
        this.push({ id: id || undefined, events: [] })
        return
      case 'ignored':
        this.stats.ignored++
        this.options.meter?.dropped('ignored')
        this.push({ id: id || undefined, events: [] })
        return
      case 'malformed':
        if (this.repeated(mapped.metaId ?? `raw:${createHash('sha1').update(data).digest('base64')}`)) return
        this.stats.malformed++
        this.options.meter?.dropped('malformed')
        this.push({ id: id || undefined, events: [], dead: { value: Buffer.from(data, 'utf8'), reason: mapped.reason } })
        return
      case 'events': {
        const fresh = this.inLog.size === 0 ? mapped.events : mapped.events.filter((e) => !this.inLog.has(`${(e.value as { id: string }).id}|${e.key ?? ''}`))
        const repeat = (mapped.metaId !== undefined && this.seen.has(mapped.metaId)) || (fresh.length === 0 && mapped.events.length > 0)
        if (mapped.metaId !== undefined) this.remember(mapped.metaId)
        if (repeat) {
          this.stats.duplicates++
          this.options.meter?.dropped('duplicates')
          this.push({ id: id || undefined, events: [] })
          return
        }
        this.push({ id: id || undefined, metaId: mapped.metaId, events: fresh, at: eventTime(parsed) })
      }
    }
  }

  /** True (and counted) when this identity was seen recently; otherwise remembers it. */
  private repeated(identity: string): boolean {
    if (this.seen.has(identity)) {
      this.stats.duplicates++
      this.options.meter?.dropped('duplicates')
      return true
    }
    this.remember(identity)
    return false
  }

  private remember(metaId: string): void {
    this.seen.set(metaId, true)
    const max = this.options.dedupeWindow ?? 50_000
    if (this.seen.size > max) this.seen.delete(this.seen.keys().next().value!)
  }

  private push(p: Pending): void {
    this.buffer.push(p)
    this.held++
    if (this.held >= this.maxBuffered && this.es && !this.paused) {
      // Backpressure: the log is behind. Stop reading (what was received is kept and appended); read again from
      // here once it has caught up.
      this.paused = true
      this.stats.pauses++
      this.es.close()
      this.es = undefined
      this.logger.warn({ held: this.held }, 'eventstreams: the log is behind; stopped reading until it catches up')
    }
    if (this.buffer.length >= (this.options.batchSize ?? 500)) void this.flush()
    else this.flushTimer ??= setTimeout(() => void this.flush(), this.options.flushMs ?? 1000)
  }

  /** Appends what is buffered, then stores the Last-Event-ID it covers. */
  flush(): Promise<void> {
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    const batch = this.buffer
    this.buffer = []
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0 || this.failure !== undefined) return
      const { events, topic, deadLetterTopic, checkpoints } = this.options
      const out = batch.flatMap((p) => p.events)
      const dead = batch.filter((p) => p.dead)
      try {
        if (dead.length > 0) {
          await events.log.append(
            deadLetterTopic,
            dead.map((p) => ({
              key: null,
              value: p.dead!.value,
              headers: {
                [DLQ_HEADERS.reason]: p.dead!.reason,
                [DLQ_HEADERS.code]: 'MBWA_DECODE_FAILED',
                [DLQ_HEADERS.message]: `EventStreams event: ${p.dead!.reason}`,
                [DLQ_HEADERS.source]: `eventstreams:${p.id ?? ''}`,
                [DLQ_HEADERS.at]: new Date(this.now()).toISOString(),
              },
            })),
          )
        }
        if (out.length > 0) for (const r of await events.append(topic, out)) this.tail[r.partition] = Math.max(this.tail[r.partition] ?? 0, r.offset + 1)
        const tail: Tail = { offsets: this.tail, clean: false }
        const last = [...batch].reverse().find((p) => p.id)?.id
        if (last) {
          for (const p of batch) if (p.metaId !== undefined) this.appendedIds.push(p.metaId)
          this.appendedIds = this.appendedIds.slice(-(this.options.storedDedupe ?? 2000))
          const position: Position = { lastEventId: last, recent: this.appendedIds }
          const meter = this.options.meter
          if (meter) {
            for (const p of batch) for (const e of p.events) meter.appended(1, p.at ?? null, (e.value as { wiki?: string }).wiki)
            await checkpoints.putAll([[CHECKPOINT_KEY, position], [TAIL_KEY, tail], meter.entry()])
          } else await checkpoints.putAll([[CHECKPOINT_KEY, position], [TAIL_KEY, tail]])
        } else await checkpoints.put(TAIL_KEY, tail)
        this.stats.appended += out.length
        this.stats.flushes++
        this.held -= batch.length
        if (this.paused && !this.stopped && this.held < this.maxBuffered / 2) {
          this.paused = false
          this.logger.info({ held: this.held }, 'eventstreams: the log caught up; reading again')
          this.connect()
        }
      } catch (err) {
        // The log failed: nothing after this point may be stored as done. Stop, and let a restart resume
        // from the stored Last-Event-ID.
        this.failure = err
        this.logger.error({ err: (err as Error).message }, 'eventstreams: append failed; stopping the source')
        await this.stop()
        this.fail(err)
      }
    })
    return this.flushing
  }

  /** Set when an append failed and the source stopped. */
  get error(): unknown {
    return this.failure
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.options.meter) this.options.meter.connected = false
    clearInterval(this.watchdog)
    clearTimeout(this.reconnectTimer)
    this.es?.close()
    this.es = undefined
    if (this.failure !== undefined) return
    await this.flush()
    // Everything appended is acknowledged and covered by the position: the next start need not read the log.
    if (this.failure === undefined) await this.options.checkpoints.put(TAIL_KEY, { offsets: this.tail, clean: true } satisfies Tail)
  }
}
