import { expect, it } from 'vitest'
import { isMbwaError } from '../../../src/errors/errors.js'
import { partitionForKey } from '../../../src/log/partitioner.js'
import { uniqueName } from '../helpers.js'
import type { ContractContext } from './index.js'

// Placement: keyed messages by murmur2 (as Kafka's default partitioner), explicit partitions where asked, consecutive offsets.

export function placementContract(ctx: ContractContext): void {
  it('places keyed messages by murmur2, explicit ones where asked, with consecutive offsets', async () => {
    const topic = uniqueName('t-place')
    await ctx.log.ensureTopics([{ name: topic, partitions: 4 }])
    const keys = ['chat', 'Chat', 'chien', 'dog', 'Ελλάδα', '日本語', 'a b', 'z']
    const results = await ctx.log.append(
      topic,
      keys.map((key) => ({ key, value: Buffer.from(key) })),
    )
    results.forEach((r, i) => expect(r.partition).toBe(partitionForKey(keys[i]!, 4)))
    const perPartition = new Map<number, number[]>()
    for (const r of results) perPartition.set(r.partition, [...(perPartition.get(r.partition) ?? []), r.offset])
    for (const offsets of perPartition.values()) expect(offsets).toEqual(offsets.map((_, i) => i))

    const explicit = await ctx.log.append(topic, [
      { key: 'chat', value: Buffer.from('m1'), partition: 3 },
      { key: null, value: Buffer.from('m2'), partition: 3 },
    ])
    const base = perPartition.get(3)?.length ?? 0
    expect(explicit).toEqual([
      { partition: 3, offset: base },
      { partition: 3, offset: base + 1 },
    ])
    const ends = await ctx.log.endOffsets(topic)
    expect(ends.reduce((a, b) => a + b, 0)).toBe(keys.length + 2)
    const err = await ctx.log.append(topic, [{ key: 'x', value: Buffer.from('x'), partition: 4 }]).catch((e: unknown) => e)
    expect(isMbwaError(err, 'MBWA_PARTITION_INVALID')).toBe(true)
  })
}
