import { join, resolve } from 'node:path'
import { wikiApi, type Config } from '../config/schema.js'
import type { EventStore } from '../events/event-log.js'
import type { Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import { PartitionRouter } from '../projections/partition-router.js'
import { Projector } from '../projections/projector.js'
import { readSecret } from '../config/secrets.js'
import { QueryServer } from '../projections/http/query-server.js'
import { DumpMonitor } from '../projections/dump-monitor.js'
import { diffsDirOf } from './sink.js'
import { TitleStore } from '../projections/title-store.js'
import { guardStore } from '../projections/store-check.js'
import { wikiRules } from '../domain/wiki-rules.js'
import { collectProcessMetrics } from '../metrics.js'
import { MediaWikiClient } from '../mediawiki/client.js'
import { TextReader } from '../streams/text-reader.js'
import { DumpJobs, dumpsDirOf } from './dump-jobs.js'
import { interlanguageCodes } from '../sinks/wiki-codes.js'
import type { StatsResponse } from '../projections/http/responses.js'

// The projection side of `mbwa run`: the title store, the projector feeding it from the events topic, and the
// query server. The server listens first (it answers /healthz and a 503 /readyz while partitions restore), so
// its address is known before this member joins the group and shares it.

export class ProjectionService {
  private constructor(
    readonly store: TitleStore,
    readonly projector: Projector,
    readonly server: QueryServer,
    readonly url: string,
    readonly dumps: DumpMonitor | undefined,
    readonly texts: TextReader | undefined,
    private readonly readers: Map<string, MediaWikiClient>,
    private readonly dumpJobs: DumpJobs | undefined,
  ) {}

  static async start(config: Config, events: EventStore, topics: TopicNames, logger: Logger, parts: { sink?: () => Promise<unknown>; sources?: () => StatsResponse['sources'] } = {}): Promise<ProjectionService> {
    const dir = join(resolve(config.dataDir), 'projection')
    // Damage done while mbwa was stopped is found before anything is served; a damaged store is rebuilt from the log.
    await guardStore(dir, logger)
    const store = await TitleStore.open(dir)
    const rules = wikiRules(config)
    const projector = new Projector({
      store,
      events,
      topics,
      groupId: config.log.groupId,
      rules,
      rulesWith: (discovered) => wikiRules(config, discovered),
      settleMs: config.projection.settleMinutes * 60_000,
      emitCommands: config.projection.editCommands,
      maxBatchSize: config.projection.maxBatchSize,
      logger,
    })
    const partitions = await events.log.partitionCount(topics.events)
    const router = events.log.kind === 'kafka' ? new PartitionRouter(projector, topics.events, logger) : undefined
    const dumps = config.dumps.monitor ? new DumpMonitor({ events, topics, groupId: config.log.groupId, checkMs: config.dumps.checkSeconds * 1000, logger, wikis: () => Object.keys(config.wikis) }) : undefined
    const token = config.http.token ? readSecret(config.http.token, 'http.token') : undefined
    if (!token && !isLoopback(config.http.host)) {
      logger.warn({ host: config.http.host }, 'the query endpoint listens beyond loopback with no http.token: anyone who reaches it can read it')
    }
    collectProcessMetrics() // /metrics shows the process too: memory, heap, event loop delay
    // Where each wiki's pages are read, for links on the report pages: the configuration's, then the discovered list's.
    const apis = new Map(Object.entries(config.wikis).flatMap(([code, w]) => (w.api ? [[code, w.api] as const] : [])))
    let discoveredAt = 0
    const apiOf = (wiki: string): string | undefined => {
      if (!apis.has(wiki) && Date.now() - discoveredAt > 60_000) {
        discoveredAt = Date.now()
        const p = projector.owned.keys().next()
        if (!p.done) void store.discovered(p.value).then((list) => list?.forEach((w) => apis.has(w.code) || apis.set(w.code, w.api)))
      }
      return apis.get(wiki) ?? wikiApi(config, wiki)
    }
    const server = new QueryServer({ store, projector, rules, partitions, router, logger, dumps, sink: parts.sink, sources: parts.sources, token, apiOf, logKind: events.log.kind, dumpIntervalMs: config.dumps.intervalHours * 3_600_000, diffsDir: diffsDirOf(config), dumpsDir: dumpsDirOf(config) })
    await server.listen(config.http.host, config.http.port)
    const addr = server.app.server.address()
    const port = typeof addr === 'object' && addr ? addr.port : config.http.port
    const url = config.http.advertisedUrl ?? `http://${config.http.host}:${port}`
    server.self = url
    await projector.start(url)
    await dumps?.start()
    const readers = new Map<string, MediaWikiClient>()
    const texts = config.projection.readTexts ? textReader(config, store, projector, events, topics, readers, logger) : undefined
    texts?.start()
    const dumpJobs = config.dumps.worker ? new DumpJobs(config, events, topics, store, projector, logger) : undefined
    dumpJobs?.start()
    logger.info({ url }, 'query endpoint listening')
    return new ProjectionService(store, projector, server, url, dumps, texts, readers, dumpJobs)
  }

  async stop(): Promise<void> {
    await this.dumpJobs?.stop()
    await this.texts?.stop()
    await Promise.allSettled([...this.readers.values()].map((c) => c.close()))
    await this.dumps?.stop()
    await this.server.close()
    await this.projector.stop()
    await this.store.close()
  }
}

/** The reader of texts cognate reports wait for: a client per wiki (configured, or discovered as the log says). */
function textReader(config: Config, store: TitleStore, projector: Projector, events: EventStore, topics: TopicNames, readers: Map<string, MediaWikiClient>, logger: Logger): TextReader {
  let codes = interlanguageCodes(config)
  const client = async (wiki: string): Promise<MediaWikiClient | undefined> => {
    let c = readers.get(wiki)
    if (c) return c
    let api = config.wikis[wiki]?.api
    if (api === undefined) {
      for (const p of projector.owned.keys()) {
        const listed = (await store.discovered(p)) ?? []
        const found = listed.find((w) => w.code === wiki)
        if (found) {
          api = found.api
          codes = interlanguageCodes(config, [...codes, ...listed.map((w) => w.code)])
          break
        }
      }
    }
    if (api === undefined) return undefined
    c = new MediaWikiClient({ api, contact: config.userAgent.contact, logger, connections: 1 })
    readers.set(wiki, c)
    return c
  }
  return new TextReader({ store, events, topics, partitions: () => projector.owned.keys(), client, codes: () => codes, logger })
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}
