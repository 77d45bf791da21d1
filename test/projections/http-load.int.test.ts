import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { KafkaLog } from '../../src/log/kafka-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { connectTestKafka } from '../setup/kafka.js'
import { memberConfig } from '../setup/member-config.js'
import { startMbwa } from '../setup/mbwa-process.js'
import { httpLoad } from '../setup/http-load.js'
import { uniqueName, waitFor } from '../log/helpers.js'
import { observed } from './fixtures.js'

// The query endpoint under 100 connections while the projection applies events arriving live on the real
// broker: no request fails (every answer a 200 for a known title, a 404 for an unknown one), and the events are
// all applied. The short form runs here (MBWA_LOAD_SECONDS, default 8 s); `bench/faults.ts` runs it for 60 s.
const SECONDS = Number(process.env.MBWA_LOAD_SECONDS ?? 8)
const PARTITIONS = 6
const TITLES = 20_000

describe('query endpoint under load while applying (int, real broker)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-load-'))
  const prefix = uniqueName('load').replace(/-/g, '_')
  let kafka: KafkaLog | undefined
  afterAll(async () => {
    await kafka?.close()
    rmSync(work, { recursive: true, force: true })
  })

  it(`answers 100 connections for ${SECONDS} s with no error while events keep arriving`, { timeout: 300_000 }, async () => {
    kafka = await connectTestKafka()
    const topics = topicNames(prefix)
    await kafka.ensureTopics(topicSpecs(topics, { events: PARTITIONS, edits: 1, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(kafka, SchemaRegistry.load())
    const wikis = ['en', 'fr', 'de']
    for (let i = 0; i < TITLES; i += 5000) await events.append(topics.events, Array.from({ length: 5000 }, (_, j) => observed(wikis[(i + j) % 3]!, `word ${i + j}`, ['en', 'fr'], { revision: 1 })))

    const run = startMbwa(['--config', memberConfig(work, 'm', { prefix, events: PARTITIONS, extra: 'sink: {enabled: false}\ndumps: {monitor: false}' }), 'run'], { cwd: work })
    try {
      const url = await run.url(60_000)
      const stats = async () => (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; eventsApplied: number; partitions: { restoring: boolean }[] }
      await waitFor(async () => {
        const s = await stats()
        return s.partitions.length === PARTITIONS && s.partitions.every((p) => !p.restoring) && s.lag === 0
      }, 120_000, 'the member caught up')
      const before = (await stats()).eventsApplied

      // Live events for as long as the load runs: new revisions of known titles and new titles.
      let appended = 0
      let live = true
      const producer = (async () => {
        let round = 0
        while (live) {
          const batch = Array.from({ length: 500 }, (_, j) => observed(wikis[j % 3]!, j % 2 ? `word ${(round * 500 + j) % TITLES}` : `new ${round}-${j}`, ['en', 'fr', 'de'], { revision: 2 + round }))
          await events.append(topics.events, batch)
          appended += batch.length
          round++
          await new Promise((r) => setTimeout(r, 100))
        }
      })()
      let n = 0
      const result = await httpLoad(url, 100, SECONDS, () => `/v1/titles/${encodeURIComponent(n++ % 10 === 0 ? `unknown ${n}` : `word ${(n * 7919) % TITLES}`)}`)
      live = false
      await producer
      console.log(`load: ${result.requests} requests in ${SECONDS} s (${result.perSecond}/s) at 100 connections, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, max ${result.max.toFixed(1)} ms; statuses ${JSON.stringify(result.byStatus)}; ${appended} events appended meanwhile`)
      expect(result.errors).toBe(0)
      for (const status of Object.keys(result.byStatus)) expect(['200', '404']).toContain(status) // an unknown title is an empty answer or a 404, never an error
      expect(result.requests).toBeGreaterThan(100)
      expect(appended).toBeGreaterThan(0)
      await waitFor(async () => (await stats()).eventsApplied - before >= appended, 120_000, 'every live event applied')
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
    } finally {
      run.child.kill('SIGKILL')
    }
  })
})
