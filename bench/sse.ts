import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { EventSource } from 'eventsource'
import { EventStore } from '../src/events/event-log.js'
import { SchemaRegistry } from '../src/events/registry.js'
import { EmbeddedLog } from '../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../src/log/topics.js'
import { CheckpointStore } from '../src/streams/checkpoints.js'
import { EventStreamsSource } from '../src/streams/eventstreams.js'
import { FakeEventStreams } from '../test/setup/fake-eventstreams.js'
import { feed, generated, WIKIS } from '../test/streams/eventstreams-feed.js'
import { fmt, machine, rate, writeSection } from './report.js'

// Events per second from an SSE feed into the embedded log: the EventStreams source end to end (parse, map,
// dedupe, encode, append, store position), against a loopback server sending generated page events. Baseline in
// the same run: the same feed received by a bare EventSource that does nothing with the events.
//
//   npm run bench:sse -- [--events N] [--write]

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '100000' }, write: { type: 'boolean', default: false } } })
const N = Number(args.events)

async function bare(url: string, n: number): Promise<number> {
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    let seen = 0
    const es = new EventSource(`${url}/mediawiki.page-create?since=${new Date(0).toISOString()}`)
    es.addEventListener('message', () => {
      if (++seen >= n) {
        es.close()
        resolve()
      }
    })
  })
  return performance.now() - t0
}

async function source(url: string, n: number): Promise<{ ms: number; appended: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-sse-'))
  const log = await EmbeddedLog.open({ path: join(dir, 'log') })
  const topics = topicNames()
  await log.ensureTopics(topicSpecs(topics, { events: 12, edits: 1, dumps: 1, deadLetter: 1 }))
  const checkpoints = await CheckpointStore.open(join(dir, 'sources'))
  const s = new EventStreamsSource({
    url,
    events: new EventStore(log, SchemaRegistry.load()),
    topic: topics.events,
    deadLetterTopic: topics.deadLetter,
    checkpoints,
    wikiByDbName: WIKIS,
    since: 0,
    batchSize: 1000,
    flushMs: 100,
  })
  const t0 = performance.now()
  await s.start()
  while (s.stats.received < n) await new Promise((r) => setTimeout(r, 5))
  await s.stop()
  const ms = performance.now() - t0
  const appended = s.stats.appended
  await checkpoints.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
  return { ms, appended }
}

async function main(): Promise<void> {
  const server = new FakeEventStreams(feed(generated(N)))
  const url = await server.listen()
  const bareMs = await bare(url, N)
  const run = await source(url, N)
  await server.close()
  const bareRate = rate(N, bareMs)
  const srcRate = rate(N, run.ms)
  console.log(`bare EventSource receive: ${fmt(bareRate)} events/s`)
  console.log(`EventStreams source into the embedded log: ${fmt(srcRate)} SSE events/s (${fmt(run.appended)} mbwa events appended), ${(srcRate / bareRate).toFixed(2)} of bare`)
  if (args.write) {
    writeSection(
      'sse',
      `## EventStreams source: SSE into the log (issue: sources)

Command: \`npm run bench:sse -- --write\` (\`bench/sse.ts\`). Machine: ${machine()}. ${fmt(N)} generated page-create,
recentchange edit, page-delete and page-move events on configured wikis from a loopback SSE server (KafkaSSE
framing); batches of 1,000, position stored after each append.

| what | SSE events/s | ratio to bare |
| --- | ---: | ---: |
| bare EventSource, receive only (baseline) | ${fmt(bareRate)} | 1.00 |
| EventStreamsSource: parse, map, dedupe, Avro, append, store position | ${fmt(srcRate)} | ${(srcRate / bareRate).toFixed(2)} |

${fmt(run.appended)} mbwa events were appended for the ${fmt(N)} SSE events (a move is appended under two keys).
Wikimedia's recentchange stream runs at a few hundred events/s for all wikis together.
`,
    )
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
