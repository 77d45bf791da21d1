import { afterAll, describe, expect, it } from 'vitest'
import { readFarm } from '../setup/farm.js'
import { checkAgreement, ParseJudge, sampleCases } from '../setup/wikitext-cases.js'

// mbwa reads and writes language links as MediaWiki does, with MediaWiki's own parse of the same text as the
// judge (real MediaWiki 1.39 on the farm): generated pages in any script, with duplicates per language, piped
// links, colon links, links in comments, <nowiki>, <pre>, <includeonly>, <noinclude> and template arguments,
// categories before and after, spaces, underscores and case variants of codes, fragments. 600 cases here;
// `npm run bench:parse-agreement` runs 10,000 and more.
describe('language links agree with MediaWiki\'s parse (int, real MediaWiki)', () => {
  const farm = readFarm()
  const codes = farm.wikis.map((w) => w.lang)
  const judges = farm.wikis.map((w) => new ParseJudge(w.lang, w.api))
  afterAll(async () => {
    await Promise.all(judges.map((j) => j.close()))
  })

  it('reads the links MediaWiki stores, and every rewrite parses to exactly the intended links, the rest unchanged', async () => {
    const seed = Number(process.env.MBWA_AGREEMENT_SEED ?? Date.now() % 2 ** 31)
    const cases = sampleCases({ codes, others: ['pl', 'xx', 'Category', 'wikt', 'Help'] }, 600, seed)
    const figures = await checkAgreement(judges, cases, new Set(codes))
    const shown = figures.disagreements.slice(0, 5).map((d) => JSON.stringify(d)).join('\n')
    expect(figures.disagreements.length, `seed ${seed} (MBWA_AGREEMENT_SEED=${seed} draws them again):\n${shown}`).toBe(0)
    expect(figures.cases).toBe(600)
    // Nearly every case is rewritten; a refusal (an unclosed comment would swallow the block) is rare.
    expect(figures.rewrites).toBeGreaterThan(500)
  }, 300_000)
})
