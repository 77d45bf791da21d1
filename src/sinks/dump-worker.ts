import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { writeFileSync, mkdirSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { EventStore } from '../events/event-log.js'
import type { SchemaRegistry } from '../events/registry.js'
import type { MbwaEvent } from '../events/types.js'
import { silentLogger, type Logger } from '../logging.js'
import type { PageState } from '../domain/page-state.js'
import { verifyDump, writeDump, type DumpRecord } from './dump-file.js'
import { Progress } from '../progress.js'
import { safeWikiCode } from '../domain/wiki-code.js'
import { foldDumpEvent, isLive, type DumpState } from '../domain/dump-leases.js'

// A dump worker, after the xmldumps-backup worker with lock files replaced by events: it takes the least recently
// dumped wiki that no live lease holds (or the one named), announces its lease, heartbeats while it writes the
// dump from the projection, checks the file, and announces completion. Its claim counts only if the log, which
// orders every claim, shows it holds the lease.

export interface PageSource {
  /** Every page of a wiki, in parts that can be read in parallel (the projection's partitions). */
  parts(wiki: string): Promise<AsyncIterable<{ title: string; page: PageState }>[]>
}

export interface DumpWorkerOptions {
  events: EventStore
  registry: SchemaRegistry
  topic: string
  pages: PageSource
  /** Where dumps go: public dumps under public/WIKI/, job records (host, pid, timing, errors) under private/WIKI/. */
  dir: string
  /** The wikis to dump, read afresh for each job (the configuration may change between jobs). */
  wikis: () => string[]
  leaseMs?: number
  heartbeatMs?: number
  /** A wiki whose last good dump is younger than this is not due (when no wiki is named). Default 0. */
  minAgeMs?: number
  host?: string
  pid?: number
  logger?: Logger
  now?: () => number
  /** How many parts are read at once. Default 4. */
  parallelParts?: number
  /** A pause after each part (gentle dumps on a busy machine). */
  pauseBetweenPartsMs?: number
}

export interface Lease {
  wiki: string
  jobId: string
}

export class DumpWorker {
  private readonly logger: Logger
  private readonly now: () => number
  readonly host: string
  readonly pid: number

  constructor(private readonly options: DumpWorkerOptions) {
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
    this.host = options.host ?? hostname()
    this.pid = options.pid ?? process.pid
  }

  /** The dumps state as the log has it, up to now. */
  async state(): Promise<DumpState> {
    const { events, topic, registry } = this.options
    const state: DumpState = new Map()
    const ends = await events.log.endOffsets(topic)
    for (let p = 0; p < ends.length; p++) {
      for (let offset = 0; offset < ends[p]!; ) {
        const batch = await events.log.read(topic, p, offset, 5000)
        if (batch.length === 0) break
        for (const m of batch) {
          let e: MbwaEvent
          try {
            e = registry.decode(m.value)
          } catch {
            continue
          }
          foldDumpEvent(state, e)
        }
        offset = batch[batch.length - 1]!.offset + 1
      }
    }
    return state
  }

  /** Claims a wiki: the one named, or the least recently dumped without a live lease. */
  async claim(wiki?: string): Promise<Lease | undefined> {
    const state = await this.state()
    const now = this.now()
    let target = wiki
    if (!target) {
      const minAge = this.options.minAgeMs ?? 0
      const free = this.options
        .wikis()
        .filter((w) => !isLive(state.get(w)?.running ?? null, now) && now - (state.get(w)?.lastGood?.completedAt ?? 0) >= minAge)
      free.sort((a, b) => (state.get(a)?.lastGood?.completedAt ?? 0) - (state.get(b)?.lastGood?.completedAt ?? 0) || a.localeCompare(b))
      target = free[0]
    }
    if (!target) return undefined
    if (isLive(state.get(target)?.running ?? null, now)) return undefined
    const jobId = `${target}:${new Date(now).toISOString()}:${randomUUID().slice(0, 8)}`
    await this.options.events.append(this.options.topic, [
      { type: 'DumpStarted', key: target, value: { id: jobId, source: 'dump', observedAt: now, wiki: target, jobId, host: this.host, pid: this.pid, leaseMs: this.options.leaseMs ?? 60_000 } },
    ])
    // The log decides: whoever's claim it reaches first while the wiki is free holds the lease.
    const after = await this.state()
    if (after.get(target)?.running?.jobId !== jobId) {
      this.logger.info({ wiki: target }, 'dump: another worker holds this wiki')
      return undefined
    }
    return { wiki: target, jobId }
  }

  /** Writes the dump for a held lease, heartbeating, and announces the outcome. */
  async run(lease: Lease): Promise<{ path: string; count: number } | undefined> {
    const { events, topic } = this.options
    const started = this.now()
    let written = 0
    // A worker is a daemon (a Toolforge or systemd job): its progress goes to its log with each heartbeat.
    const progress = new Progress({ label: `dump ${lease.wiki}`, unit: 'titles', logger: this.logger, bar: false, everyMs: 0, fields: { wiki: lease.wiki }, now: this.now })
    const heartbeat = async (): Promise<void> => {
      progress.update(written)
      await events.append(topic, [
        { type: 'DumpHeartbeat', key: lease.wiki, value: { id: `${lease.jobId}:hb:${this.now()}`, source: 'dump', observedAt: this.now(), wiki: lease.wiki, jobId: lease.jobId, host: this.host, pid: this.pid, titlesWritten: written, titlesTotal: null } },
      ])
    }
    const timer = setInterval(() => void heartbeat().catch(() => undefined), this.options.heartbeatMs ?? 10_000)
    const record = (data: object): void => {
      const dir = join(this.options.dir, 'private', safeWikiCode(lease.wiki))
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, `${lease.jobId.replace(/[:]/g, '-')}.json`), JSON.stringify({ ...lease, host: this.host, pid: this.pid, started, ...data }, null, 2))
    }
    try {
      // The parts are read concurrently (the store's reads run in its thread pool) and joined.
      const parts = await this.options.pages.parts(lease.wiki)
      const chunks: DumpRecord[][] = new Array<DumpRecord[]>(parts.length)
      let nextPart = 0
      const reader = async (): Promise<void> => {
        while (nextPart < parts.length) {
          const i = nextPart++
          const out: DumpRecord[] = []
          for await (const r of parts[i]!) out.push(r)
          chunks[i] = out
          written += out.length
          if (this.options.pauseBetweenPartsMs) await sleep(this.options.pauseBetweenPartsMs)
        }
      }
      await Promise.all(Array.from({ length: Math.min(parts.length, this.options.parallelParts ?? 4) }, reader))
      const stamp = new Date(started).toISOString().replace(/[:.]/g, '-')
      const path = join(this.options.dir, 'public', safeWikiCode(lease.wiki), `${lease.wiki}-${stamp}.mbwa.gz`)
      const file = writeDump(path, { wiki: lease.wiki, createdAt: new Date(started).toISOString(), source: `${this.host}:${this.pid}` }, chunks.flat())
      const verified = verifyDump(path)
      await events.append(topic, [
        { type: 'DumpCompleted', key: lease.wiki, value: { id: `${lease.jobId}:done`, source: 'dump', observedAt: this.now(), wiki: lease.wiki, jobId: lease.jobId, path, bytes: file.bytes, count: verified.count, sha256: verified.sha256 } },
      ])
      record({ completed: this.now(), path, count: verified.count, bytes: file.bytes, sha256: verified.sha256 })
      this.logger.info({ wiki: lease.wiki, path, titles: verified.count }, 'dump: completed')
      return { path, count: verified.count }
    } catch (err) {
      await events.append(topic, [{ type: 'DumpFailed', key: lease.wiki, value: { id: `${lease.jobId}:failed`, source: 'dump', observedAt: this.now(), wiki: lease.wiki, jobId: lease.jobId, error: (err as Error).message } }])
      record({ failed: this.now(), error: (err as Error).message })
      this.logger.error({ wiki: lease.wiki, err: (err as Error).message }, 'dump: failed')
      return undefined
    } finally {
      clearInterval(timer)
    }
  }
}

