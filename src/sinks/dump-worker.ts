import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { writeFileSync, mkdirSync } from 'node:fs'
import { readdir, rm, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { EventStore, EventToAppend } from '../events/event-log.js'
import type { SchemaRegistry } from '../events/registry.js'
import type { MbwaEvent } from '../events/types.js'
import { tpKey, type Subscription } from '../log/types.js'
import { silentLogger, type Logger } from '../logging.js'
import type { PageState } from '../domain/page-state.js'
import { BLOCK, DumpWriter, mergeParts, verifyDumpAsync } from './dump-file.js'
import { Progress } from '../progress.js'
import { safeWikiCode } from '../domain/wiki-code.js'
import { foldDumpEvent, isLive, retryAt, type DumpState } from '../domain/dump-leases.js'

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
  wikis: () => string[] | Promise<string[]>
  leaseMs?: number
  heartbeatMs?: number
  /** A wiki whose last good dump is younger than this is not due (when no wiki is named). Default 0. */
  minAgeMs?: number
  /** First wait before a wiki whose dump failed is taken again (when no wiki is named); doubles per failure in a row, up to an hour. Default 1 minute. */
  retryMs?: number
  host?: string
  pid?: number
  logger?: Logger
  now?: () => number
  /** How many parts are read at once. Default 4. */
  parallelParts?: number
  /** A pause after each part (gentle dumps on a busy machine). */
  pauseBetweenPartsMs?: number
}

/** A worker's leases and pace as the configuration's dumps keys say (the same for `mbwa dump run` and dumps.worker). */
export function dumpWorkerPace(d: { leaseSeconds: number; heartbeatSeconds: number; intervalHours: number; parallelParts: number; pauseBetweenPartsMs: number }): Pick<DumpWorkerOptions, 'leaseMs' | 'heartbeatMs' | 'minAgeMs' | 'parallelParts' | 'pauseBetweenPartsMs'> {
  return { leaseMs: d.leaseSeconds * 1000, heartbeatMs: d.heartbeatSeconds * 1000, minAgeMs: d.intervalHours * 3_600_000, parallelParts: d.parallelParts, pauseBetweenPartsMs: d.pauseBetweenPartsMs }
}

export interface Lease {
  wiki: string
  jobId: string
}

export class DumpWorker {
  private readonly logger: Logger
  private cleaned: Promise<unknown> | undefined
  private readonly now: () => number
  readonly host: string
  readonly pid: number

  constructor(private readonly options: DumpWorkerOptions) {
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
    this.host = options.host ?? hostname()
    this.pid = options.pid ?? process.pid
  }

  /** The dumps topic folded so far, and where each partition's fold stopped (the next offset to fold). */
  private readonly folded: DumpState = new Map()
  private readonly positions = new Map<number, number>()
  /** One long-lived consumer of the dumps topic (a group of its own): it folds every event as it comes. */
  private follower: Promise<Subscription> | undefined

  /**
   * The dumps state as the log has it, up to now: the topic is followed by one consumer for the worker's life, so a
   * claim costs the events since the last one, never a reread of the whole history (which grows with every
   * heartbeat) nor a new consumer group (a stock broker holds a new group's first rebalance for 3 s).
   */
  async state(): Promise<DumpState> {
    const { events, topic, registry } = this.options
    this.follower ??= events.log.consume({
      groupId: `mbwa.dumps-worker.${randomUUID().slice(0, 8)}`,
      topics: [topic],
      onAssign: (assigned) => new Map(assigned.map((tp) => [tpKey(tp.topic, tp.partition), this.positions.get(tp.partition) ?? 0])),
      eachBatch: async (batch) => {
        for (const m of batch.messages) {
          let e: MbwaEvent
          try {
            e = registry.decode(m.value)
          } catch {
            continue // the monitor dead-letters it; a claim goes on without it
          }
          foldDumpEvent(this.folded, e)
        }
        const last = batch.messages.at(-1)
        if (last) this.positions.set(batch.partition, last.offset + 1)
      },
    })
    const follower = await this.follower
    const ends = await events.log.endOffsets(topic)
    const deadline = this.now() + 60_000
    while (ends.some((end, p) => (this.positions.get(p) ?? 0) < end)) {
      if (this.now() > deadline) throw new Error(`the dumps topic ${topic} was not read up to its end within 60 s`)
      await Promise.race([sleep(10), follower.closed])
    }
    return this.folded
  }

  /** The wikis this worker may dump now (the configuration's, read afresh). */
  async wikis(): Promise<string[]> {
    return this.options.wikis()
  }

  /** Stops following the dumps topic (the worker claims nothing more). */
  async close(): Promise<void> {
    const follower = this.follower
    this.follower = undefined
    if (follower) await (await follower).stop()
  }

  /**
   * Claims a wiki: the one named, or the least recently dumped without a live lease (and not in `exclude`). A lease
   * whose heartbeats stopped is declared abandoned in the same append, before the claim; the log's order then
   * decides who holds the wiki.
   */
  async claim(wiki?: string, exclude: ReadonlySet<string> = new Set()): Promise<Lease | undefined> {
    const state = await this.state()
    this.cleaned ??= this.cleanTemporaries(state).catch(() => [])
    await this.cleaned
    const now = this.now()
    let target = wiki
    if (!target) {
      const minAge = this.options.minAgeMs ?? 0
      const free = (await this.options.wikis())
        .filter((w) => !exclude.has(w) && !isLive(state.get(w)?.running ?? null, now) && now - (state.get(w)?.lastGood?.completedAt ?? 0) >= minAge && retryAt(state.get(w), this.options.retryMs) <= now)
      free.sort((a, b) => (state.get(a)?.lastGood?.completedAt ?? 0) - (state.get(b)?.lastGood?.completedAt ?? 0) || a.localeCompare(b))
      target = free[0]
    }
    if (!target) return undefined
    const held = state.get(target)?.running ?? null
    if (isLive(held, now)) return undefined
    const jobId = `${target}:${new Date(now).toISOString()}:${randomUUID().slice(0, 8)}`
    const claim: EventToAppend[] = []
    if (held) {
      claim.push({ type: 'DumpAbandoned', key: target, value: { id: `${held.jobId}:abandoned`, source: 'dump', observedAt: now, wiki: target, jobId: held.jobId, lastHeartbeatAt: held.lastHeartbeatAt, declaredBy: `${this.host}:${this.pid}` } })
    }
    claim.push({ type: 'DumpStarted', key: target, value: { id: jobId, source: 'dump', observedAt: now, wiki: target, jobId, host: this.host, pid: this.pid, leaseMs: this.options.leaseMs ?? 60_000 } })
    await this.options.events.append(this.options.topic, claim)
    // The log decides: whoever's claim it reaches first while the wiki is free holds the lease.
    const after = await this.state()
    if (after.get(target)?.running?.jobId !== jobId) {
      this.logger.info({ wiki: target }, 'dump: another worker holds this wiki')
      return undefined
    }
    return { wiki: target, jobId }
  }

  /**
   * Removes temporary files dead writers left: a job's (`.tmp-JOB`) once the log says that job no longer holds its
   * wiki (it completed, failed or was declared abandoned); any other (`.tmp-PID`, from `mbwa dump write`) once
   * nothing has written to it for two lease lengths. Done once, at the worker's first claim.
   */
  async cleanTemporaries(state: DumpState): Promise<string[]> {
    const root = join(this.options.dir, 'public')
    const removed: string[] = []
    const stale = this.now() - 2 * (this.options.leaseMs ?? 60_000)
    const wikis = await readdir(root).catch(() => [] as string[])
    for (const wiki of wikis) {
      const running = state.get(wiki)?.running
      const live = running ? tmpTag(running.jobId) : undefined
      const files = await readdir(join(root, wiki)).catch(() => [] as string[])
      for (const f of files) {
        const tag = /\.tmp-(.+)$/.exec(f)?.[1]
        if (tag === undefined || tag === live) continue
        const path = join(root, wiki, f)
        const st = await stat(path).catch(() => undefined)
        if (!st) continue
        if (/^\d+$/.test(tag) && st.mtimeMs >= stale) continue // perhaps a live `dump write`
        await rm(path, { force: true })
        removed.push(path)
      }
    }
    if (removed.length > 0) this.logger.info({ removed }, 'dump: removed temporary files dead writers left')
    return removed
  }

  /** Whether this worker still holds the lease, as the log says now (fencing: a lease declared abandoned is lost). */
  async holds(lease: Lease): Promise<boolean> {
    return (await this.state()).get(lease.wiki)?.running?.jobId === lease.jobId
  }

  /**
   * Writes the dump for a held lease and announces the outcome. The wiki's parts are merged as they are read
   * (memory: one record per part and one block), blocks are compressed and written asynchronously and the
   * result verified block by block, so heartbeats keep their time whatever the size. Before the file takes its
   * final name and is announced, the worker checks it still holds the lease: a worker that was declared
   * abandoned (a long pause) writes nothing under the final name and announces nothing.
   */
  async run(lease: Lease): Promise<{ path: string; count: number } | undefined> {
    const { events, topic } = this.options
    const started = this.now()
    let writer: DumpWriter | undefined
    // A worker is a daemon (a Toolforge or systemd job): its progress goes to its log with each heartbeat.
    const progress = new Progress({ label: `dump ${lease.wiki}`, unit: 'titles', logger: this.logger, bar: false, everyMs: 0, fields: { wiki: lease.wiki }, now: this.now })
    const heartbeat = async (): Promise<void> => {
      const written = writer?.written ?? 0
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
      const parts = await this.options.pages.parts(lease.wiki)
      const stamp = new Date(started).toISOString().replace(/[:.]/g, '-')
      const path = join(this.options.dir, 'public', safeWikiCode(lease.wiki), `${lease.wiki}-${stamp}.mbwa.gz`)
      writer = await DumpWriter.open(path, { wiki: lease.wiki, createdAt: new Date(started).toISOString(), source: `${this.host}:${this.pid}` }, tmpTag(lease.jobId))
      for await (const r of mergeParts(parts)) {
        await writer.add(r)
        if (this.options.pauseBetweenPartsMs && writer.written % BLOCK === 0) await sleep(this.options.pauseBetweenPartsMs)
      }
      const file = await writer.finish()
      const verified = await verifyDumpAsync(writer.tmp)
      if (!(await this.holds(lease))) {
        await writer.abort()
        this.logger.warn({ wiki: lease.wiki, jobId: lease.jobId }, 'dump: the lease was lost while writing (declared abandoned); the file is dropped, nothing announced')
        record({ lost: this.now() })
        return undefined
      }
      await writer.commit()
      await events.append(topic, [
        { type: 'DumpCompleted', key: lease.wiki, value: { id: `${lease.jobId}:done`, source: 'dump', observedAt: this.now(), wiki: lease.wiki, jobId: lease.jobId, path, bytes: file.bytes, count: verified.count, sha256: verified.sha256 } },
      ])
      record({ completed: this.now(), path, count: verified.count, bytes: file.bytes, sha256: verified.sha256 })
      this.logger.info({ wiki: lease.wiki, path, titles: verified.count }, 'dump: completed')
      return { path, count: verified.count }
    } catch (err) {
      await writer?.abort()
      await events.append(topic, [{ type: 'DumpFailed', key: lease.wiki, value: { id: `${lease.jobId}:failed`, source: 'dump', observedAt: this.now(), wiki: lease.wiki, jobId: lease.jobId, error: (err as Error).message } }])
      record({ failed: this.now(), error: (err as Error).message })
      this.logger.error({ wiki: lease.wiki, err: (err as Error).message }, 'dump: failed')
      return undefined
    } finally {
      clearInterval(timer)
    }
  }
}

/** A job id as it appears in a temporary file's name. */
function tmpTag(jobId: string): string {
  return `job-${jobId.replace(/[^A-Za-z0-9_-]/g, '-')}`
}
