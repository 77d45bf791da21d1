import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Sources } from '../../src/app/sources.js'
import { loadConfig } from '../../src/config/load.js'
import { EventStore, type EventToAppend } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import { silentLogger } from '../../src/logging.js'
import { EventStreamsSource } from '../../src/streams/eventstreams.js'
import { mapStreamEvent } from '../../src/streams/eventstreams-mapping.js'
import { FakeEventStreams } from '../setup/fake-eventstreams.js'
import { harness, readEvents, type Harness } from '../setup/events.js'
import { waitFor } from '../log/helpers.js'
import { feed, generated, WIKIS } from './eventstreams-feed.js'

// The EventStreams source when the log is slow or failing: it stops reading while the log is behind (its memory
// stays bounded) and reads on from where it stopped; when an append fails, `mbwa run`'s sources start it again
// with backoff from the stored position, and give up (so mbwa run stops with an error) after failing again and
// again. Nothing is lost, nothing is appended twice.

/** An event store whose appends are slow, or fail a number of times (`partial`: after half of it reached the log). */
class TroubledStore extends EventStore {
  failures = 0
  partial = 0
  delayMs = 0
  calls = 0
  override async append(topic: string, events: EventToAppend[]) {
    this.calls++
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs))
    if (this.partial > 0 && events.length > 1) {
      // As a broker that goes away mid-request: some partitions took their messages, the client saw an error.
      this.partial--
      await super.append(topic, events.slice(0, Math.ceil(events.length / 2)))
      throw new Error('the broker went away')
    }
    if (this.failures > 0) {
      this.failures--
      throw new Error('the log is down')
    }
    return super.append(topic, events)
  }
}

function expected(items: { data: string }[]): string[] {
  return items.flatMap((it) => {
    const m = mapStreamEvent(JSON.parse(it.data), WIKIS, 0)
    return m.kind === 'events' ? m.events.map((e) => `${e.type}|${(e.value as { id: string }).id}`) : []
  }).sort()
}

describe('EventStreams source under a slow or failing log (unit, loopback SSE server)', () => {
  let h: Harness | undefined
  let server: FakeEventStreams | undefined
  const cleanup: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined)
    await server?.close()
    await h?.close()
    server = undefined
    h = undefined
  })

  const appended = async () => (await readEvents(h!.log, h!.topics.events)).map((e) => `${e.event.type}|${e.event.value.id}`).sort()

  it('stops reading while the log is behind, keeps its memory bounded, and loses nothing', async () => {
    h = await harness()
    const items = feed(generated(600))
    server = new FakeEventStreams(items)
    const events = new TroubledStore(h.log, SchemaRegistry.load())
    events.delayMs = 40
    const s = new EventStreamsSource({ url: await server.listen(), events, topic: h.topics.events, deadLetterTopic: h.topics.deadLetter, checkpoints: h.checkpoints, wikiByDbName: WIKIS, contact: 'mbwa tests', since: 1_600_000_000_000, batchSize: 10, flushMs: 20, maxBuffered: 40, reconnectMinMs: 10 })
    cleanup.push(() => s.stop())
    let most = 0
    const watch = setInterval(() => (most = Math.max(most, (s as unknown as { held: number }).held)), 5)
    cleanup.push(async () => clearInterval(watch))
    await s.start()
    await waitFor(async () => (await appended()).length >= expected(items).length, 60_000, 'the whole feed')
    await s.stop()
    expect(s.stats.pauses).toBeGreaterThan(0)
    // The bound, give or take the frames of the chunk being read when it was reached (all of them are dispatched).
    expect(most).toBeLessThanOrEqual(40 + 64)
    expect(await appended()).toEqual(expected(items))
  })

  it('is started again after an append fails, from the stored position; gives up after failing again and again', async () => {
    h = await harness()
    const items = feed(generated(300))
    server = new FakeEventStreams(items)
    const url = await server.listen()
    const dir = mkdtempSync(join(tmpdir(), 'mbwa-supervise-'))
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
    const config = loadConfig({
      env: {},
      searchPaths: [],
      flags: {
        dataDir: dir,
        wikis: Object.fromEntries([...WIKIS].map(([dbname, code]) => [code, { api: `http://127.0.0.1:9/${code}/api.php`, dbname }])),
        // The feed's events are from 2023: read from long before them.
        sources: { eventStreams: { enabled: true, url, sinceHours: 200_000 }, recentChanges: { enabled: false }, snapshot: { enabled: false } },
      },
    }).config
    const events = new TroubledStore(h.log, SchemaRegistry.load())
    events.failures = 2
    const sources = await Sources.start(config, events, h.topics, process.env.DEBUG_SUP ? (await import('../../src/logging.js')).createLogger('debug') : silentLogger, { restartBaseMs: 20, maxRestarts: 5, eventStreams: { batchSize: 20, flushMs: 20 } })
    cleanup.push(() => sources.stop())
    await waitFor(async () => (await appended()).length >= expected(items).length, 60_000, 'the whole feed despite two failures')
    expect(await appended()).toEqual(expected(items))
    expect(sources.streamRestarts).toBe(2)

    // The log stays down: after maxRestarts failures in a row the sources fail for good.
    events.failures = 1_000
    server.add(feed(generated(50)))
    const err = (await sources.closed.then(() => undefined, (e: unknown) => e)) as { code?: string } | undefined
    expect(err?.code).toBe('MBWA_SOURCE_FAILED')
    expect(sources.streamRestarts).toBe(2 + 5 + 1) // five restarts in a row, then the failure that ends it
  })

  it('after an append that failed with part of it in the log, or a crash, appends none of it twice; after a clean stop reads no log', async () => {
    h = await harness()
    const items = feed(generated(400))
    server = new FakeEventStreams(items.slice(0, 200))
    const url = await server.listen()
    const events = new TroubledStore(h.log, SchemaRegistry.load())
    events.partial = 2
    const start = async () => {
      const s = new EventStreamsSource({ url, events, topic: h!.topics.events, deadLetterTopic: h!.topics.deadLetter, checkpoints: h!.checkpoints, wikiByDbName: WIKIS, contact: 'mbwa tests', since: 1_600_000_000_000, batchSize: 20, flushMs: 20, reconnectMinMs: 10 })
      cleanup.push(() => s.stop())
      await s.start()
      return s
    }
    // Each failed append ends a source (as Sources would), and the next one starts from the stored position.
    for (let failed = 0; failed < 2; failed++) {
      const s = await start()
      await s.failed
    }
    const third = await start()
    await waitFor(async () => (await appended()).length >= expected(items.slice(0, 200)).length, 30_000, 'the first half of the feed')
    // Then a crash: as if everything after this point had been appended and the process killed before storing
    // its position (the position and tail of now are put back after the feed is in the log).
    const position = await h.checkpoints.get<unknown>('eventstreams:position')
    const tail = await h.checkpoints.get<{ offsets: number[] }>('eventstreams:tail')
    server.add(items.slice(200))
    await waitFor(async () => (await appended()).length >= expected(items).length, 30_000, 'the whole feed')
    await third.stop()
    await h.checkpoints.putAll([['eventstreams:position', position], ['eventstreams:tail', { ...tail, clean: false }]])
    const fourth = await start()
    await waitFor(() => fourth.stats.received >= 200, 30_000, 'the feed again from the older position')
    await fourth.stop()
    expect(await appended()).toEqual(expected(items))
    expect(fourth.stats.duplicates).toBeGreaterThanOrEqual(200)

    // A clean stop: the next start reads nothing of the log.
    const reads = vi.spyOn(h.log, 'read')
    const fifth = await start()
    await fifth.stop()
    expect(reads).not.toHaveBeenCalled()
  })
})
