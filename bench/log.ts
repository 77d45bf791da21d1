import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { ClassicLevel } from 'classic-level'
import { SchemaRegistry } from '../src/events/registry.js'
import type { PageObserved } from '../src/events/types.js'
import { EmbeddedLog } from '../src/log/embedded-log.js'
import { KafkaLog } from '../src/log/kafka-log.js'
import type { EventLog, LogMessage } from '../src/log/types.js'
import { PACKAGE_ROOT } from '../src/paths.js'
import { fmt, machine, rate, writeSection } from './report.js'

// Append and consume throughput of both logs, with ~300-byte Avro events in batches, plus a raw LevelDB
// batch-write of the same bytes as the ceiling the embedded log is compared with (same run, same disk).
//
//   npm run bench -- [--events N] [--batch N] [--kafka] [--write]

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '500000' },
    'kafka-events': { type: 'string', default: '300000' },
    batch: { type: 'string', default: '1000' },
    kafka: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
})
const N = Number(args.events)
const KN = Number(args['kafka-events'])
const BATCH = Number(args.batch)

const registry = SchemaRegistry.load()
const codes = ['de', 'fr', 'nl', 'es', 'it', 'pl', 'ru', 'fi', 'sv', 'hu', 'el', 'ja']

function event(i: number): { key: string; value: Buffer } {
  const title = `title-${i.toString(36)}-word`
  const value: PageObserved = {
    id: `snapshot:en:${i}:${1000 + i}`,
    source: 'snapshot',
    observedAt: 1_700_000_000_000 + i,
    wiki: 'en',
    title,
    pageId: 100000 + i,
    exists: true,
    redirect: false,
    blank: false,
    revision: 5_000_000 + i,
    links: codes.slice(0, 8 + (i % 5)).map((code) => ({ code, title })),
    writtenLinks: null,
    snapshotId: 'snap-en-20261123',
  }
  return { key: title, value: registry.encode('PageObserved', value) }
}

function batches(n: number): LogMessage[][] {
  const out: LogMessage[][] = []
  for (let i = 0; i < n; i += BATCH) out.push(Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => event(i + j)))
  return out
}

async function appendAll(log: EventLog, topic: string, data: LogMessage[][]): Promise<number> {
  const t0 = performance.now()
  for (const b of data) await log.append(topic, b)
  return performance.now() - t0
}

async function consumeAll(log: EventLog, topic: string, n: number): Promise<number> {
  let seen = 0
  let done!: () => void
  const finished = new Promise<void>((r) => (done = r))
  const t0 = performance.now()
  const sub = await log.consume({
    groupId: `bench-${Date.now()}`,
    topics: [topic],
    maxBatchSize: 5000,
    eachBatch: async (b) => {
      seen += b.messages.length
      if (seen >= n) done()
    },
  })
  await finished
  const ms = performance.now() - t0
  await sub.stop()
  return ms
}

async function rawLevel(dir: string, data: LogMessage[][]): Promise<number> {
  const db = new ClassicLevel<string, Buffer>(join(dir, 'raw'), { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  let offset = 0
  const t0 = performance.now()
  for (const b of data) {
    await db.batch(
      b.map((m) => ({ type: 'put' as const, key: `m\x00t\x00${(offset++).toString(16).padStart(16, '0')}`, value: m.value })),
      { sync: true },
    )
  }
  const ms = performance.now() - t0
  await db.close()
  return ms
}

async function main(): Promise<void> {
  const sample = event(1).value.length
  const data = batches(N)
  const bytes = data.flat().reduce((a, m) => a + m.value.length, 0)
  console.log(`events: ${fmt(N)} × ~${Math.round(bytes / N)} bytes (sample ${sample}), batches of ${BATCH}`)

  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-'))
  const rows: string[] = []
  try {
    const rawMs = await rawLevel(dir, data)
    const log = await EmbeddedLog.open({ path: join(dir, 'log') })
    await log.ensureTopics([{ name: 'bench', partitions: 12 }])
    const appendMs = await appendAll(log, 'bench', data)
    const readMs = await consumeAll(log, 'bench', N)
    await log.close()
    const raw = rate(N, rawMs)
    const app = rate(N, appendMs)
    const read = rate(N, readMs)
    console.log(`raw LevelDB batch write: ${fmt(raw)} events/s`)
    console.log(`embedded append: ${fmt(app)} events/s (${(app / raw).toFixed(2)} of raw)`)
    console.log(`embedded consume: ${fmt(read)} events/s`)
    rows.push(`| raw LevelDB batch write, one entry per event (baseline: the naive layout, same bytes, sync) | ${fmt(N)} | ${fmt(raw)} | 1.00 |`)
    rows.push(`| embedded log append (12 partitions, one chunk per partition per append, sync) | ${fmt(N)} | ${fmt(app)} | ${(app / raw).toFixed(2)} |`)
    rows.push(`| embedded log consume (one group member) | ${fmt(N)} | ${fmt(read)} | ${(read / raw).toFixed(2)} |`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  if (args.kafka) {
    execFileSync('bash', [join(PACKAGE_ROOT, 'infra/kafka/kafka.sh'), 'start'], { stdio: 'inherit' })
    const log = await KafkaLog.connect({ brokers: [process.env.MBWA_TEST_KAFKA_BROKERS ?? '127.0.0.1:19092'], clientId: 'mbwa-bench' })
    const topic = `bench-${Date.now()}`
    await log.ensureTopics([{ name: topic, partitions: 12 }])
    const kdata = data.flat().slice(0, KN)
    const kbatches: LogMessage[][] = []
    for (let i = 0; i < kdata.length; i += BATCH) kbatches.push(kdata.slice(i, i + BATCH))
    const produceMs = await appendAll(log, topic, kbatches)
    const consumeMs = await consumeAll(log, topic, kdata.length)
    await log.close()
    const p = rate(kdata.length, produceMs)
    const c = rate(kdata.length, consumeMs)
    console.log(`kafka produce: ${fmt(p)} events/s; consume: ${fmt(c)} events/s`)
    rows.push(`| Kafka produce (kafkajs, idempotent, acks=all, 12 partitions) | ${fmt(kdata.length)} | ${fmt(p)} | – |`)
    rows.push(`| Kafka consume (kafkajs, one group member, commit per batch) | ${fmt(kdata.length)} | ${fmt(c)} | – |`)
  }

  if (args.write) {
    writeSection(
      'log',
      `## Log throughput (issue: foundation)

Command: \`npm run bench -- --kafka --write\` (\`bench/log.ts\`). Machine: ${machine()}. ${fmt(N)} PageObserved events of
~${Math.round(bytes / N)} bytes (Avro single-object encoding), appended in batches of ${BATCH}, each batch one durable
write (fsync); consumed by one group member in batches of up to 5,000, committing after each.
The ratio column compares with the raw LevelDB batch write of the same bytes measured in the same run.

| what | events | events/s | ratio to raw LevelDB |
| --- | ---: | ---: | ---: |
${rows.join('\n')}

Aims of the foundation issue: embedded append ≥ 200,000/s, embedded read ≥ 300,000/s, Kafka produce and consume
≥ 50,000/s each. Single runs on a shared machine: expect ±20% between runs.
`,
    )
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
