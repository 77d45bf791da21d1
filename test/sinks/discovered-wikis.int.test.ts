import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../log/helpers.js'
import { farmWiki, FarmEditor, readFarm, uniqueTitle } from '../setup/farm.js'
import { LoopbackSitematrix } from '../setup/loopback-sitematrix.js'
import { startMbwa } from '../setup/mbwa-process.js'
import { languageLinks } from '../../src/wikitext/language-links.js'

// One set of rules for every part (issue 28): with discovery on, the sink judges with the configured wikis and
// the discovered ones, as the projection does (the discovered list reaches it on the edits topic). en is the one
// configured wiki, editable; fr and de come from a sitematrix. en's pages end complete toward the discovered wikis:
// links added to them and links to titles they lack removed; the projection and the sink agree on every title.
describe('the sink with discovered wikis (int, real MediaWiki)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-discovered-sink-'))
  const matrix = new LoopbackSitematrix([
    { code: 'en', farm: farmWiki('en') },
    { code: 'fr', farm: farmWiki('fr') },
    { code: 'de', farm: farmWiki('de') },
  ])
  afterAll(async () => {
    await matrix.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const json = async <T>(url: string): Promise<T> => (await (await request(url)).body.json()) as T

  it('adds links to discovered wikis and removes links to titles they lack, agreeing with the projection', { timeout: 300_000 }, async () => {
    const farm = readFarm()
    const [en, fr, de] = await Promise.all(['en', 'fr', 'de'].map((l) => FarmEditor.open(l)))
    const prose = 'A word, with a definition long enough that nobody takes the page for a blank one.'
    const add = uniqueTitle('dw add')
    const drop = uniqueTitle('dw drop')
    await en!.edit(add, prose)
    await fr!.edit(add, prose)
    await de!.edit(add, `${prose}\n\n[[fr:${add}]]`)
    await en!.edit(drop, `${prose}\n\n[[fr:${drop}]]`) // fr has no such page
    await de!.edit(drop, prose)
    const api = await matrix.listen()
    const config = join(dir, 'mbwa.yaml')
    writeFileSync(
      config,
      `dataDir: ${join(dir, 'data')}
userAgent: {contact: "mbwa tests"}
http: {port: 0}
discovery: {sitematrix: {enabled: true, api: "${api}"}}
wikiDefaults: {linkMode: manual}
wikis:
  en: {api: "${farmWiki('en').api}", dbname: enwiktionary, edit: true, editIntervalSeconds: 0, credentials: {username: "${farm.bot.botPasswordUser}", password: {env: FARM_BOT_PASSWORD}}}
projection: {settleMinutes: 0}
sink: {apply: true, cooldownMinutes: 0, smallBacklog: 0, maxEditsPerMinute: 0}
sources:
  recentChanges: {minIntervalSeconds: 0.5, initialIntervalSeconds: 0.5, maxIntervalSeconds: 1}
`,
    )
    const run = startMbwa(['--config', config, 'run'], { cwd: dir, env: { FARM_BOT_PASSWORD: farm.bot.botPassword } })
    const codes = new Set(['en', 'fr', 'de', 'nl'])
    const enLinks = async (title: string) => {
      const res = await en!.client.get({ action: 'query', titles: title, prop: 'revisions', rvprop: 'content', rvslots: 'main' })
      const text = (res.query as { pages: { revisions: { slots: { main: { content: string } } }[] }[] }).pages[0]!.revisions[0]!.slots.main.content
      return languageLinks(text, codes, { self: 'en' }).map((l) => `${l.code}:${l.title}`)
    }
    try {
      const url = await run.url()
      await waitFor(async () => (await enLinks(add)).length === 2 && (await enLinks(drop)).join() === `de:${drop}`, 180_000, 'en edited toward the discovered wikis').catch(async (err: unknown) => {
        throw new Error(`${(err as Error).message}: ${JSON.stringify([await enLinks(add), await enLinks(drop)])}\n${run.stderr().slice(-3000)}`)
      })
      expect(await enLinks(add)).toEqual([`de:${add}`, `fr:${add}`])
      type Verdict = { pages: { wiki: string; add: string[]; remove: string[] }[] }
      for (const title of [add, drop]) {
        await waitFor(async () => {
          const v = await json<Verdict>(`${url}/v1/titles/${encodeURIComponent(title)}`)
          const p = v.pages.find((x) => x.wiki === 'en')
          return p !== undefined && p.add.length === 0 && p.remove.length === 0
        }, 60_000, `the projection to agree that en:${title} is right`)
      }
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
      const edited = run.stderr().split('\n').filter((l) => l.includes('"sink: edited"'))
      expect(edited.find((l) => l.includes(add))).toContain('mbwa: interwiki +de +fr')
      expect(edited.find((l) => l.includes(drop))).toContain('mbwa: interwiki +de −fr')
    } finally {
      run.child.kill('SIGKILL')
      await Promise.all([en, fr, de].map((e) => e!.close()))
    }
  })
})
