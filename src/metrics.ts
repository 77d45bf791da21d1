import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

// One Prometheus registry per process (served at /metrics by the query server). Metrics are created here so
// their names and labels are in one place.
export const metricsRegistry = new Registry()

let defaultsCollected = false
export function collectProcessMetrics(): void {
  if (defaultsCollected) return
  defaultsCollected = true
  collectDefaultMetrics({ register: metricsRegistry, prefix: 'mbwa_' })
}

export const deadLetters = new Counter({
  name: 'mbwa_dead_letters_total',
  help: 'Messages that did not decode and went to the dead-letter topic',
  labelNames: ['topic', 'reason'] as const,
  registers: [metricsRegistry],
})

export const eventsConsumed = new Counter({
  name: 'mbwa_events_consumed_total',
  help: 'Events decoded and handed to a consumer',
  labelNames: ['topic', 'group'] as const,
  registers: [metricsRegistry],
})

export const consumerLag = new Gauge({
  name: 'mbwa_consumer_lag',
  help: 'Messages between a group position and the partition end, as of the last batch',
  labelNames: ['topic', 'group', 'partition'] as const,
  registers: [metricsRegistry],
})

// The status of a running member as metrics (the same figures as /v1/stats and `mbwa status`), set from that
// status each time /metrics is read. Counts that describe the log (events a source appended, dropped repeats)
// are kept across restarts, so these counters only go up over the life of the log.

const sourceEvents = new Counter({ name: 'mbwa_source_events_total', help: 'Events a source appended to the log (kept across restarts)', labelNames: ['source'] as const, registers: [metricsRegistry] })
const sourceWikiEvents = new Counter({ name: 'mbwa_source_wiki_events_total', help: 'Events a source appended to the log, per wiki (kept across restarts)', labelNames: ['source', 'wiki'] as const, registers: [metricsRegistry] })
const sourceDropped = new Counter({ name: 'mbwa_source_dropped_total', help: 'Stream data a source dropped: repeats, canaries, malformed (to the dead-letter topic), not followed', labelNames: ['source', 'reason'] as const, registers: [metricsRegistry] })
const sourceConnected = new Gauge({ name: 'mbwa_source_connected', help: '1 while a source is reading (stream connected, last poll or discovery succeeded)', labelNames: ['source'] as const, registers: [metricsRegistry] })
const sourceLastEvent = new Gauge({ name: 'mbwa_source_last_event_timestamp_seconds', help: 'When the newest event a source appended happened, as the wiki dated it', labelNames: ['source'] as const, registers: [metricsRegistry] })
const sourceLag = new Gauge({ name: 'mbwa_source_lag_seconds', help: 'Seconds between the newest event a source appended and now', labelNames: ['source'] as const, registers: [metricsRegistry] })
const sourceReconnects = new Counter({ name: 'mbwa_source_reconnects_total', help: 'Reconnections of a source since this process started', labelNames: ['source'] as const, registers: [metricsRegistry] })
const sourceFailures = new Counter({ name: 'mbwa_source_failures_total', help: 'Failures of a source since this process started', labelNames: ['source'] as const, registers: [metricsRegistry] })
const snapshotPages = new Gauge({ name: 'mbwa_snapshot_pages', help: 'Pages read so far by a running snapshot', labelNames: ['wiki'] as const, registers: [metricsRegistry] })
const snapshotExpected = new Gauge({ name: 'mbwa_snapshot_expected_pages', help: 'Content pages of the wiki by its siteinfo statistics, for a running snapshot', labelNames: ['wiki'] as const, registers: [metricsRegistry] })
const projectionLag = new Gauge({ name: 'mbwa_projection_lag_events', help: 'Events of a partition not yet applied to the projection', labelNames: ['partition'] as const, registers: [metricsRegistry] })
const projectionStored = new Gauge({ name: 'mbwa_projection_events_stored', help: 'Events of a partition the projection store holds (its stored offset)', labelNames: ['partition'] as const, registers: [metricsRegistry] })
const storeBytes = new Gauge({ name: 'mbwa_projection_store_bytes', help: 'Size of the projection store on disk', registers: [metricsRegistry] })
const groupMembers = new Gauge({ name: 'mbwa_group_members', help: 'Members of the consumer group this member knows of', registers: [metricsRegistry] })
const sinkWaiting = new Gauge({ name: 'mbwa_sink_waiting_commands', help: 'Edit commands waiting, per wiki', labelNames: ['wiki'] as const, registers: [metricsRegistry] })
const sinkPaused = new Gauge({ name: 'mbwa_sink_paused', help: '1 while the sink does not write to a wiki (read-only, blocked, rights lost)', labelNames: ['wiki', 'reason'] as const, registers: [metricsRegistry] })
const sinkOutcomes = new Counter({ name: 'mbwa_sink_outcomes_total', help: 'Edit command outcomes since this process started (applied, failed, skipped with its reason, shown in a dry run, purged)', labelNames: ['outcome', 'reason'] as const, registers: [metricsRegistry] })
const dumpRunning = new Gauge({ name: 'mbwa_dump_running', help: '1 while a dump job of a wiki holds a live lease', labelNames: ['wiki'] as const, registers: [metricsRegistry] })
const snapshotFailures = new Gauge({ name: 'mbwa_snapshot_failures', help: 'Failed snapshot attempts of a wiki in a row since its last completed snapshot (from the log)', labelNames: ['wiki'] as const, registers: [metricsRegistry] })
const dumpFailures = new Gauge({ name: 'mbwa_dump_failures', help: 'Failed dump jobs of a wiki in a row since its last good dump (from the log)', labelNames: ['wiki'] as const, registers: [metricsRegistry] })
const reports = new Gauge({ name: 'mbwa_reports', help: "Pages in the discrepancy index per wiki and kind (this member's partitions): reports, missing links, pages waiting for their text", labelNames: ['wiki', 'kind'] as const, registers: [metricsRegistry] })
const dumpLastGood = new Gauge({ name: 'mbwa_dump_last_good_timestamp_seconds', help: 'When the last good dump of a wiki was written', labelNames: ['wiki'] as const, registers: [metricsRegistry] })

/** The part of /v1/stats the metrics are set from. */
export interface StatusForMetrics {
  partitions: { partition: number; offset: number; lag: number }[]
  storeBytes: number
  snapshotFailures?: Record<string, number>
  members: unknown[]
  /** Entries of the discrepancy index per wiki, then kind. */
  reports?: Record<string, Record<string, number>>
  sources: { sources: { source: string; connected: boolean; counts: Record<string, number | null>; lagSeconds: number | null; reconnects: number; failures: number; wikis: Record<string, { events: number; snapshot?: { pages: number; expected: number | null } }> }[] } | null
  sink: { waiting: Record<string, number>; paused: Record<string, { reason: string }>; applied: number; failed: number; shown?: number; purged?: number; skipped: Record<string, number> } | null
  dumps: { wiki: string; live: boolean; failures?: number; lastGood?: { completedAt?: number } | null }[] | null
}

export function setStatusMetrics(s: StatusForMetrics): void {
  for (const g of [sourceEvents, sourceWikiEvents, sourceDropped, sourceConnected, sourceLastEvent, sourceLag, sourceReconnects, sourceFailures, snapshotPages, snapshotExpected, projectionLag, projectionStored, sinkWaiting, sinkPaused, sinkOutcomes, dumpRunning, dumpLastGood, snapshotFailures, dumpFailures, reports]) g.reset()
  for (const [wiki, kinds] of Object.entries(s.reports ?? {})) for (const [kind, n] of Object.entries(kinds)) reports.set({ wiki, kind }, n)
  for (const src of s.sources?.sources ?? []) {
    const source = src.source
    sourceEvents.inc({ source }, Number(src.counts.events ?? 0))
    for (const reason of ['duplicates', 'canaries', 'malformed', 'ignored']) sourceDropped.inc({ source, reason }, Number(src.counts[reason] ?? 0))
    sourceConnected.set({ source }, src.connected ? 1 : 0)
    if (src.counts.lastEventAt) sourceLastEvent.set({ source }, Number(src.counts.lastEventAt) / 1000)
    if (src.lagSeconds !== null) sourceLag.set({ source }, src.lagSeconds)
    sourceReconnects.inc({ source }, src.reconnects)
    sourceFailures.inc({ source }, src.failures)
    for (const [wiki, w] of Object.entries(src.wikis)) {
      sourceWikiEvents.inc({ source, wiki }, w.events)
      if (w.snapshot) {
        snapshotPages.set({ wiki }, w.snapshot.pages)
        if (w.snapshot.expected !== null) snapshotExpected.set({ wiki }, w.snapshot.expected)
      }
    }
  }
  for (const p of s.partitions) {
    projectionLag.set({ partition: String(p.partition) }, p.lag)
    projectionStored.set({ partition: String(p.partition) }, p.offset)
  }
  storeBytes.set(s.storeBytes)
  for (const [wiki, n] of Object.entries(s.snapshotFailures ?? {})) snapshotFailures.set({ wiki }, n)
  groupMembers.set(Math.max(1, s.members.length))
  if (s.sink) {
    for (const [wiki, n] of Object.entries(s.sink.waiting)) sinkWaiting.set({ wiki }, n)
    for (const [wiki, p] of Object.entries(s.sink.paused)) sinkPaused.set({ wiki, reason: p.reason }, 1)
    sinkOutcomes.inc({ outcome: 'applied', reason: '' }, s.sink.applied)
    sinkOutcomes.inc({ outcome: 'failed', reason: '' }, s.sink.failed)
    sinkOutcomes.inc({ outcome: 'shown', reason: '' }, s.sink.shown ?? 0)
    sinkOutcomes.inc({ outcome: 'purged', reason: '' }, s.sink.purged ?? 0)
    for (const [reason, n] of Object.entries(s.sink.skipped)) sinkOutcomes.inc({ outcome: 'skipped', reason }, n)
  }
  for (const d of s.dumps ?? []) {
    dumpRunning.set({ wiki: d.wiki }, d.live ? 1 : 0)
    dumpFailures.set({ wiki: d.wiki }, d.failures ?? 0)
    if (d.lastGood?.completedAt) dumpLastGood.set({ wiki: d.wiki }, d.lastGood.completedAt / 1000)
  }
}
