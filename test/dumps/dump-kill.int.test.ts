import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { KafkaLog } from '../../src/log/kafka-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { verifyDump } from '../../src/sinks/dump-file.js'
import { connectTestKafka } from '../setup/kafka.js'
import { memberConfig } from '../setup/member-config.js'
import { startMbwa, type MbwaProcess } from '../setup/mbwa-process.js'
import { uniqueName, waitFor } from '../log/helpers.js'
import { observed } from '../projections/fixtures.js'

// kill -9 of a dump worker in the middle of a dump (real broker, separate processes): the monitor declares its
// lease abandoned after the timeout, another worker takes the wiki and completes, and the half-done dump never
// appears under a final name.
describe('dump worker killed mid-dump (int, real broker)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-dumpkill-'))
  const procs: MbwaProcess[] = []
  let kafka: KafkaLog | undefined
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL')
    await kafka?.close()
    rmSync(work, { recursive: true, force: true })
  })

  it('abandons the dead lease, and a second worker completes the dump', { timeout: 300_000 }, async () => {
    const prefix = uniqueName('dk').replace(/-/g, '_')
    const config = (name: string, extra = '') =>
      memberConfig(work, name, {
        prefix,
        events: 6,
        extra: `wikis: {en: {api: "http://127.0.0.1:9/api.php"}}
sink: {enabled: false}
dumps: {dir: ${join(work, 'dumps')}, leaseSeconds: 15, heartbeatSeconds: 1, checkSeconds: 0.5${extra}}`,
      })
    kafka = await connectTestKafka()
    const topics = topicNames(prefix)
    await kafka.ensureTopics(topicSpecs(topics, { events: 6, edits: 1, dumps: 1, deadLetter: 1 }))
    await new EventStore(kafka, SchemaRegistry.load()).append(
      topics.events,
      Array.from({ length: 6000 }, (_, i) => observed('en', `word ${i}`, ['fr'], { revision: i })),
    )

    const member = startMbwa(['--config', config('member'), 'run'], { cwd: work })
    procs.push(member)
    const url = await member.url(60_000)
    await waitFor(async () => {
      const s = (await (await request(`${url}/v1/stats`)).body.json()) as { partitions: { restoring: boolean }[]; lag: number }
      return s.partitions.length === 6 && s.partitions.every((p) => !p.restoring) && s.lag === 0
    }, 60_000, 'the member to catch up')
    const dumps = async () => ((await (await request(`${url}/v1/dumps`)).body.json()) as { wikis: { wiki: string; live: boolean; abandoned: number; running: { jobId: string; titlesWritten: number } | null; lastGood: { jobId: string; path: string; count: number } | null }[] }).wikis.find((w) => w.wiki === 'en')

    // A slow worker: one part at a time, a pause after each.
    const slow = startMbwa(['--config', config('slow', ', parallelParts: 1, pauseBetweenPartsMs: 1500'), 'dump', 'run', '--wiki', 'en', '--from', url], { cwd: work })
    procs.push(slow)
    await waitFor(async () => ((await dumps())?.running?.titlesWritten ?? 0) > 0, 60_000, 'the slow worker to be under way')
    const deadJob = (await dumps())!.running!.jobId
    slow.child.kill('SIGKILL')

    await waitFor(async () => ((await dumps())?.abandoned ?? 0) >= 1, 30_000, 'the monitor to declare the lease abandoned')
    expect((await dumps())!.running).toBeNull()

    const second = startMbwa(['--config', config('second'), 'dump', 'run', '--wiki', 'en', '--from', url], { cwd: work })
    procs.push(second)
    expect(await second.exited).toBe(0)
    await waitFor(async () => (await dumps())?.lastGood !== null, 20_000, 'the completed dump')
    const status = (await dumps())!
    expect(status.lastGood!.jobId).not.toBe(deadJob)
    expect(status.lastGood!.count).toBe(6000)
    const files = readdirSync(join(work, 'dumps/public/en'))
    expect(files.length).toBe(1) // only the second worker's, and no temporary
    expect(files[0]).toMatch(/\.mbwa\.gz$/)
    expect(verifyDump(join(work, 'dumps/public/en', files[0]!)).count).toBe(6000)
    expect(existsSync(join(work, 'dumps/private/en'))).toBe(true)
    const page = await (await request(`${url}/dumps`)).body.text()
    expect(page).toContain('data-wiki="en"')
  })
})
