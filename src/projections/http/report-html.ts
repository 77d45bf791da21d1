import type { FastifyRequest } from 'fastify'
import type { QueryServer } from './query-server.js'
import { diffsQuery, missingQuery, reportsQuery } from './schemas.js'
import type { DiscrepancyItem } from '../title-store.js'
import { PACKAGE_VERSION } from '../../paths.js'
import { join } from 'node:path'
import { createReadStream } from 'node:fs'
import { diffsPage, indexPage, missingPage, reportsPage, wikiReportsPage } from '../report-pages.js'
import { open, stat } from 'node:fs/promises'
import { pageUrl } from '../../domain/page-url.js'
import { reportRows, toCsv } from '../report-rows.js'
import { safeWikiCode } from '../../domain/wiki-code.js'
import { fail } from './http-util.js'

// Pages for people (read-only, everything escaped): what this instance is, the reports of every wiki, one wiki's
// reports with a CSV of them, its "missing here" list and its dry-run diffs.

export function registerReportPages(s: QueryServer): void {
  const app = s.app
  const { projector } = s.options
  app.get<{ Params: { wiki: string }; Querystring: { minWikis?: number; limit?: number; cursor?: string; after?: string } }>('/reports/:wiki/missing', { schema: missingQuery }, async (req, reply) => {
    const { wiki } = s.reportQuery(req.params.wiki, undefined)
    const { minWikis, limit, after } = s.missingQuery({ ...req.query, limit: req.query.limit ?? '200' })
    const { items, next } = await s.fanOut.missingPage(wiki, minWikis, after, limit)
    const html = missingPage(wiki, items, { minWikis, next, now: Date.now(), urlOf: (w, t) => pageUrl(s.options.apiOf?.(w), t) })
    return reply.header('content-type', 'text/html; charset=utf-8').send(html)
  })

  // Pages for people (read-only, everything escaped): what this is, the reports of every wiki, one wiki's.
  app.get('/', async (_req, reply) => {
    const status = projector.status()
    const html = indexPage({ version: PACKAGE_VERSION, log: s.options.logKind ?? 'embedded', partitions: s.options.partitions, held: status.length, eventsInStore: status.reduce((a, s) => a + s.offset, 0), wikis: projector.rules().size, members: s.options.router?.addresses() ?? [] })
    return reply.header('content-type', 'text/html; charset=utf-8').send(html)
  })
  // The counts of the whole group: each member's partitions, gathered (JSON at /v1/reports).
  app.get<{ Querystring: { local?: string } }>('/v1/reports', async (req) => groupReports(s, req, req.query.local === '1'))
  app.get('/reports', async (req, reply) => {
    const group = await groupReports(s, req, false)
    const wikis = [...projector.rules().keys()].sort().map((wiki) => ({ wiki, counts: group.reports[wiki] ?? {}, lastSnapshot: group.lastSnapshots[wiki] ?? null }))
    const html = reportsPage(wikis, { eventsInStore: group.eventsInStore, now: Date.now(), partial: group.partitions.length < s.options.partitions })
    return reply.header('content-type', 'text/html; charset=utf-8').send(html)
  })
  app.get<{ Params: { wiki: string }; Querystring: { kind?: string; cursor?: string } }>('/reports/:wiki', { schema: reportsQuery }, async (req, reply) => {
    const { wiki, kind } = s.reportQuery(req.params.wiki, req.query.kind)
    const { items, next } = await s.fanOut.discrepancyPage(wiki, kind, s.cursorOf(req.query.cursor), 100)
    const html = wikiReportsPage(wiki, reportRows(wiki, items, (w) => s.options.apiOf?.(w)), { kind, next, now: Date.now() })
    return reply.header('content-type', 'text/html; charset=utf-8').send(html)
  })
  app.get<{ Params: { wiki: string }; Querystring: { kind?: string } }>('/reports/:wiki/csv', { schema: reportsQuery }, async (req, reply) => {
    const { wiki, kind } = s.reportQuery(req.params.wiki, req.query.kind)
    const rows = []
    let cursor: { p: number; after?: string } | null = { p: 0 }
    while (cursor && rows.length < 1_000_000) {
      const { items, next }: { items: DiscrepancyItem[]; next: string | null } = await s.fanOut.discrepancyPage(wiki, kind, cursor, 1000)
      rows.push(...reportRows(wiki, items, (w) => s.options.apiOf?.(w)))
      cursor = next === null ? null : s.cursorOf(next)
    }
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="mbwa-reports-${wiki}${kind ? `-${kind}` : ''}.csv"`)
      .send(toCsv(rows))
  })

  app.get<{ Params: { wiki: string }; Querystring: { format?: string } }>('/reports/:wiki/diffs', { schema: diffsQuery }, async (req, reply) => {
    const { wiki } = s.reportQuery(req.params.wiki, undefined)
    const format = req.query.format
    const file = s.options.diffsDir ? join(s.options.diffsDir, `${safeWikiCode(wiki)}.diff`) : undefined
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

}

interface ReportCounts {
  /** Index entries per wiki and kind. */
  reports: Record<string, Record<string, number>>
  /** When each wiki's last snapshot completed (ms). */
  lastSnapshots: Record<string, number | null>
  eventsInStore: number
  /** The partitions these counts cover. */
  partitions: number[]
}

/** The report counts of this member's partitions, or of every member's (merged). */
async function groupReports(s: QueryServer, req: FastifyRequest, local: boolean): Promise<ReportCounts> {
  const { projector } = s.options
  const mine = async (): Promise<ReportCounts> => ({
    reports: s.reportCounts(),
    lastSnapshots: Object.fromEntries([...projector.rules().keys()].map((w) => [w, s.lastSnapshot(w)])),
    eventsInStore: projector.status().reduce((a, st) => a + st.offset, 0),
    partitions: [...projector.owned.keys()],
  })
  const parts = (await s.fanOut.gather(req, local, mine, '/v1/reports')) as ReportCounts[]
  const out: ReportCounts = { reports: {}, lastSnapshots: {}, eventsInStore: 0, partitions: [] }
  for (const part of parts) {
    for (const [wiki, kinds] of Object.entries(part.reports)) {
      const o = (out.reports[wiki] ??= {})
      for (const [kind, n] of Object.entries(kinds)) o[kind] = (o[kind] ?? 0) + n
    }
    for (const [wiki, at] of Object.entries(part.lastSnapshots)) {
      const was = out.lastSnapshots[wiki] ?? null
      if (at !== null && (was === null || at > was)) out.lastSnapshots[wiki] = at
      else out.lastSnapshots[wiki] = was
    }
    out.eventsInStore += part.eventsInStore
    out.partitions.push(...part.partitions)
  }
  out.partitions = [...new Set(out.partitions)].sort((a, b) => a - b)
  return out
}
