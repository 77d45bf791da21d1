// The log: append and consume, with two implementations (Kafka, embedded) that pass one contract suite
// (test/log/contract.ts). Offsets are plain numbers: a partition would need 2^53 messages to overflow one.

export interface LogMessage {
  /** Title events are keyed by normalised title; null for unkeyed messages. */
  key: string | null
  value: Buffer
  headers?: Record<string, string>
  /** Explicit partition; otherwise chosen from the key by Kafka's default partitioner (murmur2). */
  partition?: number
  /** ms since epoch; defaults to the append time. */
  timestamp?: number
}

export interface StoredMessage {
  topic: string
  partition: number
  offset: number
  key: string | null
  value: Buffer
  headers: Record<string, string>
  timestamp: number
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface AppendResult {
  partition: number
  offset: number
}

export interface Batch {
  topic: string
  partition: number
  messages: StoredMessage[]
  /** The partition's end offset (next offset to be written) when the batch was fetched: lag = highWatermark - next. */
  highWatermark: number
}

export interface ConsumeOptions {
  groupId: string
  topics: string[]
  /** Where a partition with no committed offset starts: the beginning (default) or the end. */
  fromBeginning?: boolean
  /** Most messages in one batch (a hint; Kafka batches by bytes). */
  maxBatchSize?: number
  /**
   * Called with each batch, in offset order per partition. When it resolves, the offset after the batch is
   * committed for the group; when it throws, nothing of the batch is committed and the subscription stops with
   * that error (a restarted consumer sees the batch again).
   */
  eachBatch(batch: Batch): Promise<void>
  /**
   * Called when this member is given partitions (at start and after each rebalance), before any batch of them.
   * It may return start offsets that override the group's committed ones, for stores that keep their own
   * offsets in the same write as their state.
   */
  onAssign?(assigned: TopicPartition[]): Promise<Map<string, number> | void> | Map<string, number> | void
  /** Called when partitions are taken away, after their last batch was handled. */
  onRevoke?(revoked: TopicPartition[]): Promise<void> | void
  /**
   * A short string this member shares with the group through its membership metadata (mbwa: its HTTP
   * address), as Kafka Streams shares application.server. Every member can read all members' data.
   */
  memberData?: string
}

export interface GroupMember {
  memberId: string
  /** What the member shared (memberData), if anything. */
  data: string | undefined
  assignment: TopicPartition[]
  /** This process's own member. */
  self: boolean
}

export interface Subscription {
  /** Partitions this member holds now. */
  assignment(): TopicPartition[]
  /** The group's members now, with what each shared and holds (read from the group coordinator). */
  members(): Promise<GroupMember[]>
  /** Stops consuming; the batch in hand finishes and is committed first. */
  stop(): Promise<void>
  /** Settles when the subscription ends: resolves after stop(), rejects with a handler's or the log's error. */
  readonly closed: Promise<void>
}

export interface TopicSpec {
  name: string
  partitions: number
  /** Topic configuration set when the topic is created (Kafka: retention.ms, cleanup.policy…). */
  config?: Record<string, string>
  /** The topic must keep every message: checked at start, refused when the broker would delete old ones. */
  keepForever?: boolean
}

export interface EventLog {
  readonly kind: 'embedded' | 'kafka'
  /** Creates the topics that do not exist; existing ones are left as they are. */
  ensureTopics(topics: TopicSpec[]): Promise<void>
  partitionCount(topic: string): Promise<number>
  /** Appends messages; resolves once they are durable (fsync'd / acknowledged by all in-sync replicas). */
  append(topic: string, messages: LogMessage[]): Promise<AppendResult[]>
  /** Reads up to `max` messages of one partition from `offset` on, without a group. */
  read(topic: string, partition: number, offset: number, max: number): Promise<StoredMessage[]>
  /** Next offset to be written, per partition. */
  endOffsets(topic: string): Promise<number[]>
  /** First offset still held, per partition (0 unless the log deleted older messages). */
  startOffsets(topic: string): Promise<number[]>
  /** The group's committed offsets per partition (-1 where nothing is committed). */
  committedOffsets(groupId: string, topic: string): Promise<number[]>
  /** Sets the group's committed offsets (the group must have no running members), e.g. to rebuild from 0. */
  resetOffsets(groupId: string, topic: string, to: 'earliest' | 'latest' | number[]): Promise<void>
  consume(options: ConsumeOptions): Promise<Subscription>
  close(): Promise<void>
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}:${partition}`
}
