import type { QueryServer } from './query-server.js'
import { discrepanciesQuery, missingQuery, pagesQuery } from './schemas.js'
import { fail, iso } from './http-util.js'
import { responseSchemas, type DiscrepanciesResponse, type MissingResponse, type PagesResponse, type WikisResponse } from './responses.js'

// The wikis as JSON: each one's counts and last snapshot (gathered from every member), its discrepancy index and
// "missing here" list (page after page over every partition), and its pages for dump workers elsewhere.

export function registerWikiRoutes(s: QueryServer): void {
  const app = s.app
  const { projector } = s.options
  app.get('/v1/wikis', { schema: { response: responseSchemas.wikis } }, async (req): Promise<WikisResponse> => {
    const local = (req.query as { local?: string }).local === '1'
    const parts = await s.fanOut.gather(req, local, async () => {
      const out: Record<string, { titles: number; lastSnapshot: number | null; lag: number; snapshotFailures: number }> = {}
      const failures = s.snapshotFailures()
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
  registerWikiIndexes(s)
}

/** A wiki's discrepancy index and "missing here" list, page after page over every partition; its pages by partition. */
function registerWikiIndexes(s: QueryServer): void {
  const app = s.app
  const { store, projector } = s.options
  app.get<{ Params: { wiki: string }; Querystring: { kind?: string; limit?: number; cursor?: string; partition?: number; after?: string }; Reply: DiscrepanciesResponse }>('/v1/wikis/:wiki/discrepancies', { schema: discrepanciesQuery }, async (req, reply) => {
    const { wiki } = req.params
    if (!projector.rules().has(wiki)) fail('MBWA_NOT_FOUND', `no wiki ${wiki} configured or discovered`, { wiki })
    const q = req.query
    const kind = q.kind
    const limit = q.limit ?? 100
    const cursor = s.cursorOf(q.cursor)
    // One partition's page, served here or by its owner (internal form: ?partition=).
    if (q.partition !== undefined) {
      const p = q.partition
      if (!s.isLocal(p)) return s.fanOut.forward(req, reply, p)
      return { items: await store.discrepancies(p, wiki, kind, q.after, limit) }
    }
    const { items, next } = await s.fanOut.discrepancyPage(wiki, kind, cursor, limit)
    return { wiki, kind: kind ?? null, items: items.map((i) => (i.at === undefined ? i : { ...i, at: iso(i.at) })), cursor: next }
  })

  // "Missing here": titles that are real pages on at least minWikis other wikis and absent on this one, most-present
  // first. Internal form (?partition=): one partition's part, served here or by its owner.
  app.get<{ Params: { wiki: string }; Querystring: { minWikis?: number; limit?: number; cursor?: string; partition?: number; after?: string }; Reply: MissingResponse }>('/v1/wikis/:wiki/missing', { schema: missingQuery }, async (req, reply) => {
    const { wiki } = s.reportQuery(req.params.wiki, undefined)
    const { minWikis, limit, after } = s.missingQuery(req.query)
    if (req.query.partition !== undefined) {
      const p = req.query.partition
      if (!s.isLocal(p)) return s.fanOut.forward(req, reply, p)
      return { items: await store.missingHere(p, wiki, minWikis, after, limit) }
    }
    const { items, next } = await s.fanOut.missingPage(wiki, minWikis, after, limit)
    return { wiki, minWikis, items: items.map(({ title, wikis }) => ({ title, wikis, count: wikis.length })), cursor: next }
  })
  // A wiki's pages, one partition at a time, in title order: what dump workers elsewhere read.
  app.get<{ Params: { wiki: string }; Querystring: { partition: number; limit?: number; after?: string }; Reply: PagesResponse }>('/v1/wikis/:wiki/pages', { schema: pagesQuery }, async (req, reply) => {
    const { wiki } = req.params
    if (!projector.rules().has(wiki)) fail('MBWA_NOT_FOUND', `no wiki ${JSON.stringify(wiki)} configured or discovered`)
    const p = req.query.partition
    const limit = req.query.limit ?? 1000
    if (!s.isLocal(p)) return s.fanOut.forward(req, reply, p)
    if (projector.owned.get(p)!.restoring) fail('MBWA_RESTORING', `partition ${p} is being restored`, { partition: p })
    return { partition: p, ...(await store.wikiPages(p, wiki, req.query.after, limit)) }
  })

}
