import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { prefixEnd } from '../../src/key-range.js'
import { CheckpointStore } from '../../src/streams/checkpoints.js'

// Ranges over UTF-8 keys: a prefix's entries are all of them, whatever script follows the prefix.
describe('key ranges (unit)', () => {
  it('bounds every key of a prefix, non-Latin ones too', async () => {
    expect(prefixEnd('a\0')).toBe('a\x01')
    expect(() => prefixEnd('')).toThrow()
    const dir = mkdtempSync(join(tmpdir(), 'mbwa-ranges-'))
    const store = await CheckpointStore.open(join(dir, 'cp'))
    try {
      const keys = ['snap:en:chat', 'snap:en:чат', 'snap:en:猫', 'snap:en:\u{1F408}', 'snap:en:ÿ', 'snap:fr:x']
      await store.putAll(keys.map((k) => [k, 1]))
      expect((await store.entries('snap:en:')).map(([k]) => k).sort()).toEqual(keys.filter((k) => k.startsWith('snap:en:')).sort())
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
