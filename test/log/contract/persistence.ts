import { expect, it } from 'vitest'
import { consumeUntil, uniqueName } from '../helpers.js'
import type { ContractContext } from './index.js'

// Persistence: what was appended and committed is there after the log is closed and opened again (or, where supported, from a second instance).

export function persistenceContract(ctx: ContractContext): void {
  it('keeps what was appended when the log is closed and opened again', async () => {
    const topic = uniqueName('t-durable')
    await ctx.log.ensureTopics([{ name: topic, partitions: 2 }])
    const acked = await ctx.log.append(topic, Array.from({ length: 100 }, (_, i) => ({ key: `d${i}`, value: Buffer.from(`d${i}`) })))
    const group = uniqueName('g')
    await consumeUntil(ctx.log, 40, { groupId: group, topics: [topic], maxBatchSize: 20 })
    const committed = await ctx.log.committedOffsets(group, topic)
    if (!ctx.subject.supports.concurrentInstances) {
      await ctx.log.close()
      ctx.log = await ctx.subject.open()
    }
    const other = ctx.subject.supports.concurrentInstances ? await ctx.subject.open() : ctx.log
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
      if (other !== ctx.log) await other.close()
    }
  })
}
