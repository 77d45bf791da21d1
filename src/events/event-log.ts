import { isMbwaError } from '../errors/errors.js'
import type { Logger } from '../logging.js'
import { silentLogger } from '../logging.js'
import { deadLetters, eventsConsumed, consumerLag } from '../metrics.js'
import type { AppendResult, ConsumeOptions, EventLog, LogMessage, Subscription } from '../log/types.js'
import type { SchemaRegistry } from './registry.js'
import type { EventMap, EventType, MbwaEvent } from './types.js'
import { TimeSlice } from '../time-slice.js'

// Events on top of the byte log: append encodes with the registry; consume decodes, and a message that does not
// decode is appended to the dead-letter topic (same key, original bytes, the reason in headers) before its
// batch is committed, so it is never lost and never stops the consumer.

export const DLQ_HEADERS = {
  reason: 'mbwa-dlq-reason',
  code: 'mbwa-dlq-code',
  message: 'mbwa-dlq-message',
  source: 'mbwa-dlq-source',
  at: 'mbwa-dlq-at',
} as const

export interface EventToAppend<K extends EventType = EventType> {
  type: K
  value: EventMap[K]
  key: string | null
  partition?: number
}

export interface DecodedEvent {
  offset: number
  key: string | null
  timestamp: number
  event: MbwaEvent
}

export interface DecodedBatch {
  topic: string
  partition: number
  events: DecodedEvent[]
  /** Offset of the last message of the batch, decoded or dead-lettered: the position to store is this + 1. */
  lastOffset: number
  highWatermark: number
  deadLettered: number
}

export interface ConsumeEventsOptions extends Omit<ConsumeOptions, 'eachBatch'> {
  deadLetterTopic: string
  eachBatch(batch: DecodedBatch): Promise<void>
  logger?: Logger
}

export class EventStore {
  /** The encoding of the last append called: the next one starts after it, so the log sees them in call order. */
  private encoding: Promise<unknown> = Promise.resolve()

  constructor(
    readonly log: EventLog,
    readonly registry: SchemaRegistry,
  ) {}

  /** Encodes in slices (queries share the thread) and hands batches to the log in the order append was called. */
  append(topic: string, events: EventToAppend[]): Promise<AppendResult[]> {
    return this.inCallOrder(topic, () => this.encode(events))
  }

  /** Appends messages encoded elsewhere (a worker thread), in the order append and this were called. */
  appendEncoded(topic: string, messages: LogMessage[]): Promise<AppendResult[]> {
    return this.inCallOrder(topic, () => messages)
  }

  /** Hands `messages()` to the log once every earlier call's messages are ready, so the log sees them in call order. */
  private inCallOrder(topic: string, messages: () => Promise<LogMessage[]> | LogMessage[]): Promise<AppendResult[]> {
    const ready = this.encoding.then(messages)
    this.encoding = ready.catch(() => undefined)
    return ready.then((m) => this.log.append(topic, m))
  }

  /**
   * Appends one marker to every partition of `topic` (a snapshot's end or failure, a discovered wiki list): each
   * partition's consumer meets it in order with that partition's own events. `value` makes the partition's marker.
   */
  async appendToEveryPartition<K extends EventType>(topic: string, type: K, value: (partition: number) => EventMap[K]): Promise<AppendResult[]> {
    const partitions = await this.log.partitionCount(topic)
    return this.append(topic, Array.from({ length: partitions }, (_, partition) => ({ type, key: null, partition, value: value(partition) })))
  }

  private async encode(events: EventToAppend[]): Promise<LogMessage[]> {
    const messages: LogMessage[] = []
    const slice = new TimeSlice()
    for (const e of events) {
      messages.push({ key: e.key, value: this.registry.encode(e.type, e.value), partition: e.partition })
      if (slice.over()) await slice.handOver()
    }
    return messages
  }

  consume(options: ConsumeEventsOptions): Promise<Subscription> {
    const { deadLetterTopic, logger = silentLogger } = options
    return this.log.consume({
      ...options,
      eachBatch: async (batch) => {
        const events: DecodedEvent[] = []
        const dead: { key: string | null; value: Buffer; headers: Record<string, string> }[] = []
        const slice = new TimeSlice()
        for (const m of batch.messages) {
          if (slice.over()) await slice.handOver()
          try {
            events.push({ offset: m.offset, key: m.key, timestamp: m.timestamp, event: this.registry.decode(m.value) })
          } catch (err) {
            const reason = isMbwaError(err) ? String(err.details.reason ?? err.code) : 'handler-error'
            const message = (err as Error).message
            dead.push({
              key: m.key,
              value: m.value,
              headers: {
                ...m.headers,
                [DLQ_HEADERS.reason]: reason,
                [DLQ_HEADERS.code]: isMbwaError(err) ? err.code : 'MBWA_DECODE_FAILED',
                [DLQ_HEADERS.message]: message,
                [DLQ_HEADERS.source]: `${batch.topic}:${batch.partition}:${m.offset}`,
                [DLQ_HEADERS.at]: new Date().toISOString(),
              },
            })
            deadLetters.inc({ topic: batch.topic, reason })
            logger.warn({ topic: batch.topic, partition: batch.partition, offset: m.offset, reason }, 'dead-lettered: %s', message)
          }
        }
        if (dead.length > 0) await this.log.append(deadLetterTopic, dead)
        const last = batch.messages[batch.messages.length - 1]!.offset
        await options.eachBatch({
          topic: batch.topic,
          partition: batch.partition,
          events,
          lastOffset: last,
          highWatermark: batch.highWatermark,
          deadLettered: dead.length,
        })
        eventsConsumed.inc({ topic: batch.topic, group: options.groupId }, events.length)
        consumerLag.set({ topic: batch.topic, group: options.groupId, partition: String(batch.partition) }, batch.highWatermark - last - 1)
      },
    })
  }
}
