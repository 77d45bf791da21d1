import { describe, expect, it } from 'vitest'
import { metricsRegistry, setStatusMetrics } from '../src/metrics.js'

// Prometheus naming: running counts are counters ending in _total; a reason is a label of its own.
describe('metrics (unit)', () => {
  it('names counts as counters with _total and keeps the skip reason in its own label', async () => {
    setStatusMetrics({
      partitions: [{ partition: 0, offset: 5, lag: 0 }],
      storeBytes: 1,
      members: [],
      reports: { en: { 'stale-missing': 3 } },
      sources: { sources: [{ source: 'stream', connected: true, counts: { events: 1 }, lagSeconds: null, reconnects: 2, failures: 1, wikis: {} }] },
      sink: { waiting: {}, paused: {}, applied: 4, failed: 0, shown: 1, purged: 2, skipped: { 'already-correct': 5 } },
      dumps: null,
    })
    const text = await metricsRegistry.metrics()
    expect(text).toContain('# TYPE mbwa_source_reconnects_total counter')
    expect(text).toContain('mbwa_source_reconnects_total{source="stream"} 2')
    expect(text).toContain('mbwa_sink_outcomes_total{outcome="skipped",reason="already-correct"} 5')
    expect(text).toContain('mbwa_sink_outcomes_total{outcome="purged",reason=""} 2')
    expect(text).toContain('mbwa_reports{wiki="en",kind="stale-missing"} 3')
    expect(text).not.toMatch(/skipped:/)
  })
})
