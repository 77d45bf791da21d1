import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import type { Stats } from '../../src/cli/status.js'
import { FakeEventStreams } from '../setup/fake-eventstreams.js'
import { farmWiki } from '../setup/farm.js'
import { waitFor } from '../log/helpers.js'
import { runMbwa, startMbwa } from '../setup/mbwa-process.js'
import { canaries, feed, generated } from '../streams/eventstreams-feed.js'

// `mbwa status` against a running instance, as an operator uses it: every part of a deployment on one screen,
// the same figures in /v1/stats and /metrics, and the counts that describe the log kept across a restart.
describe('mbwa status (int, real MediaWiki, loopback EventStreams)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-status-'))
  const stream = (() => {
    const events = generated(40)
    // 40 events, 5 canaries, one line that is not JSON, one repeat of the first event.
    return new FakeEventStreams(feed([...events, ...canaries(), 'not json {', events[0]!]))
  })()
  afterAll(async () => {
    await stream.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const stats = async (url: string): Promise<Stats> => (await (await request(`${url}/v1/stats`)).body.json()) as Stats
  const source = (s: Stats, name: string) => s.sources!.sources.find((x) => x.source === name)!

  it('shows sources, projection, sink and dumps, and keeps what the log holds across a restart', { timeout: 300_000 }, async () => {
    const streamUrl = await stream.listen()
    const config = join(dir, 'mbwa.yaml')
    writeFileSync(
      config,
      `dataDir: ${join(dir, 'data')}
userAgent: {contact: "mbwa tests"}
http: {port: 0}
log: {partitions: {events: 4}}
wikis:
  en: {api: "${farmWiki('en').api}", dbname: enwiktionary}
  fr: {api: "${farmWiki('fr').api}", dbname: frwiktionary}
sources:
  recentChanges: {minIntervalSeconds: 0.5, initialIntervalSeconds: 0.5, maxIntervalSeconds: 1}
  eventStreams: {enabled: true, url: "${streamUrl}", sinceHours: 100000}
`,
    )
    const first = startMbwa(['--config', config, 'run'], { cwd: dir })
    const url = await first.url()
    let before: Stats
    try {
      await waitFor(async () => {
        const s = await stats(url)
        const es = source(s, 'eventstreams')
        return (s.sources!.sources.find((x) => x.source === 'snapshot')!.counts.events ?? 0) > 0 &&
          (first.stderr().match(/snapshot completed/g) ?? []).length >= 2 &&
          es.counts.events >= 40 && es.counts.canaries === 5 && es.counts.malformed === 1 && es.counts.duplicates === 1 && s.lag === 0
      }, 120_000, 'the stream read, both snapshots done, the projection caught up')
      before = await stats(url)
      const es = source(before, 'eventstreams')
      expect(es.connected).toBe(true)
      expect(es.counts.events).toBeGreaterThanOrEqual(40)
      expect(es.wikis.en!.events + es.wikis.fr!.events).toBe(es.counts.events)
      expect(source(before, 'recentchanges').connected).toBe(true)
      expect(before.partitions).toHaveLength(4)
      expect(before.eventsInStore).toBe(before.partitions.reduce((a, p) => a + p.offset, 0))
      expect(before.storeBytes).toBeGreaterThan(0)

      const screen = await runMbwa(['--config', config, 'status', '--url', url], { cwd: dir })
      expect(screen.status).toBe(0)
      const out = screen.stdout
      expect(out).toMatch(new RegExp(`eventstreams +connected; ${es.counts.events} events in, last event .* ago, [\\d,]+ s behind now; dropped 1 repeats, 5 canaries, 1 malformed`))
      expect(out).toMatch(/recentchanges +connected; [\d,]+ events in/)
      expect(out).toMatch(/ {4}en: [\d,]+ events, read \d+ s ago/)
      expect(out).toMatch(/snapshot +connected; [\d,]+ events in/)
      expect(out).toMatch(/discovery +off/)
      expect(out).toMatch(/events in the store .* lag 0, store [\d.]+ (KiB|MiB)/)
      expect(out).toMatch(/1 member: http:/)
      for (let p = 0; p < 4; p++) expect(out).toMatch(new RegExp(`partition +${p} +offset +[\\d,]+ +lag +0`))
      expect(out).toMatch(/sink\n {2}dry run; /)
      expect(out).toMatch(/dumps\n {4}en: idle; no good dump yet/)

      const metrics = await (await request(`${url}/metrics`)).body.text()
      expect(metrics).toContain(`mbwa_source_events_total{source="eventstreams"} ${es.counts.events}`)
      expect(metrics).toContain('mbwa_source_dropped_total{source="eventstreams",reason="canaries"} 5')
      expect(metrics).toContain('mbwa_source_connected{source="eventstreams"} 1')
      expect(metrics).toMatch(/mbwa_source_lag_seconds\{source="eventstreams"\} \d+/)
      expect(metrics).toMatch(/mbwa_projection_lag_events\{partition="3"\} 0/)
      expect(metrics).toMatch(/mbwa_projection_store_bytes \d+/)
      expect(metrics).toMatch(/mbwa_dump_running\{wiki="fr"\} 0/)
      expect(metrics).toMatch(/mbwa_dump_failures\{wiki="fr"\} 0/)
      // The process itself: memory, heap, event loop delay (what a slow query would be waiting on).
      expect(metrics).toMatch(/mbwa_process_resident_memory_bytes \d+/)
      expect(metrics).toMatch(/mbwa_nodejs_heap_size_used_bytes \d+/)
      expect(metrics).toMatch(/mbwa_nodejs_eventloop_lag_p99_seconds [\d.e-]+/)

      first.child.kill('SIGTERM')
      expect(await first.exited).toBe(0)
    } finally {
      first.child.kill('SIGKILL')
    }

    // A new process: what describes the log (events in, drops, newest event) is as it was; the store is too.
    const second = startMbwa(['--config', config, 'run'], { cwd: dir })
    try {
      const url2 = await second.url()
      await waitFor(async () => (await stats(url2)).partitions.length === 4, 60_000, 'the partitions restored')
      const after = await stats(url2)
      const es = source(after, 'eventstreams')
      expect(es.counts.events).toBe(source(before, 'eventstreams').counts.events)
      expect(es.counts.canaries).toBe(5)
      expect(es.counts.lastEventAt).toBe(source(before, 'eventstreams').counts.lastEventAt)
      expect(source(after, 'snapshot').counts.events).toBeGreaterThanOrEqual(source(before, 'snapshot').counts.events)
      expect(after.eventsInStore).toBeGreaterThanOrEqual(before.eventsInStore)
      const json = await runMbwa(['--config', config, 'status', '--url', url2, '--json'], { cwd: dir })
      expect(JSON.parse(json.stdout).sources.sources.map((s: { source: string }) => s.source)).toEqual(['eventstreams', 'recentchanges', 'snapshot', 'discovery'])
      second.child.kill('SIGTERM')
      expect(await second.exited).toBe(0)
    } finally {
      second.child.kill('SIGKILL')
    }

    // Nothing answering: a clear error and a non-zero exit.
    const none = await runMbwa(['--config', config, 'status', '--url', 'http://127.0.0.1:9'], { cwd: dir })
    expect(none.status).toBe(1)
    expect(none.stderr).toMatch(/no mbwa answers at http:\/\/127\.0\.0\.1:9/)
  })
})
