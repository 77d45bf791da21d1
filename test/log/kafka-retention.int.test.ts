import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigResourceTypes, Kafka, logLevel, type Admin } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { KafkaLog } from '../../src/log/kafka-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { Projector } from '../../src/projections/projector.js'
import { TitleStore } from '../../src/projections/title-store.js'
import { observed } from '../projections/fixtures.js'
import { connectTestKafka, testBrokers } from '../setup/kafka.js'
import { uniqueName } from './helpers.js'

// Kafka forgets after a week unless told otherwise: mbwa creates the topics it replays to keep every message,
// refuses to start on one that would delete old messages, and stops loudly when a store needs offsets the log no
// longer holds (instead of resuming silently from wherever the log now starts).
describe('topic retention on Kafka (int, real broker)', () => {
  let admin: Admin
  const logs: KafkaLog[] = []
  const work = mkdtempSync(join(tmpdir(), 'mbwa-retention-'))
  beforeAll(async () => {
    admin = new Kafka({ clientId: 'mbwa-test-admin', brokers: testBrokers(), logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
  })
  afterAll(async () => {
    await admin.disconnect()
    await Promise.allSettled(logs.map((l) => l.close()))
    rmSync(work, { recursive: true, force: true })
  })

  async function retention(topic: string): Promise<Record<string, string>> {
    const d = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'retention.bytes', 'cleanup.policy'] }] })
    return Object.fromEntries(d.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]))
  }

  it('creates its topics to keep every message, and refuses an events topic that would delete old ones', async () => {
    const log = await connectTestKafka()
    logs.push(log)
    const topics = topicNames(uniqueName('ret').replace(/-/g, '_'))
    await log.ensureTopics(topicSpecs(topics, { events: 2, edits: 1, dumps: 1, deadLetter: 1 }))
    for (const t of [topics.events, topics.edits, topics.dumps, topics.deadLetter]) expect(await retention(t)).toMatchObject({ 'retention.ms': '-1', 'retention.bytes': '-1', 'cleanup.policy': 'delete' })

    // An events topic made by someone else with the broker's defaults (7 days).
    const other = topicNames(uniqueName('ret').replace(/-/g, '_'))
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: other.events, numPartitions: 2 }] })
    const refused = await log.ensureTopics(topicSpecs(other, { events: 2, edits: 1, dumps: 1, deadLetter: 1 })).then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string },
    )
    expect(refused?.code).toBe('MBWA_TOPIC_RETENTION')
    expect(refused?.message).toContain(other.events)
    expect(refused?.message).toContain('retention.ms=-1')
  })

  it('stops loudly when the log no longer holds offsets the projection needs', async () => {
    const log = await connectTestKafka()
    logs.push(log)
    const topics = topicNames(uniqueName('trunc').replace(/-/g, '_'))
    await log.ensureTopics(topicSpecs(topics, { events: 1, edits: 1, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(log, SchemaRegistry.load())
    await events.append(topics.events, Array.from({ length: 10 }, (_, i) => observed('en', `word ${i}`, [], { revision: i })))
    // Someone deletes the first five (as a retention would).
    await admin.fetchTopicMetadata({ topics: [topics.events] }) // the admin client finds the partition's leader from it
    await admin.deleteTopicRecords({ topic: topics.events, partitions: [{ partition: 0, offset: '5' }] })
    expect(await log.startOffsets(topics.events)).toEqual([5])

    const store = await TitleStore.open(join(work, 'projection'))
    const rules = wikiRules(loadConfig({ env: {}, searchPaths: [], flags: { wikis: { en: { api: 'http://127.0.0.1/en/api.php' } } } }).config)
    const projector = new Projector({ store, events, topics, groupId: uniqueName('g'), rules, settleMs: 0 })
    try {
      const failed = projector.start().then(() => projector.closed)
      const err = (await failed.then(() => undefined, (e: unknown) => e)) as { code?: string; message?: string } | undefined
      expect(err?.code).toBe('MBWA_LOG_TRUNCATED')
      expect(err?.message).toContain('starts at offset 5 but the projection needs it from 0')
      expect(await store.offset(0)).toBe(0) // nothing applied from the middle of the log
    } finally {
      await projector.stop().catch(() => undefined)
      await store.close()
    }
  })
})
