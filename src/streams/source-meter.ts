import type { CheckpointStore } from './checkpoints.js'

// What a source has done, for `mbwa status`, /v1/stats and /metrics. Counts of what reached the log (events in,
// repeats and canaries dropped, malformed data, the time of the newest event) describe the log, not the process:
// they are stored with the source's position, in the same write, so they survive a restart and agree with it.
// Whether it is connected, its errors and reconnects describe this process and start again with it.

export type SourceName = 'eventstreams' | 'recentchanges' | 'snapshot' | 'discovery'

export interface LoggedCounts {
  /** Events appended to the log. */
  events: number
  duplicates: number
  canaries: number
  malformed: number
  /** Data of wikis or namespaces mbwa does not follow. */
  ignored: number
  /** Time (ms) of the newest event appended, as the wiki dated it. */
  lastEventAt: number | null
}

export interface WikiCounts {
  events: number
  lastEventAt: number | null
  /** When the wiki was last read (a poll, a snapshot batch). */
  lastReadAt: number | null
}

export interface SnapshotProgress {
  snapshotId: string
  startedAt: number
  pages: number
  /** The wiki's content pages by its siteinfo statistics: what `pages` grows towards. */
  expected: number | null
  /** Pages per second over this run. */
  rate: number
  etaSeconds: number | null
}

export interface SourceStatus {
  source: SourceName
  enabled: boolean
  /** Reading now (a live stream connection; a poller or scheduler running; the last discovery succeeded). */
  connected: boolean
  counts: LoggedCounts
  /** Seconds between the newest event appended and now. */
  lagSeconds: number | null
  connections: number
  reconnects: number
  failures: number
  lastError: { message: string; at: number } | null
  wikis: Record<string, WikiCounts & { snapshot?: SnapshotProgress }>
}

interface Stored {
  counts: LoggedCounts
  wikis: Record<string, WikiCounts>
}

const emptyCounts = (): LoggedCounts => ({ events: 0, duplicates: 0, canaries: 0, malformed: 0, ignored: 0, lastEventAt: null })

export class SourceMeter {
  counts: LoggedCounts = emptyCounts()
  enabled = false
  connected = false
  connections = 0
  failures = 0
  lastError: { message: string; at: number } | null = null
  private readonly wikis = new Map<string, WikiCounts>()
  private readonly progress = new Map<string, { p: SnapshotProgress; runStartedAt: number; runStartPages: number }>()

  constructor(
    readonly source: SourceName,
    private readonly now: () => number = Date.now,
  ) {}

  get key(): string {
    return `meter:${this.source}`
  }

  /** Loads what the log's earlier runs counted. */
  async load(checkpoints: CheckpointStore): Promise<this> {
    const stored = await checkpoints.get<Stored>(this.key)
    if (stored) {
      this.counts = { ...emptyCounts(), ...stored.counts }
      for (const [wiki, c] of Object.entries(stored.wikis ?? {})) this.wikis.set(wiki, c)
    }
    return this
  }

  /** The entry to store in the same write as the source's position. */
  entry(): [string, Stored] {
    return [this.key, { counts: this.counts, wikis: Object.fromEntries(this.wikis) }]
  }

  private wiki(code: string): WikiCounts {
    let w = this.wikis.get(code)
    if (!w) this.wikis.set(code, (w = { events: 0, lastEventAt: null, lastReadAt: null }))
    return w
  }

  /** Events appended (call before storing the position), with the time of the newest as the wiki dated it. */
  appended(events: number, lastEventAt: number | null, wiki?: string): void {
    this.counts.events += events
    if (lastEventAt !== null && Number.isFinite(lastEventAt)) this.counts.lastEventAt = Math.max(this.counts.lastEventAt ?? 0, lastEventAt)
    if (wiki !== undefined) {
      const w = this.wiki(wiki)
      w.events += events
      w.lastReadAt = this.now()
      if (lastEventAt !== null && Number.isFinite(lastEventAt)) w.lastEventAt = Math.max(w.lastEventAt ?? 0, lastEventAt)
    }
  }

  dropped(kind: 'duplicates' | 'canaries' | 'malformed' | 'ignored', n = 1): void {
    this.counts[kind] += n
  }

  failed(err: unknown): void {
    this.failures++
    this.lastError = { message: err instanceof Error ? err.message : String(err), at: this.now() }
  }

  /** A snapshot's progress (pages read so far in it), with its expected size when siteinfo gave one. */
  snapshotProgress(wiki: string, snapshotId: string, startedAt: number, pages: number, expected: number | null): void {
    let run = this.progress.get(wiki)
    if (!run || run.p.snapshotId !== snapshotId) {
      run = { p: { snapshotId, startedAt, pages, expected, rate: 0, etaSeconds: null }, runStartedAt: this.now(), runStartPages: pages }
      this.progress.set(wiki, run)
    }
    const seconds = (this.now() - run.runStartedAt) / 1000
    const rate = seconds > 0 ? (pages - run.runStartPages) / seconds : 0
    const left = expected === null ? null : Math.max(0, expected - pages)
    run.p = { snapshotId, startedAt, pages, expected, rate: Math.round(rate * 10) / 10, etaSeconds: left === null || rate <= 0 ? null : Math.round(left / rate) }
    this.wiki(wiki).lastReadAt = this.now()
  }

  snapshotEnded(wiki: string): void {
    this.progress.delete(wiki)
  }

  status(): SourceStatus {
    const wikis: SourceStatus['wikis'] = {}
    for (const [code, c] of [...this.wikis].sort(([a], [b]) => a.localeCompare(b))) wikis[code] = { ...c }
    for (const [code, run] of this.progress) wikis[code] = { ...(wikis[code] ?? { events: 0, lastEventAt: null, lastReadAt: null }), snapshot: { ...run.p } }
    return {
      source: this.source,
      enabled: this.enabled,
      connected: this.connected,
      counts: { ...this.counts },
      lagSeconds: this.counts.lastEventAt === null ? null : Math.max(0, Math.round((this.now() - this.counts.lastEventAt) / 1000)),
      connections: this.connections,
      reconnects: Math.max(0, this.connections - 1),
      failures: this.failures,
      lastError: this.lastError,
      wikis,
    }
  }
}
