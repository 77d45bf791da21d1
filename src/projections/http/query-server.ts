import { createHash, timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { MbwaError } from '../../errors/errors.js'
import { ILLEGAL_TITLE_CHARS, normaliseTitle } from '../../events/titles.js'
import { silentLogger, type Logger } from '../../logging.js'
import type { TitleStore } from '../title-store.js'
import { REPORT_KINDS } from '../report-rows.js'
import type { PartitionRouter } from '../partition-router.js'
import type { Projector } from '../projector.js'
import type { DumpMonitor } from '../dump-monitor.js'
import type { RulesByWiki } from '../../domain/wiki-rules.js'
import { directoryBytes, fail, MAX_TITLE_BYTES } from './http-util.js'
import { registerProbeRoutes } from './probes.js'
import { registerTitleRoutes } from './titles.js'
import { registerWikiRoutes } from './wikis.js'
import { registerReportPages } from './report-html.js'
import { registerDumpRoutes } from './dumps.js'
import { FanOut } from './fan-out.js'
import { sharedSchemas } from './schemas.js'
import type { StatsResponse } from './responses.js'

// The read-only HTTP query endpoint over the title store (fastify). Any member answers any title: a title whose
// partition another member holds is forwarded to it (once; a forwarded request is never forwarded again).
// Bad input gets a 4xx with a JSON error; there are no write routes.


export interface QueryServerOptions {
  store: TitleStore
  projector: Projector
  rules: RulesByWiki
  /** Partitions of the events topic. */
  partitions: number
  /** Present in a consumer group; absent (all partitions local) on the embedded log. */
  router?: PartitionRouter
  /** The dump monitor, for /v1/dumps and /dumps. */
  dumps?: DumpMonitor
  /** The edit sink's state (waiting commands, wikis it stopped writing to), for /v1/stats. */
  sink?: () => Promise<unknown>
  /** The sources' status (this process's sources: EventStreams, recent changes, snapshots, discovery). */
  sources?: () => StatsResponse['sources']
  /**
   * A bearer token every request must carry (http.token), but the liveness and readiness probes; forwarded
   * queries between members carry it too.
   */
  token?: string
  logger?: Logger
  /** A wiki's Action API URL (configured or discovered), for links to its pages. */
  apiOf?: (wiki: string) => string | undefined
  /** dumps.intervalHours in ms: when each wiki's next dump is due (the dumps page). */
  dumpIntervalMs?: number
  /** Which log this member reads (for the index page). */
  logKind?: string
  /** Where this deployment's sink keeps its dry-run diffs, a file per wiki (the diffs pages). */
  diffsDir?: string
  /** The dump folder (dumps.dir): its public dumps can be downloaded from the dumps page. */
  dumpsDir?: string
}

export class QueryServer {
  readonly app: FastifyInstance
  readonly fanOut: FanOut = new FanOut(this)
  /** The address this member shares with the group (what others forward to). */
  self: string | undefined
  /** Scans of the store for a digest so far (the cache keeps repeated requests from scanning again). */
  digestScans = 0
  private digestRun: Promise<unknown> = Promise.resolve()
  private digestCache: { key: string; value: { sum: string; pages: number; partitions: number[] } } | undefined
  private readonly logger: Logger

  constructor(readonly options: QueryServerOptions) {
    this.logger = options.logger ?? silentLogger
    this.app = Fastify({
      logger: false,
      routerOptions: { maxParamLength: 4096 },
      bodyLimit: 1024,
      return503OnClosing: true,
      // Malformed URLs (bad percent-encoding) and the like, before any route: JSON errors like ours.
      frameworkErrors: (err, _req, reply) => {
        void (reply as FastifyReply).code(400).send({ error: { code: 'MBWA_BAD_REQUEST', message: err.message } })
      },
    })
    for (const schema of sharedSchemas(options.partitions)) this.app.addSchema(schema)
    this.guard()
    registerProbeRoutes(this)
    registerTitleRoutes(this)
    registerWikiRoutes(this)
    registerReportPages(this)
    registerDumpRoutes(this)
  }

  async listen(host: string, port: number): Promise<string> {
    return this.app.listen({ host, port })
  }

  async close(): Promise<void> {
    await this.app.close()
  }

  isLocal(partition: number): boolean {
    return this.options.projector.owned.has(partition)
  }

  /** The bearer token (when one is set), errors as JSON, and 404/405 for what is not a route: before any route. */
  private guard(): void {
    const app = this.app
    const token = this.options.token
    if (token) {
      // Digests are compared, not the strings: equal lengths whatever was sent, so not even the token's length leaks.
      const expected = createHash('sha256').update(`Bearer ${token}`).digest()
      app.addHook('onRequest', async (req) => {
        const path = req.url.split('?')[0]
        if (path === '/healthz' || path === '/readyz') return
        const given = createHash('sha256').update(String(req.headers.authorization ?? '')).digest()
        // Compared in constant time; neither the token nor what was sent appears in the answer or the log.
        if (!timingSafeEqual(given, expected)) fail('MBWA_UNAUTHORIZED', 'this endpoint needs Authorization: Bearer <http.token>')
      })
    }

    app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
      if (err instanceof MbwaError) {
        return reply.status(err.status ?? 500).send({ error: err.toJSON() })
      }
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
      if (status === 500) this.logger.error({ err: err.message, stack: err.stack }, 'query server error')
      return reply.status(status).send({ error: { code: status === 500 ? 'MBWA_INTERNAL' : 'MBWA_BAD_REQUEST', message: status === 500 ? 'internal error' : err.message } })
    })
    app.setNotFoundHandler((req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return reply.status(405).header('allow', 'GET, HEAD').send({ error: { code: 'MBWA_METHOD_NOT_ALLOWED', message: 'the query endpoint is read-only: GET and HEAD only' } })
      }
      return reply.status(404).send({ error: { code: 'MBWA_NOT_FOUND', message: `no route ${req.url.split('?')[0]}` } })
    })
  }


  /** One member's status: the projection, its sources, sink and dumps (/v1/stats, /metrics, `mbwa status`). */
  async stats(): Promise<StatsResponse> {
    const { projector, store } = this.options
    const status = projector.status()
    return {
      // Since this process started; the stored offsets (eventsInStore) are what the store holds of the log.
      eventsApplied: projector.eventsApplied,
      eventsInStore: status.reduce((n, s) => n + s.offset, 0),
      commandsSent: projector.commandsSent,
      partitions: status.map((s) => ({ ...s, lag: Math.max(0, s.end - s.offset) })),
      partitionCount: this.options.partitions,
      lag: status.reduce((n, s) => n + Math.max(0, s.end - s.offset), 0),
      members: this.options.router?.addresses() ?? [],
      storeBytes: directoryBytes(store.path),
      snapshotFailures: this.snapshotFailures(),
      reports: this.reportCounts(),
      sources: this.options.sources ? this.options.sources() : null,
      sink: this.options.sink ? await this.options.sink() : null,
      dumps: this.options.dumps ? this.options.dumps.status() : null,
      at: new Date().toISOString(),
    }
  }

  /** A cursor of the discrepancy pages, as this endpoint gave it out (a bad one is a 400). */
  cursorOf(raw: string | undefined): { p: number; after?: string } {
    if (raw === undefined) return { p: 0 }
    try {
      const cursor = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { p: number; after?: string }
      if (!Number.isInteger(cursor.p) || cursor.p < 0 || cursor.p >= this.options.partitions) throw new Error('partition')
      if (cursor.after !== undefined && typeof cursor.after !== 'string') throw new Error('after')
      return cursor
    } catch {
      fail('MBWA_BAD_REQUEST', 'cursor is not one this endpoint gave out')
    }
  }

  /** A wiki and report kind of a /reports request, checked. */
  reportQuery(wiki: string, kind: string | undefined): { wiki: string; kind: string | undefined } {
    if (!this.options.projector.rules().has(wiki)) fail('MBWA_NOT_FOUND', `no wiki ${JSON.stringify(wiki)} configured or discovered`, { wiki })
    if (kind !== undefined && !(REPORT_KINDS as readonly string[]).includes(kind)) fail('MBWA_BAD_REQUEST', `kind must be one of ${REPORT_KINDS.join(', ')}`, { kind })
    return { wiki, kind }
  }

  missingQuery(q: { minWikis?: number | string; limit?: number | string; cursor?: string; after?: string }): { minWikis: number; limit: number; after: string | undefined } {
    const minWikis = q.minWikis === undefined ? 3 : Number(q.minWikis)
    if (!Number.isInteger(minWikis) || minWikis < 2 || minWikis > 99_999) fail('MBWA_BAD_REQUEST', 'minWikis must be an integer of 2 or more (titles on a single other wiki are not listed)')
    const limit = q.limit === undefined ? 100 : Number(q.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) fail('MBWA_BAD_REQUEST', 'limit must be an integer from 1 to 1000')
    let after: string | undefined
    if (q.cursor !== undefined) {
      after = Buffer.from(q.cursor, 'base64url').toString('utf8')
      if (after.charCodeAt(5) !== 0 || !/^\d{5}$/.test(after.slice(0, 5))) fail('MBWA_BAD_REQUEST', 'cursor is not one this endpoint gave out')
    }
    if (q.after !== undefined) after = q.after
    return { minWikis, limit, after }
  }

  /** When the wiki's last snapshot completed, in this member's partitions. */
  lastSnapshot(wiki: string): number | null {
    let last: number | null = null
    for (const owned of this.options.projector.owned.values()) {
      const m = owned.applier.snapshotMarks[wiki]
      if (m && (last === null || m.completedAt > last)) last = m.completedAt
    }
    return last
  }

  /** Entries of the discrepancy index of this member's partitions, per wiki and kind (zeros left out). */
  reportCounts(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {}
    for (const owned of this.options.projector.owned.values()) {
      for (const [key, n] of owned.applier.entryCounts) {
        if (n <= 0) continue
        const [wiki, kind] = key.split('\0') as [string, string]
        const kinds = (out[wiki] ??= {})
        kinds[kind] = (kinds[kind] ?? 0) + n
      }
    }
    return out
  }

  /** Failed snapshot attempts in a row per wiki, as this member's partitions' logs say (the highest of them). */
  snapshotFailures(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const owned of this.options.projector.owned.values()) for (const [wiki, n] of owned.applier.snapshotFailures) out[wiki] = Math.max(out[wiki] ?? 0, n)
    return out
  }

  /**
   * This member's digest: one scan at a time, whatever the number of requests, and kept for as long as no
   * partition moves (the offsets it was computed at are its key).
   */
  localDigest(): Promise<{ sum: string; pages: number; partitions: number[] }> {
    const { projector, store } = this.options
    const key = () => JSON.stringify(projector.status().map((x) => [x.partition, x.offset]).sort((a, b) => a[0]! - b[0]!))
    const run = this.digestRun.then(async () => {
      const at = key()
      if (this.digestCache?.key === at) return this.digestCache.value
      const partitions = [...projector.owned.keys()].sort((a, b) => a - b)
      const d = await store.digest(partitions)
      const value = { sum: d.sum.toString(16), pages: d.pages, partitions }
      // Only an answer whose offsets did not move during the scan is kept.
      if (key() === at) this.digestCache = { key: at, value }
      this.digestScans++
      return value
    })
    this.digestRun = run.catch(() => undefined)
    return run
  }

  validTitle(raw: string): string {
    const title = normaliseTitle(raw)
    if (title === '') fail('MBWA_BAD_REQUEST', 'the title is empty')
    if (Buffer.byteLength(title, 'utf8') > MAX_TITLE_BYTES) fail('MBWA_BAD_REQUEST', `a title is at most ${MAX_TITLE_BYTES} bytes`)
    if (ILLEGAL_TITLE_CHARS.test(title)) fail('MBWA_BAD_REQUEST', 'the title has characters MediaWiki does not allow in titles')
    return title
  }

}

