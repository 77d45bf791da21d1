import { spawn } from 'node:child_process'
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { request } from 'undici'
import { PACKAGE_ROOT } from '../src/paths.js'
import { NODE_FLAGS } from '../src/node-flags.js'
import { fmt, machine, writeSection } from './report.js'
import { GeneratedWikis, mix } from '../test/setup/generated-wikis.js'

// The bootstrap of a deployment: `mbwa run` (embedded log, sink off, snapshots only) against a loopback server
// speaking the MediaWiki Action API for W generated wikis of P pages in all (allpages with prop=langlinks|info,
// 5,000 pages per request as a bot account gets, true byte lengths, imperfect links, redirects, blank pages).
// Reports the time from start to a consistent projection (every wiki snapshotted, lag 0), the time the
// snapshots took in the same run, pages/s, peak RSS, query p99 during catch-up, and checks the verdicts of
// sampled titles against the generator's own expectation.
//
//   npm run bench:bootstrap -- [--pages N] [--wikis W] [--sample S] [--write]
//   (mbwa's node runs with NODE_FLAGS, as npm start does; MBWA_BENCH_NODE_ARGS: more flags after them, e.g. --cpu-prof
//   or --trace-gc with MBWA_BENCH_STDOUT=FILE, which keeps mbwa's stdout; MBWA_BENCH_KEEP=1 keeps its data directory to look at)

const { values: args } = parseArgs({ options: { pages: { type: 'string', default: '1000000' }, wikis: { type: 'string', default: '10' }, sample: { type: 'string', default: '10000' }, write: { type: 'boolean', default: false } } })
const farm = new GeneratedWikis(Number(args.wikis), Number(args.pages))
const W = farm.wikis
const CODES = farm.codes
const T = farm.titles
const PAGE = farm.pageSize
const CLI = join(PACKAGE_ROOT, 'dist/src/cli/main.js')
const h = mix
const title = (t: number) => farm.title(t)
const has = (t: number, w: number) => farm.has(t, w)

function peakRssMb(pid: number): number {
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024)
}

/** The anonymous part of the RSS now (heap, LevelDB's memtables and caches), without file pages LevelDB maps. */
function anonRssMb(pid: number): number {
  return Math.round(Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024)
}

/** CPU seconds of a process so far: its main thread, and the others (libuv's pool where LevelDB works, LevelDB's compaction, V8's GC helpers, workers). */
function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    const name = tid === String(pid) ? 'main' : 'others'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    const s = (Number(fields[11]) + Number(fields[12])) / 100
    out.set(name, (out.get(name) ?? 0) + s)
  }
  return out
}

// The queries of a user during catch-up, from a thread of their own: the loopback wiki server in this thread blocks
// for whole allpages answers, and a probe here would time that too.
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads')
const http = require('node:http')
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
const { base, titles } = workerData
const latencies = []
let stop = false
parentPort.on('message', () => (stop = true))
const get = (path) => new Promise((resolve) => {
  const at = Date.now()
  const t0 = performance.now()
  http.get(base + path, { agent }, (res) => {
    res.resume()
    res.on('end', () => resolve(res.statusCode === 200 || res.statusCode === 404 ? [at, performance.now() - t0] : undefined))
  }).on('error', () => resolve(undefined))
})
;(async () => {
  for (let i = 0; !stop; i++) {
    // A few queries a few times a second.
    for (let j = 0; j < 5; j++) {
      const timed = await get('/v1/titles/' + encodeURIComponent(titles[(i * 5 + j) % titles.length]))
      if (timed !== undefined) latencies.push(timed)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  agent.destroy()
  parentPort.postMessage(latencies)
})()
`

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-bootstrap-'))
  const api = await farm.serve()
  const pagesTotal = farm.pagesTotal()
  try {
    writeFileSync(
      join(dir, 'mbwa.yaml'),
      `dataDir: ${join(dir, 'data')}
http: {port: 0}
logging: {level: info}
sink: {enabled: false}
sources: {recentChanges: {enabled: false}, snapshot: {pageSize: ${PAGE}}}
wikis:
${CODES.map((c) => `  ${c}: {api: "${api.url}/${c}/api.php", linkMode: manual}`).join('\n')}
`,
    )
    const started = Date.now()
    const child = spawn(process.execPath, [...NODE_FLAGS, ...(process.env.MBWA_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), CLI, '--config', join(dir, 'mbwa.yaml'), 'run'], { cwd: dir, stdio: ['ignore', process.env.MBWA_BENCH_STDOUT ? openSync(process.env.MBWA_BENCH_STDOUT, 'w') : 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    let url: string | undefined
    let snapshotsDoneMs: number | undefined
    let cpuAtSnapshots: Map<string, number> | undefined
    let consistentMs: number | undefined
    let rss = 0
    let anon = 0
    let heap = 0
    let external = 0
    let loops = 0
    let prober: Worker | undefined
    while (consistentMs === undefined) {
      if (child.exitCode !== null) throw new Error(`mbwa exited:\n${stderr.slice(-3000)}`)
      url ??= /queries at (http:\S+);/.exec(stderr)?.[1]
      rss = Math.max(rss, peakRssMb(child.pid!))
      anon = Math.max(anon, anonRssMb(child.pid!))
      if (!url) {
        await sleep(100)
        continue
      }
      prober ??= new Worker(PROBE, { eval: true, workerData: { base: url, titles: Array.from({ length: 20_000 }, (_, i) => title(h(i, 7) % T)) } })
      if (loops++ % 10 === 0) {
        // mbwa's JS heap, from its own /metrics: what of the anonymous memory is JavaScript's, and what native.
        const metrics = await (await request(`${url}/metrics`)).body.text()
        heap = Math.max(heap, Math.round(Number(/^mbwa_nodejs_heap_size_total_bytes (\S+)/m.exec(metrics)?.[1] ?? 0) / 2 ** 20))
        external = Math.max(external, Math.round(Number(/^mbwa_nodejs_external_memory_bytes (\S+)/m.exec(metrics)?.[1] ?? 0) / 2 ** 20))
      }
      const done = (stderr.match(/"msg":"snapshot completed"/g) ?? []).length
      if (done >= W && snapshotsDoneMs === undefined) {
        snapshotsDoneMs = Date.now() - started
        cpuAtSnapshots = cpuByThread(child.pid!)
      }
      if (snapshotsDoneMs !== undefined) {
        const s = (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; partitions: unknown[] }
        if (s.partitions.length === 12 && s.lag === 0) consistentMs = Date.now() - started
      }
      await sleep(200)
    }
    rss = Math.max(rss, peakRssMb(child.pid!))
    const cpu = cpuByThread(child.pid!)
    const cpuTotal = [...cpu.values()].reduce((a, b) => a + b, 0)
    const benchCpu = process.cpuUsage()
    // Each query's start (epoch ms) and how long it took: split at the end of the snapshots, to tell what the
    // source's work costs queries from what the projection's does.
    const timed = await new Promise<[number, number][]>((resolve, reject) => {
      prober!.once('message', resolve)
      prober!.once('error', reject)
      prober!.postMessage('stop')
    })
    await prober!.terminate()
    const latencies = timed.map(([, ms]) => ms)
    // The slowest queries and when they started, to set beside mbwa's log and LevelDB's LOG files (MBWA_BENCH_KEEP).
    const slowest = [...timed].sort((a, b) => b[1] - a[1]).slice(0, 5)
    process.stderr.write(`slowest queries: ${slowest.map(([at, ms]) => `${ms.toFixed(0)} ms at +${((at - started) / 1000).toFixed(1)} s (${new Date(at).toISOString().slice(11, 23)})`).join(', ')}\n`)
    const whileReading = timed.filter(([at]) => at < started + snapshotsDoneMs!).map(([, ms]) => ms)
    const afterReading = timed.filter(([at]) => at >= started + snapshotsDoneMs!).map(([, ms]) => ms)

    // Verdicts of sampled titles against the generator's expectation (manual mode, every wiki snapshotted).
    const sample = Math.min(Number(args.sample), T)
    let checked = 0
    const wrong: string[] = []
    for (let i = 0; i < sample; i++) {
      const t = h(i, 99) % T
      const v = (await (await request(`${url}/v1/titles/${title(t)}`)).body.json()) as { complete: boolean; pages: { wiki: string; add: string[]; remove: string[] }[] }
      for (let w = 0; w < W; w++) {
        if (!has(t, w)) continue
        const got = v.pages.find((p) => p.wiki === CODES[w])
        const { add, remove } = farm.expected(t, w)
        checked++
        if (!got || JSON.stringify(got.add) !== JSON.stringify(add) || JSON.stringify(got.remove) !== JSON.stringify(remove)) {
          if (wrong.length < 5) wrong.push(`${title(t)}@${CODES[w]}: got ${JSON.stringify(got && { add: got.add, remove: got.remove })}, expected ${JSON.stringify({ add, remove })}`)
          else wrong.push('')
        }
      }
    }
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))

    const snapS = snapshotsDoneMs! / 1000
    const consS = consistentMs / 1000
    const body = `## Bootstrap: ${W} wikis, ${fmt(pagesTotal)} pages, to a consistent projection

Command: \`npm run bench:bootstrap -- --pages ${args.pages} --wikis ${W} --write\` (\`bench/bootstrap.ts\`). Machine: ${machine()}.
\`mbwa run\` (embedded log, sink off, snapshots only) against a loopback server speaking the Action API for ${W}
generated wikis: ${fmt(T)} titles, ${fmt(pagesTotal)} pages (the first wiki has every title, the others 54 % down to
5 %), ${PAGE.toLocaleString('en-US')} pages per allpages request (as a bot account gets; every page's langlinks in the
same answer), true byte lengths, 10 % of links missing, a stale link in 3 % of pages, 2 % redirects, 1 % blank
pages. The server runs in the bench's process, on the same two cores as mbwa.

| | figure |
| --- | ---: |
| snapshots of all ${W} wikis done (from start) | ${snapS.toFixed(1)} s (${fmt(Math.round(pagesTotal / snapS))} pages/s) |
| consistent: every wiki snapshotted, lag 0 (from start) | ${consS.toFixed(1)} s (${fmt(Math.round(pagesTotal / consS))} pages/s) |
| ratio snapshots / consistent (aim ≥ 0.8) | ${(snapS / consS).toFixed(2)} |
| peak RSS of mbwa (aim ≤ 512 MB) | ${fmt(rss)} MB |
| of which anonymous memory, highest sampled (the rest: table files LevelDB maps, reclaimable page cache) | ${fmt(anon)} MB |
| of which JavaScript heap (V8 heap size), highest sampled every 2 s | ${fmt(heap)} MB |
| of which Buffers outside the heap (V8 external memory), highest sampled; the rest is native (LevelDB's memtables, caches and compactions, the allocator) | ${fmt(external)} MB |
| \`GET /v1/titles/…\` during catch-up (5 queries every 200 ms from a thread of the bench's own): p50 / p99 / max (aim p99 < 50 ms), ${fmt(latencies.length)} requests | ${percentile(latencies, 0.5).toFixed(1)} / ${percentile(latencies, 0.99).toFixed(1)} / ${Math.max(...latencies).toFixed(1)} ms |
| of which while the snapshots were read (${fmt(whileReading.length)} requests) / after, the projection catching up alone (${fmt(afterReading.length)}): p99 | ${percentile(whileReading, 0.99).toFixed(1)} / ${percentile(afterReading, 0.99).toFixed(1)} ms |
| CPU of mbwa to consistent: all threads / main thread / the others (LevelDB, GC helpers) | ${cpuTotal.toFixed(1)} / ${(cpu.get('main') ?? 0).toFixed(1)} / ${(cpu.get('others') ?? 0).toFixed(1)} s |
| after the snapshots (the projection catching up alone): main thread busy / the other threads, in cores | ${(((cpu.get('main') ?? 0) - (cpuAtSnapshots!.get('main') ?? 0)) / (consS - snapS)).toFixed(2)} / ${(((cpu.get('others') ?? 0) - (cpuAtSnapshots!.get('others') ?? 0)) / (consS - snapS)).toFixed(2)} |
| CPU of the bench (loopback wiki server, probe) to then | ${((benchCpu.user + benchCpu.system) / 1e6).toFixed(1)} s |
| API requests | ${fmt(api.requests())} |
| sampled titles checked against the generator | ${fmt(sample)} titles, ${fmt(checked)} pages, ${fmt(wrong.length)} wrong |
${wrong.filter(Boolean).length > 0 ? `\nFirst differences: ${wrong.filter(Boolean).map((x) => `\`${x}\``).join('; ')}\n` : ''}`
    process.stdout.write(body)
    if (args.write) writeSection(`bootstrap-${W}x${args.pages}`, body)
  } finally {
    await api.close()
    if (process.env.MBWA_BENCH_KEEP) process.stderr.write(`kept ${dir}\n`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

await main()
