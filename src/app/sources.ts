import { join, resolve } from 'node:path'
import type { Config } from '../config/schema.js'
import type { EventStore } from '../events/event-log.js'
import type { Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import { MediaWikiClient } from '../mediawiki/client.js'
import { CheckpointStore } from '../streams/checkpoints.js'
import { mergeWikis, sitematrixWikis, wikisFromConfig, type DiscoveredWiki } from '../streams/discovery.js'
import { EventStreamsSource } from '../streams/eventstreams.js'
import { RecentChangesPoller } from '../streams/recent-changes.js'
import { SnapshotReader } from '../streams/snapshot.js'
import { SnapshotScheduler } from '../streams/snapshot-scheduler.js'
import type { WikiSource } from '../streams/wiki-source.js'

// Starts the sources the configuration asks for, over the wikis it names (or a sitematrix lists), and stops
// them. Closed wikis are not read: they are never linked to or edited.

export class Sources {
  private readonly clients = new Map<string, MediaWikiClient>()
  private poller: RecentChangesPoller | undefined
  private scheduler: SnapshotScheduler | undefined
  private stream: EventStreamsSource | undefined
  private refreshTimer: NodeJS.Timeout | undefined
  private readonly wikiByDbName = new Map<string, string>()
  wikis: DiscoveredWiki[] = []

  private constructor(
    private readonly config: Config,
    private readonly events: EventStore,
    private readonly topics: TopicNames,
    private readonly checkpoints: CheckpointStore,
    private readonly logger: Logger,
  ) {}

  static async start(config: Config, events: EventStore, topics: TopicNames, logger: Logger): Promise<Sources> {
    const checkpoints = await CheckpointStore.open(join(resolve(config.dataDir), 'sources'))
    const sources = new Sources(config, events, topics, checkpoints, logger)
    await sources.refreshWikis()
    sources.startAll()
    const sm = config.discovery.sitematrix
    if (sm.enabled) {
      sources.refreshTimer = setInterval(() => {
        void sources.refreshWikis().then(async (changed) => {
          if (changed) await sources.restartPolling()
        })
      }, sm.refreshHours * 3_600_000)
      sources.refreshTimer.unref()
    }
    return sources
  }

  /** Reads the wiki list again; true when it changed. */
  private async refreshWikis(): Promise<boolean> {
    const configured = wikisFromConfig(this.config)
    let wikis = configured
    const sm = this.config.discovery.sitematrix
    if (sm.enabled) {
      const meta = new MediaWikiClient({ api: sm.api, contact: this.config.userAgent.contact, logger: this.logger })
      try {
        wikis = mergeWikis(await sitematrixWikis(meta, sm.family), configured)
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'sitematrix unreadable; keeping the wiki list as it was')
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

  private readable(): WikiSource[] {
    return this.wikis
      .filter((w) => !w.closed)
      .map((w) => {
        let client = this.clients.get(w.code)
        if (!client || client.api.href !== new URL(w.api).href) {
          client = new MediaWikiClient({ api: w.api, contact: this.config.userAgent.contact, logger: this.logger })
          this.clients.set(w.code, client)
        }
        return { code: w.code, client }
      })
  }

  private startAll(): void {
    const { sources } = this.config
    const wikis = this.readable()
    if (wikis.length === 0) {
      this.logger.warn('no wikis to read: add some under `wikis:` or enable discovery.sitematrix (see README)')
    }
    if (sources.recentChanges.enabled && wikis.length > 0) this.startPolling(wikis)
    if (sources.snapshot.enabled) {
      const reader = new SnapshotReader({ events: this.events, topic: this.topics.events, checkpoints: this.checkpoints, logger: this.logger, pageSize: sources.snapshot.pageSize })
      this.scheduler = new SnapshotScheduler(wikis, { reader, checkpoints: this.checkpoints, intervalMs: sources.snapshot.intervalHours * 3_600_000, logger: this.logger })
      this.scheduler.start()
    }
    if (sources.eventStreams.enabled) {
      const es = sources.eventStreams
      this.stream = new EventStreamsSource({
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
        logger: this.logger,
      })
      void this.stream.start()
    }
    this.logger.info(
      { wikis: wikis.map((w) => w.code), recentChanges: sources.recentChanges.enabled, snapshot: sources.snapshot.enabled, eventStreams: sources.eventStreams.enabled },
      'sources started',
    )
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
    })
    this.poller.start()
  }

  private async restartPolling(): Promise<void> {
    const wikis = this.readable()
    this.scheduler?.setWikis(wikis)
    if (this.poller) {
      await this.poller.stop()
      this.startPolling(wikis)
    }
    this.logger.info({ wikis: wikis.length }, 'wiki list refreshed')
  }

  async stop(): Promise<void> {
    clearInterval(this.refreshTimer)
    await Promise.allSettled([this.poller?.stop(), this.scheduler?.stop(), this.stream?.stop()])
    await Promise.allSettled([...this.clients.values()].map((c) => c.close()))
    await this.checkpoints.close()
  }
}
