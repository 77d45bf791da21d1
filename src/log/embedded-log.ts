import { EventEmitter, once } from 'node:events'
import { mkdirSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import { MbwaError } from '../errors/errors.js'
import { chunkCount, decodeChunk, encodeChunk, type ChunkMessage } from './message-codec.js'
import { partitionForKey, RoundRobin } from './partitioner.js'
import type {
  AppendResult,
  Batch,
  ConsumeOptions,
  EventLog,
  GroupMember,
  LogMessage,
  StoredMessage,
  Subscription,
  TopicPartition,
  TopicSpec,
} from './types.js'
import { tpKey } from './types.js'
import { prefixEnd } from '../key-range.js'

// The log for one machine, on LevelDB (classic-level). Keys sort by topic, partition, then the fixed-width hex
// first offset of a chunk (message-codec.ts), so a partition is one contiguous key range and reading from an
// offset is one backward seek to its chunk and one forward iterator. Appends are
// serialised and written with sync:true: when append() resolves, the batch is on disk. One process holds the
// directory (LevelDB's lock), so groups have one member each; Kafka is for more.

const SEP = '\x00'
const OFFSET_WIDTH = 16

function topicKey(topic: string): string {
  return `t${SEP}${topic}`
}
function partitionPrefix(topic: string, partition: number): string {
  return `m${SEP}${topic}${SEP}${partition.toString(16).padStart(4, '0')}${SEP}`
}
function offsetSuffix(offset: number): string {
  return offset.toString(16).padStart(OFFSET_WIDTH, '0')
}
function commitKey(group: string, topic: string, partition: number): string {
  return `c${SEP}${group}${SEP}${topic}${SEP}${partition}`
}

export interface EmbeddedLogOptions {
  /** Directory of the LevelDB store; created if missing. */
  path: string
  /** How long an idle consumer waits before looking again (appends wake it at once). Default 1000 ms. */
  idlePollMs?: number
}

export class EmbeddedLog implements EventLog {
  readonly kind = 'embedded' as const
  private readonly db: ClassicLevel<string, Buffer>
  /** topic → next offset per partition (the end offsets). */
  private readonly ends = new Map<string, number[]>()
  private readonly appended = new EventEmitter()
  private readonly roundRobin = new RoundRobin()
  private readonly activeGroups = new Set<string>()
  private readonly subscriptions = new Set<Subscription>()
  private appendChain: Promise<unknown> = Promise.resolve()
  private closed = false
  private readonly idlePollMs: number

  private constructor(db: ClassicLevel<string, Buffer>, options: EmbeddedLogOptions) {
    this.db = db
    this.idlePollMs = options.idlePollMs ?? 1000
    this.appended.setMaxListeners(0)
  }

  static async open(options: EmbeddedLogOptions): Promise<EmbeddedLog> {
    mkdirSync(options.path, { recursive: true })
    // LevelDB maps the table files it has open into memory, and a consumer reads a log once, front to back: a
    // small table cache keeps what a long log maps (and so the RSS) bounded instead of growing with the log.
    const db = new ClassicLevel<string, Buffer>(options.path, { keyEncoding: 'utf8', valueEncoding: 'buffer', maxOpenFiles: 16 })
    try {
      await db.open()
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code
      if (code === 'LEVEL_LOCKED') {
        throw new MbwaError('MBWA_LOG_LOCKED', `the embedded log at ${options.path} is open in another process`, {
          path: options.path,
        }, { cause: err })
      }
      throw err
    }
    const log = new EmbeddedLog(db, options)
    await log.loadTopics()
    return log
  }

  private async loadTopics(): Promise<void> {
    for await (const [key, value] of this.db.iterator({ gte: `t${SEP}`, lt: prefixEnd(`t${SEP}`) })) {
      const topic = key.slice(2)
      const { partitions } = JSON.parse(value.toString('utf8')) as { partitions: number }
      const ends: number[] = []
      for (let p = 0; p < partitions; p++) {
        const prefix = partitionPrefix(topic, p)
        const last = await this.db.iterator({ gte: prefix, lt: prefixEnd(prefix), reverse: true, limit: 1 }).all()
        const entry = last[0]
        ends.push(entry === undefined ? 0 : parseInt(entry[0].slice(prefix.length), 16) + chunkCount(entry[1]))
      }
      this.ends.set(topic, ends)
    }
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen()
    const ops: { type: 'put'; key: string; value: Buffer }[] = []
    for (const { name, partitions } of topics) {
      if (this.ends.has(name)) continue
      if (!Number.isInteger(partitions) || partitions < 1) {
        throw new MbwaError('MBWA_PARTITION_INVALID', `topic ${name}: partitions must be a positive integer`)
      }
      ops.push({ type: 'put', key: topicKey(name), value: Buffer.from(JSON.stringify({ partitions })) })
      this.ends.set(name, new Array<number>(partitions).fill(0))
    }
    if (ops.length > 0) await this.db.batch(ops, { sync: true })
  }

  async partitionCount(topic: string): Promise<number> {
    return this.endsOf(topic).length
  }

  append(topic: string, messages: LogMessage[]): Promise<AppendResult[]> {
    // Serialised: offsets are handed out in order and the end offset only moves once the batch is on disk,
    // so a reader never sees a gap.
    const run = this.appendChain.then(() => this.appendNow(topic, messages))
    this.appendChain = run.catch(() => undefined)
    return run
  }

  private async appendNow(topic: string, messages: LogMessage[]): Promise<AppendResult[]> {
    this.assertOpen()
    const ends = this.endsOf(topic)
    const next = ends.slice()
    const now = Date.now()
    const results: AppendResult[] = new Array<AppendResult>(messages.length)
    const chunks = new Map<number, ChunkMessage[]>()
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!
      const partition = this.choosePartition(topic, m, ends.length)
      results[i] = { partition, offset: next[partition]! }
      next[partition]! += 1
      let chunk = chunks.get(partition)
      if (!chunk) chunks.set(partition, (chunk = []))
      chunk.push({ key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp ?? now })
    }
    if (chunks.size === 0) return results
    const ops = [...chunks].map(([partition, chunk]) => ({
      type: 'put' as const,
      key: partitionPrefix(topic, partition) + offsetSuffix(ends[partition]!),
      value: encodeChunk(chunk),
    }))
    await this.db.batch(ops, { sync: true })
    this.ends.set(topic, next)
    this.appended.emit(topic)
    return results
  }

  private choosePartition(topic: string, m: LogMessage, partitions: number): number {
    if (m.partition !== undefined) {
      if (!Number.isInteger(m.partition) || m.partition < 0 || m.partition >= partitions) {
        throw new MbwaError('MBWA_PARTITION_INVALID', `topic ${topic} has no partition ${m.partition}`)
      }
      return m.partition
    }
    return m.key === null ? this.roundRobin.pick(topic, partitions) : partitionForKey(m.key, partitions)
  }

  async read(topic: string, partition: number, offset: number, max: number): Promise<StoredMessage[]> {
    this.assertOpen()
    const ends = this.endsOf(topic)
    if (partition < 0 || partition >= ends.length) {
      throw new MbwaError('MBWA_PARTITION_INVALID', `topic ${topic} has no partition ${partition}`)
    }
    const end = ends[partition]!
    if (offset >= end || max <= 0) return []
    const prefix = partitionPrefix(topic, partition)
    const from = Math.max(0, offset)
    const to = Math.min(end, from + max)
    // The chunk holding `from` is the last one whose first offset is not after it.
    const [start] = await this.db.keys({ gte: prefix, lte: prefix + offsetSuffix(from), reverse: true, limit: 1 }).all()
    const out: StoredMessage[] = []
    for await (const [key, chunk] of this.db.iterator({ gte: start ?? prefix, lt: prefix + offsetSuffix(to) })) {
      decodeChunk(topic, partition, parseInt(key.slice(prefix.length), 16), chunk, from, to, out)
    }
    return out
  }

  /** The embedded log never deletes: every partition starts at 0. */
  async startOffsets(topic: string): Promise<number[]> {
    return new Array<number>(await this.partitionCount(topic)).fill(0)
  }

  async endOffsets(topic: string): Promise<number[]> {
    return this.endsOf(topic).slice()
  }

  async committedOffsets(groupId: string, topic: string): Promise<number[]> {
    const partitions = this.endsOf(topic).length
    const keys = Array.from({ length: partitions }, (_, p) => commitKey(groupId, topic, p))
    const values = await this.db.getMany(keys)
    return values.map((v) => (v === undefined ? -1 : Number(v.toString('utf8'))))
  }

  async resetOffsets(groupId: string, topic: string, to: 'earliest' | 'latest' | number[]): Promise<void> {
    if (this.activeGroups.has(groupId)) {
      throw new MbwaError('MBWA_GROUP_MEMBER_EXISTS', `group ${groupId} has a running member; stop it first`)
    }
    const ends = this.endsOf(topic)
    const offsets = to === 'earliest' ? ends.map(() => 0) : to === 'latest' ? ends.slice() : to
    await this.commit(
      groupId,
      offsets.map((offset, partition) => ({ topic, partition, offset })),
    )
  }

  private async commit(groupId: string, entries: { topic: string; partition: number; offset: number }[]): Promise<void> {
    await this.db.batch(
      entries.map(({ topic, partition, offset }) => ({
        type: 'put' as const,
        key: commitKey(groupId, topic, partition),
        value: Buffer.from(String(offset)),
      })),
      { sync: true },
    )
  }

  async consume(options: ConsumeOptions): Promise<Subscription> {
    this.assertOpen()
    if (this.activeGroups.has(options.groupId)) {
      throw new MbwaError(
        'MBWA_GROUP_MEMBER_EXISTS',
        `group ${options.groupId} already has a member; the embedded log serves one member per group`,
      )
    }
    const assigned: TopicPartition[] = []
    for (const topic of options.topics) {
      const n = this.endsOf(topic).length
      for (let p = 0; p < n; p++) assigned.push({ topic, partition: p })
    }
    this.activeGroups.add(options.groupId)
    try {
      const overrides = (await options.onAssign?.(assigned.map((tp) => ({ ...tp })))) ?? undefined
      const positions = new Map<string, number>()
      for (const topic of options.topics) {
        const committed = await this.committedOffsets(options.groupId, topic)
        const ends = this.endsOf(topic)
        committed.forEach((c, p) => {
          const key = tpKey(topic, p)
          const start = overrides?.get(key) ?? (c >= 0 ? c : options.fromBeginning === false ? ends[p]! : 0)
          positions.set(key, start)
        })
      }
      const sub = new EmbeddedSubscription(this, options, assigned, positions)
      this.subscriptions.add(sub)
      sub.closed
        .finally(() => {
          this.activeGroups.delete(options.groupId)
          this.subscriptions.delete(sub)
        })
        .catch(() => undefined)
      return sub
    } catch (err) {
      this.activeGroups.delete(options.groupId)
      throw err
    }
  }

  /** @internal used by subscriptions */
  async waitForAppend(topics: string[], signal: AbortSignal): Promise<void> {
    if (signal.aborted) return
    const ac = new AbortController()
    const onAbort = (): void => ac.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => ac.abort(), this.idlePollMs)
    try {
      await Promise.race(topics.map((t) => once(this.appended, t, { signal: ac.signal })))
    } catch {
      // aborted: timeout or stop
    } finally {
      ac.abort()
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
  }

  /** @internal */
  commitFor(groupId: string, topic: string, partition: number, offset: number): Promise<void> {
    return this.commit(groupId, [{ topic, partition, offset }])
  }

  /** @internal */
  endOf(topic: string, partition: number): number {
    return this.endsOf(topic)[partition]!
  }

  async close(): Promise<void> {
    if (this.closed) return
    await Promise.allSettled([...this.subscriptions].map((s) => s.stop()))
    await this.appendChain
    this.closed = true
    await this.db.close()
  }

  private endsOf(topic: string): number[] {
    const ends = this.ends.get(topic)
    if (!ends) throw new MbwaError('MBWA_TOPIC_UNKNOWN', `topic ${topic} does not exist`, { topic })
    return ends
  }

  private assertOpen(): void {
    if (this.closed) throw new MbwaError('MBWA_LOG_CLOSED', 'the embedded log is closed')
  }
}

class EmbeddedSubscription implements Subscription {
  readonly closed: Promise<void>
  private readonly abort = new AbortController()

  constructor(
    private readonly log: EmbeddedLog,
    private readonly options: ConsumeOptions,
    private readonly assigned: TopicPartition[],
    private readonly positions: Map<string, number>,
  ) {
    this.closed = this.loop()
    this.closed.catch(() => undefined)
  }

  assignment(): TopicPartition[] {
    return this.abort.signal.aborted ? [] : this.assigned.map((tp) => ({ ...tp }))
  }

  async members(): Promise<GroupMember[]> {
    return [{ memberId: 'embedded', data: this.options.memberData, assignment: this.assignment(), self: true }]
  }

  async stop(): Promise<void> {
    this.abort.abort()
    await this.closed.catch(() => undefined)
  }

  private hasBacklog(): boolean {
    return this.assigned.some(({ topic, partition }) => this.positions.get(tpKey(topic, partition))! < this.log.endOf(topic, partition))
  }

  private async loop(): Promise<void> {
    const max = this.options.maxBatchSize ?? 1000
    const signal = this.abort.signal
    try {
      while (!signal.aborted) {
        let handled = 0
        for (const { topic, partition } of this.assigned) {
          if (signal.aborted) break
          const key = tpKey(topic, partition)
          const position = this.positions.get(key)!
          const messages = await this.log.read(topic, partition, position, max)
          if (messages.length === 0) continue
          const batch: Batch = { topic, partition, messages, highWatermark: this.log.endOf(topic, partition) }
          await this.options.eachBatch(batch)
          const next = messages[messages.length - 1]!.offset + 1
          await this.log.commitFor(this.options.groupId, topic, partition, next)
          this.positions.set(key, next)
          handled += messages.length
        }
        // Checked and waited for in one synchronous step, so an append that lands in between still wakes us.
        if (handled === 0 && !this.hasBacklog()) await this.log.waitForAppend(this.options.topics, signal)
      }
    } finally {
      this.abort.abort()
      await this.options.onRevoke?.(this.assigned.map((tp) => ({ ...tp })))
    }
  }
}
