import type { EventStore } from '../events/event-log.js'
import type { EditRequested } from '../events/types.js'
import { silentLogger, type Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import { tpKey, type GroupMember, type Subscription, type TopicPartition } from '../log/types.js'
import { PartitionApplier } from './partition-applier.js'
import type { TitleStore } from './title-store.js'
import { MbwaError } from '../errors/errors.js'
import type { KnownWiki, RulesByWiki } from '../domain/wiki-rules.js'

// Feeds the events topic into the title store. Each partition this member is given starts from the offset the
// store holds for it (state and offset are written together), so the group's own committed offsets are only a
// fallback for tools; a partition is "restoring" until it has caught up with the end it had when it was given,
// and the query server does not serve it before that.

export interface ProjectorOptions {
  store: TitleStore
  events: EventStore
  topics: TopicNames
  groupId: string
  rules: RulesByWiki
  /** The rules once a discovered wiki list is in the log (configured wikis over discovered ones). */
  rulesWith?: (discovered: readonly KnownWiki[]) => RulesByWiki
  settleMs?: number
  emitCommands?: boolean
  /** How often settled pages are looked at again. Default 30 s. */
  settleTickMs?: number
  maxBatchSize?: number
  /** This member's HTTP address, shared with the group. */
  address?: string
  logger?: Logger
  now?: () => number
}

export interface PartitionStatus {
  partition: number
  offset: number
  /** End of the partition when last seen. */
  end: number
  restoring: boolean
}

interface Owned {
  applier: PartitionApplier
  offset: number
  end: number
  restoring: boolean
  queue: Promise<unknown>
}

export class Projector {
  readonly owned = new Map<number, Owned>()
  private subscription: Subscription | undefined
  private settleTimer: NodeJS.Timeout | undefined
  private readonly logger: Logger
  eventsApplied = 0
  commandsSent = 0
  private readonly listeners = new Set<() => void>()

  constructor(private readonly options: ProjectorOptions) {
    this.logger = options.logger ?? silentLogger
  }

  /** Called whenever ownership or readiness changes (the query server republishes its view). */
  onChange(listener: () => void): void {
    this.listeners.add(listener)
  }

  private changed(): void {
    for (const l of this.listeners) l()
  }

  /** Joins the group (sharing `address`, this member's query endpoint) and starts applying. */
  async start(address?: string): Promise<void> {
    const { events, topics, store } = this.options
    this.subscription = await events.consume({
      groupId: this.options.groupId,
      topics: [topics.events],
      deadLetterTopic: topics.deadLetter,
      maxBatchSize: this.options.maxBatchSize ?? 1000,
      memberData: address ?? this.options.address,
      logger: this.logger,
      onAssign: async (assigned: TopicPartition[]) => {
        const [ends, lows] = await Promise.all([events.log.endOffsets(topics.events), events.log.startOffsets(topics.events)])
        const starts = new Map<string, number>()
        const keep = new Set(assigned.map((tp) => tp.partition))
        for (const p of [...this.owned.keys()]) if (!keep.has(p)) this.owned.delete(p)
        for (const { topic, partition } of assigned) {
          const offset = await store.offset(partition)
          const low = lows[partition] ?? 0
          if (offset < low) {
            // Events this store still needs were deleted from the log: resuming (or replaying) would silently
            // build a partial state. Stop loudly instead.
            throw new MbwaError(
              'MBWA_LOG_TRUNCATED',
              `partition ${partition} of ${topic} starts at offset ${low} but the projection needs it from ${offset}: events were deleted from the log (its retention), so the state cannot be built from it; restore the topic, or start from a dump (mbwa import)`,
              { topic, partition, offset, low },
            )
          }
          const applier = this.owned.get(partition)?.applier ?? new PartitionApplier(store, partition, this.applierOptions())
          await applier.load()
          const end = ends[partition] ?? 0
          this.owned.set(partition, { applier, offset, end, restoring: offset < end, queue: Promise.resolve() })
          starts.set(tpKey(topic, partition), offset)
        }
        this.logger.info({ partitions: [...keep].sort((a, b) => a - b), restoring: [...this.owned.values()].filter((o) => o.restoring).length }, 'projection: partitions assigned')
        this.changed()
        return starts
      },
      onRevoke: (revoked) => {
        for (const { partition } of revoked) this.owned.delete(partition)
        this.changed()
      },
      eachBatch: async (batch) => {
        const owned = this.owned.get(batch.partition)
        if (!owned) return
        const next = batch.lastOffset + 1
        await this.serial(owned, async () => {
          const stats = await owned.applier.apply(batch.events, next)
          this.eventsApplied += stats.events
          this.commandsSent += stats.commands
        })
        owned.offset = next
        owned.end = Math.max(owned.end, batch.highWatermark)
        if (owned.restoring && next >= owned.end) {
          owned.restoring = false
          this.logger.info({ partition: batch.partition, offset: next }, 'projection: partition restored')
          this.changed()
        }
      },
    })
    const tick = this.options.settleTickMs ?? 30_000
    this.settleTimer = setInterval(() => void this.settleAll(), tick)
    this.settleTimer.unref()
  }

  private applierOptions() {
    const { events, topics } = this.options
    return {
      rules: this.options.rules,
      rulesWith: this.options.rulesWith,
      settleMs: this.options.settleMs ?? 3_600_000,
      emitCommands: this.options.emitCommands ?? true,
      now: this.options.now ?? Date.now,
      sendCommands: async (commands: EditRequested[]) => {
        await events.append(
          topics.edits,
          commands.map((value) => ({ type: 'EditRequested' as const, value, key: value.wiki })),
        )
      },
    }
  }

  /** One thing at a time per partition: batches and settle ticks touch the same keys. */
  private serial<T>(owned: Owned, fn: () => Promise<T>): Promise<T> {
    const run = owned.queue.then(fn)
    owned.queue = run.catch(() => undefined)
    return run
  }

  async settleAll(): Promise<number> {
    let sent = 0
    for (const owned of this.owned.values()) {
      if (owned.restoring) continue
      try {
        sent += await this.serial(owned, () => owned.applier.settleDue())
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'projection: settle tick failed')
      }
    }
    this.commandsSent += sent
    return sent
  }

  status(): PartitionStatus[] {
    return [...this.owned.entries()]
      .map(([partition, o]) => ({ partition, offset: o.offset, end: o.end, restoring: o.restoring }))
      .sort((a, b) => a.partition - b.partition)
  }

  /** The wikis the link rules know now: configured ones and those the log said were discovered (any partition). */
  rules(): RulesByWiki {
    let best: RulesByWiki = this.options.rules
    for (const o of this.owned.values()) if (o.applier.rules.size > best.size) best = o.applier.rules
    return best
  }

  applier(partition: number): PartitionApplier | undefined {
    return this.owned.get(partition)?.applier
  }

  /** The consumer group's members, what each shared (its HTTP address) and which partitions each holds. */
  async members(): Promise<GroupMember[]> {
    return this.subscription ? this.subscription.members() : []
  }

  /** Settles when the subscription ends (an error in applying stops it). */
  get closed(): Promise<void> {
    return this.subscription?.closed ?? Promise.resolve()
  }

  async stop(): Promise<void> {
    clearInterval(this.settleTimer)
    await this.subscription?.stop()
    await Promise.allSettled([...this.owned.values()].map((o) => o.queue))
  }
}
