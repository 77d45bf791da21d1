import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CheckpointStore } from '../../src/streams/checkpoints.js'
import { SourceMeter } from '../../src/streams/source-meter.js'
import { Progress } from '../../src/progress.js'
import type { Logger } from '../../src/logging.js'

describe('source meter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-meter-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('keeps what describes the log across a reopen, and starts what describes the process again', async () => {
    let now = 1_000_000
    const cp = await CheckpointStore.open(join(dir, 'cp'))
    const meter = await new SourceMeter('recentchanges', () => now).load(cp)
    meter.appended(3, 999_000, 'en')
    meter.appended(2, 998_000, 'fr')
    meter.dropped('duplicates', 4)
    meter.connections = 3
    meter.failed(new Error('boom'))
    await cp.putAll([['rc:en', { x: 1 }], meter.entry()])
    const s = meter.status()
    expect(s.counts).toMatchObject({ events: 5, duplicates: 4, lastEventAt: 999_000 })
    expect(s.lagSeconds).toBe(1)
    expect(s.reconnects).toBe(2)
    expect(s.lastError).toEqual({ message: 'boom', at: now })
    expect(s.wikis.en).toEqual({ events: 3, lastEventAt: 999_000, lastReadAt: now })

    now += 60_000
    const again = await new SourceMeter('recentchanges', () => now).load(cp)
    expect(again.status().counts).toEqual(s.counts)
    expect(again.status().wikis.fr!.events).toBe(2)
    expect(again.status().lagSeconds).toBe(61)
    expect(again.status()).toMatchObject({ connections: 0, reconnects: 0, failures: 0, lastError: null, connected: false })
    await cp.close()
  })

  it('reports a snapshot\'s rate and ETA from its expected size, over this run only (a resumed one too)', () => {
    let now = 0
    const meter = new SourceMeter('snapshot', () => now)
    meter.snapshotProgress('en', 's1', 0, 1000, 11_000) // resumed at 1,000 pages
    now = 10_000
    meter.snapshotProgress('en', 's1', 0, 6000, 11_000)
    expect(meter.status().wikis.en!.snapshot).toEqual({ snapshotId: 's1', startedAt: 0, pages: 6000, expected: 11_000, rate: 500, etaSeconds: 10 })
    meter.snapshotProgress('en', 's1', 0, 12_000, 11_000) // the wiki grew: no negative ETA
    expect(meter.status().wikis.en!.snapshot!.etaSeconds).toBe(0)
    meter.snapshotEnded('en')
    expect(meter.status().wikis.en!.snapshot).toBeUndefined()
  })
})

describe('progress without a terminal', () => {
  it('logs a line with count, rate and ETA every interval, and none in between', () => {
    let now = 0
    const lines: [Record<string, unknown>, string][] = []
    const logger = { info: (o: Record<string, unknown>, m: string) => lines.push([o, m]) } as unknown as Logger
    const p = new Progress({ label: 'rebuild', unit: 'events', total: 1000, logger, bar: false, everyMs: 5000, now: () => now })
    now = 1000
    p.update(100)
    expect(lines).toHaveLength(0)
    now = 5000
    p.update(500)
    expect(lines).toEqual([[{ events: 500, total: 1000, perSecond: 100, etaSeconds: 5 }, 'rebuild: progress']])
    now = 6000
    p.update(600)
    expect(lines).toHaveLength(1)
    expect(p.stop()).toEqual({ done: 600, total: 1000, rate: 100, etaSeconds: 4 })
  })
})
