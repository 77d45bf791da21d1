import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { EventStore, type EventToAppend } from '../src/events/event-log.js'
import { SchemaRegistry } from '../src/events/registry.js'
import { titleKey } from '../src/events/titles.js'
import { EmbeddedLog } from '../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../src/log/topics.js'
import { PACKAGE_ROOT } from '../src/paths.js'
import { NODE_FLAGS } from '../src/node-flags.js'
import { fmt, machine, writeSection } from './report.js'

// Memory and CPU of the processes an operator runs, as processes (the figures the deployment files are sized
// from: infra/deploy): `mbwa run` replaying an embedded log of N title events over W wikis into its projection
// (peak RSS, CPU seconds), then `mbwa dump run` of the largest wiki from that projection. Peak RSS is the kernel's
// VmHWM of the process, read just before it ends.
//
//   npm run bench:footprint -- [--titles N] [--wikis W] [--write]

const { values: args } = parseArgs({ options: { titles: { type: 'string', default: '300000' }, wikis: { type: 'string', default: '4' }, write: { type: 'boolean', default: false } } })
const TITLES = Number(args.titles)
const WIKIS = ['en', 'fr', 'de', 'nl', 'pl', 'ru', 'es', 'it', 'sv', 'ja'].slice(0, Number(args.wikis))
const CLI = join(PACKAGE_ROOT, 'dist/src/cli/main.js')

interface Measured {
  peakRssMb: number
  cpuSeconds: number
  wallSeconds: number
}

/** VmHWM (peak resident set) and CPU time of a live process. */
function sample(pid: number): { hwmKb: number; cpuTicks: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return { hwmKb, cpuTicks: Number(stat[11]) + Number(stat[12]) }
}

async function measure(cliArgs: string[], cwd: string, env: Record<string, string>, done: (url: string | undefined) => Promise<boolean>): Promise<Measured> {
  const started = Date.now()
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, ...cliArgs], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdout.resume()
  const exited = new Promise<void>((r) => child.on('exit', () => r()))
  let last = { hwmKb: 0, cpuTicks: 0 }
  let finished = false
  void exited.then(() => (finished = true))
  for (;;) {
    if (finished) break
    try {
      last = sample(child.pid!)
    } catch {
      break
    }
    const url = /queries at (http:\S+);/.exec(stderr)?.[1]
    if (await done(url)) {
      last = sample(child.pid!)
      child.kill('SIGTERM')
      break
    }
    await sleep(200)
  }
  await exited
  return { peakRssMb: Math.round(last.hwmKb / 1024), cpuSeconds: Math.round(last.cpuTicks) / 100, wallSeconds: Math.round((Date.now() - started) / 100) / 10 }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-footprint-'))
  try {
    const log = await EmbeddedLog.open({ path: join(dir, 'data/log') })
    const topics = topicNames()
    await log.ensureTopics(topicSpecs(topics, { events: 12, edits: 4, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(log, SchemaRegistry.load())
    let total = 0
    let batch: EventToAppend[] = []
    for (let t = 0; t < TITLES; t++) {
      const title = `word-${t.toString(36)}`
      // Most titles on the first wiki, fewer on the others (as on the Wiktionaries); links to the others.
      for (let w = 0; w < WIKIS.length; w++) {
        if (w > 0 && (t * 7 + w) % (w + 1) !== 0) continue
        const wiki = WIKIS[w]!
        batch.push({ type: 'PageObserved', key: titleKey(title), value: { id: `${wiki}:${t}`, source: 'snapshot', observedAt: 1_700_000_000_000, wiki, title, pageId: t, exists: true, redirect: false, blank: false, revision: t + 1, links: WIKIS.filter((x) => x !== wiki).slice(0, 3).map((code) => ({ code, title })), writtenLinks: null, snapshotId: null } })
        if (batch.length >= 5000) {
          total += batch.length
          await events.append(topics.events, batch)
          batch = []
        }
      }
    }
    total += batch.length
    if (batch.length > 0) await events.append(topics.events, batch)
    await log.close()
    writeFileSync(join(dir, 'mbwa.yaml'), `dataDir: ${join(dir, 'data')}\nhttp: {port: 0}\nsources: {recentChanges: {enabled: false}, snapshot: {enabled: false}}\nsink: {enabled: false}\nwikis:\n${WIKIS.map((w) => `  ${w}: {api: "http://127.0.0.1:9/${w}/api.php"}`).join('\n')}\n`)
    const env = { MBWA_CONFIG: join(dir, 'mbwa.yaml'), MBWA_LOGGING__LEVEL: 'warn' }

    const run = await measure(['run'], dir, env, async (url) => {
      if (!url) return false
      const s = (await (await request(`${url}/v1/stats`)).body.json().catch(() => ({}))) as { lag?: number; partitions?: unknown[] }
      return s.partitions?.length === 12 && s.lag === 0
    })
    const dump = await measure(['dump', 'run', '--wiki', WIKIS[0]!], dir, env, async () => false)
    const row = (what: string, m: Measured) => `| ${what} | ${fmt(m.peakRssMb)} | ${m.cpuSeconds} | ${m.wallSeconds} |`
    const body = `## Footprint of the processes an operator runs

Command: \`npm run bench:footprint -- --titles ${TITLES} --wikis ${WIKIS.length} --write\` (\`bench/footprint.ts\`). Machine: ${machine()}.
An embedded log of ${fmt(total)} PageObserved events (${fmt(TITLES)} titles over ${WIKIS.length} wikis) replayed by
\`mbwa run\` (sources and sink off) until its projection has caught up; then \`mbwa dump run --wiki ${WIKIS[0]}\` from
that projection. Peak RSS is the process's VmHWM; CPU is user + system time. These are the figures
\`infra/deploy\` sizes its memory and CPU from.

| process | peak RSS (MB) | CPU (s) | wall clock (s) |
| --- | ---: | ---: | ---: |
${row(`mbwa run, replay of ${fmt(total)} events`, run)}
${row(`mbwa dump run, ${fmt(TITLES)} titles`, dump)}
`
    process.stdout.write(body)
    if (args.write) writeSection('footprint', body)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
