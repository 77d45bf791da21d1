import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { murmur2, partitionForKey } from '../../src/log/partitioner.js'
import { checkPlacement } from '../../src/log/placement-check.js'
import { loadConfig } from '../../src/config/load.js'
import { openLog } from '../../src/log/open-log.js'
import { silentLogger } from '../../src/logging.js'

// The events topic is refused when its messages are not where this mbwa places their keys: a log of an older mbwa
// (titles with a capital placed by their own bytes) or a topic whose partitions were changed.

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function logWith(messages: { key: string | null; partition?: number }[], partitions = 4) {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-placement-'))
  dirs.push(dir)
  const log = await EmbeddedLog.open({ path: join(dir, 'log') })
  await log.ensureTopics([{ name: 't', partitions }])
  if (messages.length > 0) await log.append('t', messages.map((m) => ({ ...m, value: Buffer.from('x') })))
  return { log, dir }
}

/** Where an mbwa before the first-letter folding put a key: murmur2 of its own bytes. */
const oldPlacement = (key: string, n: number) => (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % n

describe('placement check (unit, embedded log)', () => {
  it('passes a log this mbwa wrote, markers with an explicit partition included, and an empty one', async () => {
    const keys = ['chat', 'Chat', 'Ελλάδα', 'snapshot:en', 'l’eau', 'en']
    const { log } = await logWith([...keys.map((key) => ({ key })), ...[0, 1, 2, 3].map((partition) => ({ key: null, partition }))])
    await expect(checkPlacement(log, 't')).resolves.toBeUndefined()
    await log.close()
    const empty = await logWith([])
    await expect(checkPlacement(empty.log, 't')).resolves.toBeUndefined()
    await empty.log.close()
  })

  it("refuses an older mbwa's log (a title with a capital where its own bytes hash) and a topic whose partitions changed, naming the message", async () => {
    const key = ['Chat', 'Haus', 'Zebra', 'Wasser'].find((k) => oldPlacement(k, 4) !== partitionForKey(k, 4))!
    const { log } = await logWith([{ key: 'chat' }, { key, partition: oldPlacement(key, 4) }])
    const err = (await checkPlacement(log, 't').catch((e: unknown) => e)) as { code?: string; message?: string; details?: Record<string, unknown> }
    expect(err.code).toBe('MBWA_LOG_PLACEMENT')
    expect(err.message).toContain(JSON.stringify(key))
    expect(err.message).toContain('log.topicPrefix')
    await log.close()
    // Placed right for 4 partitions, read as 5.
    const five = await logWith(['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'].map((k) => ({ key: k, partition: partitionForKey(k, 4) })), 5)
    expect(((await checkPlacement(five.log, 't').catch((e: unknown) => e)) as { code?: string }).code).toBe('MBWA_LOG_PLACEMENT')
    await five.log.close()
  })

  it('asks again while a topic just created has no leader known (retriable), and not for other errors', async () => {
    const { log } = await logWith([{ key: 'chat' }])
    let fails = 2
    const flaky = Object.create(log) as typeof log
    flaky.endOffsets = async (t: string) => {
      if (fails-- > 0) throw Object.assign(new Error('This server is not the leader for that topic-partition'), { retriable: true })
      return log.endOffsets(t)
    }
    await expect(checkPlacement(flaky, 't')).resolves.toBeUndefined()
    expect(fails).toBe(-1)
    const broken = Object.create(log) as typeof log
    broken.endOffsets = async () => {
      throw new Error('topic t does not exist')
    }
    await expect(checkPlacement(broken, 't')).rejects.toThrow('does not exist')
    await log.close()
  })

  it('openLog refuses such a log before anything is appended, and leaves it closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mbwa-placement-open-'))
    dirs.push(dir)
    const config = loadConfig({ env: {}, searchPaths: [], flags: { dataDir: dir, wikis: { en: { api: 'http://127.0.0.1:9/en/api.php' } } } }).config
    const first = await openLog(config, silentLogger)
    const key = ['Chat', 'Haus', 'Zebra', 'Wasser'].find((k) => oldPlacement(k, config.log.partitions.events) !== partitionForKey(k, config.log.partitions.events))!
    await first.log.append(first.topics.events, [{ key, value: Buffer.from('x'), partition: oldPlacement(key, config.log.partitions.events) }])
    const end = await first.log.endOffsets(first.topics.events)
    await first.log.close()
    const err = (await openLog(config, silentLogger).catch((e: unknown) => e)) as { code?: string }
    expect(err.code).toBe('MBWA_LOG_PLACEMENT')
    // Closed again: the embedded log's lock is free, and nothing was added.
    const again = await EmbeddedLog.open({ path: join(dir, 'log') })
    expect(await again.endOffsets(first.topics.events)).toEqual(end)
    await again.close()
  })
})
