import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { isMbwaError } from '../../src/errors/errors.js'
import { MediaWikiApiError, MediaWikiClient } from '../../src/mediawiki/client.js'

// The client's policies against a loopback server that misbehaves on purpose (a server that fails the way a
// real wiki does under load cannot be made to on cue).

type Reply = (req: IncomingMessage, body: string) => { status?: number; headers?: Record<string, string>; body: string | Buffer; destroy?: boolean }

let server: Server | undefined
let client: MediaWikiClient | undefined
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = []

async function serve(replies: Reply[]): Promise<string> {
  let n = 0
  seen.length = 0
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body })
      const reply = replies[Math.min(n++, replies.length - 1)]!(req, body)
      if (reply.destroy) {
        req.socket.destroy()
        return
      }
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers })
      res.end(reply.body)
    })
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/w/api.php`
}

afterEach(async () => {
  await client?.close()
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
  server = undefined
  client = undefined
})

const ok = (body: object): Reply => () => ({ body: JSON.stringify(body) })
const fast = { baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 50 }

describe('MediaWiki client (unit, loopback server)', () => {
  it('sends format=json&formatversion=2, maxlag and a policy User-Agent with the contact on every request', async () => {
    client = new MediaWikiClient({ api: await serve([ok({ query: {} })]), contact: 'https://example.org/User:Op' })
    await client.get({ action: 'query', meta: 'siteinfo' })
    const url = new URL(seen[0]!.url, 'http://x')
    expect(url.pathname).toBe('/w/api.php')
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ format: 'json', formatversion: '2', maxlag: '5', action: 'query', meta: 'siteinfo' })
    expect(seen[0]!.headers['user-agent']).toMatch(/^mbwa\/\d+\.\d+\.\d+ \(https:\/\/example\.org\/User:Op\) undici$/)
    expect(seen[0]!.headers['accept-encoding']).toContain('gzip')
  })

  it('decompresses gzip bodies', async () => {
    client = new MediaWikiClient({ api: await serve([() => ({ headers: { 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify({ query: { ok: 'zipped' } })) })]) })
    expect(await client.get({ action: 'query' })).toEqual({ query: { ok: 'zipped' } })
  })

  it('retries reads after 5xx and dropped connections, with backoff, then succeeds', async () => {
    client = new MediaWikiClient({ api: await serve([() => ({ status: 503, body: 'busy' }), () => ({ body: '', destroy: true }), ok({ query: { n: 3 } })]), retry: fast })
    expect(await client.get({ action: 'query' })).toEqual({ query: { n: 3 } })
    expect(seen.length).toBe(3)
  })

  it('gives up after the bounded number of retries with a retriable error', async () => {
    client = new MediaWikiClient({ api: await serve([() => ({ status: 502, body: 'bad gateway' })]), retry: { ...fast, retries: 2 } })
    const err = await client.get({ action: 'query' }).catch((e: unknown) => e)
    expect(isMbwaError(err, 'MBWA_MEDIAWIKI_HTTP')).toBe(true)
    expect((err as { retriable: boolean }).retriable).toBe(true)
    expect(seen.length).toBe(3)
  })

  it('never resends a write after a 5xx or a dropped connection', async () => {
    client = new MediaWikiClient({ api: await serve([() => ({ status: 500, body: 'oops' }), ok({ edit: { result: 'Success' } })]), retry: fast })
    await expect(client.post({ action: 'edit', title: 'x', text: 'y', token: 't' })).rejects.toMatchObject({ code: 'MBWA_MEDIAWIKI_HTTP' })
    expect(seen.length).toBe(1)
    expect(seen[0]!.method).toBe('POST')
    expect(new URLSearchParams(seen[0]!.body).get('text')).toBe('y')
  })

  it('waits as told on maxlag (Retry-After, capped) for reads and writes alike', async () => {
    const lag: Reply = () => ({ headers: { 'retry-after': '5', 'mediawiki-api-error': 'maxlag' }, body: JSON.stringify({ errors: [{ code: 'maxlag', text: 'Waiting for a database server: 12 seconds lagged.' }] }) })
    client = new MediaWikiClient({ api: await serve([lag, lag, ok({ edit: { result: 'Success' } })]), retry: fast })
    const t0 = Date.now()
    expect(await client.post({ action: 'edit', title: 'x', text: 'y', token: 't' })).toEqual({ edit: { result: 'Success' } })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90) // two waits of 50 ms (5 s capped)
    expect(seen.length).toBe(3)
  })

  it('surfaces API errors as typed errors with code and info', async () => {
    client = new MediaWikiClient({ api: await serve([ok({ errors: [{ code: 'readonly', text: 'The wiki is in read-only mode.' }] }), ok({ error: { code: 'badtoken', info: 'Invalid CSRF token.' } })]) })
    const a = await client.get({ action: 'query' }).catch((e: unknown) => e)
    expect(a).toBeInstanceOf(MediaWikiApiError)
    expect(a).toMatchObject({ apiCode: 'readonly', info: 'The wiki is in read-only mode.', code: 'MBWA_MEDIAWIKI_API', retriable: true })
    const b = await client.get({ action: 'query' }).catch((e: unknown) => e)
    expect(b).toMatchObject({ apiCode: 'badtoken', info: 'Invalid CSRF token.', retriable: false })
  })

  it('follows continuation to the end', async () => {
    client = new MediaWikiClient({
      api: await serve([ok({ continue: { apcontinue: 'b', continue: '-||' }, query: { allpages: [{ title: 'a' }] } }), ok({ batchcomplete: true, query: { allpages: [{ title: 'b' }] } })]),
    })
    const titles: string[] = []
    for await (const res of client.continued({ action: 'query', list: 'allpages' })) titles.push(...(res.query as { allpages: { title: string }[] }).allpages.map((p) => p.title))
    expect(titles).toEqual(['a', 'b'])
    expect(new URL(seen[1]!.url, 'http://x').searchParams.get('apcontinue')).toBe('b')
  })

  it('keeps session cookies and sends a bearer token when configured; a body that is not JSON is an error', async () => {
    client = new MediaWikiClient({
      api: await serve([() => ({ headers: { 'set-cookie': 'enwiki_session=abc; path=/; HttpOnly' }, body: '{}' }), ok({}), () => ({ body: '<html>oops</html>' })]),
      bearerToken: 'owner-only-token',
    })
    await client.get({ action: 'query' })
    await client.get({ action: 'query' })
    expect(seen[1]!.headers.cookie).toBe('enwiki_session=abc')
    expect(seen[1]!.headers.authorization).toBe('Bearer owner-only-token')
    await expect(client.get({ action: 'query' })).rejects.toMatchObject({ code: 'MBWA_MEDIAWIKI_HTTP' })
  })
})
