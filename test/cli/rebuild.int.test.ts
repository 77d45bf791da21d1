import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { waitFor } from '../log/helpers.js'
import { runMbwa, startMbwa } from '../setup/mbwa-process.js'
import { created, deleted, edited, moved, observed, snapshotDone } from '../projections/fixtures.js'

// mbwa run follows the log live; mbwa rebuild replays it into a fresh store; both give the same digest.
const env = { MBWA_HTTP__PORT: '0' }

describe('mbwa rebuild and digest (embedded log, mbwa processes)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-rebuild-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('rebuilds from offset 0 to the digest of the store that followed the log live', { timeout: 240_000 }, async () => {
    const log = await EmbeddedLog.open({ path: join(work, 'data/log') })
    await log.ensureTopics(topicSpecs(topicNames(), { events: 12, edits: 4, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(log, SchemaRegistry.load())
    const batch = [
      ...Array.from({ length: 3000 }, (_, i) => observed(['en', 'fr', 'de'][i % 3]!, `title ${i % 1000}`, i % 2 ? ['en', 'fr'] : [], { revision: 100 + i })),
      created('en', 'neu', 5),
      edited('en', 'title 1', 99999),
      ...moved('fr', 'title 2', 'title two', true),
      deleted('de', 'title 3'),
      ...snapshotDone('de', 's-de', 12, 1_700_000_000_000 + 1),
    ]
    await events.append('mbwa.events', batch)
    await log.close()

    const run = startMbwa(['run'], { cwd: work, env: { MBWA_HTTP__PORT: '0' } })
    const { child, exited } = run
    const url = await run.url()
    await waitFor(async () => {
      const res = await request(`${url}/v1/stats`)
      const s = (await res.body.json()) as { eventsApplied: number; lag: number }
      return s.eventsApplied >= batch.length && s.lag === 0
    }, 120_000, 'the live projection to catch up')
    const live = (await (await request(`${url}/v1/digest`)).body.json()) as { digest: string }
    child.kill('SIGTERM')
    expect(await exited).toBe(0)

    const offline = await runMbwa(['digest'], { cwd: work, env })
    expect(offline.status).toBe(0)
    expect(offline.stdout.split(' ')[0]).toBe(live.digest)

    const rebuild = await runMbwa(['rebuild'], { cwd: work, env })
    expect(rebuild.status).toBe(0)
    expect(rebuild.stdout).toContain(`rebuilt from ${batch.length} events`)
    expect(rebuild.stdout).toContain(live.digest)
    const after = await runMbwa(['digest'], { cwd: work, env })
    expect(after.stdout.split(' ')[0]).toBe(live.digest)

    // A live store of another format (an older mbwa's) is replaced, not taken for one in use.
    const older = new ClassicLevel(join(work, 'data/projection'))
    await older.put('f', '6')
    await older.close()
    const over = await runMbwa(['rebuild', '--no-progress'], { cwd: work, env })
    expect(over.status, over.stderr).toBe(0)
    expect(over.stdout).toContain(live.digest)
    // A store another process holds open is in use: refused by name, nothing replaced.
    const holder = new ClassicLevel(join(work, 'data/projection'))
    await holder.open()
    try {
      const refused = await runMbwa(['rebuild', '--no-progress'], { cwd: work, env })
      expect(refused.status).not.toBe(0)
      expect(refused.stderr).toContain('MBWA_LOG_LOCKED')
      expect(refused.stderr).toContain('is in use: stop mbwa run first')
    } finally {
      await holder.close()
    }
  })
})
