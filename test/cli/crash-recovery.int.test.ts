import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { waitFor } from '../log/helpers.js'
import { runMbwa, startMbwa, storedOffsets } from '../setup/mbwa-process.js'
import { observed } from '../projections/fixtures.js'

// kill -9 of `mbwa run` in the middle of applying, several times: each restart resumes from the offsets stored
// with the state, and the end state is the one a clean replay gives. Each kill is shown to have landed mid-replay
// by the offsets the store kept (more than the previous kill's, fewer than the log's end), not assumed from a
// delay. Small batches make a replay many commits long, so there is a middle to land in on any machine.
const ENV = { MBWA_HTTP__PORT: '0', MBWA_PROJECTION__MAX_BATCH_SIZE: '50', MBWA_DISCOVERY__SITEMATRIX__ENABLED: 'false' }
const PARTITIONS = 12
const TOTAL = 40_000
// Kills in the short form (CI); `bench/faults.ts` runs 20.
const KILLS = Number(process.env.MBWA_CRASH_KILLS ?? 4)

interface Stats {
  lag: number
  partitions: { offset: number; restoring: boolean }[]
}

/** TOTAL events on the embedded log of `work`: 9,000 titles on three wikis. */
async function seedLog(work: string): Promise<void> {
  const log = await EmbeddedLog.open({ path: join(work, 'data/log') })
  await log.ensureTopics(topicSpecs(topicNames(), { events: PARTITIONS, edits: 4, dumps: 1, deadLetter: 1 }))
  const events = new EventStore(log, SchemaRegistry.load())
  for (let i = 0; i < TOTAL; i += 5000) {
    await events.append('mbwa.events', Array.from({ length: 5000 }, (_, j) => observed(['en', 'fr', 'de'][(i + j) % 3]!, `t ${(i + j) % 9000}`, (i + j) % 2 ? ['en'] : ['fr'], { revision: i + j })))
  }
  await log.close()
}

describe('crash recovery of the projection (embedded log, mbwa processes)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-crash-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('ends in the same state after kill -9 mid-replay as after one clean replay', { timeout: 300_000 }, async () => {
    await seedLog(work)

    // Kill as soon as the run shows progress past what the previous kill left: each round moves the replay on.
    const kept: number[] = [0]
    const shown: number[] = []
    for (let round = 0; round < KILLS; round++) {
      const run = startMbwa(['run'], { cwd: work, env: ENV })
      const url = await run.url()
      // Kills spread over the replay: past what the previous kill kept, and past this round's share of it.
      const before = Math.max(kept.at(-1)!, Math.floor(((round + 1) * TOTAL) / (KILLS + 2)))
      let last: Stats | undefined
      let applied = 0
      await waitFor(async () => {
        last = (await (await request(`${url}/v1/stats`)).body.json()) as Stats
        applied = last.partitions.reduce((n, p) => n + p.offset, 0)
        return last.partitions.length === PARTITIONS && (applied > before || last.lag === 0)
      }, 120_000, 'progress of the replay')
      if (last!.lag === 0) {
        run.child.kill('SIGTERM')
        await run.exited
        break
      }
      run.child.kill('SIGKILL') // no goodbye: whatever was in flight is lost, the stored offsets say what was not
      await run.exited
      shown.push(applied)
      kept.push(await storedOffsets(join(work, 'data/projection'), PARTITIONS))
    }
    const kills = kept.slice(1)
    console.log(`embedded crash recovery: ${kills.length} kills mid-replay, offsets kept ${kills.join(', ')} of ${TOTAL}`)
    expect(kills.length).toBeGreaterThan(0)
    for (let i = 0; i < kills.length; i++) {
      expect(kills[i]).toBeLessThan(TOTAL) // the kill landed before the end of the replay…
      expect(shown[i]).toBeGreaterThan(kept[i]!) // …after this run had applied more than the previous one kept…
      expect(kills[i]).toBeGreaterThanOrEqual(shown[i]!) // …and nothing this run had reported applied was lost
    }

    // Whatever is left, a clean run finishes it.
    const run = startMbwa(['run'], { cwd: work, env: ENV })
    const url = await run.url()
    await waitFor(async () => {
      const s = (await (await request(`${url}/v1/stats`)).body.json()) as Stats
      return s.partitions.length === PARTITIONS && s.lag === 0
    }, 180_000, 'the projection to finish')
    const crashed = ((await (await request(`${url}/v1/digest`)).body.json()) as { digest: string }).digest
    run.child.kill('SIGTERM')
    expect(await run.exited).toBe(0)
    expect(await storedOffsets(join(work, 'data/projection'), PARTITIONS)).toBe(TOTAL)

    const rebuilt = await runMbwa(['rebuild', '--no-progress'], { cwd: work, env: ENV })
    expect(rebuilt.status).toBe(0)
    expect(rebuilt.stdout).toContain(crashed)
  })
})

// SIGTERM in the middle of a replay: mbwa finishes the batch in hand, stores it with its offsets and exits 0 within
// seconds; the next run applies exactly the rest (nothing lost, nothing applied twice).
describe('graceful stop of mbwa run (embedded log, mbwa processes)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-stop-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('stops within 10 s on SIGTERM mid-stream, and the next run applies exactly what was left', { timeout: 300_000 }, async () => {
    await seedLog(work)

    const first = startMbwa(['run'], { cwd: work, env: ENV })
    const url = await first.url()
    let applied = 0
    await waitFor(async () => {
      const s = (await (await request(`${url}/v1/stats`)).body.json()) as Stats
      applied = s.partitions.reduce((n, p) => n + p.offset, 0)
      return s.partitions.length === PARTITIONS && applied > 0
    }, 120_000, 'the replay under way')
    const t0 = Date.now()
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    const stopMs = Date.now() - t0
    console.log(`graceful stop mid-replay: ${stopMs} ms`)
    expect(stopMs).toBeLessThan(10_000) // the bound for a stop; it takes well under a second here
    expect(first.stderr()).toContain('mbwa stopped')
    const kept = await storedOffsets(join(work, 'data/projection'), PARTITIONS)
    expect(kept).toBeGreaterThanOrEqual(applied) // what it reported applied was kept…
    expect(kept).toBeLessThan(TOTAL) // …and the stop came mid-stream

    const second = startMbwa(['run'], { cwd: work, env: ENV })
    const url2 = await second.url()
    let s2: (Stats & { eventsApplied: number }) | undefined
    await waitFor(async () => {
      s2 = (await (await request(`${url2}/v1/stats`)).body.json()) as Stats & { eventsApplied: number }
      return s2.partitions.length === PARTITIONS && s2.lag === 0
    }, 180_000, 'the rest applied')
    expect(s2!.eventsApplied).toBe(TOTAL - kept) // exactly the rest: nothing lost, nothing applied twice
    second.child.kill('SIGTERM')
    expect(await second.exited).toBe(0)
  })
})

