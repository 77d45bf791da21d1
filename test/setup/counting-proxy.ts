import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

// A loopback HTTP proxy in front of one wiki that counts the requests it forwards, by kind: what a request
// budget is asserted on. It forwards bytes as they are (gzip included) and reads the parameters of GETs and of
// form-encoded POSTs to name the kind (`edit`, `login`, `query:allpages`, `query:recentchanges`, `query:titles`…).

export interface CountingProxy {
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

export async function countingProxy(target: string): Promise<CountingProxy> {
  const to = new URL(target)
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
      counts.set(kind, (counts.get(kind) ?? 0) + 1)
      if (!firstAt.has(kind)) firstAt.set(kind, Date.now())
      lastAt.set(kind, Date.now())
      const up = httpRequest(
        { host: to.hostname, port: to.port, method: req.method, path: `${to.pathname}${url.search}`, headers: { ...req.headers, host: to.host } },
        (upRes) => {
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
    counts,
    firstAt,
    lastAt,
    total: (except) => [...counts].filter(([k]) => !except?.(k)).reduce((n, [, c]) => n + c, 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
