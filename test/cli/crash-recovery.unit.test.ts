import { spawnSync } from 'node:child_process'
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
import { CLI, cleanEnv, startMbwa } from '../setup/mbwa-process.js'
import { observed } from '../projections/fixtures.js'

// kill -9 of `mbwa run` in the middle of applying, several times: each restart resumes from the offsets stored
// with the state, and the end state is the one a clean replay gives.
const ENV = { MBWA_HTTP__PORT: '0', MBWA_PROJECTION__MAX_BATCH_SIZE: '200' }

describe('crash recovery of the projection (unit, embedded log)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-crash-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('ends in the same state after kill -9 at random points as after one clean replay', async () => {
    const log = await EmbeddedLog.open({ path: join(work, 'data/log') })
    await log.ensureTopics(topicSpecs(topicNames(), { events: 12, edits: 4, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(log, SchemaRegistry.load())
    const total = 40_000
    for (let i = 0; i < total; i += 5000) {
      await events.append('mbwa.events', Array.from({ length: 5000 }, (_, j) => observed(['en', 'fr', 'de'][(i + j) % 3]!, `t ${(i + j) % 9000}`, (i + j) % 2 ? ['en'] : ['fr'], { revision: i + j })))
    }
    await log.close()

    let kills = 0
    let url = ''
    for (let round = 0; round < 8; round++) {
      const run = startMbwa(['run'], { cwd: work, env: ENV })
      const { child, exited } = run
      url = await run.url()
      const stats = async () => (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; partitions: unknown[] }
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400))
      const s = await stats()
      if (s.partitions.length === 12 && s.lag === 0) {
        child.kill('SIGTERM')
        await exited
        break
      }
      child.kill('SIGKILL') // no goodbye: whatever was in flight is lost, the stored offsets say what was not
      kills++
      await exited
    }
    expect(kills).toBeGreaterThan(0)
    // Whatever is left, a clean run finishes it.
    const run = startMbwa(['run'], { cwd: work, env: ENV })
    const { child, exited } = run
    url = await run.url()
    await waitFor(async () => {
      const s = (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; partitions: unknown[] }
      return s.partitions.length === 12 && s.lag === 0
    }, 60_000, 'the projection to finish')
    const crashed = ((await (await request(`${url}/v1/digest`)).body.json()) as { digest: string }).digest
    child.kill('SIGTERM')
    await exited

    const rebuilt = spawnSync(process.execPath, [CLI, 'rebuild', '--no-progress'], { cwd: work, env: cleanEnv(ENV), encoding: 'utf8' })
    expect(rebuilt.status).toBe(0)
    expect(rebuilt.stdout).toContain(crashed)
  })
})
