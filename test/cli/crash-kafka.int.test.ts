import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { seedReplay } from '../setup/kafka.js'
import { memberConfig } from '../setup/member-config.js'
import { runMbwa, startMbwa, storedOffsets } from '../setup/mbwa-process.js'
import { uniqueName, waitFor } from '../log/helpers.js'

// kill -9 of a member on the real broker in the middle of applying, again and again (MBWA_CRASH_KILLS, default 3
// here; `bench/faults.ts` does 20): each kill is shown to land mid-replay by the offsets the store kept, and the
// end state is the one a clean replay gives (the digest of `mbwa rebuild`).
const KILLS = Number(process.env.MBWA_CRASH_KILLS ?? 3)
const PARTITIONS = 6
const TOTAL = 30_000
const ENV = { MBWA_PROJECTION__MAX_BATCH_SIZE: '50' }

describe('crash recovery of the projection (int, real broker, mbwa processes)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-crash-kafka-'))
  const prefix = uniqueName('crash').replace(/-/g, '_')
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it(`ends in the state of a clean replay after ${KILLS} kill -9 mid-replay`, { timeout: 900_000 }, async () => {
    await seedReplay(prefix, PARTITIONS, TOTAL)
    const config = memberConfig(work, 'm', { prefix, events: PARTITIONS, extra: 'sink: {enabled: false}\ndumps: {monitor: false}' })
    const kept: number[] = [0]
    const shown: number[] = []
    // Each run is killed once it has applied more than the previous one kept: every round moves the replay on.
    for (let round = 0; round < KILLS; round++) {
      const run = startMbwa(['--config', config, 'run'], { cwd: work, env: ENV })
      const url = await run.url(60_000)
      // Kills spread over the replay: past what the previous kill kept, and past this round's share of it.
      const before = Math.max(kept.at(-1)!, Math.floor(((round + 1) * TOTAL) / (KILLS + 2)))
      let applied = 0
      let lag = 1
      await waitFor(async () => {
        const s = (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; partitions: { offset: number }[] }
        applied = s.partitions.reduce((n, p) => n + p.offset, 0)
        lag = s.lag
        return s.partitions.length === PARTITIONS && (applied > before || s.lag === 0)
      }, 120_000, 'progress of the replay')
      run.child.kill('SIGKILL')
      await run.exited
      if (lag === 0 && applied >= TOTAL) break
      shown.push(applied)
      kept.push(await storedOffsets(join(work, 'm', 'projection'), PARTITIONS))
    }
    const kills = kept.slice(1)
    console.log(`kafka crash recovery: ${kills.length} kills mid-replay, offsets kept ${kills.join(', ')} of ${TOTAL}`)
    expect(kills.length).toBe(KILLS)
    for (let i = 0; i < kills.length; i++) {
      expect(kills[i]).toBeLessThan(TOTAL)
      expect(shown[i]).toBeGreaterThan(kept[i]!) // this run applied more than the previous one kept
      expect(kills[i]).toBeGreaterThanOrEqual(shown[i]!)
    }

    const run = startMbwa(['--config', config, 'run'], { cwd: work, env: ENV })
    const url = await run.url(60_000)
    await waitFor(async () => {
      const s = (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; partitions: unknown[] }
      return s.partitions.length === PARTITIONS && s.lag === 0
    }, 300_000, 'the projection to finish')
    const crashed = ((await (await request(`${url}/v1/digest`)).body.json()) as { digest: string }).digest
    run.child.kill('SIGTERM')
    expect(await run.exited).toBe(0)
    expect(await storedOffsets(join(work, 'm', 'projection'), PARTITIONS)).toBe(TOTAL)
    const rebuilt = await runMbwa(['--config', config, 'rebuild', '--no-progress'], { cwd: work, env: ENV })
    expect(rebuilt.status).toBe(0)
    expect(rebuilt.stdout).toContain(crashed)
  })
})
