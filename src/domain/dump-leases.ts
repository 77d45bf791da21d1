import type { DumpAbandoned, MbwaEvent } from '../events/types.js'
import { doublingDelay } from '../backoff.js'

// The state of every wiki's dumps, folded from the events of the dumps topic in log order. The log is the
// arbiter of leases: a DumpStarted takes the wiki only if no job holds it when the event is reached, so when two
// workers claim the same wiki at the same moment, the one appended first wins and the other sees it lost. A
// lease lives while its heartbeats come (leaseMs after the last one); a silent one is declared abandoned (by the
// monitor, or by the next claimant, in the log before its claim), and a completed, failed or abandoned job frees
// the wiki. Clocks decide only when to declare; the log decides who holds.

export interface RunningJob {
  jobId: string
  host: string
  pid: number
  startedAt: number
  lastHeartbeatAt: number
  leaseMs: number
  titlesWritten: number
  titlesTotal: number | null
}

export interface WikiDumps {
  wiki: string
  running: RunningJob | null
  lastGood: { jobId: string; path: string; bytes: number; count: number; sha256: string; completedAt: number } | null
  lastFailure: { jobId: string; error: string; at: number } | null
  /** Failed jobs in a row since the last good dump (a worker waits longer before taking the wiki again). */
  failures: number
  abandoned: number
  requested: boolean
}

export type DumpState = Map<string, WikiDumps>

function entry(state: DumpState, wiki: string): WikiDumps {
  let w = state.get(wiki)
  if (!w) state.set(wiki, (w = { wiki, running: null, lastGood: null, lastFailure: null, failures: 0, abandoned: 0, requested: false }))
  return w
}

/**
 * When a wiki whose dumps failed may be taken again (when no wiki is named): a wait that doubles with each failure
 * in a row, so one wiki whose dump keeps failing is not taken again and again ahead of the others.
 */
export function retryAt(w: WikiDumps | undefined, retryMs = 60_000, maxRetryMs = 3_600_000): number {
  if (!w?.lastFailure || w.failures === 0) return 0
  return w.lastFailure.at + doublingDelay(w.failures, retryMs, maxRetryMs)
}

export function isLive(job: RunningJob | null, at: number): boolean {
  return job !== null && job.lastHeartbeatAt + job.leaseMs > at
}

/** Applies one event of the dumps topic. */
export function foldDumpEvent(state: DumpState, e: MbwaEvent): void {
  switch (e.type) {
    case 'DumpRequested':
      entry(state, e.value.wiki).requested = true
      return
    case 'DumpStarted': {
      const w = entry(state, e.value.wiki)
      // Decided by log order alone, never by a claimant's clock: while a job holds the wiki (until its completion,
      // failure or declared abandonment is in the log), a claim loses.
      if (w.running) return
      w.running = { jobId: e.value.jobId, host: e.value.host, pid: e.value.pid, startedAt: e.value.observedAt, lastHeartbeatAt: e.value.observedAt, leaseMs: e.value.leaseMs, titlesWritten: 0, titlesTotal: null }
      w.requested = false
      return
    }
    case 'DumpHeartbeat': {
      const w = entry(state, e.value.wiki)
      if (w.running?.jobId !== e.value.jobId) return
      w.running = { ...w.running, lastHeartbeatAt: e.value.observedAt, titlesWritten: e.value.titlesWritten, titlesTotal: e.value.titlesTotal }
      return
    }
    case 'DumpCompleted': {
      const w = entry(state, e.value.wiki)
      w.lastGood = { jobId: e.value.jobId, path: e.value.path, bytes: e.value.bytes, count: e.value.count, sha256: e.value.sha256, completedAt: e.value.observedAt }
      w.failures = 0
      if (w.running?.jobId === e.value.jobId) w.running = null
      return
    }
    case 'DumpFailed': {
      const w = entry(state, e.value.wiki)
      w.lastFailure = { jobId: e.value.jobId, error: e.value.error, at: e.value.observedAt }
      w.failures++
      if (w.running?.jobId === e.value.jobId) w.running = null
      return
    }
    case 'DumpAbandoned': {
      const w = entry(state, e.value.wiki)
      if (w.running?.jobId !== e.value.jobId) return
      w.running = null
      w.abandoned++
      return
    }
    default:
  }
}

/** Leases whose heartbeats stopped: the monitor declares them abandoned, so the wiki is dumped again later. */
export function abandonedLeases(state: DumpState, now: number, declaredBy: string): { type: 'DumpAbandoned'; key: string; value: DumpAbandoned }[] {
  const out: { type: 'DumpAbandoned'; key: string; value: DumpAbandoned }[] = []
  for (const w of state.values()) {
    if (!w.running || isLive(w.running, now)) continue
    out.push({
      type: 'DumpAbandoned',
      key: w.wiki,
      value: { id: `${w.running.jobId}:abandoned`, source: 'dump', observedAt: now, wiki: w.wiki, jobId: w.running.jobId, lastHeartbeatAt: w.running.lastHeartbeatAt, declaredBy },
    })
  }
  return out
}
