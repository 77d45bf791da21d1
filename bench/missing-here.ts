import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { keys, TitleStore } from '../src/projections/title-store.js'
import { mix } from '../test/setup/generated-wikis.js'
import { fmt, machine, writeSection } from './report.js'
import { TitleSpread } from './title-spread.js'

// "Missing here" at the real size: a store whose presence index holds N titles over W wikis (how many wikis have
// each title falls off as on the Wiktionaries: most have one, a few have dozens; wiki sizes by a power of their
// rank), written straight into the index; then the top 1,000 of a large wiki's list and of a small one's, over every
// partition as the endpoint asks them, against a plain read of 1,000 index entries in the same run.
//
//   npm run bench:missing-here -- [--titles N] [--wikis W] [--write]

const { values: args } = parseArgs({ options: { titles: { type: 'string', default: '10000000' }, wikis: { type: 'string', default: '150' }, write: { type: 'boolean', default: false } } })
const N = Number(args.titles)
const W = Number(args.wikis)
const P = 12
const CODES = Array.from({ length: W }, (_, i) => (i === 0 ? 'en' : `x${i.toString(36)}`))
const spread = new TitleSpread(W)
const holders = (t: number): number[] => spread.holders(t)

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-bench-missing-'))
  const store = await TitleStore.open(join(dir, 'projection'))
  try {
    let t0 = Date.now()
    let batch: { type: 'put'; key: string; value: string }[] = []
    let entries = 0
    for (let t = 0; t < N; t++) {
      const hs = holders(t)
      if (hs.length < 2) continue
      const title = `w${t.toString(36)}`
      const codes = hs.map((w) => CODES[w]!).sort()
      batch.push({ type: 'put', key: keys.presence(mix(t, 99) % P, codes.length, title), value: codes.join(',') })
      entries++
      if (batch.length >= 20_000) {
        await store.db.batch(batch)
        batch = []
      }
    }
    if (batch.length > 0) await store.db.batch(batch)
    await store.db.compactRange(keys.presencePrefix(0), keys.end(keys.presencePrefix(P - 1)))
    const buildS = (Date.now() - t0) / 1000
    process.stderr.write(`${fmt(entries)} index entries of ${fmt(N)} titles written in ${buildS.toFixed(0)} s\n`)

    const top = async (wiki: string, minWikis: number): Promise<{ ms: number; n: number }> => {
      const start = performance.now()
      const parts = await Promise.all(Array.from({ length: P }, (_, p) => store.missingHere(p, wiki, minWikis, undefined, 1000)))
      const items = parts.flat().sort((a, b) => (a.position < b.position ? -1 : 1)).slice(0, 1000)
      return { ms: performance.now() - start, n: items.length }
    }
    const plain = async (): Promise<number> => {
      const start = performance.now()
      let n = 0
      for await (const _ of store.db.iterator({ gte: keys.presencePrefix(0), lt: keys.end(keys.presencePrefix(0)), limit: 1000 })) n++
      if (n !== 1000) throw new Error(`the index read gave ${n} entries, not 1,000`)
      return performance.now() - start
    }
    const rows: string[] = []
    for (const [wiki, minWikis] of [['en', 2], ['en', 5], [CODES[W - 1]!, 2], [CODES[W - 1]!, 5]] as const) {
      const runs = []
      for (let i = 0; i < 5; i++) runs.push(await top(wiki, minWikis))
      const base = []
      for (let i = 0; i < 5; i++) base.push(await plain())
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!
      rows.push(`| ${wiki}, minWikis ${minWikis} | ${runs[0]!.n} | ${med(runs.map((r) => r.ms)).toFixed(0)} ms | ${med(base).toFixed(1)} ms |`)
    }
    t0 = Date.now()
    const body = `## Missing here: the top 1,000 of a ${fmt(N)}-title store

\`npm run bench:missing-here -- --titles ${N} --wikis ${W}\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}.
${fmt(entries)} titles on two wikis or more in the presence index (of ${fmt(N)}; ${W} wikis, sizes by a power of their rank),
${P} partitions, written straight into the index (${buildS.toFixed(0)} s). Each figure the median of 5 runs; the baseline
is a plain read of 1,000 entries of one partition's index in the same run. Aim: under 1 s.

| list | titles | top 1,000 over ${P} partitions | plain read of 1,000 entries |
| --- | --- | --- | --- |
${rows.join('\n')}
`
    process.stdout.write(body + '\n')
    if (args.write) writeSection('missing-here', body)
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
