import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import type { FarmWiki } from './farm.js'

// A loopback stand-in for Wikimedia's layout: a meta wiki answering action=sitematrix for a family, and each
// wiki's Action API at /CODE/w/api.php (the path the sitematrix's site URLs lead to), passed through to a real
// farm wiki. What the sitematrix says (which wikis, which closed) can change while it runs.

export interface MatrixSite {
  code: string
  /** The farm wiki behind it; none for a wiki that is listed but never read (closed). */
  farm?: FarmWiki
  closed?: boolean
}

export class LoopbackSitematrix {
  sites: MatrixSite[]
  requests = 0
  private readonly server: Server
  private base = ''

  constructor(sites: MatrixSite[], private readonly family = 'wiktionary') {
    this.sites = sites
    this.server = createServer((req, res) => void this.handle(req, res).catch((err: unknown) => {
      res.writeHead(502, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: String(err) }))
    }))
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return `${this.base}/meta/w/api.php`
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++
    const url = new URL(req.url ?? '/', this.base)
    const [, code] = url.pathname.split('/')
    if (code === 'meta') {
      const matrix: Record<string, unknown> = { count: this.sites.length }
      this.sites.forEach((s, i) => {
        matrix[String(i)] = { code: s.code, name: s.code, site: [{ url: `${this.base}/${s.code}`, dbname: `${s.code.replace(/-/g, '_')}${this.family}`, code: this.family, ...(s.closed ? { closed: true } : {}) }] }
      })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ sitematrix: matrix }))
      return
    }
    const site = this.sites.find((s) => s.code === code)
    if (!site?.farm || url.pathname !== `/${code}/w/api.php`) {
      res.writeHead(404)
      res.end()
      return
    }
    const body = req.method === 'POST' ? Buffer.concat(await (async () => { const chunks: Buffer[] = []; for await (const c of req) chunks.push(c as Buffer); return chunks })()) : undefined
    const upstream = await request(`${site.farm.api}${url.search}`, {
      method: req.method as 'GET' | 'POST',
      headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded', 'user-agent': req.headers['user-agent'] ?? '', ...(req.headers.cookie ? { cookie: req.headers.cookie } : {}) },
      body,
    })
    const headers: Record<string, string | string[]> = { 'content-type': String(upstream.headers['content-type'] ?? 'application/json') }
    if (upstream.headers['set-cookie']) headers['set-cookie'] = upstream.headers['set-cookie']
    res.writeHead(upstream.statusCode, headers)
    res.end(Buffer.from(await upstream.body.arrayBuffer()))
  }
}
