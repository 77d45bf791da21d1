import { expect, it } from 'vitest'
import { uniqueName } from '../helpers.js'
import type { ContractContext } from './index.js'

// Reading back: key, value bytes, headers and timestamp, from any offset.

export function readingContract(ctx: ContractContext): void {
  it('reads back key, value bytes, headers and timestamp from any offset', async () => {
    const topic = uniqueName('t-read')
    await ctx.log.ensureTopics([{ name: topic, partitions: 1 }])
    const value = Buffer.from([0xc3, 0x01, 0, 255, 10, 13])
    await ctx.log.append(topic, [
      { key: 'k0', value: Buffer.from('zero'), timestamp: 1_600_000_000_000 },
      { key: null, value, headers: { 'mbwa-reason': 'why: ünïcode' }, timestamp: 1_600_000_000_001 },
      { key: 'k2', value: Buffer.alloc(0) },
    ])
    const all = await ctx.log.read(topic, 0, 0, 10)
    expect(all.map((m) => m.offset)).toEqual([0, 1, 2])
    expect(all[0]).toMatchObject({ key: 'k0', timestamp: 1_600_000_000_000, topic, partition: 0 })
    expect(all[0]!.value.toString()).toBe('zero')
    expect(all[1]!.key).toBeNull()
    expect(Buffer.compare(all[1]!.value, value)).toBe(0)
    expect(all[1]!.headers).toEqual({ 'mbwa-reason': 'why: ünïcode' })
    expect(all[2]!.value.length).toBe(0)
    const tail = await ctx.log.read(topic, 0, 1, 1)
    expect(tail.map((m) => m.offset)).toEqual([1])
    expect(await ctx.log.read(topic, 0, 3, 10)).toEqual([])
  })
}
