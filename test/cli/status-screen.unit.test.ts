import { describe, expect, it } from 'vitest'
import { renderStatus, type Stats } from '../../src/cli/status.js'
import type { SourceStatus } from '../../src/streams/source-meter.js'

// The screen `mbwa status` prints, from a deployment's /v1/stats (the int test runs it against a live one).
describe('mbwa status screen', () => {
  const now = Date.parse('2026-12-02T08:00:00Z')
  const snapshot: SourceStatus = {
    source: 'snapshot',
    enabled: true,
    connected: true,
    counts: { events: 1200, duplicates: 0, canaries: 0, malformed: 0, ignored: 0, lastEventAt: now - 5000 },
    lagSeconds: null,
    connections: 1,
    reconnects: 0,
    failures: 4,
    lastError: { message: 'ab: HTTP 404 from https://ab.wiktionary.org/w/api.php', at: now - 30_000 },
    wikis: { en: { events: 1200, lastEventAt: now - 5000, lastReadAt: now - 5000 } },
  }
  const stats = (snapshotFailures?: Record<string, number>): Stats => ({
    eventsApplied: 1200,
    eventsInStore: 1200,
    commandsSent: 0,
    partitions: [{ partition: 0, offset: 1200, end: 1200, lag: 0, restoring: false }],
    partitionCount: 1,
    lag: 0,
    members: [],
    storeBytes: 4096,
    ...(snapshotFailures ? { snapshotFailures } : {}),
    sources: { sources: [snapshot], wikis: { total: 3, closed: 0, discoveredAt: now - 60_000 } },
    sink: null,
    dumps: null,
    at: new Date(now).toISOString(),
  })

  it('names each wiki whose snapshots keep failing, with the attempts in a row', () => {
    const out = renderStatus(stats({ zu: 1, ab: 4, en: 0 }), 'http://127.0.0.1:8642', now)
    const lines = out.split('\n')
    const at = lines.findIndex((l) => /^ {2}snapshot +connected; 1,200 events in/.test(l))
    expect(at).toBeGreaterThanOrEqual(0)
    expect(lines[at + 1]).toMatch(/4 failures; last error 30 s ago: ab: HTTP 404/)
    expect(lines.slice(at + 2, at + 5)).toEqual(['    en: 1,200 pages read, last 5 s ago', '    ab: snapshot failing, 4 attempts in a row failed', '    zu: snapshot failing, 1 attempt in a row failed'])
    expect(out).not.toMatch(/en: snapshot failing/)
  })

  it('shows the reports per wiki and kind', () => {
    const out = renderStatus({ ...stats(), reports: { en: { 'stale-missing': 1200, 'langlinks-outdated': 3 }, fr: { redundant: 2 } } }, 'http://127.0.0.1:8642', now)
    expect(out).toContain('reports (pages per kind)\n  en: 3 langlinks-outdated, 1,200 stale-missing\n  fr: 2 redundant')
  })

  it('counts a dry run as diffs shown, not edits', () => {
    const sink = { apply: false, waiting: {}, paused: {}, applied: 0, shown: 4, purged: 0, skipped: { 'already-correct': 2 }, failed: 0, verified: 6, verifyBatches: 1 }
    expect(renderStatus({ ...stats(), sink }, 'http://127.0.0.1:8642', now)).toContain('dry run; 4 diffs shown (nothing edited), 2 skipped')
    expect(renderStatus({ ...stats(), sink: { ...sink, apply: true, applied: 3, purged: 1 } }, 'http://127.0.0.1:8642', now)).toContain('editing; 3 edits, 1 purges, 2 skipped')
  })

  it('shows each report page: how its last run ended, and when it is looked at next', () => {
    const sink = { apply: true, waiting: {}, paused: {}, applied: 0, shown: 0, purged: 0, skipped: {}, failed: 0, verified: 0, verifyBatches: 0 }
    const reportPages = { en: { page: 'User:Bot/Reports', outcome: 'kept-edit', message: 'kept as someone left them: User:Bot/Reports', lastRunAt: new Date(now - 2 * 3600_000).toISOString(), nextAt: new Date(now + 3 * 86_400_000).toISOString(), pendingEdits: 0 } }
    expect(renderStatus({ ...stats(), sink: { ...sink, reportPages } }, 'http://127.0.0.1:8642', now)).toContain('report page en:User:Bot/Reports: kept-edit (kept as someone left them: User:Bot/Reports); last run 2 h ago; next look in 3 d')
  })

  it('says nothing of failures when none is failing, or when an older mbwa does not report them', () => {
    for (const s of [stats({}), stats()]) expect(renderStatus(s, 'http://127.0.0.1:8642', now)).not.toMatch(/failing/)
  })
})
