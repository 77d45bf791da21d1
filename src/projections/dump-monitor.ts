import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { EventStore } from '../events/event-log.js'
import { silentLogger, type Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import { tpKey, type Subscription } from '../log/types.js'
import { abandonedLeases, foldDumpEvent, isLive, type DumpState, type WikiDumps } from '../domain/dump-leases.js'
import { esc } from './html.js'

// The dump monitor: a projection of the dumps topic (every member folds all of it: it is small), the status of
// every wiki's dumps, and the declaration of leases whose heartbeats stopped, so the wiki is dumped again later.

export interface DumpMonitorOptions {
  events: EventStore
  topics: TopicNames
  groupId: string
  /** How often silent leases are looked for. Default 5 s. */
  checkMs?: number
  /** The configured wikis, listed even before their first dump. */
  wikis?: () => string[]
  logger?: Logger
  now?: () => number
}

export interface WikiDumpStatus extends WikiDumps {
  live: boolean
}

export class DumpMonitor {
  readonly state: DumpState = new Map()
  private subscription: Subscription | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly logger: Logger
  private readonly now: () => number
  private readonly host = `${hostname()}:${process.pid}`

  constructor(private readonly options: DumpMonitorOptions) {
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
  }

  async start(): Promise<void> {
    const { events, topics } = this.options
    this.subscription = await events.consume({
      // A group of its own, from the beginning every time: each monitor folds the whole (small) topic.
      groupId: `${this.options.groupId}.dumps-monitor.${randomUUID().slice(0, 8)}`,
      topics: [topics.dumps],
      deadLetterTopic: topics.deadLetter,
      onAssign: (assigned) => new Map(assigned.map((tp) => [tpKey(tp.topic, tp.partition), 0])),
      eachBatch: async (batch) => {
        for (const e of batch.events) foldDumpEvent(this.state, e.event)
      },
    })
    this.timer = setInterval(() => void this.check(), this.options.checkMs ?? 5000)
    this.timer.unref()
  }

  /** Declares silent leases abandoned (idempotent: a second declaration of the same job changes nothing). */
  async check(): Promise<number> {
    const declare = abandonedLeases(this.state, this.now(), this.host)
    if (declare.length === 0) return 0
    try {
      await this.options.events.append(this.options.topics.dumps, declare)
      for (const d of declare) this.logger.warn({ wiki: d.value.wiki, jobId: d.value.jobId }, 'dumps: lease abandoned (heartbeats stopped)')
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'dumps: could not declare abandoned leases')
    }
    return declare.length
  }

  status(): WikiDumpStatus[] {
    const now = this.now()
    const all = new Map(this.state)
    for (const wiki of this.options.wikis?.() ?? []) {
      if (!all.has(wiki)) all.set(wiki, { wiki, running: null, lastGood: null, lastFailure: null, failures: 0, abandoned: 0, requested: false })
    }
    return [...all.values()].map((w) => ({ ...w, live: isLive(w.running, now) })).sort((a, b) => a.wiki.localeCompare(b.wiki))
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.subscription?.stop()
  }
}


function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  if (s < 172_800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86_400)} d`
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`
}

/** The status page, for a person: per wiki the last good dump, its age and size, running jobs with progress, failures. */
export function dumpStatusPage(status: WikiDumpStatus[], now: number, o: { intervalMs?: number; refreshSeconds?: number; fileUrl?: (wiki: string, path: string) => string | undefined } = {}): string {
  const rows = status
    .map((w) => {
      const name = w.lastGood ? w.lastGood.path.split('/').pop()! : ''
      const href = w.lastGood ? o.fileUrl?.(w.wiki, w.lastGood.path) : undefined
      const file = href ? `<a href="${esc(href)}" download>${esc(name)}</a>` : esc(name)
      const good = w.lastGood
        ? `${age(now - w.lastGood.completedAt)} ago, ${size(w.lastGood.bytes)}, ${w.lastGood.count.toLocaleString('en-US')} titles<br><span class="file">${file}</span> <span class="sha" title="sha256 ${esc(w.lastGood.sha256)}">sha256 ${esc(w.lastGood.sha256.slice(0, 12))}…</span>`
        : 'none yet'
      const due = o.intervalMs === undefined ? '' : w.lastGood ? (w.lastGood.completedAt + o.intervalMs <= now ? 'due now' : `in ${age(w.lastGood.completedAt + o.intervalMs - now)}`) : 'due now'
      const running = w.running
        ? `<span class="${w.live ? 'running' : 'stale'}" data-state="${w.live ? 'running' : 'stale'}">${esc(w.running.host)} pid ${w.running.pid}, ${w.running.titlesWritten.toLocaleString('en-US')} titles written, last heartbeat ${age(now - w.running.lastHeartbeatAt)} ago</span>`
        : '<span data-state="idle">—</span>'
      const failed = w.lastFailure ? `${esc(w.lastFailure.error)} (${age(now - w.lastFailure.at)} ago)` : '—'
      return `<tr data-wiki="${esc(w.wiki)}"><th scope="row">${esc(w.wiki)}</th><td class="good">${good}</td><td class="due">${esc(due)}</td><td class="job">${running}</td><td class="failure">${failed}</td><td>${w.abandoned}</td></tr>`
    })
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">${o.refreshSeconds ? `<meta http-equiv="refresh" content="${Math.max(1, Math.floor(o.refreshSeconds))}">` : ''}<title>mbwa dumps</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}th,td{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}.running{color:#060}.stale{color:#a00}</style>
</head><body><h1>mbwa dumps</h1><p>As of ${new Date(now).toISOString()}${o.refreshSeconds ? `; this page reloads every ${Math.floor(o.refreshSeconds)} s` : ' (<a href="?refresh=10">reload every 10 s</a>)'}. The files are in the dumps folder (dumps.dir, public/WIKI/)${o.fileUrl ? '; the ones this member holds download from here' : ''}; <code>mbwa dump verify FILE</code> checks one. JSON: <a href="/v1/dumps">/v1/dumps</a>.</p>
<table><thead><tr><th>wiki</th><th>last good dump</th><th>next due</th><th>running job</th><th>last failure</th><th>abandoned</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="6">no dump jobs yet</td></tr>'}
</tbody></table></body></html>
`
}
