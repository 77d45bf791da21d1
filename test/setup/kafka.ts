import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import { KafkaLog, type KafkaLogOptions } from '../../src/log/kafka-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { observed } from '../projections/fixtures.js'

export function testBrokers(): string[] {
  return (process.env.MBWA_TEST_KAFKA_BROKERS ?? '127.0.0.1:19092').split(',')
}

export function connectTestKafka(options: Partial<KafkaLogOptions> = {}): Promise<KafkaLog> {
  return KafkaLog.connect({ brokers: testBrokers(), clientId: 'mbwa-test', sessionTimeoutMs: 6000, ...options })
}

/**
 * Creates the topics of `prefix` on the test broker and appends `total` PageObserved events to its events topic:
 * 9,000 titles on three wikis, revisions rising (what the crash and stop tests replay).
 */
export async function seedReplay(prefix: string, partitions: number, total: number): Promise<void> {
  const kafka = await connectTestKafka()
  try {
    const topics = topicNames(prefix)
    await kafka.ensureTopics(topicSpecs(topics, { events: partitions, edits: 1, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(kafka, SchemaRegistry.load())
    for (let i = 0; i < total; i += 5000) {
      await events.append(topics.events, Array.from({ length: Math.min(5000, total - i) }, (_, j) => observed(['en', 'fr', 'de'][(i + j) % 3]!, `t ${(i + j) % 9000}`, (i + j) % 2 ? ['en'] : ['fr'], { revision: i + j })))
    }
  } finally {
    await kafka.close()
  }
}
