import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { PageState } from '../../src/domain/page-state.js'
import { verifyDump } from '../../src/sinks/dump-file.js'
import { abandonedLeases } from '../../src/domain/dump-leases.js'
import { DumpWorker, type PageSource } from '../../src/sinks/dump-worker.js'
import { harness, type Harness } from '../setup/events.js'

// Dump workers against one dumps topic: leases decided by the log, heartbeats, abandoned leases, completion.
const page = (i: number): PageState => ({ redirect: false, blank: false, revision: i, pageId: i, links: [], writtenLinks: null, createdAt: null, byBot: null, observedAt: 1, source: 's', snapshotId: null, changedAt: 1 })
const source = (n: number): PageSource => ({
  async parts() {
    return [0, 1, 2].map((part) => ({
      async *[Symbol.asyncIterator]() {
        for (let i = part; i < n; i += 3) yield { title: `t ${i}`, page: page(i) }
      },
    }))
  },
})

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

function worker(name: string, extra: Partial<ConstructorParameters<typeof DumpWorker>[0]> = {}): DumpWorker {
  return new DumpWorker({ events: h!.events, registry: SchemaRegistry.load(), topic: h!.topics.dumps, pages: source(2500), dir: join(h!.dir, 'dumps'), wikis: () => ['en', 'fr'], host: name, pid: 1, heartbeatMs: 20, ...extra })
}

describe('dump workers (unit, embedded log)', () => {
  it('two workers claiming the same wiki at the same moment: exactly one holds it', async () => {
    h = await harness()
    for (let round = 0; round < 5; round++) {
      const wiki = `w${round}`
      const [a, b] = await Promise.all([worker('a').claim(wiki), worker('b').claim(wiki)])
      expect([a, b].filter(Boolean).length).toBe(1)
    }
  })

  it('takes the least recently dumped free wiki, writes and verifies the dump, and frees the wiki', async () => {
    h = await harness()
    const w = worker('a')
    const lease = (await w.claim())!
    expect(lease.wiki).toBe('en') // neither dumped yet: by name
    const done = (await w.run(lease))!
    expect(done.count).toBe(2500)
    expect(verifyDump(done.path).count).toBe(2500)
    expect(readdirSync(join(h.dir, 'dumps/private/en')).length).toBe(1)
    const state = await w.state()
    expect(state.get('en')).toMatchObject({ running: null, lastGood: { count: 2500, path: done.path } })
    expect((await w.claim())!.wiki).toBe('fr') // en was dumped: fr is now the least recent
  })

  it('a lease whose heartbeats stopped is declared abandoned, and another worker takes the wiki', async () => {
    h = await harness()
    let now = 1_000_000
    const dead = worker('dead', { leaseMs: 5000, now: () => now })
    const lease = (await dead.claim('en'))!
    expect(await worker('other', { now: () => now }).claim('en')).toBeUndefined() // held
    now += 6000 // no heartbeat came
    const monitor = worker('monitor', { now: () => now })
    const declare = abandonedLeases(await monitor.state(), now, 'monitor')
    expect(declare.map((d) => d.value.jobId)).toEqual([lease.jobId])
    await h.events.append(h.topics.dumps, declare)
    const state = await monitor.state()
    expect(state.get('en')).toMatchObject({ running: null, abandoned: 1 })
    const next = await worker('other', { now: () => now }).claim('en')
    expect(next).toBeDefined()
    expect(existsSync(join(h.dir, 'dumps/public/en'))).toBe(false) // the dead worker's file never appeared
  })
})
