import { describe, expect, it } from 'vitest'
import { missingNodeFlags, NODE_FLAGS } from '../../src/node-flags.js'

describe('missingNodeFlags', () => {
  it('finds the flags on the command line or in NODE_OPTIONS, in either spelling, with any value', () => {
    expect(missingNodeFlags([], '')).toEqual([...NODE_FLAGS])
    expect(missingNodeFlags(['--max-semi-space-size=32'], '')).toEqual([])
    expect(missingNodeFlags(['--max-semi-space-size=64'], '')).toEqual([])
    expect(missingNodeFlags([], '--inspect --max_semi_space_size=16')).toEqual([])
    expect(missingNodeFlags(['--max-old-space-size=32'], '')).toEqual([...NODE_FLAGS])
  })
})
