import { afterEach, describe, expect, it } from 'vitest'
import { DLQ_HEADERS } from '../../src/events/event-log.js'
import { EventStreamsSource, type EventStreamsOptions } from '../../src/streams/eventstreams.js'
import { mapStreamEvent } from '../../src/streams/eventstreams-mapping.js'
import { FakeEventStreams, type FeedItem } from '../setup/fake-eventstreams.js'
import { harness, readEvents, type Harness } from '../setup/events.js'
import { waitFor } from '../log/helpers.js'
import { canaries, feed, generated, recorded, WIKIS } from './eventstreams-feed.js'

// The EventStreams source against a loopback SSE server replaying the published events, canaries, generated
// events and malformed lines, while the server drops connections mid-frame, falls silent, or refuses: every
// event is appended once, none is lost, and the position survives a restart.

const MALFORMED = ['{"this is": not json', JSON.stringify({ meta: { domain: 'en.wiktionary.org', stream: 'mediawiki.page-create', id: 'x' } })]

function mixedFeed(sameTsRun = 1): FeedItem[] {
  const items = [
    ...recorded('mediawiki.recentchange'),
    ...recorded('mediawiki.page-create'),
    ...recorded('mediawiki.page-delete'),
    ...recorded('mediawiki.page-move'),
    ...canaries(),
    ...generated(400),
  ]
  // Interleave deterministically, and put the malformed lines in the middle.
  const mixed: (Record<string, unknown> | string)[] = []
  items.forEach((e, i) => {
    mixed.push(e)
    if (i === 100) mixed.push(MALFORMED[0]!)
    if (i === 250) mixed.push(MALFORMED[1]!)
  })
  return feed(mixed, sameTsRun)
}

/** What the log must end up with: each mapped event of the feed, once (id and key). */
function expectedEvents(items: FeedItem[]): string[] {
  const out: string[] = []
  for (const it of items) {
    let parsed: unknown
    try {
      parsed = JSON.parse(it.data)
    } catch {
      continue
    }
    const m = mapStreamEvent(parsed, WIKIS, 0)
    if (m.kind === 'events') for (const e of m.events) out.push(`${e.type}|${(e.value as { id: string }).id}|${e.key}`)
  }
  return out.sort()
}

async function appended(h: Harness): Promise<string[]> {
  return (await readEvents(h.log, h.topics.events)).map((e) => `${e.event.type}|${e.event.value.id}|${e.key}`).sort()
}

describe('EventStreams source (unit, loopback SSE server)', () => {
  let h: Harness | undefined
  let server: FakeEventStreams | undefined
  const sources: EventStreamsSource[] = []
  afterEach(async () => {
    await Promise.allSettled(sources.map((s) => s.stop()))
    sources.length = 0
    await server?.close()
    await h?.close()
    server = undefined
    h = undefined
  })

  async function source(url: string, extra: Partial<EventStreamsOptions> = {}): Promise<EventStreamsSource> {
    const s = new EventStreamsSource({
      url,
      events: h!.events,
      topic: h!.topics.events,
      deadLetterTopic: h!.topics.deadLetter,
      checkpoints: h!.checkpoints,
      wikiByDbName: WIKIS,
      contact: 'https://example.org/mbwa-tests',
      since: 1_600_000_000_000,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      batchSize: 25,
      flushMs: 50,
      ...extra,
    })
    sources.push(s)
    await s.start()
    return s
  }

  it('appends every event once across connections dropped mid-frame; canaries dropped, malformed dead-lettered', async () => {
    h = await harness()
    const items = mixedFeed()
    server = new FakeEventStreams(items, { dropEvery: 37 })
    const s = await source(await server.listen())
    await waitFor(async () => (await s.storedId()) !== undefined && s.stats.received >= items.length, 30_000, 'the whole feed')
    await s.stop()

    expect(await appended(h)).toEqual(expectedEvents(items))
    expect(s.stats.canaries).toBe(5)
    expect(s.stats.malformed).toBe(2)
    expect(s.stats.connections).toBeGreaterThan(items.length / 37)
    const dead = await h.log.read(h.topics.deadLetter, 0, 0, 10)
    expect(dead.map((m) => m.headers[DLQ_HEADERS.reason])).toEqual(['not-json', 'no-wiki'])
    expect(dead.map((m) => m.value.toString())).toEqual(MALFORMED)
    // Every request identifies itself; the first asks for `since`, the others resume with Last-Event-ID.
    expect(server.requests.every((r) => String(r.headers['user-agent']).startsWith('mbwa/'))).toBe(true)
    expect(server.requests[0]!.url).toContain('since=')
    expect(server.requests[0]!.url).toContain('/v2/stream/mediawiki.recentchange,mediawiki.page-create,mediawiki.page-delete,mediawiki.page-move,mediawiki.page-undelete')
    expect(server.requests.slice(1).every((r) => typeof r.headers['last-event-id'] === 'string')).toBe(true)
  })

  it('resumes after a process restart from the stored Last-Event-ID; repeats are recognised, not appended', async () => {
    h = await harness()
    // Runs of three events with the same timestamp: a resume by timestamp must neither skip nor double them.
    const items = mixedFeed(3)
    server = new FakeEventStreams(items, { dropEvery: 53 })
    const url = await server.listen()
    const first = await source(url)
    await waitFor(() => first.stats.received >= 150, 30_000, '150 events')
    await first.stop() // as a process that ends: what was received is appended, its position stored
    const stored = await first.storedId()
    expect(stored).toBeDefined()
    const requestsBefore = server.requests.length

    const second = await source(url)
    await waitFor(async () => (await second.storedId()) === JSON.stringify(JSON.parse(server!['idFor'](items.length - 1))), 30_000, 'the rest of the feed')
    await second.stop()
    expect(server.requests[requestsBefore]!.url).not.toContain('since=')
    expect(server.requests[requestsBefore]!.headers['last-event-id']).toBeDefined()
    expect(await appended(h)).toEqual(expectedEvents(items))
    expect(second.stats.duplicates).toBeGreaterThan(0) // the overlap was read again and dropped
  })

  it('reconnects when the server falls silent, and backs off on refusals', async () => {
    h = await harness()
    const items = mixedFeed()
    server = new FakeEventStreams(items, { silentAfter: 40, statuses: [503, 429] })
    const s = await source(await server.listen(), { idleTimeoutMs: 300, tooManyConnectionsWaitMs: 100 })
    await waitFor(async () => s.stats.received >= items.length && (await s.storedId()) !== undefined, 30_000, 'the whole feed')
    await s.stop()
    expect(server.requests.length).toBeGreaterThanOrEqual(4) // 503, 429, silent, the rest
    expect(await appended(h)).toEqual(expectedEvents(items))
  })
})
