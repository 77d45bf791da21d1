import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

// A loopback stand-in for stream.wikimedia.org's /v2/stream route that speaks KafkaSSE's framing (`:ok`, then
// `event: message` / `id: [...]` / `data: ...` frames), resumes from Last-Event-ID (timestamp entries, as
// production sends them, or offsets) or `since`, and can misbehave on purpose: refuse the first connections
// with an HTTP status, drop the connection in the middle of a frame every N frames, or fall silent while
// keeping the connection open.

export interface FeedItem {
  /** The data line, as the server sends it (need not be valid JSON). */
  data: string
  /** Kafka timestamp (ms); ids carry it + 1, as KafkaSSE does. */
  ts: number
}

export interface FakeOptions {
  topic?: string
  /** After this many frames on a connection, send half of the next frame and destroy the socket. */
  dropEvery?: number
  /** On the first connection served (not refused), stop sending (but stay connected) after this many frames. */
  silentAfter?: number
  /** HTTP statuses for the first connections, before serving normally. */
  statuses?: number[]
}

export interface SeenRequest {
  url: string
  headers: IncomingHttpHeaders
}

export class FakeEventStreams {
  readonly requests: SeenRequest[] = []
  framesSent = 0
  private server: Server
  private readonly open = new Set<ServerResponse>()
  private connections = 0
  private served = 0
  private items: FeedItem[]

  constructor(
    items: FeedItem[],
    private readonly options: FakeOptions = {},
  ) {
    this.items = items
    this.server = createServer((req, res) => this.handle(req.url ?? '/', req.headers, res))
  }

  /** Adds items at the end (a live stream). Open connections pick them up on their next write loop. */
  add(items: FeedItem[]): void {
    this.items = this.items.concat(items)
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v2/stream`
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private topic(): string {
    return this.options.topic ?? 'eqiad.mediawiki.recentchange'
  }

  private idFor(index: number): string {
    return JSON.stringify([
      { topic: this.topic(), partition: 0, timestamp: this.items[index]!.ts + 1 },
      { topic: 'codfw.' + this.topic().split('.').slice(1).join('.'), partition: 0, offset: -1 },
    ])
  }

  private startIndex(url: URL, lastEventId: string | undefined): number {
    if (lastEventId) {
      const entries = JSON.parse(lastEventId) as { topic: string; offset?: number; timestamp?: number }[]
      const mine = entries.find((e) => e.topic === this.topic())
      if (mine?.offset !== undefined && mine.offset >= 0) return mine.offset
      if (mine?.timestamp !== undefined) {
        const i = this.items.findIndex((it) => it.ts >= mine.timestamp!)
        return i < 0 ? this.items.length : i
      }
    }
    const since = url.searchParams.get('since')
    if (since) {
      const t = Date.parse(since)
      const i = this.items.findIndex((it) => it.ts >= t)
      return i < 0 ? this.items.length : i
    }
    return this.items.length // "latest"
  }

  private handle(rawUrl: string, headers: IncomingHttpHeaders, res: ServerResponse): void {
    this.requests.push({ url: rawUrl, headers })
    const n = this.connections++
    const status = this.options.statuses?.[n]
    if (status !== undefined) {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status, title: 'refused by the test' }))
      return
    }
    const servedHere = this.served++
    const url = new URL(rawUrl, 'http://x')
    const lei = headers['last-event-id']
    let index = this.startIndex(url, Array.isArray(lei) ? lei[0] : lei)
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' })
    res.write(':ok\n\n')
    this.open.add(res)
    res.on('close', () => this.open.delete(res))
    let sentHere = 0
    const pump = (): void => {
      if (res.destroyed) return
      while (index < this.items.length) {
        if (servedHere === 0 && this.options.silentAfter !== undefined && sentHere >= this.options.silentAfter) return // silent, still open
        const frame = `event: message\nid: ${this.idFor(index)}\ndata: ${this.items[index]!.data}\n\n`
        if (this.options.dropEvery !== undefined && sentHere >= this.options.dropEvery) {
          // Destroyed once the bytes are on the wire (destroy() alone would discard what is still buffered).
          res.write(frame.slice(0, Math.floor(frame.length / 2)), () => res.destroy())
          return
        }
        res.write(frame)
        this.framesSent++
        sentHere++
        index++
      }
      setTimeout(pump, 20)
    }
    pump()
  }
}
