import { request } from 'undici'
import { MbwaError } from '../errors/errors.js'
import { TEXT_WANTED, type DiscrepancyItem } from './title-store.js'
import type { DiscrepanciesResponse, StatsResponse, WikisResponse } from './http/responses.js'

// A client of the query endpoint's reports: every report of a wiki, page after page over every partition (the
// endpoint gathers them from the group's members), and when the wiki's last complete reading ended. `mbwa report`
// and the sink's report pages read them here.

export async function fetchReportItems(base: string, headers: Record<string, string>, wiki: string, kinds: readonly string[]): Promise<DiscrepancyItem[]> {
  const out: DiscrepancyItem[] = []
  for (const kind of kinds) {
    let cursor: string | null = null
    do {
      const qs = new URLSearchParams({ kind, limit: '1000', ...(cursor ? { cursor } : {}) })
      const res = await request(`${base}/v1/wikis/${encodeURIComponent(wiki)}/discrepancies?${qs}`, { headers, headersTimeout: 30_000, bodyTimeout: 60_000 })
      if (res.statusCode !== 200) {
        const text = await res.body.text()
        throw new MbwaError(res.statusCode === 404 ? 'MBWA_WIKI_NOT_CONFIGURED' : 'MBWA_UNREACHABLE', `${base} answered ${res.statusCode} for ${wiki}'s reports: ${text.slice(0, 200)}`)
      }
      // The endpoint gives times in ISO 8601.
      const body = (await res.body.json()) as DiscrepanciesResponse
      out.push(...body.items.map(({ at, ...i }) => (at === undefined || at === null ? i : { ...i, at: typeof at === 'string' ? Date.parse(at) : at })))
      cursor = body.cursor ?? null
    } while (cursor)
  }
  return out
}

/**
 * When the wiki's last snapshot completed (ms; undefined when it has none yet), and how many events the projection
 * has still to apply, as the endpoint says.
 */
export async function fetchWikiState(base: string, headers: Record<string, string>, wiki: string): Promise<{ lastSnapshot: number | undefined; lag: number }> {
  const res = await request(`${base}/v1/wikis`, { headers, headersTimeout: 30_000, bodyTimeout: 30_000 })
  if (res.statusCode !== 200) {
    const text = await res.body.text()
    throw new MbwaError('MBWA_UNREACHABLE', `${base} answered ${res.statusCode} for /v1/wikis: ${text.slice(0, 200)}`)
  }
  const body = (await res.body.json()) as WikisResponse
  const w = body.wikis.find((x) => x.code === wiki)
  return { lastSnapshot: w?.lastSnapshot ? Date.parse(w.lastSnapshot) : undefined, lag: w?.lag ?? 0 }
}

/**
 * Pages of the wiki whose texts the projection still has to read before their reports are made (cognate mode), as
 * the endpoint's own partitions count them (/v1/stats: in a group, a lower bound).
 */
export async function fetchTextsWanted(base: string, headers: Record<string, string>, wiki: string): Promise<number> {
  const res = await request(`${base}/v1/stats`, { headers, headersTimeout: 30_000, bodyTimeout: 30_000 })
  if (res.statusCode !== 200) {
    const text = await res.body.text()
    throw new MbwaError('MBWA_UNREACHABLE', `${base} answered ${res.statusCode} for /v1/stats: ${text.slice(0, 200)}`)
  }
  const body = (await res.body.json()) as StatsResponse
  return body.reports?.[wiki]?.[TEXT_WANTED] ?? 0
}
