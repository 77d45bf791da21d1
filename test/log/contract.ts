import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isMbwaError } from '../../src/errors/errors.js'
import { partitionForKey } from '../../src/log/partitioner.js'
import type { EventLog, TopicPartition } from '../../src/log/types.js'
import { byPartition, consumeUntil, uniqueName, waitFor } from './helpers.js'

// The log's contract, run against every implementation (as abstract-level's suite is run by each store).
// `open` returns a log on the same underlying data each time it is called; `supports` says what an
// implementation can do beyond the common core.

export interface LogUnderTest {
  open(): Promise<EventLog>
  supports: {
    /** Can a second instance on the same data run while the first is open (Kafka: yes; embedded: locked). */
    concurrentInstances: boolean
  }
}

export function logContract(name: string, subject: LogUnderTest): void {
  describe(`log contract: ${name}`, () => {
    let log: EventLog

    beforeAll(async () => {
      log = await subject.open()
    })
    afterAll(async () => {
      await log?.close()
    })

    it('creates topics with the asked partition count, and again is a no-op', async () => {
      const topic = uniqueName('t-create')
      await log.ensureTopics([{ name: topic, partitions: 3 }])
      await log.ensureTopics([{ name: topic, partitions: 5 }])
      expect(await log.partitionCount(topic)).toBe(3)
      expect(await log.endOffsets(topic)).toEqual([0, 0, 0])
    })

    it('refuses an unknown topic with MBWA_TOPIC_UNKNOWN', async () => {
      const err = await log.append(uniqueName('t-missing'), [{ key: 'a', value: Buffer.from('x') }]).catch((e: unknown) => e)
      expect(isMbwaError(err, 'MBWA_TOPIC_UNKNOWN')).toBe(true)
    })

    it('places keyed messages by murmur2, explicit ones where asked, with consecutive offsets', async () => {
      const topic = uniqueName('t-place')
      await log.ensureTopics([{ name: topic, partitions: 4 }])
      const keys = ['chat', 'Chat', 'chien', 'dog', 'Ελλάδα', '日本語', 'a b', 'z']
      const results = await log.append(
        topic,
        keys.map((key) => ({ key, value: Buffer.from(key) })),
      )
      results.forEach((r, i) => expect(r.partition).toBe(partitionForKey(keys[i]!, 4)))
      const perPartition = new Map<number, number[]>()
      for (const r of results) perPartition.set(r.partition, [...(perPartition.get(r.partition) ?? []), r.offset])
      for (const offsets of perPartition.values()) expect(offsets).toEqual(offsets.map((_, i) => i))

      const explicit = await log.append(topic, [
        { key: 'chat', value: Buffer.from('m1'), partition: 3 },
        { key: null, value: Buffer.from('m2'), partition: 3 },
      ])
      const base = perPartition.get(3)?.length ?? 0
      expect(explicit).toEqual([
        { partition: 3, offset: base },
        { partition: 3, offset: base + 1 },
      ])
      const ends = await log.endOffsets(topic)
      expect(ends.reduce((a, b) => a + b, 0)).toBe(keys.length + 2)
      const err = await log.append(topic, [{ key: 'x', value: Buffer.from('x'), partition: 4 }]).catch((e: unknown) => e)
      expect(isMbwaError(err, 'MBWA_PARTITION_INVALID')).toBe(true)
    })

    it('reads back key, value bytes, headers and timestamp from any offset', async () => {
      const topic = uniqueName('t-read')
      await log.ensureTopics([{ name: topic, partitions: 1 }])
      const value = Buffer.from([0xc3, 0x01, 0, 255, 10, 13])
      await log.append(topic, [
        { key: 'k0', value: Buffer.from('zero'), timestamp: 1_600_000_000_000 },
        { key: null, value, headers: { 'mbwa-reason': 'why: ünïcode' }, timestamp: 1_600_000_000_001 },
        { key: 'k2', value: Buffer.alloc(0) },
      ])
      const all = await log.read(topic, 0, 0, 10)
      expect(all.map((m) => m.offset)).toEqual([0, 1, 2])
      expect(all[0]).toMatchObject({ key: 'k0', timestamp: 1_600_000_000_000, topic, partition: 0 })
      expect(all[0]!.value.toString()).toBe('zero')
      expect(all[1]!.key).toBeNull()
      expect(Buffer.compare(all[1]!.value, value)).toBe(0)
      expect(all[1]!.headers).toEqual({ 'mbwa-reason': 'why: ünïcode' })
      expect(all[2]!.value.length).toBe(0)
      const tail = await log.read(topic, 0, 1, 1)
      expect(tail.map((m) => m.offset)).toEqual([1])
      expect(await log.read(topic, 0, 3, 10)).toEqual([])
    })

    it('delivers every message once per group, in offset order per partition, in bounded batches', async () => {
      const topic = uniqueName('t-consume')
      await log.ensureTopics([{ name: topic, partitions: 3 }])
      const n = 600
      await log.append(
        topic,
        Array.from({ length: n }, (_, i) => ({ key: `title-${i}`, value: Buffer.from(String(i)) })),
      )
      const group = uniqueName('g')
      const { messages, batches } = await consumeUntil(log, n, { groupId: group, topics: [topic], maxBatchSize: 50 })
      expect(messages.length).toBe(n)
      expect(new Set(messages.map((m) => m.value.toString())).size).toBe(n)
      for (const offsets of byPartition(messages).values()) expect(offsets).toEqual(offsets.map((_, i) => i))
      for (const b of batches) {
        expect(b.messages.length).toBeLessThanOrEqual(50)
        expect(b.messages.every((m) => m.partition === b.partition)).toBe(true)
        expect(b.highWatermark).toBeGreaterThan(b.messages[b.messages.length - 1]!.offset)
      }
      expect(await log.committedOffsets(group, topic)).toEqual(await log.endOffsets(topic))
    })

    it('a group resumes after its committed offsets; another group starts from the beginning', async () => {
      const topic = uniqueName('t-resume')
      await log.ensureTopics([{ name: topic, partitions: 2 }])
      await log.append(topic, Array.from({ length: 20 }, (_, i) => ({ key: `a${i}`, value: Buffer.from(`a${i}`) })))
      const group = uniqueName('g')
      await consumeUntil(log, 20, { groupId: group, topics: [topic] })
      await log.append(topic, Array.from({ length: 10 }, (_, i) => ({ key: `b${i}`, value: Buffer.from(`b${i}`) })))
      const second = await consumeUntil(log, 10, { groupId: group, topics: [topic] })
      expect(second.messages.map((m) => m.value.toString()).sort()).toEqual(
        Array.from({ length: 10 }, (_, i) => `b${i}`).sort(),
      )
      const other = await consumeUntil(log, 30, { groupId: uniqueName('g'), topics: [topic] })
      expect(other.messages.length).toBe(30)
    })

    it('a new group with fromBeginning false sees only what is appended after it joined', async () => {
      const topic = uniqueName('t-latest')
      await log.ensureTopics([{ name: topic, partitions: 1 }])
      await log.append(topic, [{ key: 'old', value: Buffer.from('old') }])
      const seen: string[] = []
      let assigned = false
      const sub = await log.consume({
        groupId: uniqueName('g'),
        topics: [topic],
        fromBeginning: false,
        onAssign: () => {
          assigned = true
        },
        eachBatch: async (b) => {
          seen.push(...b.messages.map((m) => m.value.toString()))
        },
      })
      await waitFor(() => assigned, 30000, 'assignment')
      // Kafka resolves "latest" at the consumer's first fetch, some time after the assignment: a message appended
      // before that is (rightly) not seen. So append new messages until one arrives instead of guessing a delay;
      // whatever is seen must be new ones, in order, and never the old one.
      let sent = 0
      await waitFor(async () => {
        if (seen.length > 0) return true
        await log.append(topic, [{ key: 'new', value: Buffer.from(`new ${sent++}`) }])
        await new Promise((r) => setTimeout(r, 250))
        return seen.length > 0
      }, 60000, 'a new message')
      await sub.stop()
      expect(seen.length).toBeGreaterThan(0)
      expect(seen).not.toContain('old')
      const numbers = seen.map((v) => Number(/^new (\d+)$/.exec(v)?.[1]))
      expect(numbers.every((n) => Number.isInteger(n) && n < sent)).toBe(true)
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b))
    })

    it('a handler that throws stops the subscription and commits nothing of its batch', async () => {
      const topic = uniqueName('t-throw')
      await log.ensureTopics([{ name: topic, partitions: 1 }])
      await log.append(topic, Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })))
      const group = uniqueName('g')
      const sub = await log.consume({
        groupId: group,
        topics: [topic],
        eachBatch: async () => {
          throw new Error('handler broke')
        },
      })
      await expect(sub.closed).rejects.toThrow('handler broke')
      expect(await log.committedOffsets(group, topic)).toEqual([-1])
      const again = await consumeUntil(log, 5, { groupId: group, topics: [topic] })
      expect(again.messages.map((m) => m.value.toString())).toEqual(['0', '1', '2', '3', '4'])
    })

    it('onAssign can set start offsets that override the committed ones (state stores keep their own)', async () => {
      const topic = uniqueName('t-assign')
      await log.ensureTopics([{ name: topic, partitions: 2 }])
      await log.append(topic, [
        ...Array.from({ length: 10 }, (_, i) => ({ key: null, value: Buffer.from(`p0-${i}`), partition: 0 })),
        ...Array.from({ length: 10 }, (_, i) => ({ key: null, value: Buffer.from(`p1-${i}`), partition: 1 })),
      ])
      const group = uniqueName('g')
      await log.resetOffsets(group, topic, [10, 10])
      let assignedWith: TopicPartition[] = []
      const { messages } = await consumeUntil(log, 11, {
        groupId: group,
        topics: [topic],
        onAssign: (assigned) => {
          assignedWith = assigned
          return new Map([
            [`${topic}:0`, 7],
            [`${topic}:1`, 2],
          ])
        },
      })
      expect(assignedWith).toEqual([
        { topic, partition: 0 },
        { topic, partition: 1 },
      ])
      expect(messages.map((m) => m.value.toString()).sort()).toEqual(
        [...['p0-7', 'p0-8', 'p0-9'], ...Array.from({ length: 8 }, (_, i) => `p1-${i + 2}`)].sort(),
      )
    })

    it('resetting a group to earliest replays everything; to latest skips everything', async () => {
      const topic = uniqueName('t-reset')
      await log.ensureTopics([{ name: topic, partitions: 2 }])
      await log.append(topic, Array.from({ length: 8 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`${i}`) })))
      const group = uniqueName('g')
      await consumeUntil(log, 8, { groupId: group, topics: [topic] })
      await log.resetOffsets(group, topic, 'earliest')
      expect(await log.committedOffsets(group, topic)).toEqual([0, 0])
      const replay = await consumeUntil(log, 8, { groupId: group, topics: [topic] })
      expect(replay.messages.length).toBe(8)
      await log.resetOffsets(group, topic, 'latest')
      expect(await log.committedOffsets(group, topic)).toEqual(await log.endOffsets(topic))
    })

    it('keeps what was appended when the log is closed and opened again', async () => {
      const topic = uniqueName('t-durable')
      await log.ensureTopics([{ name: topic, partitions: 2 }])
      const acked = await log.append(topic, Array.from({ length: 100 }, (_, i) => ({ key: `d${i}`, value: Buffer.from(`d${i}`) })))
      const group = uniqueName('g')
      await consumeUntil(log, 40, { groupId: group, topics: [topic], maxBatchSize: 20 })
      const committed = await log.committedOffsets(group, topic)
      if (!subject.supports.concurrentInstances) {
        await log.close()
        log = await subject.open()
      }
      const other = subject.supports.concurrentInstances ? await subject.open() : log
      try {
        const ends = await other.endOffsets(topic)
        for (const r of acked) expect(ends[r.partition]).toBeGreaterThan(r.offset)
        expect(await other.committedOffsets(group, topic)).toEqual(committed)
        // A partition the first consumer never reached has no commit (-1): all of it is left.
        const left = ends.reduce((n, end, p) => n + end - Math.max(committed[p]!, 0), 0)
        expect(left).toBe(100 - committed.reduce((a, b) => a + Math.max(b, 0), 0))
        const rest = await consumeUntil(other, left, { groupId: group, topics: [topic] })
        const all = new Set(rest.messages.map((m) => m.value.toString()))
        expect(all.size).toBe(left)
      } finally {
        if (other !== log) await other.close()
      }
    })
  })
}
