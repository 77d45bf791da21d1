import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { budgetRun, wrongPages } from '../setup/budget-run.js'
import { ownFarm } from '../setup/farm.js'
import { editsNeeded, expectedLinks, readLinks, seedFarm, seedPlan } from '../setup/seed-farm.js'

// The request budget of issue 12, as a count a test asserts: `mbwa run --apply` on a farm of its own, seeded
// with titles in many scripts (pages needing links added or removed, short and blank pages, redirects,
// {{nobots}}), every request to the wikis counted by a proxy in front of each. (a) Fixing the farm costs at most
// edits + ⌈pages / 50⌉ × wikis + 10 per wiki requests; (b) checking the fixed farm again with a fresh data dir
// at most ⌈pages / 50⌉ × wikis + 10 per wiki. Every page ends as it should be, with one edit per page that needed
// one; pages mbwa must not touch are not touched.

const LANGS = ['en', 'fr', 'de', 'nl']
const TITLES = 60

describe('request budget of the sink (int, real MediaWiki)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-budget-'))
  const own = ownFarm(work, 18281)
  const farmJson = own.farmJson
  const plan = seedPlan(TITLES, LANGS, 12)
  const pages = plan.reduce((n, t) => n + Object.keys(t.pages).length, 0)

  beforeAll(async () => {
    own.start()
    await seedFarm(plan, farmJson)
  }, 300_000)
  afterAll(() => {
    own.reset()
    rmSync(work, { recursive: true, force: true })
  })

  it('fixes every page within edits + ⌈pages/50⌉ × wikis + 10 per wiki requests, and re-checks within ⌈pages/50⌉ × wikis + 10 per wiki', { timeout: 600_000 }, async () => {
    const needed = editsNeeded(plan)
    expect(needed).toBeGreaterThan(20) // the seed gives work to do
    const before = await readLinks(plan, farmJson)
    const fix = await budgetRun({ work, name: 'fix', farmJson, plan, checkEveryMs: 1000 })
    const reads = Math.ceil(pages / 50) * LANGS.length + 10 * LANGS.length
    console.log(`request budget (a): ${pages} pages, ${needed} pages to fix, ${fix.edits} edits, ${fix.requests} requests (budget ${fix.edits + reads}); ${JSON.stringify(fix.byKind)}`)
    expect(await wrongPages(plan, farmJson)).toEqual([])
    expect(fix.edits).toBe(needed) // one edit per page that needed one: none twice, none for nothing
    expect(fix.requests).toBeLessThanOrEqual(fix.edits + reads)
    // Pages mbwa must leave alone: {{nobots}}, blank pages, redirects.
    const after = await readLinks(plan, farmJson)
    for (const k of expectedLinks(plan).untouched) expect(after.get(k), k).toEqual(before.get(k))

    const check = await budgetRun({ work, name: 'check', farmJson, plan, checkEveryMs: 1000 })
    console.log(`request budget (b): ${pages} pages, ${check.edits} edits, ${check.requests} requests (budget ${reads}); ${JSON.stringify(check.byKind)}`)
    expect(check.edits).toBe(0)
    expect(check.requests).toBeLessThanOrEqual(reads)
  })
})
