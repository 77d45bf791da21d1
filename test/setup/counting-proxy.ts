import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

// A loopback HTTP proxy in front of one wiki that counts the requests it forwards, by kind: what a request
// budget is asserted on. It forwards bytes as they are (gzip included) and reads the parameters of GETs and of
// form-encoded POSTs to name the kind (`edit`, `login`, `query:allpages`, `query:recentchanges`, `query:titles`…).

/**
 * Faults a proxy can inject, by the kind and number of a request: an answer of its own instead of the wiki's
 * (maxlag with Retry-After, ratelimited, an edit conflict, a 503), the connection reset before forwarding, no
 * answer at all until the client gives up (a timeout), or the request forwarded (an edit made) and the connection
 * reset before the answer reaches the client.
 */
export type Fault = 'maxlag' | 'ratelimited' | 'editconflict' | '503' | 'reset' | 'drop-after-write' | 'hang'
export type FaultPlan = (kind: string, n: number) => Fault | undefined

export interface InjectedFault {
  kind: string
  fault: Fault
  at: number
  /** When the next request of the same kind reached this proxy after the fault. */
  nextAt?: number
}

export interface CountingProxy {
  /** Faults injected, in order. */
  injected: InjectedFault[]
  /** The API URL to give mbwa in place of the wiki's. */
  api: string
  counts: Map<string, number>
  /** When a request of each kind was first and last forwarded (ms since epoch). */
  firstAt: Map<string, number>
  lastAt: Map<string, number>
  total(except?: (kind: string) => boolean): number
  close(): Promise<void>
}

function kindOf(params: URLSearchParams): string {
  const action = params.get('action') ?? '?'
  if (action !== 'query') return action
  const parts = [params.get('list'), params.get('generator') && `generator=${params.get('generator')}`, params.get('meta') && `meta=${params.get('meta')}`, params.has('titles') ? 'titles' : null]
  return `query:${parts.filter(Boolean).join(',')}`
}

export async function countingProxy(target: string, faults?: FaultPlan): Promise<CountingProxy> {
  const to = new URL(target)
  const injected: InjectedFault[] = []
  const hanging = new Set<Socket>()
  const seen = new Map<string, number>()
  const counts = new Map<string, number>()
  const firstAt = new Map<string, number>()
  const lastAt = new Map<string, number>()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const url = new URL(req.url ?? '/', 'http://proxy')
      const params = new URLSearchParams(url.search)
      if (String(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v)
      const kind = kindOf(params)
      for (const f of injected) if (f.kind === kind && f.nextAt === undefined) f.nextAt = Date.now()
      const n = (seen.get(kind) ?? 0) + 1
      seen.set(kind, n)
      const fault = faults?.(kind, n)
      if (fault) injected.push({ kind, fault, at: Date.now() })
      const json = (body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', ...headers })
        res.end(JSON.stringify(body))
      }
      if (fault === 'maxlag') return json({ error: { code: 'maxlag', info: 'Waiting for 127.0.0.1: 2 seconds lagged.', host: '127.0.0.1', lag: 2 } }, { 'retry-after': '1', 'x-database-lag': '2' })
      if (fault === 'ratelimited') return json({ error: { code: 'ratelimited', info: 'As an anti-abuse measure, you are limited from performing this action too many times in a short space of time.' } }, { 'retry-after': '3' })
      if (fault === 'editconflict') return json({ error: { code: 'editconflict', info: 'Edit conflict.' } })
      if (fault === '503') {
        res.writeHead(503, { 'content-type': 'text/html', 'retry-after': '1' })
        return res.end('<html>Service Unavailable</html>')
      }
      if (fault === 'reset') return req.socket.destroy()
      if (fault === 'hang') {
        // Never answered: the client's timeout has to end it (the socket goes when the proxy closes, at the latest).
        hanging.add(req.socket)
        return
      }
      // Only what was forwarded counts as a request to the wiki.
      counts.set(kind, (counts.get(kind) ?? 0) + 1)
      if (!firstAt.has(kind)) firstAt.set(kind, Date.now())
      lastAt.set(kind, Date.now())
      const up = httpRequest(
        { host: to.hostname, port: to.port, method: req.method, path: `${to.pathname}${url.search}`, headers: { ...req.headers, host: to.host } },
        (upRes) => {
          if (fault === 'drop-after-write') {
            // The wiki did it; the client never hears so.
            upRes.resume()
            upRes.on('end', () => req.socket.destroy())
            return
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          upRes.pipe(res)
        },
      )
      up.on('error', () => {
        res.writeHead(502)
        res.end()
      })
      up.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    api: `http://127.0.0.1:${port}${to.pathname}`,
    injected,
    counts,
    firstAt,
    lastAt,
    total: (except) => [...counts].filter(([k]) => !except?.(k)).reduce((n, [, c]) => n + c, 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of hanging) socket.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
