import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PACKAGE_ROOT } from '../src/paths.js'
import { readFarm } from '../test/setup/farm.js'
import { checkAgreement, ParseJudge, sampleCases } from '../test/setup/wikitext-cases.js'
import { fmt, machine, writeSection } from './report.js'

// mbwa's reading and rewriting of language links against MediaWiki's own parse, at a size CI does not run: N
// generated pages (test/setup/wikitext-cases.ts) on the farm's wikis, each parsed by MediaWiki as it is, without
// what mbwa takes for link markup, and rewritten. Prints the disagreements (there should be none) and the rate.
//
//   npm run bench:parse-agreement -- [--cases N] [--seed S] [--write]

const { values: args } = parseArgs({ options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string' }, write: { type: 'boolean', default: false } } })
const N = Number(args.cases)
const seed = Number(args.seed ?? Date.now() % 2 ** 31)

execFileSync('bash', [join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh'), 'start'], { stdio: 'inherit' })
const farm = readFarm()
const codes = farm.wikis.map((w) => w.lang)
const judges = farm.wikis.map((w) => new ParseJudge(w.lang, w.api))
const started = Date.now()
const figures = await checkAgreement(judges, sampleCases({ codes, others: ['pl', 'xx', 'Category', 'wikt', 'Help'] }, N, seed), new Set(codes))
const ms = Date.now() - started
await Promise.all(judges.map((j) => j.close()))
for (const d of figures.disagreements.slice(0, 20)) console.log(JSON.stringify(d))
const body = `## Language links against MediaWiki's parse

Command: \`npm run bench:parse-agreement -- --cases ${N} --seed ${seed}\` on ${machine()}, ${readFarm().wikis.length} farm wikis (MediaWiki 1.39).

| figure | value |
| --- | ---: |
| generated pages | ${fmt(figures.cases)} |
| rewrites checked | ${fmt(figures.rewrites)} |
| rewrites refused (MBWA_UNSAFE_TEXT / MBWA_BAD_TITLE) | ${fmt(figures.refused)} |
| disagreements with MediaWiki (read, markup, rewrite, text outside) | **${fmt(figures.disagreements.length)}** |
| action=parse requests | ${fmt(figures.requests)} in ${(ms / 1000).toFixed(1)} s |
`
console.log(body)
if (args.write) writeSection('parse-agreement', body)
process.exitCode = figures.disagreements.length === 0 ? 0 : 1
