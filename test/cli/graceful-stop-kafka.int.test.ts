import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { request } from 'undici'
import { seedReplay, testBrokers } from '../setup/kafka.js'
import { memberConfig } from '../setup/member-config.js'
import { startMbwa, storedOffsets } from '../setup/mbwa-process.js'
import { uniqueName, waitFor } from '../log/helpers.js'

// SIGTERM in the middle of a replay on the real broker: the member finishes the batch in hand, stores it with
// its offsets, leaves the consumer group (the group is empty the moment it has exited, not a session timeout
// later) and exits 0 within seconds; the next run applies exactly the rest.
const PARTITIONS = 12
const TOTAL = 30_000
const ENV = { MBWA_PROJECTION__MAX_BATCH_SIZE: '50' }

interface Stats {
  lag: number
  eventsApplied: number
  partitions: { offset: number }[]
}

describe('graceful stop of mbwa run (int, real broker)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-stop-kafka-'))
  const prefix = uniqueName('stop').replace(/-/g, '_')
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('stops within 10 s on SIGTERM mid-stream, leaves the group, and the next run applies exactly what was left', { timeout: 300_000 }, async () => {
    await seedReplay(prefix, PARTITIONS, TOTAL)
    const config = memberConfig(work, 'm', { prefix, events: PARTITIONS, extra: 'dumps: {monitor: false}\nsink: {enabled: false}' })

    const first = startMbwa(['--config', config, 'run'], { cwd: work, env: ENV })
    const url = await first.url(60_000)
    let applied = 0
    await waitFor(async () => {
      const s = (await (await request(`${url}/v1/stats`)).body.json()) as Stats
      applied = s.partitions.reduce((n, p) => n + p.offset, 0)
      return s.partitions.length === PARTITIONS && applied > 0
    }, 120_000, 'the replay under way')
    const t0 = Date.now()
    first.child.kill('SIGTERM')
    const code = await Promise.race([first.exited, new Promise((r) => setTimeout(() => r('still running after 30 s'), 30_000))])
    if (code !== 0) console.log(first.stderr().slice(-4000))
    expect(code).toBe(0)
    const stopMs = Date.now() - t0
    console.log(`graceful stop mid-replay on Kafka: ${stopMs} ms`)
    expect(stopMs).toBeLessThan(10_000)
    expect(first.stderr()).toContain('mbwa stopped')

    // It left the group: no member remains, though the session timeout (6 s) has not passed.
    const admin = new Kafka({ brokers: testBrokers(), clientId: 'mbwa-test-admin', logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    try {
      const { groups } = await admin.describeGroups([prefix])
      expect(Date.now() - t0).toBeLessThan(6000 + stopMs)
      expect(groups[0]!.members).toEqual([])
    } finally {
      await admin.disconnect()
    }
    const kept = await storedOffsets(join(work, 'm', 'projection'), PARTITIONS)
    expect(kept).toBeGreaterThanOrEqual(applied)
    expect(kept).toBeLessThan(TOTAL)

    const second = startMbwa(['--config', config, 'run'], { cwd: work, env: ENV })
    try {
      const url2 = await second.url(60_000)
      let s2: Stats | undefined
      await waitFor(async () => {
        s2 = (await (await request(`${url2}/v1/stats`)).body.json()) as Stats
        return s2.partitions.length === PARTITIONS && s2.lag === 0
      }, 180_000, 'the rest applied')
      expect(s2!.eventsApplied).toBe(TOTAL - kept) // nothing lost, nothing applied twice
      second.child.kill('SIGTERM')
      expect(await second.exited).toBe(0)
    } finally {
      second.child.kill('SIGKILL')
    }
  })
})
