import { createHash, timingSafeEqual } from 'node:crypto'
import { createReadStream, readdirSync, statSync } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { request as undiciRequest } from 'undici'
import { MbwaError, type ErrorCode } from '../errors/errors.js'
import { ILLEGAL_TITLE_CHARS, normaliseTitle, titleKey } from '../events/titles.js'
import { silentLogger, type Logger } from '../logging.js'
import { partitionForKey } from '../log/partitioner.js'
import { metricsRegistry, setStatusMetrics, type StatusForMetrics } from '../metrics.js'
import { digestHex, type DiscrepancyItem, type MissingItem, type TitleStore } from './title-store.js'
import { diffsPage, indexPage, missingPage, reportsPage, wikiReportsPage } from './report-pages.js'
import { pageUrl } from '../domain/page-url.js'
import { safeWikiCode } from '../domain/wiki-code.js'
import { REPORT_KINDS, reportRows, toCsv } from './report-rows.js'
import { PACKAGE_VERSION } from '../paths.js'
import type { PartitionRouter } from './partition-router.js'
import type { Projector } from './projector.js'
import { dumpStatusPage, type DumpMonitor } from './dump-monitor.js'
import { keys as storeKeys } from './title-store.js'
import { decodeTitleRecord } from './title-record-codec.js'
import type { RulesByWiki } from '../domain/wiki-rules.js'

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
  sources?: () => unknown
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

/** A time as the API gives every time: ISO 8601 in UTC. */
function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString()
}

/** A title's pages as JSON shows them: the same fields, their times (observedAt, changedAt, createdAt) in ISO 8601. */
function withIsoTimes(pages: Record<string, { observedAt: number; changedAt: number; createdAt: number | null }>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [w, p] of Object.entries(pages)) out[w] = { ...p, observedAt: iso(p.observedAt), changedAt: iso(p.changedAt), createdAt: iso(p.createdAt) }
  return out
}

/** The path of a public dump file of `wiki` in `dir`, when the name is one the dump worker makes and it is there. */
function localDumpFile(dir: string, wiki: string, name: string): string | undefined {
  if (!/^[a-z0-9-]{1,40}$/.test(wiki) || !/^[a-z0-9-]{1,40}-[0-9TZ-]+\.mbwa\.gz$/.test(name) || !name.startsWith(`${wiki}-`)) return undefined
  const path = join(dir, 'public', safeWikiCode(wiki), name)
  try {
    return statSync(path).isFile() ? path : undefined
  } catch {
    return undefined
  }
}

const MAX_TITLE_BYTES = 255
const KINDS = ['missing', 'remove', 'stale-missing', 'stale-other-title', 'redundant', 'invalid-code', 'langlinks-outdated'] as const
const FORWARDED = 'x-mbwa-forwarded'

/** Bytes of the files in a directory (a LevelDB store: a flat folder). */
export function directoryBytes(dir: string): number {
  let total = 0
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) total += statSync(join(dir, entry.name), { throwIfNoEntry: false })?.size ?? 0
    }
  } catch {
    return 0
  }
  return total
}

function fail(code: ErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new MbwaError(code, message, details)
}

export class QueryServer {
  readonly app: FastifyInstance
  /** The address this member shares with the group (what others forward to). */
  self: string | undefined
  /** Scans of the store for a digest so far (the cache keeps repeated requests from scanning again). */
  digestScans = 0
  private digestRun: Promise<unknown> = Promise.resolve()
  private digestCache: { key: string; value: { sum: string; pages: number; partitions: number[] } } | undefined
  private readonly logger: Logger

  constructor(private readonly options: QueryServerOptions) {
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
    this.routes()
  }

  async listen(host: string, port: number): Promise<string> {
    return this.app.listen({ host, port })
  }

  async close(): Promise<void> {
    await this.app.close()
  }

  private isLocal(partition: number): boolean {
    return this.options.projector.owned.has(partition)
  }

  private routes(): void {
    const app = this.app
    const { store, projector } = this.options

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

    app.get('/healthz', async () => ({ status: 'ok' }))

    app.get('/readyz', async (_req, reply) => {
      const status = projector.status()
      const restoring = status.filter((s) => s.restoring).map((s) => s.partition)
      const ready = status.length > 0 && restoring.length === 0
      return reply.status(ready ? 200 : 503).send({ ready, partitions: status.map((s) => s.partition), restoring })
    })

    app.get('/metrics', async (_req, reply) => {
      setStatusMetrics((await this.stats()) as unknown as StatusForMetrics)
      return reply.header('content-type', metricsRegistry.contentType).send(await metricsRegistry.metrics())
    })

    // The rest of the path is the title, slashes and all (`and/or`: many Wiktionary titles have one; %2F works too).
    app.get<{ Params: { '*': string } }>('/v1/titles/*', async (req, reply) => {
      const title = this.validTitle(req.params['*'])
      const key = titleKey(title)
      const partition = partitionForKey(key, this.options.partitions)
      if (!this.isLocal(partition)) return this.forward(req, reply, partition)
      const owned = projector.owned.get(partition)!
      if (owned.restoring) fail('MBWA_RESTORING', `partition ${partition} is being restored`, { partition })
      const { pages, pending } = await store.titleWithPending(partition, key)
      const verdict = owned.applier.verdict(key, pages, (await owned.applier.spellingsOf([key])).get(key))
      return {
        title: key,
        partition,
        wikis: withIsoTimes(pages),
        linkSet: verdict.linkSet,
        complete: verdict.complete,
        incomplete: verdict.incomplete,
        pages: verdict.pages,
        pendingEdits: Object.fromEntries(Object.entries(pending).map(([w, c]) => [w, { ...c, requestedAt: iso(c.requestedAt) }])),
      }
    })

    app.get('/v1/wikis', async (req) => {
      const local = (req.query as { local?: string }).local === '1'
      const parts = await this.gather(req, local, async () => {
        const out: Record<string, { titles: number; lastSnapshot: number | null; lag: number; snapshotFailures: number }> = {}
        const failures = this.snapshotFailures()
        for (const owned of projector.owned.values()) {
          const lag = Math.max(0, owned.end - owned.offset)
          for (const code of owned.applier.rules.keys()) {
            const o = (out[code] ??= { titles: 0, lastSnapshot: null, lag: 0, snapshotFailures: 0 })
            o.titles += owned.applier.titleCounts[code] ?? 0
            o.snapshotFailures = failures[code] ?? 0
            const mark = owned.applier.snapshotMarks[code]
            if (mark && (o.lastSnapshot === null || mark.completedAt > o.lastSnapshot)) o.lastSnapshot = mark.completedAt
            o.lag += lag
          }
        }
        return out
      })
      const merged: Record<string, { titles: number; lastSnapshot: number | null; lag: number; snapshotFailures: number }> = {}
      for (const part of parts) {
        for (const [code, v] of Object.entries(part as typeof merged)) {
          const o = (merged[code] ??= { titles: 0, lastSnapshot: null, lag: 0, snapshotFailures: 0 })
          o.titles += v.titles
          o.lag += v.lag
          o.snapshotFailures = Math.max(o.snapshotFailures, v.snapshotFailures ?? 0)
          if (v.lastSnapshot !== null && (o.lastSnapshot === null || v.lastSnapshot > o.lastSnapshot)) o.lastSnapshot = v.lastSnapshot
        }
      }
      return {
        wikis: [...projector.rules().values()].map((r) => ({
          code: r.code,
          linkMode: r.linkMode,
          closed: r.closed,
          locked: r.locked,
          edit: r.edit,
          titles: merged[r.code]?.titles ?? 0,
          lastSnapshot: merged[r.code]?.lastSnapshot ? new Date(merged[r.code]!.lastSnapshot!).toISOString() : null,
          lag: merged[r.code]?.lag ?? 0,
          // Failed snapshot attempts in a row since the wiki's last completed one (SnapshotFailed in the log).
          snapshotFailures: merged[r.code]?.snapshotFailures ?? 0,
        })),
      }
    })

    app.get<{ Params: { wiki: string }; Querystring: Record<string, string | undefined> }>('/v1/wikis/:wiki/discrepancies', async (req, reply) => {
      const { wiki } = req.params
      if (!projector.rules().has(wiki)) fail('MBWA_NOT_FOUND', `no wiki ${wiki} configured or discovered`, { wiki })
      const q = req.query
      const kind = q.kind
      if (kind !== undefined && !(KINDS as readonly string[]).includes(kind)) fail('MBWA_BAD_REQUEST', `kind must be one of ${KINDS.join(', ')}`, { kind })
      const limit = q.limit === undefined ? 100 : Number(q.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) fail('MBWA_BAD_REQUEST', 'limit must be an integer from 1 to 1000')
      const cursor = this.cursorOf(q.cursor)
      // One partition's page, served here or by its owner (internal form: ?partition=).
      if (q.partition !== undefined) {
        const p = Number(q.partition)
        if (!Number.isInteger(p) || p < 0 || p >= this.options.partitions) fail('MBWA_BAD_REQUEST', 'partition out of range')
        if (!this.isLocal(p)) return this.forward(req, reply, p)
        return { items: await store.discrepancies(p, wiki, kind, q.after, limit) }
      }
      const { items, next } = await this.discrepancyPage(wiki, kind, cursor, limit)
      return { wiki, kind: kind ?? null, items: items.map((i) => (i.at === undefined ? i : { ...i, at: iso(i.at) })), cursor: next }
    })

    // "Missing here": titles that are real pages on at least minWikis other wikis and absent on this one, most-present
    // first. Internal form (?partition=): one partition's part, served here or by its owner.
    app.get<{ Params: { wiki: string }; Querystring: Record<string, string | undefined> }>('/v1/wikis/:wiki/missing', async (req, reply) => {
      const { wiki } = this.reportQuery(req.params.wiki, undefined)
      const { minWikis, limit, after } = this.missingQuery(req.query)
      if (req.query.partition !== undefined) {
        const p = Number(req.query.partition)
        if (!Number.isInteger(p) || p < 0 || p >= this.options.partitions) fail('MBWA_BAD_REQUEST', 'partition out of range')
        if (!this.isLocal(p)) return this.forward(req, reply, p)
        return { items: await store.missingHere(p, wiki, minWikis, after, limit) }
      }
      const { items, next } = await this.missingPage(wiki, minWikis, after, limit)
      return { wiki, minWikis, items: items.map(({ title, wikis }) => ({ title, wikis, count: wikis.length })), cursor: next }
    })
    app.get<{ Params: { wiki: string }; Querystring: Record<string, string | undefined> }>('/reports/:wiki/missing', async (req, reply) => {
      const { wiki } = this.reportQuery(req.params.wiki, undefined)
      const { minWikis, limit, after } = this.missingQuery({ ...req.query, limit: req.query.limit ?? '200' })
      const { items, next } = await this.missingPage(wiki, minWikis, after, limit)
      const html = missingPage(wiki, items, { minWikis, next, now: Date.now(), urlOf: (w, t) => pageUrl(this.options.apiOf?.(w), t) })
      return reply.header('content-type', 'text/html; charset=utf-8').send(html)
    })

    // Pages for people (read-only, everything escaped): what this is, the reports of every wiki, one wiki's.
    app.get('/', async (_req, reply) => {
      const status = projector.status()
      const html = indexPage({ version: PACKAGE_VERSION, log: this.options.logKind ?? 'embedded', partitions: this.options.partitions, held: status.length, eventsInStore: status.reduce((a, s) => a + s.offset, 0), wikis: projector.rules().size, members: this.options.router?.addresses() ?? [] })
      return reply.header('content-type', 'text/html; charset=utf-8').send(html)
    })
    app.get('/reports', async (_req, reply) => {
      const counts = this.reportCounts()
      const status = projector.status()
      const wikis = [...projector.rules().keys()].sort().map((wiki) => ({ wiki, counts: counts[wiki] ?? {}, lastSnapshot: this.lastSnapshot(wiki) }))
      const html = reportsPage(wikis, { eventsInStore: status.reduce((a, s) => a + s.offset, 0), now: Date.now(), partial: status.length < this.options.partitions })
      return reply.header('content-type', 'text/html; charset=utf-8').send(html)
    })
    app.get<{ Params: { wiki: string }; Querystring: Record<string, string | undefined> }>('/reports/:wiki', async (req, reply) => {
      const { wiki, kind } = this.reportQuery(req.params.wiki, req.query.kind)
      const { items, next } = await this.discrepancyPage(wiki, kind, this.cursorOf(req.query.cursor), 100)
      const html = wikiReportsPage(wiki, reportRows(wiki, items, (w) => this.options.apiOf?.(w)), { kind, next, now: Date.now() })
      return reply.header('content-type', 'text/html; charset=utf-8').send(html)
    })
    app.get<{ Params: { wiki: string }; Querystring: Record<string, string | undefined> }>('/reports/:wiki/csv', async (req, reply) => {
      const { wiki, kind } = this.reportQuery(req.params.wiki, req.query.kind)
      const rows = []
      let cursor: { p: number; after?: string } | null = { p: 0 }
      while (cursor && rows.length < 1_000_000) {
        const { items, next }: { items: DiscrepancyItem[]; next: string | null } = await this.discrepancyPage(wiki, kind, cursor, 1000)
        rows.push(...reportRows(wiki, items, (w) => this.options.apiOf?.(w)))
        cursor = next === null ? null : this.cursorOf(next)
      }
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="mbwa-reports-${wiki}${kind ? `-${kind}` : ''}.csv"`)
        .send(toCsv(rows))
    })

    app.get<{ Params: { wiki: string }; Querystring: { format?: string } }>('/reports/:wiki/diffs', async (req, reply) => {
      const { wiki } = this.reportQuery(req.params.wiki, undefined)
      const format = req.query.format
      if (format !== undefined && format !== 'text' && format !== 'html') fail('MBWA_BAD_REQUEST', 'format is text or html')
      const file = this.options.diffsDir ? join(this.options.diffsDir, `${safeWikiCode(wiki)}.diff`) : undefined
      const size = file ? await stat(file).then((s) => s.size, () => undefined) : undefined
      if (format === 'text') {
        if (size === undefined) fail('MBWA_NOT_FOUND', `no dry-run diffs of ${wiki} here`, { wiki })
        return reply.header('content-type', 'text/plain; charset=utf-8').header('content-disposition', `inline; filename="${safeWikiCode(wiki)}.diff"`).send(createReadStream(file!))
      }
      // The newest diffs are at the end; a long file is shown from a line start within its last megabyte.
      const SHOWN = 1 << 20
      let text: string | undefined
      if (size !== undefined) {
        const handle = await open(file!, 'r')
        try {
          const from = Math.max(0, size - SHOWN)
          const buf = Buffer.alloc(size - from)
          await handle.read(buf, 0, buf.length, from)
          text = buf.toString('utf8')
          if (from > 0) text = text.slice(text.indexOf('\n') + 1)
        } finally {
          await handle.close()
        }
      }
      return reply.header('content-type', 'text/html; charset=utf-8').send(diffsPage(wiki, text, { truncated: size !== undefined && size > SHOWN, now: Date.now() }))
    })

    app.get('/v1/dumps', async () => {
      const monitor = this.options.dumps
      if (!monitor) fail('MBWA_NOT_FOUND', 'no dump monitor runs here')
      return { wikis: monitor.status() }
    })

    app.get<{ Querystring: { refresh?: string } }>('/dumps', async (req, reply) => {
      const monitor = this.options.dumps
      if (!monitor) fail('MBWA_NOT_FOUND', 'no dump monitor runs here')
      const refresh = req.query.refresh === undefined ? undefined : Number(req.query.refresh)
      if (refresh !== undefined && !(Number.isFinite(refresh) && refresh >= 1 && refresh <= 3600)) fail('MBWA_BAD_REQUEST', 'refresh is seconds, 1 to 3600')
      const dumpsDir = this.options.dumpsDir
      const fileUrl = dumpsDir ? (wiki: string, path: string) => (localDumpFile(dumpsDir, wiki, basename(path)) ? `/dumps/files/${encodeURIComponent(wiki)}/${encodeURIComponent(basename(path))}` : undefined) : undefined
      const page = dumpStatusPage(monitor.status(), Date.now(), { intervalMs: this.options.dumpIntervalMs, refreshSeconds: refresh, fileUrl })
      return reply.header('content-type', 'text/html; charset=utf-8').send(page)
    })
    // A dump file this member's dump folder holds (dumps.dir/public/WIKI/NAME), for download: names as the dump
    // worker makes them, nothing outside that folder.
    app.get<{ Params: { wiki: string; name: string } }>('/dumps/files/:wiki/:name', async (req, reply) => {
      const { wiki, name } = req.params
      const path = this.options.dumpsDir ? localDumpFile(this.options.dumpsDir, wiki, name) : undefined
      if (!path) fail('MBWA_NOT_FOUND', 'no such dump file here', { wiki, name })
      return reply
        .header('content-type', 'application/gzip')
        .header('content-length', String(statSync(path).size))
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(createReadStream(path))
    })

    // A wiki's pages, one partition at a time, in title order: what dump workers elsewhere read.
    app.get<{ Params: { wiki: string }; Querystring: Record<string, string | undefined> }>('/v1/wikis/:wiki/pages', async (req, reply) => {
      const { wiki } = req.params
      if (!projector.rules().has(wiki)) fail('MBWA_NOT_FOUND', `no wiki ${JSON.stringify(wiki)} configured or discovered`)
      const p = Number(req.query.partition)
      if (!Number.isInteger(p) || p < 0 || p >= this.options.partitions) fail('MBWA_BAD_REQUEST', `partition must be an integer from 0 to ${this.options.partitions - 1}`)
      const limit = req.query.limit === undefined ? 1000 : Number(req.query.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) fail('MBWA_BAD_REQUEST', 'limit must be an integer from 1 to 10000')
      if (!this.isLocal(p)) return this.forward(req, reply, p)
      if (projector.owned.get(p)!.restoring) fail('MBWA_RESTORING', `partition ${p} is being restored`, { partition: p })
      const prefix = storeKeys.titlePrefix(p)
      const after = req.query.after
      const items: { title: string; page: unknown }[] = []
      let last: string | undefined
      for await (const [k, v] of store.db.iterator<string, Buffer>({ ...(after === undefined ? { gte: prefix } : { gt: prefix + after }), lt: storeKeys.end(prefix), valueEncoding: 'buffer' })) {
        last = k.slice(prefix.length)
        const page = decodeTitleRecord(v, last, store.strings).pages[wiki]
        if (page) items.push({ title: last, page })
        if (items.length >= limit) break
      }
      return { partition: p, items, next: items.length >= limit ? last : null }
    })

    app.get('/v1/stats', async () => this.stats())

    app.get('/v1/digest', async (req) => {
      const local = (req.query as { local?: string }).local === '1'
      const parts = (await this.gather(req, local, () => this.localDigest())) as { sum: string; pages: number; partitions: number[] }[]
      let sum = 0n
      let pages = 0
      const partitions: number[] = []
      for (const part of parts) {
        sum = (sum + BigInt('0x' + (part.sum || '0'))) & ((1n << 256n) - 1n)
        pages += part.pages
        partitions.push(...part.partitions)
      }
      partitions.sort((a, b) => a - b)
      return { digest: digestHex(sum), sum: sum.toString(16), pages, partitions, complete: partitions.length === this.options.partitions }
    })
  }

  /** One member's status: the projection, its sources, sink and dumps (/v1/stats, /metrics, `mbwa status`). */
  async stats(): Promise<Record<string, unknown>> {
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
  private cursorOf(raw: string | undefined): { p: number; after?: string } {
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
  private reportQuery(wiki: string, kind: string | undefined): { wiki: string; kind: string | undefined } {
    if (!this.options.projector.rules().has(wiki)) fail('MBWA_NOT_FOUND', `no wiki ${JSON.stringify(wiki)} configured or discovered`, { wiki })
    if (kind !== undefined && !(REPORT_KINDS as readonly string[]).includes(kind)) fail('MBWA_BAD_REQUEST', `kind must be one of ${REPORT_KINDS.join(', ')}`, { kind })
    return { wiki, kind }
  }

  /** One page of a wiki's discrepancy index over every partition (local or forwarded), and the next page's cursor. */
  private async discrepancyPage(wiki: string, kind: string | undefined, cursor: { p: number; after?: string }, limit: number): Promise<{ items: DiscrepancyItem[]; next: string | null }> {
    const items: DiscrepancyItem[] = []
    let p = cursor.p
    let after = cursor.after
    while (p < this.options.partitions && items.length < limit) {
      const want = limit - items.length
      const page = this.isLocal(p) ? await this.options.store.discrepancies(p, wiki, kind, after, want) : await this.remoteDiscrepancies(p, wiki, kind, after, want)
      items.push(...page)
      if (page.length < want) {
        p++ // this partition has no more
        after = undefined
      } else {
        const last = page[page.length - 1]!
        after = kind === undefined ? `${last.kind}\u0000${last.title}` : last.title
      }
    }
    const next = p < this.options.partitions ? Buffer.from(JSON.stringify({ p, after })).toString('base64url') : null
    return { items, next: items.length >= limit ? next : null }
  }

  private missingQuery(q: Record<string, string | undefined>): { minWikis: number; limit: number; after: string | undefined } {
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

  /**
   * One page of a wiki's "missing here" list over every partition: each partition's next entries after the cursor
   * (local, or from its owner), merged most-present first; the cursor is the last entry's position, which orders
   * every partition's entries alike (a title lives in one partition).
   */
  private async missingPage(wiki: string, minWikis: number, after: string | undefined, limit: number): Promise<{ items: MissingItem[]; next: string | null }> {
    const parts = await Promise.all(
      Array.from({ length: this.options.partitions }, async (_, p) => {
        if (this.isLocal(p)) return this.options.store.missingHere(p, wiki, minWikis, after, limit)
        const owner = await this.owner(p)
        const qs = new URLSearchParams({ partition: String(p), limit: String(limit), minWikis: String(minWikis), ...(after !== undefined ? { after } : {}) })
        const res = await undiciRequest(`${owner}/v1/wikis/${encodeURIComponent(wiki)}/missing?${qs}`, { headers: this.forwardHeaders() })
        if (res.statusCode !== 200) throw new MbwaError('MBWA_RESTORING', `partition ${p}: its owner answered ${res.statusCode}`, { partition: p })
        return ((await res.body.json()) as { items: MissingItem[] }).items
      }),
    )
    const all = parts.flat().sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0))
    const items = all.slice(0, limit)
    const more = all.length > limit || parts.some((x) => x.length >= limit)
    return { items, next: more && items.length > 0 ? Buffer.from(items[items.length - 1]!.position).toString('base64url') : null }
  }

  /** When the wiki's last snapshot completed, in this member's partitions. */
  private lastSnapshot(wiki: string): number | null {
    let last: number | null = null
    for (const owned of this.options.projector.owned.values()) {
      const m = owned.applier.snapshotMarks[wiki]
      if (m && (last === null || m.completedAt > last)) last = m.completedAt
    }
    return last
  }

  /** Entries of the discrepancy index of this member's partitions, per wiki and kind (zeros left out). */
  private reportCounts(): Record<string, Record<string, number>> {
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
  private snapshotFailures(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const owned of this.options.projector.owned.values()) for (const [wiki, n] of owned.applier.snapshotFailures) out[wiki] = Math.max(out[wiki] ?? 0, n)
    return out
  }

  /**
   * This member's digest: one scan at a time, whatever the number of requests, and kept for as long as no
   * partition moves (the offsets it was computed at are its key).
   */
  private localDigest(): Promise<{ sum: string; pages: number; partitions: number[] }> {
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

  private forwardHeaders(): Record<string, string> {
    return { [FORWARDED]: '1', ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) }
  }

  private validTitle(raw: string): string {
    const title = normaliseTitle(raw)
    if (title === '') fail('MBWA_BAD_REQUEST', 'the title is empty')
    if (Buffer.byteLength(title, 'utf8') > MAX_TITLE_BYTES) fail('MBWA_BAD_REQUEST', `a title is at most ${MAX_TITLE_BYTES} bytes`)
    if (ILLEGAL_TITLE_CHARS.test(title)) fail('MBWA_BAD_REQUEST', 'the title has characters MediaWiki does not allow in titles')
    return title
  }

  /** This member's part, plus (unless asked for local only) every other member's, via ?local=1. */
  private async gather(req: FastifyRequest, local: boolean, mine: () => Promise<unknown>): Promise<unknown[]> {
    const own = await mine()
    const router = this.options.router
    if (local || !router || req.headers[FORWARDED]) return [own]
    await router.refresh()
    const self = this.self
    const others = router.addresses().filter((a) => a !== self)
    const path = req.url.split('?')[0]!
    const remote = await Promise.all(
      others.map(async (base) => {
        const res = await undiciRequest(`${base}${path}?local=1`, { headers: this.forwardHeaders(), headersTimeout: 10_000, bodyTimeout: 10_000 })
        if (res.statusCode !== 200) throw new MbwaError('MBWA_RESTORING', `member ${base} answered ${res.statusCode}`)
        return res.body.json()
      }),
    )
    return [own, ...remote]
  }

  private async remoteDiscrepancies(p: number, wiki: string, kind: string | undefined, after: string | undefined, limit: number) {
    const owner = await this.owner(p)
    const qs = new URLSearchParams({ partition: String(p), limit: String(limit) })
    if (kind) qs.set('kind', kind)
    if (after !== undefined) qs.set('after', after)
    const res = await undiciRequest(`${owner}/v1/wikis/${encodeURIComponent(wiki)}/discrepancies?${qs}`, { headers: this.forwardHeaders() })
    if (res.statusCode !== 200) throw new MbwaError('MBWA_RESTORING', `partition ${p}: its owner answered ${res.statusCode}`, { partition: p })
    return ((await res.body.json()) as { items: { title: string; kind: string; codes: string[] }[] }).items
  }

  private async owner(partition: number): Promise<string> {
    const router = this.options.router
    if (!router) fail('MBWA_RESTORING', `partition ${partition} is not served here`, { partition })
    let owner = router.ownerOf(partition)
    if (!owner || owner === this.self) {
      await router.refresh()
      owner = router.ownerOf(partition)
    }
    if (!owner || owner === this.self) fail('MBWA_RESTORING', `partition ${partition} has no owner right now (rebalancing)`, { partition })
    return owner
  }

  private async forward(req: FastifyRequest, reply: FastifyReply, partition: number): Promise<unknown> {
    if (req.headers[FORWARDED]) fail('MBWA_RESTORING', `partition ${partition} is not served here (rebalancing)`, { partition })
    const owner = await this.owner(partition)
    let res
    try {
      res = await undiciRequest(`${owner}${req.url}`, { headers: this.forwardHeaders(), headersTimeout: 10_000, bodyTimeout: 10_000 })
    } catch {
      await this.options.router?.refresh()
      fail('MBWA_RESTORING', `the owner of partition ${partition} did not answer (rebalancing)`, { partition })
    }
    const body = await res.body.text()
    return reply.status(res.statusCode).header('content-type', 'application/json; charset=utf-8').header('x-mbwa-served-by', owner).send(body)
  }
}

