import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { MbwaEvent } from '../../src/events/types.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import type { EventLog } from '../../src/log/types.js'
import { CheckpointStore } from '../../src/streams/checkpoints.js'

export interface Harness {
  dir: string
  log: EmbeddedLog
  events: EventStore
  checkpoints: CheckpointStore
  topics: ReturnType<typeof topicNames>
  close(): Promise<void>
}

/** A fresh embedded log with mbwa's topics, and a checkpoint store, in a temporary directory. */
export async function harness(partitions = 4): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-sources-'))
  const log = await EmbeddedLog.open({ path: join(dir, 'log') })
  const topics = topicNames('mbwa')
  await log.ensureTopics(topicSpecs(topics, { events: partitions, edits: 1, dumps: 1, deadLetter: 1 }))
  const checkpoints = await CheckpointStore.open(join(dir, 'sources'))
  return {
    dir,
    log,
    events: new EventStore(log, SchemaRegistry.load()),
    checkpoints,
    topics,
    async close() {
      await checkpoints.close().catch(() => undefined)
      await log.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface ReadEvent {
  partition: number
  offset: number
  key: string | null
  event: MbwaEvent
}

/** Every event of a topic, decoded, in partition then offset order. */
export async function readEvents(log: EventLog, topic: string): Promise<ReadEvent[]> {
  const registry = SchemaRegistry.load()
  const out: ReadEvent[] = []
  const ends = await log.endOffsets(topic)
  for (let p = 0; p < ends.length; p++) {
    for (let offset = 0; offset < ends[p]!; ) {
      const batch = await log.read(topic, p, offset, 10_000)
      for (const m of batch) out.push({ partition: p, offset: m.offset, key: m.key, event: registry.decode(m.value) })
      offset += batch.length
    }
  }
  return out
}
