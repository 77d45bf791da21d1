import { describe, expect, it } from 'vitest'
import { missingNodeFlags, NODE_FLAGS } from '../../src/node-flags.js'

describe('missingNodeFlags', () => {
  it('finds the flags on the command line or in NODE_OPTIONS, in either spelling, with any value', () => {
    expect(NODE_FLAGS).toContain('--max-semi-space-size=32')
    expect(missingNodeFlags([], '')).toEqual([...NODE_FLAGS])
    expect(missingNodeFlags([...NODE_FLAGS], '')).toEqual([])
    expect(missingNodeFlags(['--max-semi-space-size=64'], '')).toEqual(NODE_FLAGS.filter((f) => !f.startsWith('--max-semi-space-size')))
    expect(missingNodeFlags([], NODE_FLAGS.map((f) => f.replaceAll('-', '_').replace(/^__/, '--')).join(' '))).toEqual([])
    expect(missingNodeFlags(['--max-old-space-size=32'], '--inspect')).toEqual([...NODE_FLAGS])
  })
})
