import { createHash } from 'node:crypto'
import { join, resolve } from 'node:path'
import { isWikimediaApi, type Config } from '../config/schema.js'
import type { EventStore } from '../events/event-log.js'
import type { Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import { MediaWikiClient } from '../mediawiki/client.js'
import { CheckpointStore } from '../streams/checkpoints.js'
import { mergeWikis, sitematrixWikis, wikisFromConfig, type DiscoveredWiki } from '../streams/discovery.js'
import { EventStreamsSource, type EventStreamsOptions } from '../streams/eventstreams.js'
import { MbwaError } from '../errors/errors.js'
import { doublingDelay } from '../backoff.js'
import { RecentChangesPoller } from '../streams/recent-changes.js'
import { SnapshotReader } from '../streams/snapshot.js'
import { SnapshotScheduler } from '../streams/snapshot-scheduler.js'
import { WikimediaDumpSource } from '../streams/wikimedia-dumps/dump-source.js'
import type { WikiSource } from '../streams/wiki-source.js'
import { SourceMeter, type SourceName, type SourceStatus } from '../streams/source-meter.js'

// Starts the sources the configuration asks for, over the wikis it names (or a sitematrix lists), and stops
// them. Closed wikis are not read: they are never linked to or edited.

export interface SupervisionOptions {
  maxRestarts: number
  restartBaseMs: number
  /** A source that ran this long before failing starts its count of failures again. */
  healthyMs: number
  /** First wait before reading an unreachable sitematrix again (doubles to an hour). Default 30 s. */
  discoveryRetryMs?: number
  /** Extra options of the EventStreams source (tests: batch sizes, timings). */
  eventStreams?: Partial<EventStreamsOptions>
  /** Events of the log this process's projection has yet to apply: a dumps import waits while it is large. */
  projectionBacklog?: () => number
}

/** A dumps import waits while the projection has more than this many events to apply (about 20 of its batches). */
const IMPORT_BACKLOG = 100_000

const ANNOUNCED_EDITS_KEY = 'discovery:announced:edits'
const ANNOUNCED_KEY = 'discovery:announced'

export class Sources {
  private readonly clients = new Map<string, MediaWikiClient>()
  private poller: RecentChangesPoller | undefined
  private scheduler: SnapshotScheduler | undefined
  private stream: EventStreamsSource | undefined
  private refreshTimer: NodeJS.Timeout | undefined
  private restartTimer: NodeJS.Timeout | undefined
  private streamFailures = 0
  /** Times the EventStreams source failed and was handled (restarted, or given up on). */
  streamRestarts = 0
  private stopping = false
  private readonly wikiByDbName = new Map<string, string>()
  wikis: DiscoveredWiki[] = []
  /** Per source: what reached the log (kept across restarts) and how it is doing now. */
  readonly meters: Record<SourceName, SourceMeter> = {
    eventstreams: new SourceMeter('eventstreams'),
    recentchanges: new SourceMeter('recentchanges'),
    snapshot: new SourceMeter('snapshot'),
    discovery: new SourceMeter('discovery'),
  }
  private lastDiscoveryAt: number | null = null
  private discovered: DiscoveredWiki[] = []
  private wakeDiscovery: () => void = () => undefined
  /** Rejects when a source failed for good (restarted `maxRestarts` times in a row): `mbwa run` stops with it. */
  readonly closed: Promise<void>
  private failForGood: (err: unknown) => void = () => undefined

  private constructor(
    private readonly config: Config,
    private readonly events: EventStore,
    private readonly topics: TopicNames,
    private readonly checkpoints: CheckpointStore,
    private readonly logger: Logger,
    private readonly supervision: SupervisionOptions,
  ) {
    this.closed = new Promise<void>((_, reject) => (this.failForGood = reject))
    this.closed.catch(() => undefined) // observed by whoever waits on it; never an unhandled rejection
  }

  static async start(config: Config, events: EventStore, topics: TopicNames, logger: Logger, supervision: Partial<SupervisionOptions> = {}): Promise<Sources> {
    const checkpoints = await CheckpointStore.open(join(resolve(config.dataDir), 'sources'))
    const sources = new Sources(config, events, topics, checkpoints, logger, { maxRestarts: 5, restartBaseMs: 1000, healthyMs: 10 * 60_000, ...supervision })
    for (const meter of Object.values(sources.meters)) await meter.load(checkpoints)
    sources.meters.eventstreams.enabled = config.sources.eventStreams.enabled
    sources.meters.recentchanges.enabled = config.sources.recentChanges.enabled
    // Snapshots come from the API, or from Wikimedia's dumps for the wikis those feed (auto: Wikimedia's).
    const wd = config.sources.wikimediaDumps.enabled
    sources.meters.snapshot.enabled = config.sources.snapshot.enabled || wd === true || (wd === 'auto' && (wikisFromConfig(config).some((w) => isWikimediaApi(w.api)) || (config.discovery.sitematrix.enabled && isWikimediaApi(config.discovery.sitematrix.api))))
    sources.meters.discovery.enabled = config.discovery.sitematrix.enabled
    // The configured wikis now; the sitematrix's in the background, so that neither a slow nor an unreachable
    // meta wiki keeps mbwa from starting (its endpoint answers /healthz meanwhile).
    await sources.refreshWikis(false)
    sources.startAll()
    if (config.discovery.sitematrix.enabled) void sources.discoverLoop()
    return sources
  }

  /**
   * Reads the sitematrix on the discovery schedule, for as long as mbwa runs. When it cannot be reached it says so
   * once, clearly, and tries again with a backoff (30 s doubling to an hour); then every `refreshHours`.
   */
  private async discoverLoop(): Promise<void> {
    const sm = this.config.discovery.sitematrix
    const retryMs = this.supervision.discoveryRetryMs ?? 30_000
    let failures = 0
    while (!this.stopping) {
      const before = this.lastDiscoveryAt
      const changed = await this.refreshWikis(true).catch(() => false)
      if (this.stopping) return
      const ok = this.lastDiscoveryAt !== before
      if (changed) await this.restartPolling()
      let wait: number
      if (ok) {
        if (failures > 0) this.logger.info({ api: sm.api, failures }, 'discovery: the sitematrix answers again')
        failures = 0
        wait = sm.refreshHours * 3_600_000
      } else {
        failures++
        const backoff = doublingDelay(failures, retryMs, 3_600_000)
        if (failures === 1) {
          this.logger.warn({ api: sm.api, err: this.meters.discovery.lastError?.message, retryInSeconds: Math.round(backoff / 1000) }, `discovery: cannot reach the sitematrix at ${sm.api}; following the configured wikis (${this.wikis.length}) and trying again with a backoff`)
        } else this.logger.debug({ api: sm.api, failures, retryInSeconds: Math.round(backoff / 1000) }, 'discovery: sitematrix still unreachable')
        wait = backoff
      }
      await new Promise<void>((resolve) => {
        this.refreshTimer = setTimeout(resolve, wait)
        this.refreshTimer.unref()
        this.wakeDiscovery = resolve
      })
    }
  }

  /** Reads the wiki list again (the sitematrix too when `discover`); true when it changed. */
  private async refreshWikis(discover: boolean): Promise<boolean> {
    const configured = wikisFromConfig(this.config)
    let wikis = discover ? mergeWikis(this.discovered, configured) : configured
    const sm = this.config.discovery.sitematrix
    if (sm.enabled && discover) {
      // No retries of its own: the discovery loop retries with its backoff and says once what failed.
      const meta = new MediaWikiClient({ api: sm.api, contact: this.config.userAgent.contact, logger: this.logger, retry: { retries: 0 } })
      try {
        const found = await sitematrixWikis(meta, sm.family)
        this.discovered = found
        wikis = mergeWikis(found, configured)
        await this.announce(found)
        this.meters.discovery.connected = true
        this.lastDiscoveryAt = Date.now()
      } catch (err) {
        this.meters.discovery.connected = false
        this.meters.discovery.failed(err)
        if (this.wikis.length > 0) return false
      } finally {
        await meta.close()
      }
    }
    const before = JSON.stringify(this.wikis)
    this.wikis = wikis
    this.wikiByDbName.clear()
    for (const w of wikis) if (!w.closed) this.wikiByDbName.set(w.dbname, w.code)
    return before !== JSON.stringify(wikis)
  }

  /**
   * Puts the discovered list in the log when it changed (a WikisDiscovered per partition): each projector takes
   * it into its link rules at that point of its log, so a replay decides the same, and a wiki that appears or
   * closes changes the rules without a restart.
   */
  private async announce(found: DiscoveredWiki[]): Promise<void> {
    const wikis = found.map((w) => ({ code: w.code, dbname: w.dbname, api: w.api, closed: w.closed }))
    const digest = createHash('sha256').update(JSON.stringify(wikis)).digest('hex').slice(0, 16)
    const family = this.config.discovery.sitematrix.family
    const observedAt = Date.now()
    // The same list on the edits topic, for the sink: its rules are the projection's (the configuration and
    // these facts), and its commands come in the same topic, after the list they were judged with.
    if ((await this.checkpoints.get<string>(ANNOUNCED_EDITS_KEY)) !== digest) {
      await this.events.appendToEveryPartition(this.topics.edits, 'WikisDiscovered', (partition) => ({ id: `discovery:${family}:${digest}:edits:${partition}`, source: 'discovery', observedAt, partition, family, wikis }))
      await this.checkpoints.putAll([[ANNOUNCED_EDITS_KEY, digest]])
    }
    if ((await this.checkpoints.get<string>(ANNOUNCED_KEY)) === digest) return
    const markers = await this.events.appendToEveryPartition(this.topics.events, 'WikisDiscovered', (partition) => ({ id: `discovery:${family}:${digest}:${partition}`, source: 'discovery', observedAt, partition, family, wikis }))
    this.meters.discovery.appended(markers.length, observedAt)
    await this.checkpoints.putAll([[ANNOUNCED_KEY, digest], this.meters.discovery.entry()])
    this.logger.info({ family, wikis: wikis.length, closed: wikis.filter((w) => w.closed).length }, 'discovery: the wiki list changed; announced to the projection')
  }

  private readable(): WikiSource[] {
    return this.wikis
      .filter((w) => !w.closed)
      .map((w) => {
        let client = this.clients.get(w.code)
        if (!client || client.api.href !== new URL(w.api).href) {
          client = new MediaWikiClient({ api: w.api, contact: this.config.userAgent.contact, logger: this.logger })
          this.clients.set(w.code, client)
        }
        return { code: w.code, client, dbname: w.dbname }
      })
  }

  private startAll(): void {
    const { sources } = this.config
    const wikis = this.readable()
    if (wikis.length === 0 && !this.config.discovery.sitematrix.enabled) {
      this.logger.warn('no wikis to read: add some under `wikis:` or enable discovery.sitematrix (see README)')
    }
    if (sources.recentChanges.enabled) this.startPolling(wikis)
    const wd = sources.wikimediaDumps
    if (sources.snapshot.enabled || wd.enabled === true) {
      const meter = this.meters.snapshot
      const reader = new SnapshotReader({ events: this.events, topic: this.topics.events, checkpoints: this.checkpoints, logger: this.logger, pageSize: sources.snapshot.pageSize, meter })
      // The dumps make the snapshots of the wikis they feed (auto: Wikimedia's); the API those of the others.
      const dumps =
        wd.enabled === false
          ? undefined
          : { source: new WikimediaDumpSource({ config: this.config, events: this.events, topic: this.topics.events, checkpoints: this.checkpoints, logger: this.logger, meter, pace: this.pace() }), checkEveryMs: wd.checkHours * 3_600_000, fallbackAfterMs: wd.fallbackAfterDays * 86_400_000 }
      this.scheduler = new SnapshotScheduler(wikis, { reader, checkpoints: this.checkpoints, intervalMs: sources.snapshot.intervalHours * 3_600_000, logger: this.logger, meter, dumps, api: sources.snapshot.enabled })
      this.scheduler.start()
      meter.connected = true
    }
    if (sources.eventStreams.enabled) this.startStream()
    this.logger.info(
      { wikis: wikis.map((w) => w.code), recentChanges: sources.recentChanges.enabled, snapshot: sources.snapshot.enabled, wikimediaDumps: wd.enabled, eventStreams: sources.eventStreams.enabled },
      'sources started',
    )
  }

  /** Waits while the projection's backlog is over IMPORT_BACKLOG (never while stopping). */
  private pace(): (() => Promise<void>) | undefined {
    const backlog = this.supervision.projectionBacklog
    if (!backlog) return undefined
    return async () => {
      while (!this.stopping && backlog() > IMPORT_BACKLOG) await new Promise((r) => setTimeout(r, 100))
    }
  }

  /**
   * The EventStreams source, supervised: it stops when an append fails (nothing after that may be stored as
   * done), and is started again after a backoff that doubles, from the position stored with what was appended.
   * After `maxRestarts` failures in a row (no append succeeded, none ran `healthyMs`, in between), the sources
   * fail for good.
   */
  private startStream(): void {
    const es = this.config.sources.eventStreams
    const stream = new EventStreamsSource({
      url: es.url,
      streams: es.streams,
      events: this.events,
      topic: this.topics.events,
      deadLetterTopic: this.topics.deadLetter,
      checkpoints: this.checkpoints,
      wikiByDbName: this.wikiByDbName,
      contact: this.config.userAgent.contact,
      since: Date.now() - es.sinceHours * 3_600_000,
      idleTimeoutMs: es.idleTimeoutSeconds * 1000,
      meter: this.meters.eventstreams,
      logger: this.logger,
      ...this.supervision.eventStreams,
    })
    this.stream = stream
    const startedAt = Date.now()
    // A start that cannot read its position fails the source (stream.failed, below), like a failed append.
    void stream.start()
    void stream.failed.then((err) => {
      if (this.stopping) return
      // In a row: a source that appended something, or ran long enough, before failing starts the count again.
      if (stream.stats.flushes > 0 || Date.now() - startedAt >= this.supervision.healthyMs) this.streamFailures = 0
      this.streamFailures++
      this.streamRestarts++
      this.meters.eventstreams.failed(err)
      if (this.streamFailures > this.supervision.maxRestarts) {
        this.logger.error({ failures: this.streamFailures, err: (err as Error)?.message }, 'eventstreams: failed again and again; giving up')
        this.failForGood(new MbwaError('MBWA_SOURCE_FAILED', `the EventStreams source failed ${this.streamFailures} times in a row: ${(err as Error)?.message}`, { source: 'eventstreams' }, { cause: err }))
        return
      }
      const wait = doublingDelay(this.streamFailures, this.supervision.restartBaseMs, 60_000)
      this.logger.warn({ failures: this.streamFailures, waitMs: wait }, 'eventstreams: restarting the source after a failure')
      this.restartTimer = setTimeout(() => this.startStream(), wait)
    })
  }

  private startPolling(wikis: WikiSource[]): void {
    const rc = this.config.sources.recentChanges
    this.poller = new RecentChangesPoller(wikis, {
      events: this.events,
      topic: this.topics.events,
      checkpoints: this.checkpoints,
      logger: this.logger,
      minIntervalMs: rc.minIntervalSeconds * 1000,
      maxIntervalMs: rc.maxIntervalSeconds * 1000,
      initialIntervalMs: rc.initialIntervalSeconds * 1000,
      lookbackMs: rc.lookbackHours * 3_600_000,
      meter: this.meters.recentchanges,
    })
    this.poller.start()
  }

  private async restartPolling(): Promise<void> {
    const wikis = this.readable()
    this.scheduler?.setWikis(wikis)
    if (this.poller) {
      await this.poller.stop()
      if (this.stopping) return
      this.startPolling(wikis)
    }
    this.logger.info({ wikis: wikis.length }, 'wiki list refreshed')
  }

  /** Each source's status, for /v1/stats, /metrics and `mbwa status`. */
  status(): { sources: SourceStatus[]; wikis: { total: number; closed: number; discoveredAt: number | null } } {
    return {
      sources: Object.values(this.meters).map((m) => m.status()),
      wikis: { total: this.wikis.length, closed: this.wikis.filter((w) => w.closed).length, discoveredAt: this.lastDiscoveryAt },
    }
  }

  /** The EventStreams source now (a new one after each restart), for its counters. */
  get eventStreams(): EventStreamsSource | undefined {
    return this.stream
  }

  async stop(): Promise<void> {
    this.stopping = true
    clearTimeout(this.refreshTimer)
    this.wakeDiscovery()
    clearTimeout(this.restartTimer)
    await Promise.allSettled([this.poller?.stop(), this.scheduler?.stop(), this.stream?.stop()])
    for (const meter of Object.values(this.meters)) meter.connected = false
    await Promise.allSettled([...this.clients.values()].map((c) => c.close()))
    await this.checkpoints.close()
  }
}
