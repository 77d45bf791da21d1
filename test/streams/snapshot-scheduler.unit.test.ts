import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { MediaWikiClient } from '../../src/mediawiki/client.js'
import { CheckpointStore } from '../../src/streams/checkpoints.js'
import { SnapshotReader, type SnapshotSchedule } from '../../src/streams/snapshot.js'
import { SnapshotScheduler } from '../../src/streams/snapshot-scheduler.js'
import type { WikiSource } from '../../src/streams/wiki-source.js'

// One wiki whose snapshot keeps failing (its API answers errors) must not hold up the others: its interrupted
// snapshot is tried again after a backoff that grows, and the other wikis are read meanwhile.

describe('snapshot scheduler with a failing wiki (unit)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-sched-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('reads the other wikis while one fails, tries it again with a growing wait, and forgets its failures once it succeeds', async () => {
    const checkpoints = await CheckpointStore.open(join(dir, 'cp'))
    const attempts: { wiki: string; at: number }[] = []
    let broken = true
    const recorded: [string, number][] = []
    // A reader that starts a snapshot (its state is stored) and then fails on `bad` while it is broken.
    const reader = {
      state: (wiki: string) => checkpoints.get(SnapshotReader.stateKey(wiki)),
      run: async (wiki: WikiSource) => {
        attempts.push({ wiki: wiki.code, at: performance.now() })
        await checkpoints.put(SnapshotReader.stateKey(wiki.code), { snapshotId: `${wiki.code}-1`, startedAt: Date.now(), pages: 0, batches: 0 })
        if (wiki.code === 'bad' && broken) throw new Error('HTTP 503 from bad')
        const schedule: SnapshotSchedule = { lastStartedAt: Date.now(), lastCompletedAt: Date.now(), lastDurationMs: 1, pages: 1 }
        await checkpoints.put(SnapshotReader.scheduleKey(wiki.code), schedule)
        await checkpoints.delete(SnapshotReader.stateKey(wiki.code))
      },
      failed: async (wiki: string, failures: number) => {
        recorded.push([wiki, failures])
      },
    } as unknown as SnapshotReader
    const wiki = (code: string): WikiSource => ({ code, client: {} as MediaWikiClient })
    const warnings: object[] = []
    const logger = { warn: (o: object) => warnings.push(o), info: () => undefined, debug: () => undefined, error: () => undefined } as never
    const scheduler = new SnapshotScheduler([wiki('bad'), wiki('a'), wiki('b')], { reader, checkpoints, retryMs: 40, maxRetryMs: 400, logger })
    const started = performance.now()
    scheduler.start()
    const until = async (what: () => boolean, ms = 10_000) => {
      const end = Date.now() + ms
      while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
      expect(what()).toBe(true)
    }
    try {
      // The two good wikis are read although bad comes first and its interrupted snapshot would resume first.
      await until(() => attempts.some((a) => a.wiki === 'a') && attempts.some((a) => a.wiki === 'b'))
      expect(attempts[0]!.wiki).toBe('bad')
      // Four tries made and their failures counted (a try is recorded when it starts, counted after it fails).
      await until(() => attempts.filter((a) => a.wiki === 'bad').length >= 4 && (scheduler.failing().bad?.count ?? 0) >= 4 && recorded.length >= 4)
      const bad = attempts.filter((a) => a.wiki === 'bad').map((a) => a.at)
      // The waits between tries grow (40, 80, 160 ms ... up to 400): no loop hot on a failing wiki.
      const gaps = bad.slice(1).map((t, i) => t - bad[i]!)
      expect(gaps[0]).toBeGreaterThanOrEqual(35)
      expect(gaps[2]).toBeGreaterThanOrEqual(140)
      expect(bad.length).toBeLessThanOrEqual(2 + Math.ceil((performance.now() - started) / 40))
      expect(scheduler.failing().bad?.count).toBeGreaterThanOrEqual(4)
      expect(warnings.at(-1)).toMatchObject({ wiki: 'bad', failures: bad.length })
      // Each failure goes into the log (SnapshotFailed), with the failures in a row so far.
      expect(recorded.slice(0, 4)).toEqual([['bad', 1], ['bad', 2], ['bad', 3], ['bad', 4]])
      // a and b were read once each: they are not due again for a week.
      expect(attempts.filter((a) => a.wiki !== 'bad').length).toBe(2)

      broken = false
      await until(() => scheduler.failing().bad === undefined, 5_000)
      expect(await reader.state('bad')).toBeUndefined()
    } finally {
      await scheduler.stop()
      await checkpoints.close()
    }
  })
})
