import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { KafkaLog } from '../../src/log/kafka-log.js'
import { topicNames } from '../../src/log/topics.js'
import { Projector } from '../../src/projections/projector.js'
import { digestHex, TitleStore } from '../../src/projections/title-store.js'
import { GeneratedWikis, mix, type ServedApi } from '../setup/generated-wikis.js'
import { connectTestKafka } from '../setup/kafka.js'
import { memberConfig } from '../setup/member-config.js'
import { startMbwa, type MbwaProcess } from '../setup/mbwa-process.js'
import { uniqueName, waitFor } from '../log/helpers.js'

// The bootstrap of a deployment on a three-member consumer group on the real broker: member 0 reads the
// generated wikis (snapshots through the Action API), all three project and serve. The group ends consistent with
// the digest of a single projector replaying the same log, and every sampled page's verdict, asked of a member
// that mostly does not own the title, is the generator's own expectation.

const PARTITIONS = 6
const farm = new GeneratedWikis(6, 30_000, 500)

interface Stats {
  lag: number
  partitions: { partition: number; restoring: boolean }[]
}

describe('bootstrap on a three-member consumer group (int, real broker)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-scale-out-'))
  const members: MbwaProcess[] = []
  let api: ServedApi | undefined
  let kafka: KafkaLog | undefined
  afterAll(async () => {
    for (const m of members) m.child.kill('SIGKILL')
    await kafka?.close()
    await api?.close()
    rmSync(work, { recursive: true, force: true })
  })

  it('ends with the digest of one projector over the same log, and the generator\'s verdicts', { timeout: 300_000 }, async () => {
    api = await farm.serve()
    const prefix = uniqueName('scale').replace(/-/g, '_')
    const wikis = `sink: {enabled: false}
dumps: {monitor: false}
wikis:
${farm.codes.map((c) => `  ${c}: {api: "${api!.url}/${c}/api.php", linkMode: manual}`).join('\n')}
`
    const urls: string[] = []
    for (let i = 0; i < 3; i++) {
      // Member 0 reads the wikis; the others only project and serve (the README's deployment).
      const env: Record<string, string> = i === 0 ? { MBWA_SOURCES__SNAPSHOT__ENABLED: 'true', MBWA_SOURCES__SNAPSHOT__PAGE_SIZE: '500' } : {}
      const run = startMbwa(['--config', memberConfig(work, `m${i}`, { prefix, events: PARTITIONS, extra: wikis }), 'run'], { cwd: work, env })
      members.push(run)
      urls.push(await run.url(60_000))
    }
    const stats = async (u: string) => (await (await request(`${u}/v1/stats`)).body.json()) as Stats
    await waitFor(
      async () => {
        if ((members[0]!.stderr().match(/"msg":"snapshot completed"/g) ?? []).length < farm.wikis) return false
        const all = await Promise.all(urls.map(stats))
        const held = all.flatMap((s) => s.partitions.filter((p) => !p.restoring).map((p) => p.partition))
        return all.every((s) => s.lag === 0 && s.partitions.length > 0) && new Set(held).size === PARTITIONS && held.length === PARTITIONS
      },
      240_000,
      'every wiki snapshotted and the three members consistent',
    )

    // The reference: one projector alone in a group of its own, over the same topic.
    kafka = await connectTestKafka()
    const topics = topicNames(prefix)
    const events = new EventStore(kafka, SchemaRegistry.load())
    const refStore = await TitleStore.open(join(work, 'reference'))
    const ref = new Projector({ store: refStore, events, topics, groupId: uniqueName('ref'), rules: new Map(), emitCommands: false })
    await ref.start()
    const ends = await kafka.endOffsets(topics.events)
    await waitFor(() => ref.status().length === PARTITIONS && ref.status().every((s) => s.offset >= ends[s.partition]!), 120_000, 'the reference projection')
    await ref.stop()
    const reference = await refStore.digest('all')
    await refStore.close()
    expect(reference.pages).toBe(farm.pagesTotal())

    for (const u of urls) {
      const body = (await (await request(`${u}/v1/digest`)).body.json()) as { digest: string; pages: number; complete: boolean }
      expect(body).toMatchObject({ digest: digestHex(reference.sum), pages: reference.pages, complete: true })
    }

    // The report counts of the whole group, from any member: every partition covered, the same numbers everywhere.
    const counts = await Promise.all(urls.map(async (u) => (await (await request(`${u}/v1/reports`)).body.json()) as { reports: unknown; partitions: number[] }))
    for (const c of counts) {
      expect(c.partitions).toEqual(Array.from({ length: PARTITIONS }, (_, i) => i))
      expect(c.reports).toEqual(counts[0]!.reports)
    }
    const local = (await (await request(`${urls[0]}/v1/reports?local=1`)).body.json()) as { partitions: number[] }
    expect(local.partitions.length).toBeLessThan(PARTITIONS)

    // Verdicts of sampled titles, asked of member 2 (it owns a third of them; the rest are forwarded).
    const wrong: string[] = []
    let checked = 0
    for (let i = 0; i < 300; i++) {
      const t = mix(i, 17) % farm.titles
      const res = await request(`${urls[2]}/v1/titles/${farm.title(t)}`)
      const v = (await res.body.json()) as { pages: { wiki: string; add: string[]; remove: string[] }[] }
      expect(res.statusCode).toBe(200)
      for (let w = 0; w < farm.wikis; w++) {
        if (!farm.has(t, w)) continue
        checked++
        const got = v.pages.find((p) => p.wiki === farm.codes[w])
        const want = farm.expected(t, w)
        if (JSON.stringify(got && { add: got.add, remove: got.remove }) !== JSON.stringify(want)) wrong.push(`${farm.title(t)}@${farm.codes[w]}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`)
      }
    }
    expect(wrong.slice(0, 5)).toEqual([])
    expect(checked).toBeGreaterThan(600)
    // Read with as few requests as the wikis allow: a siteinfo and ⌈pages / 500⌉ allpages requests per wiki.
    const needed = farm.codes.reduce((n, _, w) => n + 1 + Math.ceil(farm.pagesOf(w) / 500), 0)
    expect(api.requests()).toBeLessThanOrEqual(needed + farm.wikis)
  })
})
