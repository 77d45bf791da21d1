import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isMbwaError } from '../../src/errors/errors.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { logContract } from './contract/index.js'
import { uniqueName } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mbwa-embedded-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

logContract('embedded (classic-level)', {
  open: () => EmbeddedLog.open({ path: join(dir, 'contract') }),
  supports: { concurrentInstances: false },
})

describe('embedded log specifics (unit)', () => {
  it('a second opener of the same directory gets MBWA_LOG_LOCKED', async () => {
    const path = join(dir, 'locked')
    const log = await EmbeddedLog.open({ path })
    try {
      const err = await EmbeddedLog.open({ path }).catch((e: unknown) => e)
      expect(isMbwaError(err, 'MBWA_LOG_LOCKED')).toBe(true)
    } finally {
      await log.close()
    }
  })

  it('serves one member per group', async () => {
    const log = await EmbeddedLog.open({ path: join(dir, 'groups') })
    try {
      const topic = uniqueName('t')
      await log.ensureTopics([{ name: topic, partitions: 1 }])
      const group = uniqueName('g')
      const sub = await log.consume({ groupId: group, topics: [topic], eachBatch: async () => undefined })
      const err = await log.consume({ groupId: group, topics: [topic], eachBatch: async () => undefined }).catch((e: unknown) => e)
      expect(isMbwaError(err, 'MBWA_GROUP_MEMBER_EXISTS')).toBe(true)
      await sub.stop()
      const again = await log.consume({ groupId: group, topics: [topic], eachBatch: async () => undefined })
      await again.stop()
    } finally {
      await log.close()
    }
  })

  it('concurrent appends get distinct, gap-free offsets', async () => {
    const log = await EmbeddedLog.open({ path: join(dir, 'concurrent') })
    try {
      const topic = uniqueName('t')
      await log.ensureTopics([{ name: topic, partitions: 1 }])
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => log.append(topic, Array.from({ length: 10 }, (_, j) => ({ key: null, value: Buffer.from(`${i}-${j}`) })))),
      )
      const offsets = results.flat().map((r) => r.offset).sort((a, b) => a - b)
      expect(offsets).toEqual(Array.from({ length: 200 }, (_, i) => i))
    } finally {
      await log.close()
    }
  })
})
