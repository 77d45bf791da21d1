import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { MediaWikiClient } from '../src/mediawiki/client.js'
import { PACKAGE_ROOT } from '../src/paths.js'
import { budgetRun } from '../test/setup/budget-run.js'
import { readFarm } from '../test/setup/farm.js'
import { editsNeeded, seedFarm, seedPlan } from '../test/setup/seed-farm.js'
import { fmt, machine, writeSection } from './report.js'

// The sink's request budget and wall clock on a real farm (issue 12): a farm of its own (4 wikis, one `php -S`
// server each, SQLite), seeded with N titles (≈3.2 pages each: pages needing links added or removed, short and
// blank pages, redirects, {{nobots}}); `mbwa run --apply` at interval 0 until every page is right, every request
// counted by a proxy in front of each wiki. Baseline in the same run: the same number of edits made alone, in
// series, by a logged-in client (what the edits cost without any reading). Then (b): the fixed farm checked again
// with a fresh data dir.
//
//   npm run bench:sink -- [--titles N] [--write]

const { values: args } = parseArgs({ options: { titles: { type: 'string', default: '300' }, write: { type: 'boolean', default: false } } })
const N = Number(args.titles)
const LANGS = ['en', 'fr', 'de', 'nl']

async function editsAlone(farmJson: string, count: number, plan: ReturnType<typeof seedPlan>): Promise<number> {
  const farm = readFarm(farmJson)
  const clients = new Map(farm.wikis.map((w) => [w.lang, new MediaWikiClient({ api: w.api, contact: 'mbwa bench' })]))
  const tokens = new Map<string, string>()
  for (const [lang, c] of clients) {
    await c.login(farm.bot.botPasswordUser, farm.bot.botPassword)
    tokens.set(lang, await c.csrfToken())
  }
  // Pages as they are now (read before the clock starts): the edits add a comment and leave the links alone.
  const targets: { lang: string; title: string; text: string }[] = []
  for (const [lang, c] of clients) {
    const titles = plan.filter((t) => t.pages[lang]?.kind === 'prose').map((t) => t.title)
    for (let i = 0; i < titles.length && targets.length < count; i += 50) {
      const res = await c.get({ action: 'query', titles: titles.slice(i, i + 50), prop: 'revisions', rvprop: 'content', rvslots: 'main' })
      for (const p of (res.query as { pages: { title: string; revisions?: { slots: { main: { content: string } } }[] }[] }).pages) {
        if (p.revisions) targets.push({ lang, title: p.title, text: p.revisions[0]!.slots.main.content })
      }
    }
  }
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    const { lang, title, text } = targets[i % targets.length]!
    await clients.get(lang)!.post({ action: 'edit', title, text: `${text}\n<!-- bench ${i} -->`, token: tokens.get(lang), bot: true, summary: 'bench' })
  }
  const ms = performance.now() - t0
  await Promise.all([...clients.values()].map((c) => c.close()))
  return ms
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-bench-sink-'))
  const farmEnv = { ...process.env, MBWA_FARM_DIR: join(work, 'farm'), MBWA_FARM_PORT: '18381' }
  const farmJson = join(work, 'farm/farm.json')
  const farmSh = join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh')
  try {
    execFileSync('bash', [farmSh, 'start'], { env: farmEnv, stdio: 'inherit' })
    const plan = seedPlan(N, LANGS, 42)
    const pages = await seedFarm(plan, farmJson)
    const needed = editsNeeded(plan)
    console.log(`seeded ${fmt(pages)} pages (${fmt(N)} titles), ${fmt(needed)} need an edit`)

    // The recent-changes source with its defaults (a first poll a minute in), as `mbwa run` runs.
    const fix = await budgetRun({ work, name: 'fix', farmJson, plan, timeoutMs: 1_800_000, checkEveryMs: 2000, recentChanges: '{}' })
    console.log(`(a) ${fix.edits} edits, ${fix.requests} requests, first edit after ${(fix.firstEditMs / 1000).toFixed(1)} s, last after ${(fix.lastEditMs / 1000).toFixed(1)} s, seen right after ${(fix.rightMs / 1000).toFixed(1)} s; ${JSON.stringify(fix.byKind)}`)
    const aloneMs = await editsAlone(farmJson, fix.edits, plan)
    console.log(`edits alone: ${fix.edits} in ${(aloneMs / 1000).toFixed(1)} s`)
    const check = await budgetRun({ work, name: 'check', farmJson, plan, timeoutMs: 1_800_000, checkEveryMs: 2000, recentChanges: '{}' })
    console.log(`(b) ${check.edits} edits, ${check.requests} requests, quiet after ${(check.quietMs / 1000).toFixed(1)} s; ${JSON.stringify(check.byKind)}`)

    const reads = Math.ceil(pages / 50) * LANGS.length
    const budgetA = fix.edits + reads + 10 * LANGS.length
    const budgetB = reads + 10 * LANGS.length
    const kinds = (b: Record<string, number>) => Object.entries(b).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, n]) => `${k} ${n}`).join(', ')
    const body = `## Edit sink: requests and wall clock on a farm needing edits (issue: a good citizen of the wikis)

Command: \`npm run bench:sink -- --write\` (\`bench/sink.ts\`). Machine: ${machine()}. A farm of its own (4 wikis, one
\`php -S\` server each, SQLite), seeded with ${fmt(N)} titles in many scripts: ${fmt(pages)} pages, of which ${fmt(needed)} need a
language link added or removed; short pages (blankness unknown from the length), blank pages, redirects and
\`{{nobots}}\` pages that must stay as they are. \`mbwa run --apply\` (embedded log, interval 0, settle 0, the
recent-changes source on with its defaults) until every page is right, then quiet; every request to the wikis counted by a proxy in
front of each; recent-changes polls left out of the count (their number depends on time, not on work). Baseline
in the same run: the same number of edits made alone, in series, by a logged-in client.

| | mbwa | budget (issue 12) | the incumbent (pywikibot interwiki.py, CEO's measurement, ~1,000 pages) |
| --- | ---: | ---: | ---: |
| (a) requests, farm needing edits | ${fmt(fix.requests)} | ${fmt(budgetA)} (edits + ⌈pages/50⌉ × wikis + 10 per wiki) | 763 |
| (a) edits | ${fmt(fix.edits)} (${fmt(needed)} pages needed one) | | |
| (a) requests per page checked / per edit | ${(fix.requests / pages).toFixed(3)} / ${(fix.requests / Math.max(1, fix.edits)).toFixed(2)} | | 0.78 / — |
| (a) wall clock from start to the last edit (every page right) | ${(fix.lastEditMs / 1000).toFixed(1)} s | ≤ 1.5 × edits alone = ${((1.5 * aloneMs) / 1000).toFixed(1)} s | 75–92 s |
| (a) of which: from start to the first edit; from the first edit to the last | ${(fix.firstEditMs / 1000).toFixed(1)} s; ${((fix.lastEditMs - fix.firstEditMs) / 1000).toFixed(1)} s | | |
| edits alone (baseline, same run) | ${(aloneMs / 1000).toFixed(1)} s | | |
| (a) ratio to edits alone | ${(fix.lastEditMs / aloneMs).toFixed(2)} | ≤ 1.5 | |
| (b) requests, fixed farm, fresh data dir | ${fmt(check.requests)} | ${fmt(budgetB)} (⌈pages/50⌉ × wikis + 10 per wiki) | 185 |
| (b) edits | ${fmt(check.edits)} | 0 | 0 |

Requests by kind, (a): ${kinds(fix.byKind)}. (b): ${kinds(check.byKind)}.

The wall clock of (a) runs from starting \`mbwa run\` to its last edit (timed by the proxy): it includes starting,
the snapshots and the projection (settle 0), a one-second linger before each verify batch (commands of a snapshot
arrive over seconds) and the reads; the edits alone do nothing but edit (pages read before their clock starts). The test \`test/sinks/request-budget.int.test.ts\` asserts both budgets on a
smaller farm (60 titles) in CI.
`
    console.log(body)
    if (args.write) writeSection('sink', body)
  } finally {
    execFileSync('bash', [farmSh, 'reset'], { env: farmEnv, stdio: 'ignore' })
    rmSync(work, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
