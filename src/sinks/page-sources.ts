import { request } from 'undici'
import { MbwaError } from '../errors/errors.js'
import type { ErrorBody, PagesResponse, StatsResponse } from '../projections/http/responses.js'
import type { PageSource } from './dump-worker.js'

/** Pages from a running member's query endpoint, partition by partition (any member answers any partition). */
export function httpPageSource(base: string, headers: Record<string, string> = {}): PageSource {
  const url = base.replace(/\/$/, '')
  return {
    async parts(wiki) {
      const res = await request(`${url}/v1/stats`, { headers })
      if (res.statusCode !== 200) throw new MbwaError('MBWA_RESTORING', `${url}: /v1/stats answered ${res.statusCode}`)
      const { partitionCount } = (await res.body.json()) as StatsResponse
      return Array.from({ length: partitionCount }, (_, p) => ({
        async *[Symbol.asyncIterator]() {
          let after: string | undefined
          for (;;) {
            const qs = new URLSearchParams({ partition: String(p), limit: '5000', ...(after !== undefined ? { after } : {}) })
            const r = await request(`${url}/v1/wikis/${encodeURIComponent(wiki)}/pages?${qs}`, { headers })
            const body = (await r.body.json()) as PagesResponse & Partial<ErrorBody>
            if (r.statusCode !== 200) throw new MbwaError('MBWA_RESTORING', `${url}: partition ${p}: ${body.error?.message ?? r.statusCode}`)
            yield* body.items
            if (body.next === null) return
            after = body.next
          }
        },
      }))
    },
  }
}
