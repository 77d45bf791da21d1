import { gunzipSync } from 'node:zlib'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { MbwaError } from '../errors/errors.js'
import { silentLogger, type Logger } from '../logging.js'
import { PACKAGE_VERSION } from '../paths.js'
import { doublingDelay } from '../backoff.js'

// A MediaWiki Action API client on undici: one keep-alive pool per wiki, format=json&formatversion=2, maxlag on
// every request, gzip, a User-Agent as Wikimedia's policy asks, a cookie jar for sessions, continuation, and a
// bounded retry policy. Reads are retried on network errors, 5xx and maxlag; a write (POST) only on errors that
// say it was not applied (maxlag, ratelimited): an edit is never resent blindly.

export type ApiParams = Record<string, string | number | boolean | undefined | readonly (string | number)[]>

export interface ApiResponse {
  batchcomplete?: boolean
  continue?: Record<string, string>
  warnings?: unknown
  [key: string]: unknown
}

export interface RetryPolicy {
  /** Attempts after the first, for network errors and 5xx (reads only). */
  retries: number
  baseDelayMs: number
  maxDelayMs: number
  /** Times a request is repeated after maxlag/ratelimited (reads and writes). */
  lagRetries: number
  /** Longest wait taken from a Retry-After header. */
  maxRetryAfterMs: number
}

export interface MediaWikiClientOptions {
  /** The Action API endpoint, e.g. http://127.0.0.1:18081/api.php */
  api: string
  /** Who to contact about this client (URL or e-mail); goes into the User-Agent. */
  contact?: string
  /** maxlag sent with every request (seconds); 0 leaves it out. Default 5. */
  maxlag?: number
  retry?: Partial<RetryPolicy>
  timeoutMs?: number
  connections?: number
  logger?: Logger
  /** An OAuth 2 owner-only access token, sent as Authorization: Bearer. */
  bearerToken?: string
}

const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 500, maxDelayMs: 30_000, lagRetries: 8, maxRetryAfterMs: 120_000 }

/** The Action API's own error, with its code and info. */
export class MediaWikiApiError extends MbwaError {
  constructor(
    readonly apiCode: string,
    readonly info: string,
    readonly wiki: string,
    readonly retryAfterMs?: number,
  ) {
    super('MBWA_MEDIAWIKI_API', `${wiki}: ${apiCode}: ${info}`, { apiCode, info, wiki }, {
      retriable: ['maxlag', 'ratelimited', 'readonly', 'internal_api_error_DBQueryError'].includes(apiCode),
    })
  }
}

export function userAgent(contact?: string): string {
  const who = contact && contact.trim() !== '' ? contact.trim() : 'no contact configured'
  return `mbwa/${PACKAGE_VERSION} (${who}) undici`
}

export class MediaWikiClient {
  readonly api: URL
  private readonly pool: Pool
  private readonly retry: RetryPolicy
  private readonly maxlag: number
  private readonly timeoutMs: number
  private readonly logger: Logger
  private readonly headers: Record<string, string>
  private readonly cookies = new Map<string, string>()
  /** A short name for messages: host:port. */
  readonly name: string
  /** Requests sent (attempts), for tests and metrics. */
  requests = 0

  constructor(options: MediaWikiClientOptions) {
    this.api = new URL(options.api)
    this.name = this.api.host
    this.pool = new Pool(this.api.origin, {
      connections: options.connections ?? 2,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs ?? 60_000,
      bodyTimeout: options.timeoutMs ?? 60_000,
    })
    this.retry = { ...DEFAULT_RETRY, ...options.retry }
    this.maxlag = options.maxlag ?? 5
    this.timeoutMs = options.timeoutMs ?? 60_000
    this.logger = options.logger ?? silentLogger
    this.headers = {
      'user-agent': userAgent(options.contact),
      'accept-encoding': 'gzip',
      accept: 'application/json',
    }
    if (options.bearerToken) this.headers.authorization = `Bearer ${options.bearerToken}`
  }

  get(params: ApiParams): Promise<ApiResponse> {
    return this.call('GET', params)
  }

  /** A write, form-encoded. Repeated only when the wiki says it was not applied (maxlag, ratelimited). */
  post(params: ApiParams): Promise<ApiResponse> {
    return this.call('POST', params)
  }

  /** Follows `continue` until the end, yielding each response. */
  async *continued(params: ApiParams, start?: Record<string, string>): AsyncGenerator<ApiResponse> {
    let cont: Record<string, string> | undefined = start ?? { continue: '' }
    while (cont) {
      const res = await this.get({ ...params, ...cont })
      yield res
      cont = res.continue
    }
  }

  /**
   * Logs in with a bot password (action=login), in a new session: MediaWiki refuses a login inside a session that
   * is already logged in ("Aborted"), so the cookies of any earlier one are dropped first.
   */
  async login(username: string, password: string): Promise<void> {
    this.cookies.clear()
    const tokens = await this.get({ action: 'query', meta: 'tokens', type: 'login' })
    const lgtoken = (tokens.query as { tokens: { logintoken: string } }).tokens.logintoken
    const res = await this.post({ action: 'login', lgname: username, lgpassword: password, lgtoken })
    const login = res.login as { result: string; reason?: string | { text?: string; code?: string } }
    if (login.result !== 'Success') {
      // Never the password: only the user and MediaWiki's own words.
      const why = typeof login.reason === 'string' ? login.reason : (login.reason?.text ?? login.reason?.code)
      throw new MediaWikiApiError('login-failed', `login as ${username}: ${login.result}${why ? ` (${why})` : ''}`, this.name)
    }
  }

  async csrfToken(): Promise<string> {
    const res = await this.get({ action: 'query', meta: 'tokens', type: 'csrf' })
    return (res.query as { tokens: { csrftoken: string } }).tokens.csrftoken
  }

  async close(): Promise<void> {
    await this.pool.close()
  }

  private async call(method: 'GET' | 'POST', params: ApiParams): Promise<ApiResponse> {
    const query = new URLSearchParams()
    const all: ApiParams = { format: 'json', formatversion: 2, errorformat: 'plaintext', ...params }
    if (this.maxlag > 0 && all.maxlag === undefined) all.maxlag = this.maxlag
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined || v === false) continue
      query.set(k, Array.isArray(v) ? v.join('|') : v === true ? '1' : String(v))
    }
    // A read whose query is too long for a URL (hundreds of titles) goes as a form body; it is still a read
    // (retried as reads are).
    const form = query.toString()
    const viaBody = method === 'POST' || form.length > 6000
    let failures = 0
    let lagged = 0
    for (;;) {
      let status: number
      let headers: Record<string, string | string[] | undefined>
      let body: Buffer
      try {
        this.requests++
        const res = await this.pool.request({
          method: viaBody ? 'POST' : 'GET',
          path: viaBody ? this.api.pathname : `${this.api.pathname}?${form}`,
          headers: {
            ...this.headers,
            ...(this.cookies.size > 0 ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
            ...(viaBody ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          },
          body: viaBody ? form : undefined,
          signal: AbortSignal.timeout(this.timeoutMs),
        })
        status = res.statusCode
        headers = res.headers
        body = Buffer.from(await res.body.arrayBuffer())
      } catch (err) {
        const e = new MbwaError('MBWA_MEDIAWIKI_UNREACHABLE', `${this.name}: ${(err as Error).message}`, { wiki: this.name }, { cause: err })
        if (method === 'POST' || failures >= this.retry.retries) throw e
        await this.backoff(++failures, undefined, e.message)
        continue
      }
      this.keepCookies(headers['set-cookie'])
      if (status >= 500 || status === 429) {
        const e = new MbwaError('MBWA_MEDIAWIKI_HTTP', `${this.name}: HTTP ${status}`, { wiki: this.name, status })
        if ((method === 'POST' && status !== 429) || failures >= this.retry.retries) throw e
        await this.backoff(++failures, retryAfterMs(headers), e.message)
        continue
      }
      const json = this.parse(status, headers, body)
      const error = json.error as { code?: string; info?: string; text?: string } | undefined
      const errors = json.errors as { code: string; text?: string; data?: unknown }[] | undefined
      const first = error ?? errors?.[0]
      if (first) {
        const code = first.code ?? 'unknown'
        const info = (first as { info?: string }).info ?? (first as { text?: string }).text ?? ''
        const wait = retryAfterMs(headers)
        if ((code === 'maxlag' || code === 'ratelimited') && lagged < this.retry.lagRetries) {
          lagged++
          const ms = Math.min(wait ?? (code === 'maxlag' ? 5000 : 60_000), this.retry.maxRetryAfterMs)
          this.logger.warn({ wiki: this.name, code, waitMs: ms }, 'wiki asks to wait')
          await sleep(ms)
          continue
        }
        throw new MediaWikiApiError(code, info, this.name, wait)
      }
      return json
    }
  }

  private parse(status: number, headers: Record<string, string | string[] | undefined>, raw: Buffer): ApiResponse {
    let body = raw
    if (String(headers['content-encoding'] ?? '').includes('gzip')) body = gunzipSync(raw)
    try {
      const json: unknown = JSON.parse(body.toString('utf8'))
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object')
      return json as ApiResponse
    } catch {
      throw new MbwaError('MBWA_MEDIAWIKI_HTTP', `${this.name}: HTTP ${status}, body is not JSON: ${body.subarray(0, 80).toString('utf8')}`, {
        wiki: this.name,
        status,
      })
    }
  }

  private keepCookies(setCookie: string | string[] | undefined): void {
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair] = line.split(';')
      const eq = pair!.indexOf('=')
      if (eq <= 0) continue
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (value === '' || value === 'deleted' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  private async backoff(attempt: number, retryAfter: number | undefined, why: string): Promise<void> {
    const exp = doublingDelay(attempt, this.retry.baseDelayMs, this.retry.maxDelayMs)
    const ms = Math.min(retryAfter ?? exp * (0.5 + Math.random() / 2), this.retry.maxRetryAfterMs)
    this.logger.warn({ wiki: this.name, attempt, waitMs: Math.round(ms) }, 'retrying after: %s', why)
    await sleep(ms)
  }
}

function retryAfterMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  const v = headers['retry-after']
  const s = Array.isArray(v) ? v[0] : v
  if (!s) return undefined
  const n = Number(s)
  if (Number.isFinite(n)) return Math.max(0, n * 1000)
  const at = Date.parse(s)
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined
}
