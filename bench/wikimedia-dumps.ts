import { spawn } from 'node:child_process'
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { createGunzip } from 'node:zlib'
import { ClassicLevel } from 'classic-level'
import { request } from 'undici'
import { NODE_FLAGS } from '../src/node-flags.js'
import { PACKAGE_ROOT } from '../src/paths.js'
import { SqlDumpParser } from '../src/streams/wikimedia-dumps/sql-dump.js'
import { mix } from '../test/setup/generated-wikis.js'
import { pageRow, serveDumpsSite, writeRun, type Cell } from '../test/setup/wikimedia-dump-files.js'
import { fmt, machine, writeSection } from './report.js'
import { TitleSpread } from './title-spread.js'

// The bootstrap of every Wiktionary from Wikimedia's dumps, at the real size: a generator of its own writes W wikis'
// page and langlinks tables in the real format (mysqldump text, gzip, dumpstatus.json with sha1), with sizes falling
// off as Wiktionaries' do and langlinks as Cognate makes them (every page links its title on every other wiki that
// has it) plus written exceptions (1 % of pages link one wiki's other title), talk pages, redirects and short pages;
// a loopback dumps site serves them (Range, at most two connections per address) and a loopback Action API answers
// siteinfo and recent changes. `mbwa run` (embedded log, sink off, the dumps as the only snapshots) bootstraps from
// them. Reports: the time from start to a consistent projection, pages/s and rows/s, the ratio to a raw gunzip and
// parse of the same files in the same run, peak RSS, store bytes per page, disk used, and the oracle on sampled titles.
//
//   npm run bench:wikimedia-dumps -- [--pages N] [--wikis W] [--sample S] [--write]

const { values: args } = parseArgs({ options: { pages: { type: 'string', default: '2000000' }, wikis: { type: 'string', default: '150' }, sample: { type: 'string', default: '10000' }, write: { type: 'boolean', default: false } } })
const W = Number(args.wikis)
const P = Number(args.pages)
const CLI = join(PACKAGE_ROOT, 'dist/src/cli/main.js')
const BASE = ['en', 'fr', 'mg', 'zh', 'ru', 'de', 'es', 'sh', 'sv', 'nl', 'el', 'pl', 'ku', 'lt', 'it', 'ca', 'fi', 'ta', 'hu', 'tr', 'io', 'ja', 'hy', 'ko', 'pt', 'kn', 'vi', 'sr', 'th', 'hi']
const CODES = Array.from({ length: W }, (_, i) => BASE[i] ?? `x${i.toString(36)}`)
const DB = CODES.map((c) => `${c.replace(/-/g, '_')}wiktionary`)
// Sizes fall off as a power of the rank (en has about a seventh of all pages, the smallest few thousand).
const spread = new TitleSpread(W)
const holders = (t: number): number[] => spread.holders(t)

const T = Math.round(P / 2.5)
function title(t: number): string {
  const s = t.toString(36)
  const r = mix(t, 11) % 100
  return r < 5 ? `é${s}` : r < 8 ? `字${s}` : r < 10 ? `l'${s}` : r < 11 ? `${s} ${s}` : `w${s}`
}
const isRedirect = (t: number, w: number) => mix(t, w, 1) % 50 === 0
const isShort = (t: number, w: number) => mix(t, w, 2) % 100 === 0
const exception = (t: number, w: number) => mix(t, w, 3) % 100 === 0

function peakRssMb(pid: number): number {
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024)
}

function du(path: string): number {
  let n = 0
  for (const e of readdirSync(path, { withFileTypes: true })) n += e.isDirectory() ? du(join(path, e.name)) : statSync(join(path, e.name)).size
  return n
}

/** Every wiki's titles in title order (a page's id grows with it), from one pass over the titles. */
function titlesByWiki(): Int32Array[] {
  const lists = CODES.map(() => ({ a: new Int32Array(1024), n: 0 }))
  for (let t = 0; t < T; t++) {
    for (const w of holders(t)) {
      const l = lists[w]!
      if (l.n === l.a.length) {
        const b = new Int32Array(l.a.length * 2)
        b.set(l.a)
        l.a = b
      }
      l.a[l.n++] = t
    }
  }
  return lists.map((l) => l.a.subarray(0, l.n))
}

function* pageRows(list: Int32Array, w: number): Generator<Cell[]> {
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!
    yield pageRow({ id: 2 * i + 1, title: title(t), redirect: isRedirect(t, w), latest: 1000 + i, len: isRedirect(t, w) ? 30 : isShort(t, w) ? 12 : 300 + (mix(t, w, 5) % 3000) })
    if (i % 10 === 0) yield pageRow({ id: 2 * i + 2, ns: 1, title: title(t), latest: 1000 + i, len: 100 })
  }
}

function linksOf(t: number, w: number): { code: string; title: string }[] {
  if (isRedirect(t, w)) return []
  const out = holders(t)
    .filter((o) => o !== w)
    .map((o) => ({ code: CODES[o]!, title: title(t) }))
    .sort((a, b) => (a.code < b.code ? -1 : 1))
  if (out.length > 0 && exception(t, w)) out[0] = { code: out[0]!.code, title: title(t + 1) }
  return out
}

function* langlinkRows(list: Int32Array, w: number): Generator<Cell[]> {
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!
    for (const l of linksOf(t, w)) yield [2 * i + 1, l.code, l.title]
  }
}

async function rawParse(root: string, date: string): Promise<{ rows: number; seconds: number }> {
  const started = Date.now()
  let rows = 0
  for (let w = 0; w < W; w++) {
    for (const table of ['page', 'langlinks']) {
      const parser = new SqlDumpParser()
      for await (const chunk of createReadStream(join(root, DB[w]!, date, `${DB[w]}-${date}-${table}.sql.gz`), { highWaterMark: 1 << 20 }).pipe(createGunzip({ chunkSize: 1 << 18 })) as AsyncIterable<Buffer>) rows += parser.push(chunk).length
      rows += parser.end().length
    }
  }
  return { rows, seconds: (Date.now() - started) / 1000 }
}

async function serveApi(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const body = url.searchParams.get('meta')?.includes('siteinfo')
      ? { batchcomplete: true, query: { general: { case: 'case-sensitive', mainpage: 'Main Page', sitename: url.pathname.split('/')[1] }, statistics: { articles: 0 } } }
      : { batchcomplete: true, query: { recentchanges: [] } }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) }
}

const probes = new Map<number, string>()
async function everyPartitionComplete(url: string): Promise<boolean> {
  for (let i = 0; probes.size < 12 && i < 10_000; i++) {
    const t = title(mix(i, 5) % T)
    const v = (await (await request(`${url}/v1/titles/${encodeURIComponent(t)}`)).body.json()) as { partition: number }
    if (!probes.has(v.partition)) probes.set(v.partition, t)
  }
  // A probe may stay incomplete for a reason of its own (a short page's blankness is unknown): what counts is that
  // no wiki is still without its snapshot there.
  for (const t of probes.values()) {
    const v = (await (await request(`${url}/v1/titles/${encodeURIComponent(t)}`)).body.json()) as { incomplete: string[] }
    if (v.incomplete.some((why) => why.includes('not snapshotted'))) return false
  }
  return true
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-wmdumps-'))
  const root = join(dir, 'site')
  const date = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '')
  try {
    let t0 = Date.now()
    const lists = titlesByWiki()
    let pages = 0
    let linkRows = 0
    for (let w = 0; w < W; w++) {
      pages += lists[w]!.length
      for (const _ of langlinkRows(lists[w]!, w)) linkRows++
      await writeRun(root, DB[w]!, date, { page: pageRows(lists[w]!, w), langlinks: langlinkRows(lists[w]!, w) })
    }
    const generatedS = (Date.now() - t0) / 1000
    const siteBytes = du(root)
    process.stderr.write(`generated ${fmt(pages)} pages, ${fmt(linkRows)} langlinks rows on ${W} wikis (${(siteBytes / 1e9).toFixed(2)} GB gzipped) in ${generatedS.toFixed(0)} s\n`)
    t0 = Date.now()
    const raw = await rawParse(root, date)
    process.stderr.write(`raw gunzip and parse: ${fmt(raw.rows)} rows in ${raw.seconds.toFixed(1)} s\n`)

    const site = await serveDumpsSite(root, { maxConnections: 2 })
    const api = await serveApi()
    writeFileSync(
      join(dir, 'mbwa.yaml'),
      `dataDir: ${join(dir, 'data')}
http: {port: 0}
userAgent: {contact: "mbwa bench"}
sink: {enabled: false}
sources:
  recentChanges: {enabled: false}
  eventStreams: {enabled: false}
  snapshot: {enabled: false}
  wikimediaDumps: {enabled: true, url: "${site.url}", parseIn: ${process.env.MBWA_BENCH_PARSE_IN ?? "auto"}}
wikis:
${CODES.map((c, w) => `  ${c}: {api: "${api.url}/${c}/api.php", dbname: ${DB[w]}, linkMode: manual}`).join('\n')}
`,
    )
    const started = Date.now()
    const child = spawn(process.execPath, [...NODE_FLAGS, ...(process.env.MBWA_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), CLI, '--config', join(dir, 'mbwa.yaml'), 'run'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    const keep = process.env.MBWA_BENCH_STDERR ? createWriteStream(process.env.MBWA_BENCH_STDERR) : undefined
    child.stderr!.on('data', (d: Buffer) => {
      keep?.write(d)
      stderr = (stderr + d.toString()).slice(-200_000)
    })
    let importsDoneMs: number | undefined
    let consistentMs: number | undefined
    let rss = 0
    let url: string | undefined
    while (consistentMs === undefined) {
      if (child.exitCode !== null) throw new Error(`mbwa exited:\n${stderr.slice(-3000)}`)
      rss = Math.max(rss, peakRssMb(child.pid!))
      url ??= /queries at (http:\S+);/.exec(stderr)?.[1]
      if (url) {
        const s = (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; partitions: unknown[] }
        const wikis = (await (await request(`${url}/v1/wikis`)).body.json()) as { wikis: { lastSnapshot: number | null }[] }
        const snapshotted = wikis.wikis.filter((x) => x.lastSnapshot !== null).length
        if (snapshotted === W && importsDoneMs === undefined) importsDoneMs = Date.now() - started
        // The stats' lag is as of each partition's last fetch: consistent once, besides, a title of every
        // partition is complete (its partition has every wiki's markers).
        if (snapshotted === W && s.lag === 0 && (await everyPartitionComplete(url))) consistentMs = Date.now() - started
      }
      await sleep(500)
    }
    rss = Math.max(rss, peakRssMb(child.pid!))
    // The oracle: sampled titles' pages, links and verdicts as the generator made them.
    const sample = Number(args.sample)
    let right = 0
    let checked = 0
    const wrong: string[] = []
    for (let i = 0; i < sample; i++) {
      const t = mix(i, 77) % T
      const v = (await (await request(`${url}/v1/titles/${encodeURIComponent(title(t))}`)).body.json()) as { complete: boolean; wikis: Record<string, { links: { code: string; title: string }[] | null; redirect: boolean }>; pages: { wiki: string; add: string[]; remove: string[] }[] }
      const hs = holders(t).sort((a, b) => a - b)
      const want = hs.map((w) => CODES[w]!).sort()
      // A short page may be blank (a snapshot cannot tell without its text): its title stays incomplete.
      const short = hs.some((w) => isShort(t, w) && !isRedirect(t, w))
      let ok = JSON.stringify(Object.keys(v.wikis ?? {}).sort()) === JSON.stringify(want) && v.complete === !short
      for (const w of hs) {
        const page = v.wikis?.[CODES[w]!]
        if (!ok || !page) break
        const links = [...linksOf(t, w)].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : a.title < b.title ? -1 : 1))
        ok = page.redirect === isRedirect(t, w) && JSON.stringify(page.links) === JSON.stringify(links)
      }
      // With no written exception, every page links all the others: nothing to add or remove.
      if (ok && !hs.some((w) => exception(t, w))) ok = v.pages.every((p) => p.add.length === 0 && p.remove.length === 0)
      checked++
      if (ok) right++
      else if (wrong.length < 5) wrong.push(`${title(t)}: ${JSON.stringify(v).slice(0, 400)}`)
    }
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    const store = du(join(dir, 'data', 'projection'))
    const disk = du(join(dir, 'data'))
    // The store's size as its format makes it: compacted (LevelDB keeps overwritten versions until it compacts them).
    const db = new ClassicLevel(join(dir, 'data', 'projection'))
    await db.open()
    await db.compactRange('\x00', '\uffff')
    await db.close()
    const compacted = du(join(dir, 'data', 'projection'))
    const logBytes = du(join(dir, 'data', 'log'))
    await site.close()
    await api.close()
    const consS = consistentMs / 1000
    const importS = importsDoneMs! / 1000
    const rows = pages + linkRows
    const body = `## Wikimedia dumps: ${W} wikis, ${fmt(pages)} pages, ${fmt(linkRows)} langlinks rows, to a consistent projection

\`npm run bench:wikimedia-dumps -- --pages ${P} --wikis ${W}\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}.
Real-format files (mysqldump, gzip, sha1 in dumpstatus.json; ${(siteBytes / 1e9).toFixed(2)} GB) behind a loopback
dumps site (Range, two connections per address); \`mbwa run\`, embedded log, sink off, the dumps the only snapshots.

| figure | value |
| --- | --- |
| consistent: every wiki's run imported, lag 0 (from start) | ${consS.toFixed(1)} s (${fmt(Math.round(pages / consS))} pages/s, ${fmt(Math.round(rows / consS))} rows/s) |
| every run imported (download, check, parse, append) | ${importS.toFixed(1)} s |
| raw gunzip + parse of the same files, same run | ${raw.seconds.toFixed(1)} s (${fmt(Math.round(raw.rows / raw.seconds))} rows/s, talk pages included) |
| ratio raw parse / consistent (aim ≥ 0.5) | ${(raw.seconds / consS).toFixed(2)} |
| peak RSS of mbwa (aim ≤ 1 GB) | ${fmt(rss)} MB |
| projection store as left / compacted | ${(store / 1e6).toFixed(0)} MB, ${(store / pages).toFixed(0)} bytes per page / ${(compacted / 1e6).toFixed(0)} MB, ${(compacted / pages).toFixed(0)} bytes per page |
| disk used (log ${(logBytes / 1e9).toFixed(2)} GB, store, downloads deleted after each import) | ${(disk / 1e9).toFixed(2)} GB |
| oracle: sampled titles whose pages, links and verdict are as generated | ${right} / ${checked} |
${wrong.length > 0 ? `\nFirst wrong:\n\n${wrong.map((x) => `- \`${x}\``).join('\n')}\n` : ''}`
    process.stdout.write(body + '\n')
    if (args.write) writeSection(`wikimedia-dumps-${W}x${P}`, body)
  } finally {
    if (!process.env.MBWA_BENCH_KEEP) rmSync(dir, { recursive: true, force: true })
    else process.stderr.write(`kept ${dir}\n`)
  }
}

await main()
