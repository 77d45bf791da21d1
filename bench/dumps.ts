import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { EventStore, type EventToAppend } from '../src/events/event-log.js'
import { SchemaRegistry } from '../src/events/registry.js'
import { EmbeddedLog } from '../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../src/log/topics.js'
import { Projector } from '../src/projections/projector.js'
import { TitleStore, wikiPageParts } from '../src/projections/title-store.js'
import { readDump, verifyDump, writeDump, type DumpRecord } from '../src/sinks/dump-file.js'
import { fmt, machine, rate, writeSection } from './report.js'

// Dump and import rates (titles/second) for a wiki of N titles: the projection's pages of one wiki read in parts
// and written as a verified dump; the dump read back and appended to an empty log as a snapshot.
//
//   npm run bench:dumps -- [--titles N] [--write]

const { values: args } = parseArgs({ options: { titles: { type: 'string', default: '1000000' }, write: { type: 'boolean', default: false } } })
const N = Number(args.titles)

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-dumps-'))
  const registry = SchemaRegistry.load()
  const topics = topicNames()
  try {
    // A projection holding N titles of en.
    const log = await EmbeddedLog.open({ path: join(dir, 'log') })
    await log.ensureTopics(topicSpecs(topics, { events: 12, edits: 1, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(log, registry)
    for (let i = 0; i < N; i += 5000) {
      const batch: EventToAppend[] = []
      for (let j = i; j < Math.min(N, i + 5000); j++) {
        const title = `word-${j.toString(36)}`
        batch.push({ type: 'PageObserved', key: title, value: { id: `b${j}`, source: 'snapshot', observedAt: 1_700_000_000_000, wiki: 'en', title, pageId: j, exists: true, redirect: false, blank: false, revision: j, links: [{ code: 'fr', title }, { code: 'de', title }], writtenLinks: null, snapshotId: 's' } })
      }
      await events.append(topics.events, batch)
    }
    const store = await TitleStore.open(join(dir, 'projection'))
    const projector = new Projector({ store, events, topics, groupId: 'bench', rules: new Map(), emitCommands: false })
    const ends = await log.endOffsets(topics.events)
    await projector.start()
    while (!(projector.status().length === 12 && projector.status().every((s) => s.offset >= ends[s.partition]!))) await new Promise((r) => setTimeout(r, 100))
    await projector.stop()
    await log.close()

    const d0 = performance.now()
    const parts = await wikiPageParts(store, 'en')
    const chunks = await Promise.all(parts.map(async (p) => {
      const out: DumpRecord[] = []
      for await (const r of p) out.push(r)
      return out
    }))
    const file = join(dir, 'en.mbwa.gz')
    const written = writeDump(file, { wiki: 'en', createdAt: new Date().toISOString(), source: 'bench' }, chunks.flat())
    const v = verifyDump(file)
    const dumpMs = performance.now() - d0
    await store.close()

    const target = await EmbeddedLog.open({ path: join(dir, 'target') })
    await target.ensureTopics(topicSpecs(topics, { events: 12, edits: 1, dumps: 1, deadLetter: 1 }))
    const into = new EventStore(target, registry)
    const i0 = performance.now()
    let batch: EventToAppend[] = []
    for (const { title, page } of readDump(file)) {
      batch.push({ type: 'PageObserved', key: title, value: { id: title, source: 'import', observedAt: 1, wiki: 'en', title, pageId: page.pageId, exists: true, redirect: page.redirect, blank: page.blank, revision: page.revision, links: page.links ?? [], writtenLinks: page.writtenLinks, snapshotId: 'i' } })
      if (batch.length >= 5000) {
        await into.append(topics.events, batch)
        batch = []
      }
    }
    if (batch.length) await into.append(topics.events, batch)
    const importMs = performance.now() - i0
    await target.close()
    const dr = rate(v.count, dumpMs)
    const ir = rate(v.count, importMs)
    console.log(`dump: ${fmt(v.count)} titles, ${fmt(written.bytes)} bytes, ${fmt(dr)} titles/s (read, write, verify); import: ${fmt(ir)} titles/s`)
    if (args.write) {
      writeSection(
        'dumps',
        `## Dumps: write and import (issue: dump jobs)

Command: \`npm run bench:dumps -- --write\` (\`bench/dumps.ts\`). Machine: ${machine()}. A wiki of ${fmt(v.count)} titles (two
links each) in a 12-partition projection. Dump: read the wiki's pages in parts (concurrently), sort, write the
gzip blocks, index and trailer, then verify the whole file. Import: read the dump back and append PageObserved
events to an empty embedded log in batches of 5,000 (as \`mbwa import\`).

| what | titles | seconds | titles/s |
| --- | ---: | ---: | ---: |
| dump (read + write + verify), ${fmt(written.bytes)} bytes | ${fmt(v.count)} | ${(dumpMs / 1000).toFixed(1)} | ${fmt(dr)} |
| import into an empty log | ${fmt(v.count)} | ${(importMs / 1000).toFixed(1)} | ${fmt(ir)} |
`,
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
