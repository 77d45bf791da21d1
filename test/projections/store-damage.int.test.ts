import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { checkStore } from '../../src/projections/store-check.js'
import { waitFor } from '../log/helpers.js'
import { startMbwa } from '../setup/mbwa-process.js'
import { observed } from './fixtures.js'

// A projection store damaged while mbwa was stopped: found at start, before anything is served, moved aside, and
// rebuilt from the log to the very state a clean run has (the digest). Each kind of damage on a copy of one
// cleanly stopped deployment.
const ENV = { MBWA_HTTP__PORT: '0', MBWA_DISCOVERY__SITEMATRIX__ENABLED: 'false', MBWA_LOG__PARTITIONS__EVENTS: '4' }
const TOTAL = 12_000

interface Stats {
  lag: number
  partitions: unknown[]
}

async function runToEnd(work: string): Promise<{ digest: string; stderr: string }> {
  const run = startMbwa(['run'], { cwd: work, env: ENV })
  try {
    const url = await run.url()
    await waitFor(async () => {
      const s = (await (await request(`${url}/v1/stats`)).body.json()) as Stats
      return s.partitions.length === 4 && s.lag === 0
    }, 120_000, 'the projection caught up')
    const digest = ((await (await request(`${url}/v1/digest`)).body.json()) as { digest: string }).digest
    run.child.kill('SIGTERM')
    expect(await run.exited).toBe(0)
    return { digest, stderr: run.stderr() }
  } finally {
    run.child.kill('SIGKILL')
  }
}

const largestTable = (store: string) =>
  readdirSync(store)
    .filter((f) => f.endsWith('.ldb'))
    .map((f) => join(store, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0]!

describe('a damaged projection store (embedded log, mbwa processes)', () => {
  const root = mkdtempSync(join(tmpdir(), 'mbwa-damage-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('is found at start, moved aside and rebuilt from the log to the clean digest, whatever the damage', { timeout: 300_000 }, async () => {
    const clean = join(root, 'clean')
    const log = await EmbeddedLog.open({ path: join(clean, 'data/log') })
    await log.ensureTopics(topicSpecs(topicNames(), { events: 4, edits: 4, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(log, SchemaRegistry.load())
    for (let i = 0; i < TOTAL; i += 3000) {
      await events.append('mbwa.events', Array.from({ length: 3000 }, (_, j) => observed(['en', 'fr', 'de'][(i + j) % 3]!, `word ${(i + j) % 5000} ${'x'.repeat((i + j) % 40)}`, ['en', 'fr'], { revision: i + j })))
    }
    await log.close()
    const { digest } = await runToEnd(clean)
    const sealed = await checkStore(join(clean, 'data/projection'))
    expect(sealed).toMatchObject({ ok: true, how: 'sealed' })

    const damages: [string, (store: string) => void][] = [
      ['bytes altered in a table file', (store) => {
        const f = largestTable(store)
        const b = readFileSync(f)
        for (let i = Math.floor(b.length / 3); i < Math.floor(b.length / 3) + 64; i++) b[i] = b[i]! ^ 0xff
        writeFileSync(f, b)
      }],
      ['a table file deleted', (store) => rmSync(largestTable(store))],
      ['a table file truncated', (store) => truncateSync(largestTable(store), 100)],
      ['the manifest broken', (store) => truncateSync(join(store, readdirSync(store).find((f) => f.startsWith('MANIFEST'))!), 10)],
      ['CURRENT removed (LevelDB alone would open an empty store)', (store) => rmSync(join(store, 'CURRENT'))],
    ]
    for (const [what, damage] of damages) {
      const work = join(root, what.replace(/\W+/g, '-'))
      cpSync(clean, work, { recursive: true })
      damage(join(work, 'data/projection'))
      const after = await runToEnd(work)
      expect([what, after.stderr]).toEqual([what, expect.stringContaining('projection store damaged: moved aside')])
      expect([what, after.digest]).toEqual([what, digest])
      expect(readdirSync(join(work, 'data')).some((f) => f.startsWith('projection.damaged-'))).toBe(true)
    }

    // The whole store deleted: nothing to move aside, the projection is rebuilt from the log.
    const gone = join(root, 'deleted')
    cpSync(clean, gone, { recursive: true })
    rmSync(join(gone, 'data/projection'), { recursive: true })
    expect((await runToEnd(gone)).digest).toBe(digest)

    // Killed (no clean stop, no seal): the next start reads the store through before serving, and finds it intact.
    const crashed = join(root, 'crashed')
    cpSync(clean, crashed, { recursive: true })
    rmSync(join(crashed, 'data/projection.seal.json'))
    const again = await runToEnd(crashed)
    expect(again.stderr).toMatch(/projection store read through \(no seal of a clean stop\): intact/)
    expect(again.stderr).not.toContain('damaged')
    expect(again.digest).toBe(digest)
    expect(existsSync(join(crashed, 'data/projection.seal.json'))).toBe(true)
  })
})
