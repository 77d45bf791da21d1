import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { waitFor } from '../log/helpers.js'
import { countingProxy, type CountingProxy } from '../setup/counting-proxy.js'
import { readFarm } from '../setup/farm.js'
import { startMbwa } from '../setup/mbwa-process.js'
import { editsNeeded, expectedLinks, readLinks, seedFarm, seedPlan } from '../setup/seed-farm.js'

// The request budget of issue 12, as a count a test asserts: `mbwa run --apply` on a farm of its own, seeded
// with titles in many scripts (pages needing links added or removed, short and blank pages, redirects,
// {{nobots}}), every request to the wikis counted by a proxy in front of each. (a) Fixing the farm costs at most
// edits + ⌈pages / 50⌉ × wikis + 10 per wiki requests; (b) checking the fixed farm again with a fresh data dir
// at most ⌈pages / 50⌉ × wikis + 10 per wiki. Recent-changes polls are left out of the count (their number
// depends on time, not on work). Every page ends as it should be; pages mbwa must not touch are not touched.

const LANGS = ['en', 'fr', 'de', 'nl']
const TITLES = 60

describe('request budget of the sink (int, real MediaWiki)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-budget-'))
  const farmEnv = { ...process.env, MBWA_FARM_DIR: join(work, 'farm'), MBWA_FARM_PORT: '18281' }
  const farmJson = join(work, 'farm/farm.json')
  const farmSh = join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh')
  const plan = seedPlan(TITLES, LANGS, 12)
  const pages = plan.reduce((n, t) => n + Object.keys(t.pages).length, 0)
  const mainPages = new Map<string, string>()
  let proxies: Map<string, CountingProxy>

  beforeAll(async () => {
    execFileSync('bash', [farmSh, 'start'], { env: farmEnv, stdio: ['ignore', 'inherit', 'inherit'] })
    await seedFarm(plan, farmJson)
    for (const w of readFarm(farmJson).wikis) {
      const c = new MediaWikiClient({ api: w.api, contact: 'mbwa tests', maxlag: 0 })
      mainPages.set(w.lang, ((await c.get({ action: 'query', meta: 'siteinfo' })).query as { general: { mainpage: string } }).general.mainpage)
      await c.close()
    }
  }, 300_000)
  afterAll(async () => {
    await Promise.allSettled([...(proxies?.values() ?? [])].map((p) => p.close()))
    execFileSync('bash', [farmSh, 'reset'], { env: farmEnv, stdio: 'ignore' })
    rmSync(work, { recursive: true, force: true })
  })

  /** Runs mbwa --apply with a fresh data dir behind fresh proxies until it has nothing left to do. */
  async function runUntilQuiet(name: string, done: () => Promise<boolean>): Promise<{ requests: number; edits: number; byKind: Record<string, number> }> {
    const farm = readFarm(farmJson)
    proxies = new Map(await Promise.all(farm.wikis.map(async (w) => [w.lang, await countingProxy(w.api)] as const)))
    const config = join(work, `${name}.yaml`)
    writeFileSync(
      config,
      `dataDir: ${join(work, name)}
http: {port: 0}
userAgent: {contact: "mbwa tests"}
wikiDefaults: {linkMode: manual, edit: true, editIntervalSeconds: 0}
wikis:
${farm.wikis.map((w) => `  ${w.lang}: {api: "${proxies.get(w.lang)!.api}", dbname: ${w.dbname}, mainPage: "${mainPages.get(w.lang)}", credentials: {username: "${farm.bot.botPasswordUser}", password: {env: FARM_BOT_PASSWORD}}}`).join('\n')}
projection: {settleMinutes: 0}
sink: {cooldownMinutes: 0, smallBacklog: 0, maxEditsPerMinute: 0}
sources:
  recentChanges: {minIntervalSeconds: 1, initialIntervalSeconds: 1, maxIntervalSeconds: 2}
`,
    )
    const run = startMbwa(['--config', config, 'run', '--apply'], { cwd: work, env: { FARM_BOT_PASSWORD: farm.bot.botPassword } })
    const url = await run.url()
    try {
      await waitFor(done, 240_000, `${name}: the farm as it should be`).catch(async (err: unknown) => {
        const wrong = await rightPages()
        const now = await readLinks(plan, farmJson)
        const { should } = expectedLinks(plan)
        const detail = wrong.slice(0, 10).map((k) => `${k}: has ${now.get(k)?.join(',')}, should have ${should.get(k)?.join(',')}`)
        writeFileSync(join(tmpdir(), `mbwa-budget-${name}.log`), run.stderr())
        throw new Error(`${(err as Error).message}; ${wrong.length} pages wrong, e.g.\n${detail.join('\n')}\n(mbwa's log: ${join(tmpdir(), `mbwa-budget-${name}.log`)})`)
      })
      // Quiet: every wiki snapshotted, nothing to apply, nothing waiting in the sink, three looks in a row.
      let quiet = 0
      await waitFor(async () => {
        const s = (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; sink: { waiting: Record<string, number> } }
        const w = (await (await request(`${url}/v1/wikis`)).body.json()) as { wikis: { lastSnapshot: string | null }[] }
        const idle = s.lag === 0 && Object.values(s.sink.waiting).every((n) => n === 0) && w.wikis.every((x) => x.lastSnapshot !== null)
        quiet = idle ? quiet + 1 : 0
        if (quiet < 3) await new Promise((r) => setTimeout(r, 500))
        return quiet >= 3
      }, 240_000, `${name}: mbwa to have nothing left to do`)
    } finally {
      run.child.kill('SIGTERM')
      await run.exited
    }
    const byKind: Record<string, number> = {}
    for (const p of proxies.values()) for (const [k, n] of p.counts) byKind[k] = (byKind[k] ?? 0) + n
    const requests = Object.entries(byKind).filter(([k]) => k !== 'query:recentchanges').reduce((n, [, c]) => n + c, 0)
    await Promise.all([...proxies.values()].map((p) => p.close()))
    return { requests, edits: byKind.edit ?? 0, byKind }
  }

  async function rightPages(): Promise<string[]> {
    const { should } = expectedLinks(plan)
    const now = await readLinks(plan, farmJson)
    return [...should].filter(([k, want]) => now.get(k)?.join('|') !== want.join('|')).map(([k]) => k)
  }

  it('fixes every page within edits + ⌈pages/50⌉ × wikis + 10 per wiki requests, and re-checks within ⌈pages/50⌉ × wikis + 10 per wiki', { timeout: 600_000 }, async () => {
    const needed = editsNeeded(plan)
    expect(needed).toBeGreaterThan(20) // the seed gives work to do
    const before = await readLinks(plan, farmJson)
    const fix = await runUntilQuiet('fix', async () => (await rightPages()).length === 0)
    const reads = Math.ceil(pages / 50) * LANGS.length + 10 * LANGS.length
    console.log(`request budget (a): ${pages} pages, ${needed} pages to fix, ${fix.edits} edits, ${fix.requests} requests (budget ${fix.edits + reads}); ${JSON.stringify(fix.byKind)}`)
    expect(await rightPages()).toEqual([])
    expect(fix.edits).toBe(needed) // one edit per page that needed one: none twice, none for nothing
    expect(fix.requests).toBeLessThanOrEqual(fix.edits + reads)
    // Pages mbwa must leave alone: {{nobots}}, blank pages, redirects.
    const after = await readLinks(plan, farmJson)
    for (const k of expectedLinks(plan).untouched) expect(after.get(k), k).toEqual(before.get(k))

    const check = await runUntilQuiet('check', async () => true)
    console.log(`request budget (b): ${pages} pages, ${check.edits} edits, ${check.requests} requests (budget ${reads}); ${JSON.stringify(check.byKind)}`)
    expect(check.edits).toBe(0)
    expect(check.requests).toBeLessThanOrEqual(reads)
  })
})
