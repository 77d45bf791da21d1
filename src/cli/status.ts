import type { Command } from 'commander'
import { request } from 'undici'
import { MbwaError } from '../errors/errors.js'
import type { StatsResponse } from '../projections/http/responses.js'
import type { SinkStatus } from '../app/sink.js'
import { commandContext, endpointHeaders, endpointUrl } from './context.js'

// `mbwa status`: one screen from a running deployment, read from its /v1/stats (and, in a consumer group, from
// every member it names, so the partitions of the whole group show): the sources, the projection, the sink and
// the dumps.

/** What /v1/stats answers, as `mbwa status` reads it. */
export type Stats = StatsResponse<SinkStatus>

const n = (x: number) => x.toLocaleString('en-US')

function inTime(ms: number, now: number): string {
  const s = Math.max(0, Math.round((ms - now) / 1000))
  if (s < 120) return `in ${s} s`
  if (s < 7200) return `in ${Math.round(s / 60)} min`
  if (s < 172_800) return `in ${Math.round(s / 3600)} h`
  return `in ${Math.round(s / 86_400)} d`
}

function ago(ms: number | null | undefined, now: number): string {
  if (ms === null || ms === undefined) return 'never'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 120) return `${s} s ago`
  if (s < 7200) return `${Math.round(s / 60)} min ago`
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86_400)} d ago`
}

function bytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024
    i++
  }
  return `${b.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

/** The screen, from one member's stats (its partitions replaced by the whole group's when they were gathered). */
export function renderStatus(stats: Stats, url: string, now = Date.now()): string {
  const out: string[] = [`mbwa at ${url} (${stats.at})`, '']
  out.push('sources')
  if (!stats.sources) out.push('  (this member runs no sources)')
  for (const s of stats.sources?.sources ?? []) {
    if (!s.enabled) {
      out.push(`  ${s.source.padEnd(14)} off`)
      continue
    }
    const state = s.connected ? 'connected' : 'not connected'
    const c = s.counts
    const dropped = [c.duplicates && `${n(c.duplicates)} repeats`, c.canaries && `${n(c.canaries)} canaries`, c.malformed && `${n(c.malformed)} malformed`].filter(Boolean).join(', ')
    const lag = s.lagSeconds === null ? '' : `, ${n(s.lagSeconds)} s behind now`
    out.push(`  ${s.source.padEnd(14)} ${state}; ${n(c.events)} events in, last event ${ago(c.lastEventAt, now)}${lag}${dropped ? `; dropped ${dropped}` : ''}`)
    if (s.reconnects > 0 || s.failures > 0) out.push(`  ${''.padEnd(14)} ${s.reconnects} reconnects, ${s.failures} failures${s.lastError ? `; last error ${ago(s.lastError.at, now)}: ${s.lastError.message}` : ''}`)
    if (s.source === 'discovery' && stats.sources) {
      const w = stats.sources.wikis
      out.push(`  ${''.padEnd(14)} ${w.total} wikis (${w.closed} closed), read ${ago(w.discoveredAt, now)}`)
    }
    for (const [wiki, w] of Object.entries(s.wikis)) {
      if (w.snapshot) {
        const p = w.snapshot
        const of = p.expected === null ? '' : ` of ~${n(p.expected)}`
        const eta = p.etaSeconds === null ? '' : `, ETA ${Math.ceil(p.etaSeconds / 60)} min`
        out.push(`    ${wiki}: snapshot running, ${n(p.pages)}${of} pages, ${n(Math.round(p.rate))} pages/s${eta}`)
      } else if (s.source === 'recentchanges') {
        out.push(`    ${wiki}: ${n(w.events)} events, read ${ago(w.lastReadAt, now)}, last change ${ago(w.lastEventAt, now)}`)
      } else if (s.source === 'snapshot') {
        out.push(`    ${wiki}: ${n(w.events)} pages read, last ${ago(w.lastReadAt, now)}`)
      }
    }
    if (s.source === 'snapshot') {
      // Which wikis keep failing (the source's counts above do not say): retried with a growing wait meanwhile.
      const failing = Object.entries(stats.snapshotFailures ?? {}).filter(([, f]) => f > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      for (const [wiki, f] of failing) out.push(`    ${wiki}: snapshot failing, ${n(f)} attempt${f === 1 ? '' : 's'} in a row failed`)
    }
  }
  out.push('', 'projection')
  out.push(`  ${n(stats.eventsInStore)} events in the store (${n(stats.eventsApplied)} applied since start), lag ${n(stats.lag)}, store ${bytes(stats.storeBytes)}`)
  const members = stats.members.length > 0 ? stats.members : [url]
  out.push(`  ${members.length} member${members.length === 1 ? '' : 's'}: ${members.join(', ')}`)
  const held = new Set(stats.partitions.map((p) => p.partition))
  for (const p of stats.partitions) out.push(`    partition ${String(p.partition).padStart(3)}  offset ${n(p.offset).padStart(12)}  lag ${n(p.lag).padStart(10)}${p.restoring ? '  restoring' : ''}`)
  const missing = Array.from({ length: stats.partitionCount }, (_, i) => i).filter((i) => !held.has(i))
  if (missing.length > 0) out.push(`    partitions no member answered for: ${missing.join(', ')}`)
  out.push('', 'reports (pages per kind)')
  const reportWikis = Object.keys(stats.reports ?? {}).sort()
  if (reportWikis.length === 0) out.push('  none')
  for (const w of reportWikis) {
    const kinds = Object.entries(stats.reports![w]!).sort(([a], [b]) => (a < b ? -1 : 1))
    out.push(`  ${w}: ${kinds.map(([k, c]) => `${n(c)} ${k}`).join(', ')}`)
  }
  out.push('', 'sink')
  if (!stats.sink) out.push('  off')
  else {
    const s = stats.sink
    const skipped = Object.values(s.skipped).reduce((a, b) => a + b, 0)
    // A dry run prints diffs and edits nothing: its count is of the diffs shown, not of edits.
    const done = s.apply ? `${n(s.applied)} edits${s.purged ? `, ${n(s.purged)} purges` : ''}` : `${n(s.shown ?? 0)} diffs shown (nothing edited)`
    out.push(`  ${s.apply ? 'editing' : 'dry run'}; ${done}, ${n(skipped)} skipped, ${n(s.failed)} failed since start; ${n(s.verified)} pages verified`)
    const wikis = [...new Set([...Object.keys(s.waiting), ...Object.keys(s.paused)])].sort()
    if (wikis.length === 0) out.push('  nothing waiting')
    for (const w of wikis) {
      const p = s.paused[w]
      out.push(`    ${w}: ${n(s.waiting[w] ?? 0)} waiting${p ? `; paused ${ago(p.since, now)}: ${p.reason}` : ''}`)
    }
    for (const [w, r] of Object.entries(s.reportPages ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const next = r.nextAt === null ? '' : Date.parse(r.nextAt) <= now ? '; due now' : `; next look ${inTime(Date.parse(r.nextAt), now)}`
      out.push(`  report page ${w}:${r.page}: ${r.outcome}${r.message ? ` (${r.message})` : ''}; last run ${ago(r.lastRunAt === null ? null : Date.parse(r.lastRunAt), now)}${next}`)
    }
  }
  out.push('', 'dumps')
  if (!stats.dumps) out.push('  no monitor on this member')
  else if (stats.dumps.length === 0) out.push('  no dumps yet')
  for (const d of stats.dumps ?? []) {
    const running = d.live && d.running ? `running (${n(d.running.titlesWritten)}${d.running.titlesTotal ? `/${n(d.running.titlesTotal)}` : ''} titles, on ${d.running.host})` : 'idle'
    const good = d.lastGood ? `last good ${ago(d.lastGood.completedAt, now)} (${n(d.lastGood.count)} titles)` : 'no good dump yet'
    out.push(`    ${d.wiki}: ${running}; ${good}${d.lastFailure ? `; last failure ${ago(d.lastFailure.at, now)}: ${d.lastFailure.error}` : ''}`)
  }
  return out.join('\n') + '\n'
}

async function fetchStats(url: string, headers: Record<string, string>): Promise<Stats> {
  const res = await request(`${url}/v1/stats`, { headers, headersTimeout: 10_000, bodyTimeout: 10_000 }).catch((err: unknown) => {
    throw new MbwaError('MBWA_UNREACHABLE', `no mbwa answers at ${url}: ${(err as Error).message} (is mbwa run running? --url names another)`)
  })
  if (res.statusCode !== 200) {
    const text = await res.body.text()
    throw new MbwaError('MBWA_UNREACHABLE', `${url}/v1/stats answered ${res.statusCode}: ${text.slice(0, 200)}`)
  }
  return (await res.body.json()) as Stats
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('one screen from a running mbwa: sources, projection lag per partition, group members, store, sink, dumps')
    .option('--url <url>', 'the member to ask (default: the local endpoint, http.host:http.port)')
    .option('--json', 'print the gathered stats as JSON')
    .action(async (options: { url?: string; json?: boolean }, command: Command) => {
      const { config } = commandContext(command)
      const url = endpointUrl(config, options.url)
      const headers = endpointHeaders(config)
      const stats = await fetchStats(url, headers)
      // In a group each member holds some partitions: ask the others for theirs (one that does not answer is said).
      const others = stats.members.filter((m) => m.replace(/\/$/, '') !== url)
      for (const member of others) {
        const theirs = await fetchStats(member.replace(/\/$/, ''), headers).catch(() => undefined)
        for (const p of theirs?.partitions ?? []) if (!stats.partitions.some((q) => q.partition === p.partition)) stats.partitions.push(p)
      }
      stats.partitions.sort((a, b) => a.partition - b.partition)
      stats.lag = stats.partitions.reduce((a, p) => a + p.lag, 0)
      stats.eventsInStore = stats.partitions.reduce((a, p) => a + p.offset, 0)
      process.stdout.write(options.json ? JSON.stringify(stats, null, 2) + '\n' : renderStatus(stats, url))
    })
}
