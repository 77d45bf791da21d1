import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config/load.js'
import { EventStore } from '../src/events/event-log.js'
import { SchemaRegistry } from '../src/events/registry.js'
import type { EditRequested } from '../src/events/types.js'
import { EmbeddedLog } from '../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../src/log/topics.js'
import { MediaWikiClient } from '../src/mediawiki/client.js'
import { PACKAGE_ROOT } from '../src/paths.js'
import { wikiRules } from '../src/domain/wiki-rules.js'
import { EditQueue } from '../src/sinks/edit-queue.js'
import { EditSink } from '../src/sinks/edit-sink.js'
import { Throttle } from '../src/sinks/throttle.js'
import { verifyTitles } from '../src/sinks/verify.js'
import { WikiEditor } from '../src/sinks/wiki-editor.js'
import { fmt, machine, writeSection } from './report.js'

// Edit commands per second through verify (read the title on both wikis), rewrite and edit, with a zero interval,
// on the real farm (one PHP server per wiki). Baseline in the same run: verify alone for the same titles.
//
//   npm run bench:sink -- [--commands N] [--write]

const { values: args } = parseArgs({ options: { commands: { type: 'string', default: '100' }, write: { type: 'boolean', default: false } } })
const N = Number(args.commands)

interface Farm {
  wikis: { lang: string; api: string }[]
  bot: { user: string; botPasswordUser: string; botPassword: string }
  admin: { botPasswordUser: string; botPassword: string }
}

async function main(): Promise<void> {
  const farmSh = join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh')
  execFileSync('bash', [farmSh, 'start'], { stdio: 'inherit' })
  const farm = JSON.parse(readFileSync(execFileSync('bash', [farmSh, 'path'], { encoding: 'utf8' }).trim(), 'utf8')) as Farm
  const api = (l: string) => farm.wikis.find((w) => w.lang === l)!.api
  const stem = `bench ${randomUUID().slice(0, 6)}`
  const titles = Array.from({ length: N }, (_, i) => `${stem} ${i}`)

  // Pages: on en without links, on fr linking en: every en page needs [[fr:…]].
  for (const l of ['en', 'fr']) {
    const admin = new MediaWikiClient({ api: api(l), contact: 'mbwa bench', maxlag: 0 })
    await admin.login(farm.admin.botPasswordUser, farm.admin.botPassword)
    const token = await admin.csrfToken()
    for (const t of titles) await admin.post({ action: 'edit', title: t, text: l === 'en' ? `Word ${t}.` : `Mot.\n[[en:${t}]]`, token })
    await admin.close()
  }

  const config = loadConfig({ env: {}, searchPaths: [], flags: { wikis: { en: { api: api('en'), edit: true }, fr: { api: api('fr'), edit: true } } } }).config
  const readers = new Map(['en', 'fr'].map((l) => [l, new MediaWikiClient({ api: api(l), contact: 'mbwa bench' })]))
  const codes = new Set(['en', 'fr', 'de', 'nl'])

  const v0 = performance.now()
  for (const t of titles) await verifyTitles([{ title: t, withText: ['en'], also: ['fr'] }], { clients: readers, codes, titlesPerRequest: async () => 50 })
  const verifyRate = (N * 1000) / (performance.now() - v0)

  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-sink-'))
  const log = await EmbeddedLog.open({ path: join(dir, 'log') })
  const topics = topicNames()
  await log.ensureTopics(topicSpecs(topics, { events: 4, edits: 1, dumps: 1, deadLetter: 1 }))
  const events = new EventStore(log, SchemaRegistry.load())
  const writer = new MediaWikiClient({ api: api('en'), contact: 'mbwa bench' })
  const queue = await EditQueue.open(join(dir, 'sink'))
  const sink = new EditSink({
    events,
    topics,
    groupId: 'bench',
    queue,
    throttle: new Throttle({ intervalMs: () => 0, perMinute: 0, smallBacklog: 0, slowdown: 1 }),
    rules: wikiRules(config),
    clients: readers,
    editors: new Map([['en', new WikiEditor('en', writer, { username: farm.bot.botPasswordUser, password: farm.bot.botPassword }, 'bot')]]),
    codes,
    order: () => ({ kind: 'code' }),
    apply: true,
    botName: farm.bot.user,
    cooldownMs: 0,
  })
  const commands: EditRequested[] = titles.map((title, i) => ({ id: `b${i}`, commandId: `${stem}-${i}`, source: 'projection', observedAt: Date.now(), wiki: 'en', title, add: ['fr'], remove: [], read: ['en', 'fr'], priority: i, reason: 'missing' }))
  await events.append(topics.edits, commands.map((value) => ({ type: 'EditRequested' as const, value, key: 'en' })))
  const t0 = performance.now()
  await sink.start()
  while (sink.stats.applied + sink.stats.failed + Object.values(sink.stats.skipped).reduce((a, b) => a + b, 0) < N) await new Promise((r) => setTimeout(r, 20))
  const rate = (N * 1000) / (performance.now() - t0)
  await sink.stop()
  await queue.close()
  await log.close()
  await writer.close()
  await Promise.all([...readers.values()].map((c) => c.close()))
  rmSync(dir, { recursive: true, force: true })
  console.log(`verify only: ${verifyRate.toFixed(1)} titles/s; verify + rewrite + edit: ${rate.toFixed(1)} commands/s (${sink.stats.applied} applied, ${sink.stats.failed} failed)`)
  if (args.write) {
    writeSection(
      'sink',
      `## Edit sink: commands through verify and rewrite (issue: edit sink)

Command: \`npm run bench:sink -- --write\` (\`bench/sink.ts\`). Machine: ${machine()}. ${fmt(N)} edit commands, each adding
[[fr:…]] to an en page of the MediaWiki farm (one \`php -S\` server per wiki, SQLite), interval 0, one command at a
time: verify (read the title on en and fr: info, langlinks, text), rewrite the interwiki block, \`action=edit\` with
base/start timestamps, append the outcome. Baseline in the same run: the verify step alone for the same titles.

| what | per second | ratio to verify alone |
| --- | ---: | ---: |
| verify alone (2 reads) | ${verifyRate.toFixed(1)} | 1.00 |
| verify + rewrite + edit + outcome | ${rate.toFixed(1)} | ${(rate / verifyRate).toFixed(2)} |

${sink.stats.applied} applied, ${sink.stats.failed} failed. With the default interval (10 s per wiki) the sink makes at most 0.1 edits/s per wiki:
the throttle, not this rate, bounds it.
`,
    )
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
