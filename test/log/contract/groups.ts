import { expect, it } from 'vitest'
import type { TopicPartition } from '../../../src/log/types.js'
import { byPartition, consumeUntil, uniqueName, waitFor } from '../helpers.js'
import type { ContractContext } from './index.js'

// Consumer groups: every message once per group, in order per partition, committed offsets, start positions, a failing handler, resets.

export function groupsContract(ctx: ContractContext): void {
  it('delivers every message once per group, in offset order per partition, in bounded batches', async () => {
    const topic = uniqueName('t-consume')
    await ctx.log.ensureTopics([{ name: topic, partitions: 3 }])
    const n = 600
    await ctx.log.append(
      topic,
      Array.from({ length: n }, (_, i) => ({ key: `title-${i}`, value: Buffer.from(String(i)) })),
    )
    const group = uniqueName('g')
    const { messages, batches } = await consumeUntil(ctx.log, n, { groupId: group, topics: [topic], maxBatchSize: 50 })
    expect(messages.length).toBe(n)
    expect(new Set(messages.map((m) => m.value.toString())).size).toBe(n)
    for (const offsets of byPartition(messages).values()) expect(offsets).toEqual(offsets.map((_, i) => i))
    for (const b of batches) {
      expect(b.messages.length).toBeLessThanOrEqual(50)
      expect(b.messages.every((m) => m.partition === b.partition)).toBe(true)
      expect(b.highWatermark).toBeGreaterThan(b.messages[b.messages.length - 1]!.offset)
    }
    expect(await ctx.log.committedOffsets(group, topic)).toEqual(await ctx.log.endOffsets(topic))
  })

  it('a group resumes after its committed offsets; another group starts from the beginning', async () => {
    const topic = uniqueName('t-resume')
    await ctx.log.ensureTopics([{ name: topic, partitions: 2 }])
    await ctx.log.append(topic, Array.from({ length: 20 }, (_, i) => ({ key: `a${i}`, value: Buffer.from(`a${i}`) })))
    const group = uniqueName('g')
    await consumeUntil(ctx.log, 20, { groupId: group, topics: [topic] })
    await ctx.log.append(topic, Array.from({ length: 10 }, (_, i) => ({ key: `b${i}`, value: Buffer.from(`b${i}`) })))
    const second = await consumeUntil(ctx.log, 10, { groupId: group, topics: [topic] })
    expect(second.messages.map((m) => m.value.toString()).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `b${i}`).sort(),
    )
    const other = await consumeUntil(ctx.log, 30, { groupId: uniqueName('g'), topics: [topic] })
    expect(other.messages.length).toBe(30)
  })

  it('a new group with fromBeginning false sees only what is appended after it joined', async () => {
    const topic = uniqueName('t-latest')
    await ctx.log.ensureTopics([{ name: topic, partitions: 1 }])
    await ctx.log.append(topic, [{ key: 'old', value: Buffer.from('old') }])
    const seen: string[] = []
    let assigned = false
    const sub = await ctx.log.consume({
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
      await ctx.log.append(topic, [{ key: 'new', value: Buffer.from(`new ${sent++}`) }])
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
    await ctx.log.ensureTopics([{ name: topic, partitions: 1 }])
    await ctx.log.append(topic, Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })))
    const group = uniqueName('g')
    const sub = await ctx.log.consume({
      groupId: group,
      topics: [topic],
      eachBatch: async () => {
        throw new Error('handler broke')
      },
    })
    await expect(sub.closed).rejects.toThrow('handler broke')
    expect(await ctx.log.committedOffsets(group, topic)).toEqual([-1])
    const again = await consumeUntil(ctx.log, 5, { groupId: group, topics: [topic] })
    expect(again.messages.map((m) => m.value.toString())).toEqual(['0', '1', '2', '3', '4'])
  })

  it('onAssign can set start offsets that override the committed ones (state stores keep their own)', async () => {
    const topic = uniqueName('t-assign')
    await ctx.log.ensureTopics([{ name: topic, partitions: 2 }])
    await ctx.log.append(topic, [
      ...Array.from({ length: 10 }, (_, i) => ({ key: null, value: Buffer.from(`p0-${i}`), partition: 0 })),
      ...Array.from({ length: 10 }, (_, i) => ({ key: null, value: Buffer.from(`p1-${i}`), partition: 1 })),
    ])
    const group = uniqueName('g')
    await ctx.log.resetOffsets(group, topic, [10, 10])
    let assignedWith: TopicPartition[] = []
    const { messages } = await consumeUntil(ctx.log, 11, {
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
    await ctx.log.ensureTopics([{ name: topic, partitions: 2 }])
    await ctx.log.append(topic, Array.from({ length: 8 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`${i}`) })))
    const group = uniqueName('g')
    await consumeUntil(ctx.log, 8, { groupId: group, topics: [topic] })
    await ctx.log.resetOffsets(group, topic, 'earliest')
    expect(await ctx.log.committedOffsets(group, topic)).toEqual([0, 0])
    const replay = await consumeUntil(ctx.log, 8, { groupId: group, topics: [topic] })
    expect(replay.messages.length).toBe(8)
    await ctx.log.resetOffsets(group, topic, 'latest')
    expect(await ctx.log.committedOffsets(group, topic)).toEqual(await ctx.log.endOffsets(topic))
  })
}
