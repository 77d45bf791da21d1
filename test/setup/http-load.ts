import { Pool } from 'undici'

// A closed-loop HTTP load: `connections` clients, each sending its next request when the last one answered, for
// `seconds`. Counts answers by status and transport errors, and keeps every latency for percentiles.

export interface LoadResult {
  requests: number
  byStatus: Record<number, number>
  errors: number
  firstError?: string
  p50: number
  p99: number
  max: number
  perSecond: number
}

export async function httpLoad(base: string, connections: number, seconds: number, path: () => string, headers: Record<string, string> = {}): Promise<LoadResult> {
  const pool = new Pool(base, { connections, pipelining: 1 })
  const latencies: number[] = []
  const byStatus: Record<number, number> = {}
  let errors = 0
  let firstError: string | undefined
  const until = Date.now() + seconds * 1000
  const started = Date.now()
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < until) {
        const t0 = performance.now()
        try {
          const res = await pool.request({ method: 'GET', path: path(), headers, headersTimeout: 30_000, bodyTimeout: 30_000 })
          await res.body.text()
          byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1
          latencies.push(performance.now() - t0)
        } catch (err) {
          errors++
          firstError ??= (err as Error).message
        }
      }
    }),
  )
  await pool.close()
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return { requests: latencies.length, byStatus, errors, firstError, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? NaN, perSecond: Math.round((latencies.length * 1000) / (Date.now() - started)) }
}
