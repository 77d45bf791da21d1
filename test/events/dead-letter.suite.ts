import { describe, expect, it } from 'vitest'
import { DLQ_HEADERS, EventStore, type DecodedBatch } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { EventLog } from '../../src/log/types.js'
import { deadLetters } from '../../src/metrics.js'
import { uniqueName, waitFor } from '../log/helpers.js'
import { SAMPLES } from './samples.js'

// Malformed messages go to the dead-letter topic with the reason, are counted, and the consumer goes on.
export function deadLetterSuite(name: string, open: () => Promise<EventLog>): void {
  describe(`dead-letter topic: ${name}`, () => {
    it('sends undecodable messages there with the reason, counts them, and keeps consuming', async () => {
      const log = await open()
      try {
        const registry = SchemaRegistry.load()
        const store = new EventStore(log, registry)
        const events = uniqueName('t-events')
        const dlq = uniqueName('t-dlq')
        await log.ensureTopics([
          { name: events, partitions: 1 },
          { name: dlq, partitions: 1 },
        ])
        const good = registry.encode('PageObserved', SAMPLES.PageObserved)
        const garbage = Buffer.from('{"not":"avro"}')
        const truncated = good.subarray(0, 20)
        const unknown = Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.alloc(8, 7), Buffer.from([2, 0])])
        await store.append(events, [{ type: 'PageObserved', value: SAMPLES.PageObserved, key: 'chat' }])
        await log.append(events, [
          { key: 'chat', value: garbage, headers: { origin: 'test' } },
          { key: 'chat', value: truncated },
          { key: null, value: unknown },
        ])
        await store.append(events, [{ type: 'PageDeleted', value: SAMPLES.PageDeleted, key: 'chat' }])

        const before = (await deadLetters.get()).values.filter((v) => v.labels.topic === events).reduce((a, v) => a + v.value, 0)
        const batches: DecodedBatch[] = []
        const group = uniqueName('g')
        const sub = await store.consume({
          groupId: group,
          topics: [events],
          deadLetterTopic: dlq,
          eachBatch: async (b) => {
            batches.push(b)
          },
        })
        await waitFor(() => batches.reduce((n, b) => n + b.events.length + b.deadLettered, 0) >= 5, 60000, 'five messages')
        await sub.stop()

        const decoded = batches.flatMap((b) => b.events)
        expect(decoded.map((e) => [e.offset, e.event.type])).toEqual([
          [0, 'PageObserved'],
          [4, 'PageDeleted'],
        ])
        expect(decoded[0]!.event.value).toEqual(SAMPLES.PageObserved)
        expect(batches[batches.length - 1]!.lastOffset).toBe(4)
        expect(await log.committedOffsets(group, events)).toEqual([5])

        const dead = await log.read(dlq, 0, 0, 10)
        expect(dead.map((m) => m.headers[DLQ_HEADERS.reason])).toEqual(['bad-marker', 'bad-body', 'unknown-schema'])
        expect(dead.map((m) => m.headers[DLQ_HEADERS.source])).toEqual([`${events}:0:1`, `${events}:0:2`, `${events}:0:3`])
        expect(dead.map((m) => m.key)).toEqual(['chat', 'chat', null])
        expect(Buffer.compare(dead[0]!.value, garbage)).toBe(0)
        expect(Buffer.compare(dead[1]!.value, truncated)).toBe(0)
        expect(dead[0]!.headers.origin).toBe('test')
        expect(dead.every((m) => m.headers[DLQ_HEADERS.code] === 'MBWA_DECODE_FAILED')).toBe(true)
        expect(dead[2]!.headers[DLQ_HEADERS.message]).toMatch(/unknown writer schema fingerprint/)

        const after = (await deadLetters.get()).values.filter((v) => v.labels.topic === events).reduce((a, v) => a + v.value, 0)
        expect(after - before).toBe(3)
      } finally {
        await log.close()
      }
    })
  })
}
