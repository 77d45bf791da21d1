import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { PageState } from '../../src/domain/page-state.js'
import { verifyDump } from '../../src/sinks/dump-file.js'
import { abandonedLeases } from '../../src/domain/dump-leases.js'
import { DumpWorker, type PageSource } from '../../src/sinks/dump-worker.js'
import { harness, readEvents, type Harness } from '../setup/events.js'
import type { DumpHeartbeat } from '../../src/events/types.js'

// Dump workers against one dumps topic: leases decided by the log, heartbeats, abandoned leases, completion.
const page = (i: number): PageState => ({ redirect: false, blank: false, revision: i, pageId: i, links: [], writtenLinks: null, createdAt: null, byBot: null, observedAt: 1, source: 's', snapshotId: null, changedAt: 1 })
const source = (n: number): PageSource => ({
  async parts() {
    return [0, 1, 2].map((part) => ({
      async *[Symbol.asyncIterator]() {
        for (let i = part; i < n; i += 3) yield { title: `t ${String(i).padStart(7, "0")}`, page: page(i) } // each part sorted, as the store keeps them
      },
    }))
  },
})

let h: Harness | undefined
const workers: DumpWorker[] = []
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close()
  await h?.close()
  h = undefined
})

function worker(name: string, extra: Partial<ConstructorParameters<typeof DumpWorker>[0]> = {}): DumpWorker {
  return track(new DumpWorker({ events: h!.events, registry: SchemaRegistry.load(), topic: h!.topics.dumps, pages: source(2500), dir: join(h!.dir, 'dumps'), wikis: () => ['en', 'fr'], host: name, pid: 1, heartbeatMs: 20, ...extra }))
}

function track(w: DumpWorker): DumpWorker {
  workers.push(w)
  return w
}

describe('dump workers (unit, embedded log)', () => {
  it('folds the dumps history incrementally with one long-lived consumer: a claim reads the events since the last one, not the whole history (issue 28)', async () => {
    h = await harness()
    // A long history: another wiki's job with 3,000 heartbeats.
    const old = Array.from({ length: 3000 }, (_, i) => ({ type: 'DumpHeartbeat' as const, key: 'fr', value: { id: `fr:hb:${i}`, source: 'dump', observedAt: i, wiki: 'fr', jobId: 'fr:job', host: 'x', pid: 1, titlesWritten: i, titlesTotal: null } }))
    await h.events.append(h.topics.dumps, old)
    const w = worker('a')
    // Every message the worker's fold is handed, and every consumer it starts.
    let read = 0
    let consumers = 0
    const log = h.events.log
    const plain = log.consume.bind(log)
    log.consume = async (o) => {
      consumers++
      return plain({ ...o, eachBatch: async (batch) => {
        read += batch.messages.length
        await o.eachBatch(batch)
      } })
    }
    const first = await w.claim('en')
    expect(first).toBeDefined()
    expect(read).toBe(3001) // the history once, then the claim just appended
    read = 0
    const second = await w.claim('nl')
    expect(second).toBeDefined()
    expect(read).toBe(1) // only its own claim
    expect(await w.holds(first!)).toBe(true)
    expect(read).toBe(1)
    expect(consumers).toBe(1) // one long-lived consumer, not one per read
    log.consume = plain
  })

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

  it('a wiki whose dump fails waits, longer after each failure, while the others are dumped', async () => {
    h = await harness()
    let now = 1_000_000_000
    // en's pages cannot be read; fr's can.
    const failing: PageSource = {
      async parts() {
        return [{ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('the store is unreadable')) }) }]
      },
    }
    const w = worker('a', { now: () => now, retryMs: 60_000, minAgeMs: 86_400_000, pages: { parts: async (wiki) => (wiki === 'en' ? failing.parts(wiki) : source(30).parts(wiki)) } })
    const first = (await w.claim())!
    expect(first.wiki).toBe('en')
    expect(await w.run(first)).toBeUndefined()
    // en failed just now: fr is taken, although en is the least recently dumped.
    const second = (await w.claim())!
    expect(second.wiki).toBe('fr')
    expect(await w.run(second)).toBeDefined()
    now += 30_000
    expect(await w.claim()).toBeUndefined() // en waits a minute after its first failure; fr is dumped
    now += 31_000
    const again = (await w.claim())!
    expect(again.wiki).toBe('en')
    expect(await w.run(again)).toBeUndefined()
    expect((await w.state()).get('en')).toMatchObject({ failures: 2 })
    now += 61_000
    expect(await w.claim()).toBeUndefined() // two minutes after the second failure
    // Named (mbwa dump run --wiki en), a wiki is taken whatever its failures.
    expect((await w.claim('en'))!.wiki).toBe('en')
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

  it('heartbeats while it writes: a large dump is streamed, never held in memory, and the lease stays live', async () => {
    h = await harness()
    const w = worker('a', { pages: source(120_000), heartbeatMs: 5 })
    const lease = (await w.claim('en'))!
    const done = (await w.run(lease))!
    expect(done.count).toBe(120_000)
    const beats = (await readEvents(h.log, h.topics.dumps)).filter((e) => e.event.type === 'DumpHeartbeat').map((e) => (e.event.value as DumpHeartbeat).titlesWritten)
    // Heartbeats came while titles were being written, not only before or after.
    expect(beats.some((n) => n > 0 && n < 120_000)).toBe(true)
  })

  it('a worker that lost its lease while writing (declared abandoned) neither renames its file nor announces it', async () => {
    h = await harness()
    let now = 1_000_000
    let release: () => void = () => undefined
    const paused = new Promise<void>((r) => (release = r))
    const slow: PageSource = {
      async parts() {
        return [{
          async *[Symbol.asyncIterator]() {
            for (let i = 0; i < 3000; i++) {
              if (i === 1500) await paused // a long pause (GC, a stopped VM): heartbeats stop meanwhile
              yield { title: `t ${String(i).padStart(5, '0')}`, page: page(i) }
            }
          },
        }]
      },
    }
    const a = worker('a', { pages: slow, leaseMs: 5000, heartbeatMs: 1_000_000, now: () => now })
    const lease = (await a.claim('en'))!
    const running = a.run(lease)
    await new Promise((r) => setTimeout(r, 50))
    now += 60_000 // a's lease has expired by the next claimant's clock
    const b = worker('b', { now: () => now })
    const taken = await b.claim('en')
    expect(taken).toBeDefined() // b declared a's lease abandoned and holds the wiki
    release()
    expect(await running).toBeUndefined()
    expect(existsSync(join(h.dir, 'dumps/public/en')) ? readdirSync(join(h.dir, 'dumps/public/en')) : []).toEqual([])
    const types = (await readEvents(h.log, h.topics.dumps)).map((e) => e.event.type)
    expect(types).not.toContain('DumpCompleted')
    expect((await b.state()).get('en')!.running!.jobId).toBe(taken!.jobId)
  })

  it('leases are decided by log order: a claim with a later clock does not take a wiki whose job is in the log', async () => {
    h = await harness()
    const a = worker('a', { now: () => 1_000_000, leaseMs: 5000 })
    const lease = (await a.claim('en'))!
    // A claimant whose clock runs an hour ahead appends a claim without declaring anything: it loses.
    await h.events.append(h.topics.dumps, [{ type: 'DumpStarted', key: 'en', value: { id: 'skewed', source: 'dump', observedAt: 1_000_000 + 3_600_000, wiki: 'en', jobId: 'skewed', host: 'skewed', pid: 2, leaseMs: 5000 } }])
    expect((await a.state()).get('en')!.running!.jobId).toBe(lease.jobId)
  })

  it('removes temporary files dead writers left, and keeps those live writers are writing', async () => {
    h = await harness()
    const live = (await worker('live').claim('en'))!
    const dir = join(h.dir, 'dumps/public/en')
    mkdirSync(dir, { recursive: true })
    const liveTmp = `en-1.mbwa.gz.tmp-job-${live.jobId.replace(/[^A-Za-z0-9_-]/g, '-')}`
    writeFileSync(join(dir, liveTmp), 'the live job is writing this')
    writeFileSync(join(dir, 'en-0.mbwa.gz.tmp-job-en-2026-01-01T00-00-00-000Z-deadbeef'), 'an abandoned job\'s half dump')
    writeFileSync(join(dir, 'en-old.mbwa.gz.tmp-4242'), 'half a dump by mbwa dump write')
    writeFileSync(join(dir, 'en-new.mbwa.gz.tmp-4343'), 'mbwa dump write, being written')
    const old = (Date.now() - 3_600_000) / 1000
    utimesSync(join(dir, 'en-old.mbwa.gz.tmp-4242'), old, old)
    await worker('a', { leaseMs: 60_000 }).claim('fr')
    expect(readdirSync(dir).sort()).toEqual(['en-new.mbwa.gz.tmp-4343', liveTmp].sort())
  })
})
