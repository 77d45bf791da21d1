import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { ClassicLevel } from 'classic-level'
import { loadConfig } from '../src/config/load.js'
import { EventStore } from '../src/events/event-log.js'
import { SchemaRegistry } from '../src/events/registry.js'
import type { PageObserved } from '../src/events/types.js'
import { EmbeddedLog } from '../src/log/embedded-log.js'
import { partitionForKey } from '../src/log/partitioner.js'
import { KafkaLog } from '../src/log/kafka-log.js'
import { topicNames, topicSpecs } from '../src/log/topics.js'
import type { EventLog } from '../src/log/types.js'
import { NODE_FLAGS } from '../src/node-flags.js'
import { PACKAGE_ROOT } from '../src/paths.js'
import { Projector } from '../src/projections/projector.js'
import { QueryServer } from '../src/projections/http/query-server.js'
import { keys, TitleStore } from '../src/projections/title-store.js'
import { titleKey } from '../src/events/titles.js'
import { wikiRules } from '../src/domain/wiki-rules.js'
import { fmt, machine, rate, withMbwaNodeFlags, writeSection } from './report.js'

// (1) Replay into the projection: events/second from offset 0 into a fresh title store, on the embedded log and
//     (--kafka) from Kafka, with the raw LevelDB batch-write rate of the same number of entries as the ceiling.
// (2) Query latency p50/p99 and requests/second at 10 and 100 concurrent connections against the replayed store
//     (the load runs in a worker thread; the server in the main thread).
//
//   npm run bench:projection -- [--events N] [--kafka] [--kafka-events N] [--seconds S] [--write]
//
// It runs with the Node flags of `mbwa` (it starts itself again with them if need be): the replay is what
// `mbwa rebuild` does, and those flags change it (400,000 events: 26,527 events/s on V8's defaults, 35,863 with
// them; BENCHMARKS.md).

withMbwaNodeFlags()

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    kafka: { type: 'boolean', default: false },
    'kafka-events': { type: 'string', default: '2000000' },
    seconds: { type: 'string', default: '10' },
    write: { type: 'boolean', default: false },
  },
})
const N = Number(args.events)
const KN = Number(args['kafka-events'])
const WIKIS = ['en', 'fr', 'de', 'nl']
const PARTITIONS = 12
const config = loadConfig({ env: {}, searchPaths: [], flags: { wikis: Object.fromEntries(WIKIS.map((c) => [c, { api: `http://127.0.0.1/${c}/api.php`, edit: true, linkMode: 'manual' }])) } }).config
const rules = wikiRules(config)
const registry = SchemaRegistry.load()

function title(i: number): string {
  return `word-${Math.floor(i / WIKIS.length).toString(36)}`
}

/**
 * n PageObserved events: each title on the four wikis, linking to some of the others; then each wiki's snapshot
 * marker on every partition, as a snapshot ends (the last one brings the pass that judges every title). In
 * `snapshots` order the events come wiki by wiki, as snapshots write them (a rebuild of a bootstrap's log); in
 * `titles` order a title's four pages are next to each other. Both orders hold the same events.
 */
async function fill(log: EventLog, topic: string, n: number, order: 'snapshots' | 'titles'): Promise<void> {
  const BATCH = 5000
  const perWiki = Math.ceil(n / WIKIS.length)
  for (let i = 0; i < n; i += BATCH) {
    const batch = []
    for (let k = i; k < Math.min(n, i + BATCH); k++) {
      // j: the event's index in title order, whatever the order of the log.
      const j = order === 'titles' ? k : (k % perWiki) * WIKIS.length + Math.floor(k / perWiki)
      const wiki = WIKIS[j % WIKIS.length]!
      const t = title(j)
      const value: PageObserved = {
        id: `bench:${j}`,
        source: 'snapshot',
        observedAt: 1_700_000_000_000 + j,
        wiki,
        title: t,
        pageId: j,
        exists: true,
        redirect: false,
        blank: false,
        revision: 1000 + j,
        links: WIKIS.filter((w, k) => w !== wiki && (j + k) % 3 !== 0).map((code) => ({ code, title: t })),
        writtenLinks: null,
        snapshotId: 'snap',
      }
      batch.push({ key: t, value: registry.encode('PageObserved', value) })
    }
    await log.append(topic, batch)
  }
  const markers = WIKIS.flatMap((wiki) =>
    Array.from({ length: PARTITIONS }, (_, partition) => ({
      key: null,
      partition,
      value: registry.encode('SnapshotCompleted', { id: `bench:done:${wiki}:${partition}`, source: 'snapshot', observedAt: 1_800_000_000_000, wiki, snapshotId: 'snap', partition, startedAt: 1_600_000_000_000, pages: n / WIKIS.length, titleCase: null, mainPage: null }),
    })),
  )
  await log.append(topic, markers)
}

async function replay(log: EventLog, dir: string, name: string, topics = topicNames()): Promise<{ ms: number; store: TitleStore; projector: Projector }> {
  const store = await TitleStore.open(join(dir, name))
  const projector = new Projector({ store, events: new EventStore(log, registry), topics, groupId: `bench-${name}-${Date.now()}`, rules, emitCommands: false, maxBatchSize: 5000 })
  const ends = await log.endOffsets(topics.events)
  const t0 = performance.now()
  await projector.start()
  while (!(projector.status().length === PARTITIONS && projector.status().every((s) => s.offset >= ends[s.partition]!))) await new Promise((r) => setTimeout(r, 50))
  return { ms: performance.now() - t0, store, projector }
}

async function rawLevel(dir: string, n: number): Promise<number> {
  const db = new ClassicLevel<string, string>(join(dir, 'raw'), { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  await db.open()
  const value = JSON.stringify({ en: { redirect: false, blank: false, revision: 1, pageId: 1, links: [{ code: 'fr', title: 'word' }, { code: 'de', title: 'word' }], writtenLinks: null, createdAt: null, byBot: null, observedAt: 1, source: 'snapshot', snapshotId: 'snap', changedAt: 1 } })
  const t0 = performance.now()
  for (let i = 0; i < n; i += 5000) {
    const ops = []
    for (let j = i; j < Math.min(n, i + 5000); j++) ops.push({ type: 'put' as const, key: `t\x00${(j % PARTITIONS).toString(16)}\x00${title(j)}`, value })
    await db.batch(ops)
  }
  const ms = performance.now() - t0
  await db.close()
  return ms
}

const LOAD = `
const { parentPort, workerData } = require('node:worker_threads')
const { Pool } = require(workerData.undici)
const { base, connections, seconds, titles } = workerData
const pool = new Pool(base, { connections, pipelining: 1 })
const latencies = []
let errors = 0
const until = Date.now() + seconds * 1000
async function loop(i) {
  let n = i
  while (Date.now() < until) {
    const t = titles[(n = (n * 7919 + 13) % titles.length)]
    const t0 = process.hrtime.bigint()
    const res = await pool.request({ path: '/v1/titles/' + encodeURIComponent(t), method: 'GET' })
    await res.body.text()
    if (res.statusCode !== 200) errors++
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
}
Promise.all(Array.from({ length: connections }, (_, i) => loop(i + 1))).then(async () => {
  await pool.close()
  parentPort.postMessage({ latencies, errors })
})
`

/**
 * The baseline for query throughput: a bare node:http server doing one LevelDB get per request (the title's
 * record, by the same key and partition mbwa uses) and sending the stored bytes.
 */
async function bareServer(store: TitleStore): Promise<{ base: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const title = titleKey(decodeURIComponent((req.url ?? '').slice('/v1/titles/'.length)))
    store.db.get<string, Buffer>(keys.title(partitionForKey(title, PARTITIONS), title), { valueEncoding: 'buffer' }).then(
      (v) => {
        res.writeHead(v === undefined ? 404 : 200, { 'content-type': 'application/octet-stream' })
        res.end(v)
      },
      () => {
        res.writeHead(500)
        res.end()
      },
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

async function load(base: string, connections: number, seconds: number): Promise<{ p50: number; p99: number; rps: number; errors: number }> {
  const titles = Array.from({ length: 5000 }, (_, i) => title(i * 97 * WIKIS.length))
  const worker = new Worker(LOAD, { eval: true, workerData: { base, connections, seconds, titles, undici: join(PACKAGE_ROOT, 'node_modules/undici') } })
  const { latencies, errors } = await new Promise<{ latencies: number[]; errors: number }>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!
  return { p50: at(0.5), p99: at(0.99), rps: Math.round(latencies.length / seconds), errors }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-proj-'))
  const rows: string[] = []
  const queryRows: string[] = []
  try {
    const log = await EmbeddedLog.open({ path: join(dir, 'log') })
    const adjacent = topicNames('adjacent')
    await log.ensureTopics(topicSpecs(topicNames(), { events: PARTITIONS, edits: 1, dumps: 1, deadLetter: 1 }))
    await log.ensureTopics(topicSpecs(adjacent, { events: PARTITIONS, edits: 1, dumps: 1, deadLetter: 1 }))
    console.log(`filling the embedded log with ${fmt(N)} events, twice (two orders)`)
    await fill(log, 'mbwa.events', N, 'snapshots')
    await fill(log, adjacent.events, N, 'titles')
    const rawMs = await rawLevel(dir, N)
    const raw = rate(N, rawMs)
    console.log(`raw LevelDB batch write (${fmt(N)} title entries, batches of 5,000): ${fmt(raw)}/s`)
    const { ms, store, projector } = await replay(log, dir, 'embedded')
    const r = rate(N, ms)
    console.log(`replay from the embedded log: ${fmt(r)} events/s (${(r / raw).toFixed(2)} of raw LevelDB)`)
    rows.push(`| raw LevelDB batch write, ${fmt(N)} title entries (ceiling) | ${fmt(N)} | ${fmt(raw)} | 1.00 |`)
    rows.push(`| replay into the projection from the embedded log, wiki by wiki (as snapshots write a log) | ${fmt(N)} | ${fmt(r)} | ${(r / raw).toFixed(2)} |`)
    const other = await replay(log, dir, 'adjacent', adjacent)
    const ra = rate(N, other.ms)
    console.log(`replay from the embedded log, a title's pages together: ${fmt(ra)} events/s (${(ra / raw).toFixed(2)} of raw LevelDB)`)
    rows.push(`| replay into the projection from the embedded log, a title's four pages together | ${fmt(N)} | ${fmt(ra)} | ${(ra / raw).toFixed(2)} |`)
    const [d1, d2] = [await store.digest('all'), await other.store.digest('all')]
    if (d1.sum !== d2.sum || d1.pages !== d2.pages) throw new Error(`the two orders ended with different digests (${d1.pages} and ${d2.pages} pages)`)
    await other.projector.stop()
    await other.store.close()

    const server = new QueryServer({ store, projector, rules, partitions: PARTITIONS })
    const base = await server.listen('127.0.0.1', 0)
    const bare = await bareServer(store)
    const seconds = Number(args.seconds)
    for (const c of [10, 100]) {
      // The bare server and mbwa's in turn, twice, so a slow spell of the shared machine hits both.
      const runs: { bare: Awaited<ReturnType<typeof load>>; mbwa: Awaited<ReturnType<typeof load>> }[] = []
      for (let round = 0; round < 2; round++) runs.push({ bare: await load(bare.base, c, seconds / 2), mbwa: await load(base, c, seconds / 2) })
      const sum = (pick: (r: (typeof runs)[number]) => number) => runs.reduce((a, r) => a + pick(r), 0)
      const q = { p50: sum((r) => r.mbwa.p50) / 2, p99: Math.max(...runs.map((r) => r.mbwa.p99)), rps: Math.round(sum((r) => r.mbwa.rps) / 2), errors: sum((r) => r.mbwa.errors) }
      const bareRps = Math.round(sum((r) => r.bare.rps) / 2)
      const ratio = q.rps / bareRps
      console.log(`queries at ${c} connections: p50 ${q.p50.toFixed(2)} ms, p99 ${q.p99.toFixed(2)} ms, ${fmt(q.rps)} requests/s, ${q.errors} errors; bare node:http + one get: ${fmt(bareRps)}/s (ratio ${ratio.toFixed(2)})`)
      queryRows.push(`| ${c} | ${q.p50.toFixed(2)} | ${q.p99.toFixed(2)} | ${fmt(q.rps)} | ${q.errors} | ${fmt(bareRps)} | ${ratio.toFixed(2)} |`)
    }
    await bare.close()
    await server.close()
    await projector.stop()
    await store.close()
    await log.close()

    if (args.kafka) {
      execFileSync('bash', [join(PACKAGE_ROOT, 'infra/kafka/kafka.sh'), 'start'], { stdio: 'inherit' })
      const kafka = await KafkaLog.connect({ brokers: [process.env.MBWA_TEST_KAFKA_BROKERS ?? '127.0.0.1:19092'], clientId: 'mbwa-bench' })
      // A topic prefix of its own, so earlier runs' events do not count.
      const prefix = `bench${Date.now()}`
      const topics = topicNames(prefix)
      await kafka.ensureTopics(topicSpecs(topics, { events: PARTITIONS, edits: 1, dumps: 1, deadLetter: 1 }))
      console.log(`filling Kafka with ${fmt(KN)} events`)
      await fill(kafka, topics.events, KN, 'snapshots')
      const kstore = await TitleStore.open(join(dir, 'kafka'))
      const kp = new Projector({ store: kstore, events: new EventStore(kafka, registry), topics, groupId: `bench-kafka-${Date.now()}`, rules, emitCommands: false, maxBatchSize: 5000 })
      const ends = await kafka.endOffsets(topics.events)
      const t0 = performance.now()
      await kp.start()
      while (!(kp.status().length === PARTITIONS && kp.status().every((s) => s.offset >= ends[s.partition]!))) await new Promise((res) => setTimeout(res, 50))
      const kr = rate(KN, performance.now() - t0)
      await kp.stop()
      await kstore.close()
      await kafka.close()
      console.log(`replay from Kafka: ${fmt(kr)} events/s`)
      rows.push(`| replay into the projection from Kafka (kafkajs, one member), wiki by wiki | ${fmt(KN)} | ${fmt(kr)} | ${(kr / raw).toFixed(2)} |`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  if (args.write) {
    writeSection(
      'projection',
      `## Projection: replay and queries (issue: projection)

Command: \`npm run bench:projection -- --kafka --write\` (\`bench/projection.ts\`). Machine: ${machine()}.
${fmt(N)} PageObserved events (${fmt(N / WIKIS.length)} titles on four manual-mode wikis, links to some of the others)
wiki by wiki as snapshots write them (and, for comparison, the same events with a title's four pages together),
then each wiki's SnapshotCompleted on every partition; 12 partitions, replayed
from offset 0 into a fresh store (one record per title with its pages, counts and offset written per batch of up to
5,000; the last snapshot marker brings the pass that judges every title and writes the discrepancy index), no edit
commands, as \`mbwa rebuild\` does (with its Node flags, \`${NODE_FLAGS.join(' ')}\`). The ceiling is LevelDB's own batch
write of the same number of title entries (one put each, batches of 5,000) in the same run.

| what | events | events/s | ratio to raw LevelDB |
| --- | ---: | ---: | ---: |
${rows.join('\n')}

Queries: \`GET /v1/titles/{title}\` for titles spread over the store, ${args.seconds} s per level, load from a worker thread
of the same process (undici pool, one request in flight per connection), server on the main thread. The baseline is
a bare \`node:http\` server in the same process doing one LevelDB \`get\` per request (the title's record) and sending
its bytes; it and mbwa's server take turns, twice, ${Number(args.seconds) / 2} s each; p99 is the higher of mbwa's two.

| connections | p50 ms | p99 ms | requests/s | errors | bare node:http requests/s | ratio (aim ≥ 0.8 at 100) |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${queryRows.join('\n')}

Aims of the projection issue: replay ≥ 100,000 events/s on the embedded log and ≥ 50,000 from Kafka; p99 < 5 ms at
100 connections.
`,
    )
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
