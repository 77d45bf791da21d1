import type { QueryServer } from './query-server.js'
import { digestHex } from '../title-store.js'
import { metricsRegistry, setStatusMetrics, type StatusForMetrics } from '../../metrics.js'
import { responseSchemas, type DigestResponse, type Health } from './responses.js'

// Probes and counters: liveness, readiness (every held partition restored), Prometheus metrics, the member's
// stats, and the digest of the whole projection (gathered from every member).

export function registerProbeRoutes(s: QueryServer): void {
  const app = s.app
  const { projector } = s.options
  app.get('/healthz', { schema: { response: responseSchemas.health } }, async (): Promise<Health> => ({ status: 'ok' }))

  app.get('/readyz', async (_req, reply) => {
    const status = projector.status()
    const restoring = status.filter((s) => s.restoring).map((s) => s.partition)
    const ready = status.length > 0 && restoring.length === 0
    return reply.status(ready ? 200 : 503).send({ ready, partitions: status.map((s) => s.partition), restoring })
  })

  app.get('/metrics', async (_req, reply) => {
    setStatusMetrics((await s.stats()) as unknown as StatusForMetrics)
    return reply.header('content-type', metricsRegistry.contentType).send(await metricsRegistry.metrics())
  })

  app.get('/v1/stats', { schema: { response: responseSchemas.stats } }, async () => s.stats())

  app.get('/v1/digest', { schema: { response: responseSchemas.digest } }, async (req): Promise<DigestResponse> => {
    const local = (req.query as { local?: string }).local === '1'
    const parts = (await s.fanOut.gather(req, local, () => s.localDigest())) as { sum: string; pages: number; partitions: number[] }[]
    let sum = 0n
    let pages = 0
    const partitions: number[] = []
    for (const part of parts) {
      sum = (sum + BigInt('0x' + (part.sum || '0'))) & ((1n << 256n) - 1n)
      pages += part.pages
      partitions.push(...part.partitions)
    }
    partitions.sort((a, b) => a - b)
    return { digest: digestHex(sum), sum: sum.toString(16), pages, partitions, complete: partitions.length === s.options.partitions }
  })
}
