import type { FastifyReply, FastifyRequest } from 'fastify'
import { request as undiciRequest } from 'undici'
import { MbwaError } from '../../errors/errors.js'
import type { DiscrepancyItem, MissingItem } from '../title-store.js'
import { fail, FORWARDED } from './http-util.js'
import type { QueryServer } from './query-server.js'

// The group behind one endpoint: a partition another member holds is asked of it (a title forwarded, a page of a
// wiki's index read from it), and answers that span every partition are gathered from every member. A forwarded
// request carries a header and is never forwarded again (no loops while the group rebalances).

export class FanOut {
  constructor(private readonly server: QueryServer) {}

  /** One page of a wiki's discrepancy index over every partition (local or forwarded), and the next page's cursor. */
  async discrepancyPage(wiki: string, kind: string | undefined, cursor: { p: number; after?: string }, limit: number): Promise<{ items: DiscrepancyItem[]; next: string | null }> {
    const items: DiscrepancyItem[] = []
    let p = cursor.p
    let after = cursor.after
    while (p < this.server.options.partitions && items.length < limit) {
      const want = limit - items.length
      const page = this.server.isLocal(p) ? await this.server.options.store.discrepancies(p, wiki, kind, after, want) : await this.remoteDiscrepancies(p, wiki, kind, after, want)
      items.push(...page)
      if (page.length < want) {
        p++ // this partition has no more
        after = undefined
      } else {
        const last = page[page.length - 1]!
        after = kind === undefined ? `${last.kind}\u0000${last.title}` : last.title
      }
    }
    const next = p < this.server.options.partitions ? Buffer.from(JSON.stringify({ p, after })).toString('base64url') : null
    return { items, next: items.length >= limit ? next : null }
  }

  /**
   * One page of a wiki's "missing here" list over every partition: each partition's next entries after the cursor
   * (local, or from its owner), merged most-present first; the cursor is the last entry's position, which orders
   * every partition's entries alike (a title lives in one partition).
   */
  async missingPage(wiki: string, minWikis: number, after: string | undefined, limit: number): Promise<{ items: MissingItem[]; next: string | null }> {
    const parts = await Promise.all(
      Array.from({ length: this.server.options.partitions }, async (_, p) => {
        if (this.server.isLocal(p)) return this.server.options.store.missingHere(p, wiki, minWikis, after, limit)
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

  forwardHeaders(): Record<string, string> {
    return { [FORWARDED]: '1', ...(this.server.options.token ? { authorization: `Bearer ${this.server.options.token}` } : {}) }
  }

  /** This member's part, plus (unless asked for local only) every other member's, via ?local=1. */
  /** This member's part, and (unless asked for local only, or forwarded) every other member's from `path` (default: the request's). */
  async gather(req: FastifyRequest, local: boolean, mine: () => Promise<unknown>, path?: string): Promise<unknown[]> {
    const own = await mine()
    const router = this.server.options.router
    if (local || !router || req.headers[FORWARDED]) return [own]
    await router.refresh()
    const self = this.server.self
    const others = router.addresses().filter((a) => a !== self)
    const route = path ?? req.url.split('?')[0]!
    const remote = await Promise.all(
      others.map(async (base) => {
        const res = await undiciRequest(`${base}${route}?local=1`, { headers: this.forwardHeaders(), headersTimeout: 10_000, bodyTimeout: 10_000 })
        if (res.statusCode !== 200) throw new MbwaError('MBWA_RESTORING', `member ${base} answered ${res.statusCode}`)
        return res.body.json()
      }),
    )
    return [own, ...remote]
  }

  async remoteDiscrepancies(p: number, wiki: string, kind: string | undefined, after: string | undefined, limit: number) {
    const owner = await this.owner(p)
    const qs = new URLSearchParams({ partition: String(p), limit: String(limit) })
    if (kind) qs.set('kind', kind)
    if (after !== undefined) qs.set('after', after)
    const res = await undiciRequest(`${owner}/v1/wikis/${encodeURIComponent(wiki)}/discrepancies?${qs}`, { headers: this.forwardHeaders() })
    if (res.statusCode !== 200) throw new MbwaError('MBWA_RESTORING', `partition ${p}: its owner answered ${res.statusCode}`, { partition: p })
    return ((await res.body.json()) as { items: { title: string; kind: string; codes: string[] }[] }).items
  }

  async owner(partition: number): Promise<string> {
    const router = this.server.options.router
    if (!router) fail('MBWA_RESTORING', `partition ${partition} is not served here`, { partition })
    let owner = router.ownerOf(partition)
    if (!owner || owner === this.server.self) {
      await router.refresh()
      owner = router.ownerOf(partition)
    }
    if (!owner || owner === this.server.self) fail('MBWA_RESTORING', `partition ${partition} has no owner right now (rebalancing)`, { partition })
    return owner
  }

  /** Sends the owner's answer as this one's (typed never: any route returns it in place of its own body). */
  async forward(req: FastifyRequest, reply: FastifyReply, partition: number): Promise<never> {
    if (req.headers[FORWARDED]) fail('MBWA_RESTORING', `partition ${partition} is not served here (rebalancing)`, { partition })
    const owner = await this.owner(partition)
    let res
    try {
      res = await undiciRequest(`${owner}${req.url}`, { headers: this.forwardHeaders(), headersTimeout: 10_000, bodyTimeout: 10_000 })
    } catch {
      await this.server.options.router?.refresh()
      fail('MBWA_RESTORING', `the owner of partition ${partition} did not answer (rebalancing)`, { partition })
    }
    const body = await res.body.text()
    return reply.status(res.statusCode).header('content-type', 'application/json; charset=utf-8').header('x-mbwa-served-by', owner).send(body) as never
  }
}
