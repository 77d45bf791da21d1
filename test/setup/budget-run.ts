import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { waitFor } from '../log/helpers.js'
import { countingProxy, type FaultPlan, type InjectedFault } from './counting-proxy.js'
import { readFarm } from './farm.js'
import { startMbwa } from './mbwa-process.js'
import { expectedLinks, readLinks, type SeededTitle } from './seed-farm.js'

// One `mbwa run --apply` on a seeded farm of its own, every request to the wikis counted by a proxy in front of
// each, until the farm is as it should be and mbwa has nothing left to do. Shared by the request-budget test and
// bench/sink (which runs it at a larger size).

export interface BudgetRun {
  injected: InjectedFault[]
  /** Requests to the wikis, recent-changes polls left out (their number depends on time, not on work). */
  requests: number
  edits: number
  byKind: Record<string, number>
  /** From start to the farm seen as it should be, to the last edit, and to quiet. */
  rightMs: number
  lastEditMs: number
  /** From start to the first edit: starting, snapshots, projection, the first reads. */
  firstEditMs: number
  quietMs: number
}

export async function mainPages(farmJson: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const w of readFarm(farmJson).wikis) {
    const c = new MediaWikiClient({ api: w.api, contact: 'mbwa tests', maxlag: 0 })
    out.set(w.lang, ((await c.get({ action: 'query', meta: 'siteinfo' })).query as { general: { mainpage: string } }).general.mainpage)
    await c.close()
  }
  return out
}

/** Pages of the plan whose links are not what they should be now. */
export async function wrongPages(plan: readonly SeededTitle[], farmJson: string): Promise<string[]> {
  const { should } = expectedLinks(plan)
  const now = await readLinks(plan, farmJson)
  return [...should].filter(([k, want]) => now.get(k)?.join('|') !== want.join('|')).map(([k]) => k)
}

export async function budgetRun(o: { work: string; name: string; farmJson: string; plan: readonly SeededTitle[]; timeoutMs?: number; checkEveryMs?: number; recentChanges?: string; faults?: FaultPlan; editIntervalSeconds?: number; retryAfterSeconds?: number }): Promise<BudgetRun> {
  const farm = readFarm(o.farmJson)
  const pages = await mainPages(o.farmJson)
  const proxies = new Map(await Promise.all(farm.wikis.map(async (w) => [w.lang, await countingProxy(w.api, o.faults)] as const)))
  const config = join(o.work, `${o.name}.yaml`)
  writeFileSync(
    config,
    `dataDir: ${join(o.work, o.name)}
http: {port: 0}
userAgent: {contact: "mbwa tests"}
wikiDefaults: {linkMode: manual, edit: true, editIntervalSeconds: ${o.editIntervalSeconds ?? 0}}
wikis:
${farm.wikis.map((w) => `  ${w.lang}: {api: "${proxies.get(w.lang)!.api}", dbname: ${w.dbname}, mainPage: "${pages.get(w.lang)}", credentials: {username: "${farm.bot.botPasswordUser}", password: {env: FARM_BOT_PASSWORD}}}`).join('\n')}
projection: {settleMinutes: 0}
sink: {cooldownMinutes: 0, smallBacklog: 0, maxEditsPerMinute: 0, retryAfterSeconds: ${o.retryAfterSeconds ?? 60}}
sources:
  recentChanges: ${o.recentChanges ?? '{minIntervalSeconds: 1, initialIntervalSeconds: 1, maxIntervalSeconds: 2}'}
`,
  )
  const timeoutMs = o.timeoutMs ?? 240_000
  const started = Date.now()
  const run = startMbwa(['--config', config, 'run', '--apply'], { cwd: o.work, env: { FARM_BOT_PASSWORD: farm.bot.botPassword } })
  let rightMs = 0
  let quietMs = 0
  try {
    const url = await run.url()
    let lastLook = 0
    await waitFor(async () => {
      if (Date.now() - lastLook < (o.checkEveryMs ?? 0)) return false
      lastLook = Date.now()
      return (await wrongPages(o.plan, o.farmJson)).length === 0
    }, timeoutMs, `${o.name}: the farm as it should be`).catch(async (err: unknown) => {
      const wrong = await wrongPages(o.plan, o.farmJson)
      const log = join(tmpdir(), `mbwa-budget-${o.name}.log`)
      writeFileSync(log, run.stderr())
      throw new Error(`${(err as Error).message}; ${wrong.length} pages wrong, e.g. ${wrong.slice(0, 10).join(', ')} (mbwa's log: ${log})`)
    })
    rightMs = Date.now() - started
    // Quiet: every wiki snapshotted, nothing to apply, nothing waiting in the sink, three looks in a row.
    let quiet = 0
    await waitFor(async () => {
      const s = (await (await request(`${url}/v1/stats`)).body.json()) as { lag: number; sink: { waiting: Record<string, number> } }
      const w = (await (await request(`${url}/v1/wikis`)).body.json()) as { wikis: { lastSnapshot: string | null }[] }
      const idle = s.lag === 0 && Object.values(s.sink.waiting).every((n) => n === 0) && w.wikis.every((x) => x.lastSnapshot !== null)
      quiet = idle ? quiet + 1 : 0
      if (quiet < 3) await new Promise((r) => setTimeout(r, 500))
      return quiet >= 3
    }, timeoutMs, `${o.name}: mbwa to have nothing left to do`)
    quietMs = Date.now() - started
  } finally {
    run.child.kill('SIGTERM')
    await run.exited
    await Promise.all([...proxies.values()].map((p) => p.close()))
  }
  const byKind: Record<string, number> = {}
  for (const p of proxies.values()) for (const [k, n] of p.counts) byKind[k] = (byKind[k] ?? 0) + n
  const requests = Object.entries(byKind).filter(([k]) => k !== 'query:recentchanges').reduce((n, [, c]) => n + c, 0)
  const lastEdit = Math.max(0, ...[...proxies.values()].map((p) => p.lastAt.get('edit') ?? 0))
  const firstEdit = Math.min(...[...proxies.values()].map((p) => p.firstAt.get('edit') ?? Infinity))
  return { injected: [...proxies.values()].flatMap((p) => p.injected), requests, edits: byKind.edit ?? 0, byKind, rightMs, lastEditMs: lastEdit > 0 ? lastEdit - started : 0, firstEditMs: Number.isFinite(firstEdit) ? firstEdit - started : 0, quietMs }
}
