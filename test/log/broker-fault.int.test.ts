import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, describe, expect, it, onTestFailed } from 'vitest'
import { request } from 'undici'
import { KafkaLog } from '../../src/log/kafka-log.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { topicNames } from '../../src/log/topics.js'
import { FakeEventStreams } from '../setup/fake-eventstreams.js'
import { memberConfig } from '../setup/member-config.js'
import { startMbwa, type MbwaProcess } from '../setup/mbwa-process.js'
import { uniqueName, waitFor } from './helpers.js'
import { feed, generated } from '../streams/eventstreams-feed.js'
import { readEvents } from '../setup/events.js'

// The Kafka broker stopped while a source produces and the projector consumes, then started again: no event is
// lost and none is in the log twice (counted by event id), and the projection ends with every event. A broker of
// its own (another port and state directory), so the rest of the suite keeps its broker. mbwa may stop while the
// broker is away (exit 1, as a supervisor such as systemd then restarts it); it is started again like that here.
const PORT = Number(process.env.MBWA_FAULT_KAFKA_PORT ?? 19292)
const EVENTS = 3000
/** Outages in a row (the long form, `npm run bench:faults`, has more). */
const OUTAGES = Number(process.env.MBWA_BROKER_OUTAGES ?? 1)

/** Whether something accepts connections on a loopback port. */
function taken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function kafka(cmd: 'start' | 'stop' | 'reset', home: string): void {
  execFileSync('bash', [join(PACKAGE_ROOT, 'infra/kafka/kafka.sh'), cmd], { env: { ...process.env, MBWA_KAFKA_PORT: String(PORT), MBWA_KAFKA_HOME: home, KAFKA_HEAP: '384m' }, stdio: ['ignore', 'ignore', 'inherit'] })
}

describe('the Kafka broker stopped and started under load (int, a broker of its own)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-broker-fault-'))
  const home = join(work, 'kafka')
  const stream = new FakeEventStreams([])
  const procs: MbwaProcess[] = []
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL')
    await stream.close()
    try {
      kafka('reset', home)
    } catch {
      // already gone
    }
    rmSync(work, { recursive: true, force: true })
  })

  it('loses no event and stores none twice, and the projection ends with all of them', { timeout: 600_000 }, async () => {
    onTestFailed(() => {
      // What mbwa and the broker said, for the next look at a failure.
      const saved = join(tmpdir(), `mbwa-broker-fault-${Date.now()}.log`)
      let broker: string
      try {
        broker = readFileSync(join(home, 'logs/server.log'), 'utf8').split('\n').slice(-200).join('\n')
      } catch {
        broker = '(no broker log)'
      }
      writeFileSync(saved, [...procs.map((p) => p.stderr()), `broker's server.log (last 200 lines):\n${broker}`].join('\n---\n'))
      console.error(`broker fault: mbwa's and the broker's logs are in ${saved}`)
    })
    // The broker must be this test's own: kafka.sh would use another one found on the port, and stopping it is
    // the fault injected here.
    for (const port of [PORT, PORT + 1]) if (await taken(port)) throw new Error(`port ${port} is taken (another broker?): this test needs its own broker; set MBWA_FAULT_KAFKA_PORT`)
    kafka('start', home)
    const url = await stream.listen()
    const prefix = uniqueName('fault').replace(/-/g, '_')
    const config = memberConfig(work, 'm', {
      prefix,
      events: 4,
      extra: `sink: {enabled: false}
dumps: {monitor: false}
wikis:
  en: {api: "http://127.0.0.1:9/en/api.php", dbname: enwiktionary}
  fr: {api: "http://127.0.0.1:9/fr/api.php", dbname: frwiktionary}
`,
    })
    const start = (): MbwaProcess => {
      const p = startMbwa(['--config', config, 'run'], {
        cwd: work,
        env: { MBWA_LOG__BROKERS: `127.0.0.1:${PORT}`, MBWA_SOURCES__EVENT_STREAMS__ENABLED: 'true', MBWA_SOURCES__EVENT_STREAMS__URL: url, MBWA_SOURCES__EVENT_STREAMS__SINCE_HOURS: '100000' },
      })
      procs.push(p)
      return p
    }
    const items = generated(EVENTS)
    // The feed in parts: one before the first outage, then for each outage one while the broker is away and one
    // as it comes back.
    const parts = 1 + 2 * OUTAGES
    const part = (i: number) => items.slice(Math.floor((i * EVENTS) / parts), Math.floor(((i + 1) * EVENTS) / parts))
    stream.add(feed(part(0)))
    let run = start()
    let base = await run.url(60_000)
    const stats = async (u: string) => (await (await request(`${u}/v1/stats`)).body.json()) as { sources: { sources: { source: string; counts: { events: number } }[] }; eventsInStore: number; lag: number; partitions: unknown[] }
    await waitFor(async () => (await stats(base)).sources.sources[0]!.counts.events > 0, 60_000, 'the stream flowing')

    let restarts = 0
    for (let o = 0; o < OUTAGES; o++) {
      // The broker goes away while more events arrive; then comes back.
      stream.add(feed(part(1 + 2 * o)))
      kafka('stop', home)
      await new Promise((r) => setTimeout(r, 8000))
      stream.add(feed(part(2 + 2 * o)))
      kafka('start', home)
      // mbwa either rode the outage out, or stopped with exit 1 (a component failed): then it is started again.
      const exited = await Promise.race([run.exited, new Promise((r) => setTimeout(() => r('running'), 3000))])
      if (exited !== 'running') {
        expect(exited).toBe(1)
        restarts++
        run = start()
        base = await run.url(60_000)
      }
    }
    const log = await KafkaLog.connect({ brokers: [`127.0.0.1:${PORT}`], clientId: 'check' })
    try {
      // A fact's identity: its id under its key (a move is one fact appended under both titles, with one id).
      const ids = async () => (await readEvents(log, topicNames(prefix).events)).map((e) => `${(e.event.value as { id: string }).id}|${e.key ?? ''}`)
      // As a supervisor does: an mbwa that stopped (exit 1) is started again.
      const alive = async () => {
        if (run.child.exitCode === null) return
        expect(run.child.exitCode).toBe(1)
        restarts++
        run = start()
        base = await run.url(60_000)
      }
      await waitFor(async () => {
        await alive()
        const s = await stats(base).catch(() => undefined)
        return s !== undefined && s.lag === 0 && s.partitions.length === 4 && stream.framesSent >= EVENTS
      }, 240_000, 'every event applied')
      // Every feed event became mbwa events with deterministic ids: creations and edits by revision, the rest by
      // the feed's meta.id. Waited for until the log holds each and the store has applied the whole log.
      const wanted = items.map((e, i) => (i % 4 === 0 ? `:rev:${50_000 + i}` : i % 4 === 1 ? `:rev:${60_000 + i}` : `:stream:${(e.meta as { id: string }).id}`))
      let all: string[] = []
      let lost: string[] = wanted
      await waitFor(async () => {
        await alive()
        all = await ids()
        const have = new Set(all.map((id) => id.split('|')[0]!.replace(/^.*?(:rev:|:stream:)/, '$1')))
        lost = wanted.filter((w) => !have.has(w))
        const s = await stats(base).catch(() => undefined)
        return lost.length === 0 && s !== undefined && s.lag === 0 && s.eventsInStore === all.length
      }, 60_000, 'every feed event in the log and the whole log applied').catch((err: unknown) => {
        throw new Error(`${(err as Error).message}: ${lost.length} of ${wanted.length} feed events not in the log`)
      })
      const counts = new Map<string, number>()
      for (const id of all) counts.set(id, (counts.get(id) ?? 0) + 1)
      const twice = [...counts].filter(([, n]) => n > 1)
      console.log(`broker fault: ${OUTAGES} outage(s), ${EVENTS} feed events, ${all.length} events in the log, ${counts.size} distinct, ${twice.length} twice, ${lost.length} lost; mbwa restarted ${restarts} time(s)`)
      expect(twice).toEqual([])
      expect(lost).toEqual([])
      const s = await stats(base)
      expect(s.eventsInStore).toBe(all.length)
    } finally {
      await log.close()
      run.child.kill('SIGTERM')
      await run.exited
    }
  })
})
