import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
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

/** An event store whose appends are slow, or fail a number of times. */
class TroubledStore extends EventStore {
  failures = 0
  delayMs = 0
  calls = 0
  override async append(topic: string, events: EventToAppend[]) {
    this.calls++
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs))
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
})
