import { randomUUID } from 'node:crypto'
import kafkajs, {
  AssignerProtocol,
  Kafka,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type KafkaMessage,
  type Producer,
  type ProducerRecord,
  type RecordMetadata,
  type LogEntry,
  type PartitionAssigner,
} from 'kafkajs'
import { MbwaError } from '../errors/errors.js'

// kafkajs is CommonJS: Node's ESM loader does not find every export by name (ConfigResourceTypes among them).
const { ConfigResourceTypes } = kafkajs
import { silentLogger, type Logger } from '../logging.js'
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

export interface KafkaLogOptions {
  brokers: string[]
  clientId?: string
  replicationFactor?: number
  /** Consumer session timeout: how long a member that died silently keeps its partitions. Default 10 s. */
  sessionTimeoutMs?: number
  heartbeatIntervalMs?: number
  /** Longest a fetch waits for new data; also bounds how long stop() waits. Default 1000 ms. */
  maxWaitTimeMs?: number
  logger?: Logger
}

// The log on Kafka, through kafkajs. Partitions are chosen here with the same murmur2 as the embedded log
// (identical to kafkajs' DefaultPartitioner and Java's), so placement never depends on the client. The
// producer is idempotent with acks=all: a retried send does not duplicate, and append() resolves only once the
// in-sync replicas have the batch. After a send that failed, the next append uses a new producer: kafkajs'
// idempotent producer can be left with sequence numbers a restarted broker refuses for good
// (OUT_OF_ORDER_SEQUENCE_NUMBER on every later send), and a new producer id starts them afresh.
export class KafkaLog implements EventLog {
  readonly kind = 'kafka' as const
  private readonly kafka: Kafka
  private readonly admin: Admin
  private producer: Producer
  /** The current producer's connect (a renewed producer connects while the next append waits for it). */
  private producerReady: Promise<void> = Promise.resolve()
  private readonly partitionCounts = new Map<string, number>()
  private readonly roundRobin = new RoundRobin()
  private readonly subscriptions = new Set<KafkaSubscription>()
  private closed = false

  private constructor(
    private readonly options: KafkaLogOptions,
    kafka: Kafka,
    admin: Admin,
    producer: Producer,
  ) {
    this.kafka = kafka
    this.admin = admin
    this.producer = producer
  }

  static async connect(options: KafkaLogOptions): Promise<KafkaLog> {
    const logger = options.logger ?? silentLogger
    const kafka = new Kafka({
      clientId: options.clientId ?? 'mbwa',
      brokers: options.brokers,
      connectionTimeout: 3000,
      requestTimeout: 30000,
      retry: { initialRetryTime: 100, retries: 8 },
      logLevel: KafkaLogLevel.WARN,
      logCreator: () => (entry: LogEntry) => {
        const { message, ...extra } = entry.log
        const fields = { component: 'kafkajs', namespace: entry.namespace, ...extra }
        if (entry.level <= KafkaLogLevel.ERROR) logger.error(fields, message)
        else logger.warn(fields, message)
      },
    })
    const admin = kafka.admin()
    const producer = newProducer(kafka)
    try {
      await admin.connect()
      await producer.connect()
    } catch (err) {
      await Promise.allSettled([admin.disconnect(), producer.disconnect()])
      throw new MbwaError('MBWA_KAFKA_UNAVAILABLE', `cannot reach Kafka at ${options.brokers.join(',')}: ${(err as Error).message}`, {
        brokers: options.brokers,
      }, { cause: err })
    }
    return new KafkaLog(options, kafka, admin, producer)
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen()
    const existing = new Set(await this.admin.listTopics())
    const missing = topics.filter((t) => !existing.has(t.name))
    if (missing.length > 0) {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: this.options.replicationFactor ?? 1,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      })
    }
    for (const t of topics) this.partitionCounts.delete(t.name)
    // A topic that must keep every message (the events topic: rebuilds replay it from offset 0) is refused when
    // the broker would delete old ones, whoever created it: a stock broker deletes after 7 days.
    const keep = topics.filter((t) => t.keepForever)
    if (keep.length === 0) return
    const described = await this.admin.describeConfigs({
      includeSynonyms: false,
      resources: keep.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.name, configNames: ['retention.ms', 'retention.bytes', 'cleanup.policy'] })),
    })
    for (const r of described.resources) {
      const conf = Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]))
      const problems: string[] = []
      if (conf['retention.ms'] !== '-1') problems.push(`retention.ms=${conf['retention.ms']}`)
      if (conf['retention.bytes'] !== undefined && conf['retention.bytes'] !== '-1') problems.push(`retention.bytes=${conf['retention.bytes']}`)
      if (conf['cleanup.policy'] !== undefined && conf['cleanup.policy'] !== 'delete') problems.push(`cleanup.policy=${conf['cleanup.policy']}`)
      if (problems.length > 0) {
        throw new MbwaError(
          'MBWA_TOPIC_RETENTION',
          `topic ${r.resourceName} must keep every message (a rebuild replays it from offset 0), but the broker would delete old ones (${problems.join(', ')}); ` +
            `set it with: kafka-configs.sh --bootstrap-server BROKER --alter --entity-type topics --entity-name ${r.resourceName} --add-config retention.ms=-1,retention.bytes=-1,cleanup.policy=delete`,
          { topic: r.resourceName },
        )
      }
    }
  }

  async startOffsets(topic: string): Promise<number[]> {
    const offsets = await this.admin.fetchTopicOffsets(topic)
    const out = new Array<number>(offsets.length)
    for (const o of offsets) out[o.partition] = Number(o.low)
    return out
  }

  async partitionCount(topic: string): Promise<number> {
    const cached = this.partitionCounts.get(topic)
    if (cached !== undefined) return cached
    let metadata
    try {
      metadata = await this.admin.fetchTopicMetadata({ topics: [topic] })
    } catch (err) {
      throw new MbwaError('MBWA_TOPIC_UNKNOWN', `topic ${topic} does not exist`, { topic }, { cause: err })
    }
    const n = metadata.topics[0]?.partitions.length ?? 0
    if (n === 0) throw new MbwaError('MBWA_TOPIC_UNKNOWN', `topic ${topic} does not exist`, { topic })
    this.partitionCounts.set(topic, n)
    return n
  }

  async append(topic: string, messages: LogMessage[]): Promise<AppendResult[]> {
    this.assertOpen()
    if (messages.length === 0) return []
    const partitions = await this.partitionCount(topic)
    const chosen = messages.map((m) => {
      if (m.partition !== undefined) {
        if (!Number.isInteger(m.partition) || m.partition < 0 || m.partition >= partitions) {
          throw new MbwaError('MBWA_PARTITION_INVALID', `topic ${topic} has no partition ${m.partition}`)
        }
        return m.partition
      }
      return m.key === null ? this.roundRobin.pick(topic, partitions) : partitionForKey(m.key, partitions)
    })
    const metadata = await this.send({
      topic,
      acks: -1,
      messages: messages.map((m, i) => ({
        key: m.key,
        value: m.value,
        partition: chosen[i],
        headers: m.headers,
        timestamp: String(m.timestamp ?? Date.now()),
      })),
    })
    // Messages to one partition in one request get consecutive offsets from its base offset, in request order.
    const base = new Map<number, number>()
    for (const r of metadata) base.set(r.partition, Number(r.baseOffset))
    const seen = new Map<number, number>()
    return chosen.map((partition) => {
      const index = seen.get(partition) ?? 0
      seen.set(partition, index + 1)
      return { partition, offset: base.get(partition)! + index }
    })
  }

  /** Sends with the current producer; a failure renews it (see the class comment) and is thrown. */
  private async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    const producer = this.producer
    try {
      await this.producerReady
      return await producer.send(record)
    } catch (err) {
      // Appends in flight on the failed producer fail too: only the first of them renews it.
      if (this.producer === producer && !this.closed) {
        this.producer = newProducer(this.kafka)
        this.producerReady = this.producer.connect()
        this.producerReady.catch(() => undefined)
        void producer.disconnect().catch(() => undefined)
      }
      throw err
    }
  }

  async read(topic: string, partition: number, offset: number, max: number): Promise<StoredMessage[]> {
    // kafkajs cannot assign a partition without a group, so a throwaway group reads it and is deleted after.
    this.assertOpen()
    const partitions = await this.partitionCount(topic)
    if (partition < 0 || partition >= partitions) {
      throw new MbwaError('MBWA_PARTITION_INVALID', `topic ${topic} has no partition ${partition}`)
    }
    const end = (await this.endOffsets(topic))[partition]!
    const target = Math.min(end, offset + max)
    if (offset >= target) return []
    const groupId = `mbwa-read-${randomUUID()}`
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 10000, maxWaitTimeInMs: 200 })
    const out: StoredMessage[] = []
    try {
      await consumer.connect()
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read of ${topic}:${partition} timed out`)), 30000)
        consumer.on(consumer.events.GROUP_JOIN, () => consumer.seek({ topic, partition, offset: String(offset) }))
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              if (batch.partition !== partition) return
              for (const m of batch.messages) {
                const o = Number(m.offset)
                if (o === offset + out.length && o < target) out.push(toStored(topic, partition, m))
              }
              if (offset + out.length >= target) {
                clearTimeout(timer)
                resolve()
              }
            },
          })
          .catch(reject)
      })
    } finally {
      await consumer.disconnect().catch(() => undefined)
      await this.admin.deleteGroups([groupId]).catch(() => undefined)
    }
    return out
  }

  async endOffsets(topic: string): Promise<number[]> {
    const offsets = await this.admin.fetchTopicOffsets(topic)
    const out = new Array<number>(offsets.length)
    for (const o of offsets) out[o.partition] = Number(o.high)
    return out
  }

  async committedOffsets(groupId: string, topic: string): Promise<number[]> {
    const n = await this.partitionCount(topic)
    const out = new Array<number>(n).fill(-1)
    const res = await this.admin.fetchOffsets({ groupId, topics: [topic] })
    for (const p of res[0]?.partitions ?? []) out[p.partition] = Number(p.offset)
    return out
  }

  async resetOffsets(groupId: string, topic: string, to: 'earliest' | 'latest' | number[]): Promise<void> {
    if (Array.isArray(to)) {
      await this.admin.setOffsets({
        groupId,
        topic,
        partitions: to.map((offset, partition) => ({ partition, offset: String(offset) })),
      })
    } else {
      // Real offsets rather than kafkajs' -2/-1 sentinels, so committedOffsets() reads back what was meant.
      const offsets = await this.admin.fetchTopicOffsets(topic)
      await this.admin.setOffsets({
        groupId,
        topic,
        partitions: offsets.map((o) => ({ partition: o.partition, offset: to === 'earliest' ? o.low : o.high })),
      })
    }
  }

  async consume(options: ConsumeOptions): Promise<Subscription> {
    this.assertOpen()
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: this.options.sessionTimeoutMs ?? 10000,
      heartbeatInterval: this.options.heartbeatIntervalMs ?? 1000,
      rebalanceTimeout: 30000,
      maxWaitTimeInMs: this.options.maxWaitTimeMs ?? 1000,
      retry: { initialRetryTime: 100, retries: 8 },
      partitionAssigners: [sharingAssigner(options.memberData)],
    })
    const sub = new KafkaSubscription(consumer, options)
    this.subscriptions.add(sub)
    sub.closed.finally(() => this.subscriptions.delete(sub)).catch(() => undefined)
    await sub.start()
    return sub
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([...this.subscriptions].map((s) => s.stop()))
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()])
  }

  private assertOpen(): void {
    if (this.closed) throw new MbwaError('MBWA_LOG_CLOSED', 'the Kafka log is closed')
  }
}

function newProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
}

/**
 * Round-robin over the sorted members, like kafkajs' own assigner, but each member's subscription metadata
 * carries its memberData in userData, so every member can read every other's (describeGroup).
 */
function sharingAssigner(memberData: string | undefined): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'MbwaRoundRobin',
    version: 1,
    protocol({ topics }) {
      return {
        name: 'MbwaRoundRobin',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.from(memberData ?? '', 'utf8') }),
      }
    },
    async assign({ members, topics }) {
      const sorted = members.map((m) => m.memberId).sort()
      const assignment: Record<string, Record<string, number[]>> = {}
      const all = topics.flatMap((topic) => cluster.findTopicPartitionMetadata(topic).map((m) => ({ topic, partition: m.partitionId })))
      all.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
      all.forEach(({ topic, partition }, i) => {
        const member = sorted[i % sorted.length]!
        assignment[member] ??= {}
        ;(assignment[member]![topic] ??= []).push(partition)
      })
      return sorted.map((memberId) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: assignment[memberId] ?? {}, userData: Buffer.alloc(0) }),
      }))
    },
  })
}

function toStored(topic: string, partition: number, m: KafkaMessage): StoredMessage {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v)
  }
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key === null ? null : m.key.toString('utf8'),
    value: m.value ?? Buffer.alloc(0),
    headers,
    timestamp: Number(m.timestamp),
  }
}

class KafkaSubscription implements Subscription {
  readonly closed: Promise<void>
  private resolveClosed!: () => void
  private rejectClosed!: (err: unknown) => void
  private current: TopicPartition[] = []
  private memberId: string | undefined
  /** Start offsets that onAssign asked for and that the fetcher has not reached yet. */
  private readonly pendingSeeks = new Map<string, number>()
  private assignReady: Promise<void> = Promise.resolve()
  private failure: unknown = undefined
  private stopping: Promise<void> | undefined

  constructor(
    private readonly consumer: Consumer,
    private readonly options: ConsumeOptions,
  ) {
    this.closed = new Promise<void>((resolve, reject) => {
      this.resolveClosed = resolve
      this.rejectClosed = reject
    })
    this.closed.catch(() => undefined)
  }

  async start(): Promise<void> {
    const { consumer, options } = this
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      if (this.stopping !== undefined) return
      this.memberId = event.payload.memberId
      const assigned: TopicPartition[] = []
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) assigned.push({ topic, partition })
      }
      assigned.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
      const kept = new Set(assigned.map((tp) => tpKey(tp.topic, tp.partition)))
      const revoked = this.current.filter((tp) => !kept.has(tpKey(tp.topic, tp.partition)))
      this.current = assigned
      const previous = this.assignReady
      this.assignReady = (async () => {
        await previous.catch(() => undefined)
        if (revoked.length > 0) await options.onRevoke?.(revoked)
        const overrides = await options.onAssign?.(assigned.map((tp) => ({ ...tp })))
        if (overrides) {
          for (const [key, offset] of overrides) {
            const i = key.lastIndexOf(':')
            const topic = key.slice(0, i)
            const partition = Number(key.slice(i + 1))
            if (!kept.has(key)) continue
            this.pendingSeeks.set(key, offset)
            consumer.seek({ topic, partition, offset: String(offset) })
          }
        }
      })()
      this.assignReady.catch((err: unknown) => this.fail(err))
    })
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) this.fail(event.payload.error)
    })
    await consumer.connect()
    await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? true })
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        if (this.failure !== undefined) return
        // No batch reaches the handler once stop() began: the caller may already be closing its store, and kafkajs
        // can go on fetching after a disconnect that raced a restart (tulios/kafkajs#1639).
        if (this.stopping !== undefined) return
        await this.assignReady
        const key = tpKey(batch.topic, batch.partition)
        let messages = batch.messages.map((m) => toStored(batch.topic, batch.partition, m))
        const seek = this.pendingSeeks.get(key)
        if (seek !== undefined) {
          // A fetch that started before the seek took effect: drop what precedes the store's position, and
          // wait for the seeked fetch when this one starts past it.
          if (messages.length > 0 && messages[0]!.offset > seek) return
          messages = messages.filter((m) => m.offset >= seek)
          if (messages.length === 0) return
          this.pendingSeeks.delete(key)
        }
        const max = this.options.maxBatchSize ?? 1000
        const highWatermark = Number(batch.highWatermark)
        for (let i = 0; i < messages.length; i += max) {
          if (!isRunning() || isStale() || this.failure !== undefined || this.stopping !== undefined) return
          const chunk = messages.slice(i, i + max)
          const b: Batch = { topic: batch.topic, partition: batch.partition, messages: chunk, highWatermark }
          try {
            await this.options.eachBatch(b)
          } catch (err) {
            this.fail(err)
            return
          }
          const last = chunk[chunk.length - 1]!.offset
          resolveOffset(String(last))
          // The batch's own commit, not consumer.commitOffsets(): kafkajs silently drops the latter once stop()
          // has begun, so the last batch before a graceful leave would be handled again by the next owner.
          await commitOffsetsIfNecessary({
            topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(last + 1) }] }],
          })
          await heartbeat()
        }
      },
    })
  }

  assignment(): TopicPartition[] {
    return this.current.map((tp) => ({ ...tp }))
  }

  async members(): Promise<GroupMember[]> {
    // Once stopping, never: describeGroup on a disconnected consumer opens a new broker connection that nothing
    // closes, and the process would never exit (found by the SIGTERM test: a revoke at stop asks the router to
    // look at the group again).
    if (this.stopping !== undefined || this.failure !== undefined) return []
    const group = await this.consumer.describeGroup()
    return group.members.map((m) => {
      const meta = m.memberMetadata.length > 0 ? AssignerProtocol.MemberMetadata.decode(m.memberMetadata) : null
      const assigned = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null
      const data = meta?.userData && meta.userData.length > 0 ? meta.userData.toString('utf8') : undefined
      const assignment: TopicPartition[] = []
      for (const [topic, partitions] of Object.entries(assigned?.assignment ?? {})) for (const partition of partitions) assignment.push({ topic, partition })
      return { memberId: m.memberId, data, assignment, self: m.memberId === this.memberId }
    })
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return
    this.failure = err ?? new Error('consumer failed')
    // Not awaited here: disconnect() waits for the batch in hand, which may be the caller.
    setImmediate(() => {
      void this.consumer.disconnect().finally(() => this.rejectClosed(this.failure))
    })
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.consumer.disconnect().catch(() => undefined)
      const held = this.current
      this.current = []
      if (held.length > 0) await Promise.resolve(this.options.onRevoke?.(held)).catch(() => undefined)
      if (this.failure === undefined) this.resolveClosed()
      else this.rejectClosed(this.failure)
      await this.closed.catch(() => undefined)
    })()
    return this.stopping
  }
}
