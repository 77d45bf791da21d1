import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { KafkaLog } from '../../src/log/kafka-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { Projector } from '../../src/projections/projector.js'
import { digestHex, TitleStore } from '../../src/projections/title-store.js'
import { connectTestKafka, testBrokers } from '../setup/kafka.js'
import { uniqueName, waitFor } from '../log/helpers.js'
import { observed } from './fixtures.js'

// Three `mbwa run` processes in one consumer group on the real broker split the events topic; any of them
// answers any title (forwarding to the owner); after one is killed the other two take over its partitions and
// still answer every title, with the digest of a single-process run.

const CLI = join(PACKAGE_ROOT, 'dist/src/cli/main.js')
const PARTITIONS = 6
const TITLES = 240
const WIKIS = ['en', 'fr', 'de']

interface Member {
  child: ChildProcess
  url: string
  stderr: () => string
}

describe('projection consumer group (int, real broker, three processes)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-group-'))
  const members: Member[] = []
  let kafka: KafkaLog | undefined
  afterAll(async () => {
    for (const m of members) m.child.kill('SIGKILL')
    await kafka?.close()
    rmSync(work, { recursive: true, force: true })
  })

  const prefix = uniqueName('grp').replace(/-/g, '_')
  const groupId = uniqueName('mbwa-group')

  async function startMember(i: number): Promise<Member> {
    const config = join(work, `m${i}.yaml`)
    writeFileSync(
      config,
      `dataDir: ${join(work, `m${i}`)}
http: {host: 127.0.0.1, port: 0}
log:
  brokers: [${testBrokers().join(', ')}]
  topicPrefix: ${prefix}
  groupId: ${groupId}
  sessionTimeoutMs: 6000
  partitions: {events: ${PARTITIONS}, edits: 1, dumps: 1, deadLetter: 1}
sources: {snapshot: {enabled: false}, recentChanges: {enabled: false}}
`,
    )
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MBWA_')))
    const child = spawn(process.execPath, [CLI, '--config', config, 'run'], { env, cwd: work })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    await waitFor(() => /queries at (http:\S+);/.test(stderr), 60_000, `member ${i} to listen`)
    return { child, url: /queries at (http:\S+);/.exec(stderr)![1]!, stderr: () => stderr }
  }

  async function json<T>(url: string): Promise<{ status: number; body: T }> {
    const res = await request(url)
    return { status: res.statusCode, body: (await res.body.json()) as T }
  }

  async function owned(m: Member): Promise<number[]> {
    const { body } = await json<{ partitions: { partition: number; restoring: boolean }[] }>(`${m.url}/v1/stats`)
    return body.partitions.filter((p) => !p.restoring).map((p) => p.partition)
  }

  async function everyoneAnswersEveryTitle(live: Member[]): Promise<void> {
    for (const m of live) {
      for (let t = 0; t < TITLES; t++) {
        const title = `word ${t}`
        const { status, body } = await json<{ title: string; wikis: Record<string, { revision: number }> }>(`${m.url}/v1/titles/${encodeURIComponent(title)}`)
        expect([m.url, title, status]).toEqual([m.url, title, 200])
        expect(Object.keys(body.wikis).sort()).toEqual(WIKIS.filter((_, w) => (t + w) % 4 !== 0).sort())
      }
    }
  }

  it('splits partitions, answers every title anywhere, survives a kill with the same digest', async () => {
    kafka = await connectTestKafka()
    const topics = topicNames(prefix)
    await kafka.ensureTopics(topicSpecs(topics, { events: PARTITIONS, edits: 1, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(kafka, SchemaRegistry.load())
    const batch = []
    for (let t = 0; t < TITLES; t++) {
      for (let w = 0; w < WIKIS.length; w++) if ((t + w) % 4 !== 0) batch.push(observed(WIKIS[w]!, `word ${t}`, WIKIS.filter((x) => x !== WIKIS[w]), { revision: 1000 + t }))
    }
    await events.append(topics.events, batch)

    // The single-process reference: one projector alone in its own group.
    const refStore = await TitleStore.open(join(work, 'reference'))
    const ref = new Projector({ store: refStore, events, topics, groupId: uniqueName('ref'), rules: new Map(), emitCommands: false })
    await ref.start()
    const ends = await kafka.endOffsets(topics.events)
    await waitFor(() => ref.status().length === PARTITIONS && ref.status().every((s) => s.offset >= ends[s.partition]!), 60_000, 'the reference projection')
    await ref.stop()
    const expected = digestHex((await refStore.digest('all')).sum)
    await refStore.close()

    for (let i = 0; i < 3; i++) members.push(await startMember(i))
    await waitFor(async () => {
      const sets = await Promise.all(members.map(owned))
      return sets.every((s) => s.length === 2) && new Set(sets.flat()).size === PARTITIONS
    }, 90_000, 'three members holding two restored partitions each')
    await everyoneAnswersEveryTitle(members)
    for (const m of members) {
      const { body } = await json<{ digest: string; complete: boolean }>(`${m.url}/v1/digest`)
      expect(body).toMatchObject({ digest: expected, complete: true })
    }

    const [victim, ...survivors] = members
    victim!.child.kill('SIGKILL')
    await waitFor(async () => {
      const sets = await Promise.all(survivors.map(owned))
      return sets.every((s) => s.length === 3) && new Set(sets.flat()).size === PARTITIONS
    }, 90_000, 'the two survivors to take over and restore the killed member\'s partitions')
    await everyoneAnswersEveryTitle(survivors)
    for (const m of survivors) {
      const { body } = await json<{ digest: string; complete: boolean }>(`${m.url}/v1/digest`)
      expect(body).toMatchObject({ digest: expected, complete: true })
    }
  })
})
