import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { KafkaLog } from '../../src/log/kafka-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { Projector } from '../../src/projections/projector.js'
import { digestHex, TitleStore } from '../../src/projections/title-store.js'
import { connectTestKafka } from '../setup/kafka.js'
import { memberConfig } from '../setup/member-config.js'
import { runMbwa, startMbwa, type MbwaProcess } from '../setup/mbwa-process.js'
import { uniqueName, waitFor } from '../log/helpers.js'
import { observed } from './fixtures.js'

// Three `mbwa run` processes in one consumer group on the real broker split the events topic; any of them
// answers any title (forwarding to the owner); after one is killed the other two take over its partitions and
// still answer every title, with the digest of a single-process run.

const PARTITIONS = 6
const TITLES = 240
const WIKIS = ['en', 'fr', 'de']

interface Member {
  process: MbwaProcess
  url: string
}

describe('projection consumer group (int, real broker, three processes)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-group-'))
  const members: Member[] = []
  let kafka: KafkaLog | undefined
  afterAll(async () => {
    for (const m of members) m.process.child.kill('SIGKILL')
    await kafka?.close()
    rmSync(work, { recursive: true, force: true })
  })

  const prefix = uniqueName('grp').replace(/-/g, '_')

  async function startMember(i: number): Promise<Member> {
    const run = startMbwa(['--config', memberConfig(work, `m${i}`, { prefix, events: PARTITIONS }), 'run'], { cwd: work })
    return { process: run, url: await run.url(60_000) }
  }

  async function json<T>(url: string): Promise<{ status: number; body: T }> {
    const res = await request(url)
    return { status: res.statusCode, body: (await res.body.json()) as T }
  }

  async function owned(m: Member): Promise<number[]> {
    const { body } = await json<{ partitions: { partition: number; restoring: boolean }[] }>(`${m.url}/v1/stats`)
    return body.partitions.filter((p) => !p.restoring).map((p) => p.partition)
  }

  /** Waits until the live members hold every partition, `each` of them restored per member. */
  async function holdAll(live: Member[], each: number, what: string): Promise<void> {
    await waitFor(async () => {
      const sets = await Promise.all(live.map(owned))
      return sets.every((s) => s.length === each) && new Set(sets.flat()).size === PARTITIONS
    }, 90_000, what)
  }

  async function sameDigest(live: Member[], expected: string): Promise<void> {
    for (const m of live) {
      const { body } = await json<{ digest: string; complete: boolean }>(`${m.url}/v1/digest`)
      expect(body).toMatchObject({ digest: expected, complete: true })
    }
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
    await holdAll(members, 2, 'three members holding two restored partitions each')
    await everyoneAnswersEveryTitle(members)
    await sameDigest(members, expected)
    // `mbwa status` against one member shows the whole group: its three members and every partition.
    const status = await runMbwa(['--config', memberConfig(work, 'status', { prefix, events: PARTITIONS }), 'status', '--url', members[0]!.url], { cwd: work })
    expect(status.status).toBe(0)
    expect(status.stdout).toMatch(/ 3 members: http:/)
    for (let p = 0; p < PARTITIONS; p++) expect(status.stdout).toMatch(new RegExp(`partition +${p} +offset +[\\d,]+ +lag +0`))
    expect(status.stdout).not.toMatch(/partitions no member answered for/)

    const [victim, ...survivors] = members
    victim!.process.child.kill('SIGKILL')
    await holdAll(survivors, 3, 'the two survivors to take over and restore the killed member\'s partitions')
    await everyoneAnswersEveryTitle(survivors)
    await sameDigest(survivors, expected)
  })
})
