import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { PACKAGE_ROOT } from '../src/paths.js'
import { fmt, machine, writeSection } from './report.js'

// The bootstrap of a deployment: `mbwa run` (embedded log, sink off, snapshots only) against a loopback server
// speaking the MediaWiki Action API for W generated wikis of P pages in all (allpages with prop=langlinks|info,
// 5,000 pages per request as a bot account gets, true byte lengths, imperfect links, redirects, blank pages).
// Reports the time from start to a consistent projection (every wiki snapshotted, lag 0), the time the
// snapshots took in the same run, pages/s, peak RSS, query p99 during catch-up, and checks the verdicts of
// sampled titles against the generator's own expectation.
//
//   npm run bench:bootstrap -- [--pages N] [--wikis W] [--sample S] [--write]

const { values: args } = parseArgs({ options: { pages: { type: 'string', default: '1000000' }, wikis: { type: 'string', default: '10' }, sample: { type: 'string', default: '10000' }, write: { type: 'boolean', default: false } } })
const W = Number(args.wikis)
const CODES = Array.from({ length: W }, (_, i) => ['en', 'fr', 'de', 'nl', 'pl', 'ru', 'es', 'it', 'sv', 'ja', 'zh', 'pt', 'fi', 'el', 'hu', 'ko'][i] ?? `w${i}`)
const SHARES = CODES.map((_, w) => (w === 0 ? 100 : Math.max(5, 60 - 6 * w))) // % of titles each wiki has
const T = Math.round(Number(args.pages) / (SHARES.reduce((a, b) => a + b, 0) / 100))
const PAGE = 5000
const CLI = join(PACKAGE_ROOT, 'dist/src/cli/main.js')

/** A deterministic hash of a few integers (the generator's randomness). */
function h(...xs: number[]): number {
  let v = 0x9e3779b9
  for (const x of xs) {
    v = Math.imul(v ^ x, 0x85ebca6b)
    v ^= v >>> 13
    v = Math.imul(v, 0xc2b2ae35)
    v ^= v >>> 16
  }
  return v >>> 0
}
const title = (t: number) => `w${t.toString(36).padStart(5, '0')}`
const has = (t: number, w: number) => w === 0 || h(t, w) % 100 < SHARES[w]!
const redirect = (t: number, w: number) => has(t, w) && h(t, w, 1) % 100 < 2
const blank = (t: number, w: number) => has(t, w) && !redirect(t, w) && h(t, w, 2) % 100 === 0
const participates = (t: number, w: number) => has(t, w) && !redirect(t, w) && !blank(t, w)

/** The language links a page carries: its title on the other wikis that have it (10 % missing), and a stale one in 3 % of pages. */
function links(t: number, w: number): number[] {
  if (redirect(t, w) || blank(t, w)) return []
  const out: number[] = []
  for (let o = 0; o < W; o++) if (o !== w && has(t, o) && h(t, w, o, 3) % 10 !== 0) out.push(o)
  if (h(t, w, 4) % 33 === 0) {
    const lacking = CODES.findIndex((_, o) => o !== w && !has(t, o))
    if (lacking >= 0) out.push(lacking)
  }
  return out
}

function apiPage(t: number, w: number) {
  const ls = links(t, w)
  const linkBytes = ls.reduce((n, o) => n + Buffer.byteLength(`[[${CODES[o]}:${title(t)}]]\n`), 0)
  const text = blank(t, w) ? 10 : redirect(t, w) ? 30 : 200 + (h(t, w, 5) % 500)
  return { pageid: t * W + w + 1, ns: 0, title: title(t), ...(redirect(t, w) ? { redirect: true } : {}), lastrevid: h(t, w, 6) % 1_000_000 + 1, length: text + linkBytes, langlinks: ls.map((o) => ({ lang: CODES[o], title: title(t) })) }
}

/** The loopback API: siteinfo, allpages with langlinks|info (all links in one answer), empty recent changes. */
function startApi(): Promise<{ url: string; close: () => Promise<void>; requests: () => number }> {
  let requests = 0
  const server = createServer((req, res) => {
    requests++
    const url = new URL(req.url ?? '/', 'http://x')
    const w = CODES.indexOf(url.pathname.split('/')[1] ?? '')
    const p = url.searchParams
    let body: unknown
    if (w < 0) body = { error: { code: 'nowiki' } }
    else if (p.get('meta')?.includes('siteinfo')) {
      let pages = 0
      for (let t = 0; t < T; t++) if (has(t, w)) pages++
      body = { batchcomplete: true, query: { general: { case: 'case-sensitive', mainpage: 'Main Page', sitename: CODES[w] }, statistics: { articles: pages } } }
    } else if (p.get('generator') === 'allpages') {
      const from = p.get('gapcontinue')
      let t = from ? parseInt(from.slice(1), 36) : 0
      const pages = []
      while (t < T && pages.length < PAGE) {
        if (has(t, w)) pages.push(apiPage(t, w))
        t++
      }
      while (t < T && !has(t, w)) t++
      body = { batchcomplete: true, ...(t < T ? { continue: { gapcontinue: title(t), continue: 'gapcontinue||' } } : {}), query: { pages } }
    } else body = { batchcomplete: true, query: { recentchanges: [] } }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests, close: () => new Promise((r) => server.close(() => r())) }),
    ),
  )
}

function peakRssMb(pid: number): number {
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024)
}

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-bootstrap-'))
  const api = await startApi()
  let pagesTotal = 0
  for (let t = 0; t < T; t++) for (let w = 0; w < W; w++) if (has(t, w)) pagesTotal++
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
    const child = spawn(process.execPath, [...(process.env.MBWA_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), CLI, '--config', join(dir, 'mbwa.yaml'), 'run'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    let url: string | undefined
    let snapshotsDoneMs: number | undefined
    let consistentMs: number | undefined
    let rss = 0
    const latencies: number[] = []
    let probe = 0
    while (consistentMs === undefined) {
      if (child.exitCode !== null) throw new Error(`mbwa exited:\n${stderr.slice(-3000)}`)
      url ??= /queries at (http:\S+);/.exec(stderr)?.[1]
      rss = Math.max(rss, peakRssMb(child.pid!))
      if (!url) {
        await sleep(100)
        continue
      }
      // A query a few times a second while the projection catches up: its latency is what a user sees.
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now()
        const res = await request(`${url}/v1/titles/${title(h(probe++, 7) % T)}`)
        await res.body.dump()
        if (res.statusCode === 200 || res.statusCode === 404) latencies.push(performance.now() - t0)
      }
      const done = (stderr.match(/"msg":"snapshot completed"/g) ?? []).length
      if (done >= W && snapshotsDoneMs === undefined) snapshotsDoneMs = Date.now() - started
      if (snapshotsDoneMs !== undefined) {
        const s = (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; partitions: unknown[] }
        if (s.partitions.length === 12 && s.lag === 0) consistentMs = Date.now() - started
      }
      await sleep(200)
    }
    rss = Math.max(rss, peakRssMb(child.pid!))

    // Verdicts of sampled titles against the generator's expectation (manual mode, every wiki snapshotted).
    const sample = Math.min(Number(args.sample), T)
    let checked = 0
    const wrong: string[] = []
    for (let i = 0; i < sample; i++) {
      const t = h(i, 99) % T
      const v = (await (await request(`${url}/v1/titles/${title(t)}`)).body.json()) as { complete: boolean; pages: { wiki: string; add: string[]; remove: string[] }[] }
      const complete = CODES.every((_, w) => !blank(t, w))
      for (let w = 0; w < W; w++) {
        if (!has(t, w)) continue
        const got = v.pages.find((p) => p.wiki === CODES[w])
        const ls = new Set(links(t, w))
        // A page whose blankness the snapshot cannot know (a short one) still participates until its text is read.
        const part = (o: number) => has(t, o) && !redirect(t, o)
        const add = participates(t, w) || blank(t, w) ? CODES.filter((_, o) => o !== w && part(o) && !ls.has(o)).sort() : []
        const remove = (participates(t, w) || blank(t, w)) && complete ? [...ls].filter((o) => !part(o)).map((o) => CODES[o]!).sort() : []
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
| \`GET /v1/titles/…\` during catch-up: p50 / p99 / max (aim p99 < 50 ms), ${fmt(latencies.length)} requests | ${percentile(latencies, 0.5).toFixed(1)} / ${percentile(latencies, 0.99).toFixed(1)} / ${Math.max(...latencies).toFixed(1)} ms |
| API requests | ${fmt(api.requests())} |
| sampled titles checked against the generator | ${fmt(sample)} titles, ${fmt(checked)} pages, ${fmt(wrong.length)} wrong |
${wrong.filter(Boolean).length > 0 ? `\nFirst differences: ${wrong.filter(Boolean).map((x) => `\`${x}\``).join('; ')}\n` : ''}`
    process.stdout.write(body)
    if (args.write) writeSection(`bootstrap-${W}`, body)
  } finally {
    await api.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
