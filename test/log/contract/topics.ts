import { expect, it } from 'vitest'
import { isMbwaError } from '../../../src/errors/errors.js'
import { uniqueName } from '../helpers.js'
import type { ContractContext } from './index.js'

// Topics: created with the asked partition count (again: a no-op); an unknown one refused.

export function topicsContract(ctx: ContractContext): void {
  it('creates topics with the asked partition count, and again is a no-op', async () => {
    const topic = uniqueName('t-create')
    await ctx.log.ensureTopics([{ name: topic, partitions: 3 }])
    await ctx.log.ensureTopics([{ name: topic, partitions: 5 }])
    expect(await ctx.log.partitionCount(topic)).toBe(3)
    expect(await ctx.log.endOffsets(topic)).toEqual([0, 0, 0])
  })

  it('refuses an unknown topic with MBWA_TOPIC_UNKNOWN', async () => {
    const err = await ctx.log.append(uniqueName('t-missing'), [{ key: 'a', value: Buffer.from('x') }]).catch((e: unknown) => e)
    expect(isMbwaError(err, 'MBWA_TOPIC_UNKNOWN')).toBe(true)
  })
}
