import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { cognateKey } from '../../src/events/titles.js'
import { FarmEditor, readFarm } from '../setup/farm.js'
import { countingProxy, type CountingProxy } from '../setup/counting-proxy.js'
import { waitFor } from '../log/helpers.js'
import { runMbwa, startMbwa } from '../setup/mbwa-process.js'

// Cognate mode against wikis that behave as Wikimedia's Wiktionaries do with Cognate: a farm of its own whose
// wikis run mbwa's stand-in (infra/mediawiki/MbwaCognate: one shared store of titles, same-title links added at
// parse time, only a purge elsewhere when the store changes). Seeded with every case of
// notes/cognate-behaviour.md, then read by `mbwa run` (cognate mode, dry run, no account) as a new user would.
// Judged two ways: the note's table for the en pages, and for every page MediaWiki itself (action=parse says
// what a links update would store now; prop=langlinks what is stored).

const FARM_DIR = join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local/state'), 'mbwa/cognate-farm')
const FARM_ENV = { MBWA_FARM_DIR: FARM_DIR, MBWA_FARM_PORT: '18091', MBWA_FARM_LANGS: 'en fr de', MBWA_FARM_COGNATE: '1' }

interface Report {
  code: string
  title: string
  kind: string
  outdated?: string
}

describe('cognate mode on a Cognate farm (int, real MediaWiki with the stand-in)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-cognate-'))
  const s = Date.now().toString(36)
  const t = (stem: string) => `${stem} ${s}`
  let farmJson: string
  const editors = new Map<string, FarmEditor>()
  const seeded: { wiki: string; title: string }[] = []
  const edit = async (wiki: string, stem: string, text: string) => {
    await editors.get(wiki)!.edit(t(stem), text)
    seeded.push({ wiki, title: t(stem) })
  }

  beforeAll(async () => {
    try {
      // A fresh farm each time: the request budget and the seed's expectations count its pages only.
      for (const step of ['reset', 'start']) execFileSync('bash', [join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh'), step], { env: { ...process.env, ...FARM_ENV }, stdio: ['ignore', 'inherit', 'inherit'] })
    } catch (err) {
      throw new Error(`the Cognate farm did not start (MBWA_FARM_COGNATE=1 infra/mediawiki/farm.sh start): ${(err as Error).message}`)
    }
    farmJson = join(FARM_DIR, 'farm.json')
    for (const w of ['en', 'fr', 'de']) editors.set(w, await FarmEditor.open(w, farmJson))
    const fr = editors.get('fr')!
    const en = editors.get('en')!
    // The note's cases, in its order (en is the page judged; fr the other wiki).
    await edit('en', 'chat', 'cat') // then fr:chat created: en's langlinks lack it
    await edit('fr', 'chat', 'chat')
    await edit('fr', 'dog', 'chien')
    await edit('en', 'dog', `dog [[fr:${t('dog')}]]`) // redundant
    await edit('en', 'house', `house [[fr:${t('house')}]]`) // written, fr has no house
    await edit('fr', 'cat', 'chat')
    await edit('en', 'cat', `cat [[fr:${t('chatte')}]]`) // blocks Cognate's fr:cat
    await edit('en', 'kitten', `kitten [[fr:${t('chaton')}]]`) // a legitimate override
    await edit('fr', 'tree', 'arbre')
    await edit('en', 'tree', 'tree') // Cognate's fr:tree, then fr:tree deleted: a stale row
    await fr.delete(t('tree'))
    await edit('fr', 'moon', 'lune')
    await edit('en', 'moon', `moon [[fr:${t('moon')}]]`) // written, then fr:moon deleted
    await fr.delete(t('moon'))
    await edit('en', 'water', 'water')
    await edit('fr', 'water', 'eau') // after en:water: en's langlinks lack it
    await edit('fr', 'l\u2019eau', 'eau')
    await edit('de', 'l\u02BCeau', 'Wasser')
    await edit('en', "l'eau", 'water') // Cognate's links across spellings
    await editors.get('fr')!.edit(`Maison ${s}`, 'maison')
    seeded.push({ wiki: 'fr', title: `Maison ${s}` })
    await edit('en', 'maison', 'house') // no case folding
    await edit('fr', 'bird', 'oiseau')
    await edit('en', 'bird', 'bird')
    await fr.move(t('bird'), t('oiseau')) // the redirect left is not in Cognate's store
    seeded.push({ wiki: 'fr', title: t('oiseau') })
    await edit('fr', 'car', `#REDIRECT [[${t('voiture')}]]`) // a redirect created as one is
    await edit('en', 'car', 'car')
    await edit('fr', 'bus', `#REDIRECT [[${t('autobus')}]]`)
    await edit('en', 'bus', `bus [[fr:${t('bus')}]]`)
    await edit('fr', 'void', '<!-- -->') // blank: nothing but a comment
    await edit('en', 'void', `void [[fr:${t('void')}]]`)
    await edit('fr', 'étoile', 'étoile')
    await edit('en', 'star', 'star')
    await en.move(t('star'), t('étoile')) // a move runs the moved page's links update
    seeded.push({ wiki: 'en', title: t('étoile') })
  })
  afterAll(async () => {
    for (const e of editors.values()) await e.close()
    rmSync(dir, { recursive: true, force: true })
    // The farm this file started (its content stays until the next run resets it).
    execFileSync('bash', [join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh'), 'stop'], { env: { ...process.env, ...FARM_ENV }, stdio: 'ignore' })
  })

  /** Counting proxies in front of the Cognate farm, and a configuration of mbwa on them (cognate mode, no account). */
  async function mbwaOnFarm(name: string, perWiki: Record<string, string>, extra: string) {
    const farm = readFarm(farmJson)
    const proxies = new Map<string, CountingProxy>()
    for (const w of farm.wikis) proxies.set(w.lang, await countingProxy(w.api))
    const config = join(dir, `${name}.yaml`)
    const wikis = farm.wikis.map((w) => `  ${w.lang}: {api: "${proxies.get(w.lang)!.api}", dbname: ${w.dbname}${perWiki[w.lang] ?? ''}}`).join('\n')
    writeFileSync(config, `dataDir: ${join(dir, `${name}-data`)}\nuserAgent: {contact: "mbwa tests"}\nhttp: {port: 0}\nwikiDefaults: {linkMode: cognate}\nwikis:\n${wikis}\n${extra}`)
    return { farm, proxies, config }
  }

  it('reports written links only as the text writes them, presence under Cognate\'s key, outdated langlinks told apart; texts read in full batches', { timeout: 300_000 }, async () => {
    const { farm, proxies, config } = await mbwaOnFarm('mbwa', { en: ', reportRedundant: true' }, `sources:
  recentChanges: {minIntervalSeconds: 0.5, initialIntervalSeconds: 0.5, maxIntervalSeconds: 1}
`)
    const run = startMbwa(['--config', config, 'run'], { cwd: dir })
    try {
      const url = await run.url()
      const reportsOf = async (wiki: string, title: string): Promise<Report[] | undefined> => {
        const res = await request(`${url}/v1/titles/${encodeURIComponent(title)}`)
        const body = (await res.body.json()) as { pages?: { wiki: string; reports: Report[]; wantsText?: boolean }[] }
        const page = body.pages?.find((p) => p.wiki === wiki)
        return page && !page.wantsText ? page.reports : undefined
      }
      const sorted = (r: Report[] | undefined) => (r ?? []).map((x) => `${x.kind}${x.outdated ? `/${x.outdated}` : ''} ${x.code}:${x.title}`).sort()
      // The note's table, for the en pages. bird and bus are the two mbwa leaves unsaid: it cannot tell a redirect
      // a move left (not in Cognate's store) from one created as such (in it), so a redirect leaves presence open.
      const expected: Record<string, string[]> = {
        chat: [`langlinks-outdated/missing fr:${t('chat')}`],
        dog: [`redundant fr:${t('dog')}`],
        house: [`stale-missing fr:${t('house')}`],
        cat: [`stale-other-title fr:${t('chatte')}`],
        kitten: [],
        tree: [`langlinks-outdated/stale fr:${t('tree')}`],
        moon: [`stale-missing fr:${t('moon')}`],
        water: [`langlinks-outdated/missing fr:${t('water')}`],
        "l'eau": [],
        maison: [],
        bird: [],
        car: [],
        bus: [],
        void: [`redundant fr:${t('void')}`],
        étoile: [],
      }
      await waitFor(() => (run.stderr().match(/snapshot completed/g) ?? []).length >= 3, 120_000, 'the three snapshots')
      const seen: Record<string, string[]> = {}
      await waitFor(async () => {
        for (const stem of Object.keys(expected)) seen[stem] = sorted(await reportsOf('en', t(stem)))
        return Object.keys(expected).every((stem) => JSON.stringify(seen[stem]) === JSON.stringify(expected[stem]))
      }, 120_000, 'the en reports as the note says').catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\nseen: ${JSON.stringify(seen, null, 1)}`)
      })

      // Every seeded page: langlinks-outdated is exactly what MediaWiki's own parse (what a links update would
      // store now) and prop=langlinks (what is stored) differ by, leaving out targets that are only redirects.
      const clients = new Map(farm.wikis.map((w) => [w.lang, new MediaWikiClient({ api: w.api, contact: 'mbwa tests', maxlag: 0 })]))
      try {
        const redirectsOnly = await redirectKeys(clients)
        for (const { wiki, title } of seeded) {
          const c = clients.get(wiki)!
          const stored = await langlinks(c, title)
          if (stored === undefined) continue // deleted, or a redirect now
          // The text parsed afresh (a cached parse from within the same second as the purge would still count).
          const text = await pageText(c, title)
          const parsed = (await c.post({ action: 'parse', title, text, contentmodel: 'wikitext', prop: 'langlinks', formatversion: 2 })).parse as { langlinks: { lang: string; title: string }[] }
          const now = new Map(parsed.langlinks.map((l) => [l.lang, l.title]))
          const want: string[] = []
          for (const [code, target] of stored) if (!now.has(code) && !redirectsOnly.has(`${code}\0${cognateKey(target)}`)) want.push(`langlinks-outdated/stale ${code}:${target}`)
          for (const [code, target] of now) if (!stored.has(code)) want.push(`langlinks-outdated/missing ${code}:${target}`)
          const got = sorted(await reportsOf(wiki, title)).filter((r) => r.startsWith('langlinks-outdated'))
          expect({ wiki, title, reports: got }).toEqual({ wiki, title, reports: want.sort() })
        }
      } finally {
        for (const c of clients.values()) await c.close()
      }

      // `mbwa report` on the running member: the same reports, in every format.
      const asJson = await runMbwa(['--config', config, 'report', '--wiki', 'en', '--url', url, '--format', 'json'], { cwd: dir })
      expect(asJson.status).toBe(0)
      const rows = JSON.parse(asJson.stdout) as { title: string; kind: string; code: string; target: string; url: string }[]
      const mineRows = rows.filter((r) => r.title.endsWith(` ${s}`))
      expect(mineRows.map((r) => `${r.kind} ${r.code}:${r.target}`).sort()).toEqual(Object.values(expected).flat().map((x) => x.replace(/^(\S+?)(\/\w+)? /, '$1 ')).sort())
      expect(mineRows.every((r) => r.url.startsWith(`${proxies.get('en')!.api.replace(/api\.php$/, 'index.php')}?title=`))).toBe(true)
      const stale = await runMbwa(['--config', config, 'report', '--wiki', 'en', '--url', url, '--kind', 'stale-missing', '--format', 'csv'], { cwd: dir })
      expect(stale.stdout.split('\r\n')[0]).toBe('wiki,title,url,kind,code,target,targetUrl,evidence,since')
      expect(stale.stdout).toContain(`,stale-missing,fr,${t('house')},`)
      expect(stale.stdout).not.toContain('langlinks-outdated')
      const wikitext = await runMbwa(['--config', config, 'report', '--wiki', 'en', '--url', url, '--kind', 'stale-other-title', '--format', 'wikitext'], { cwd: dir })
      expect(wikitext.stdout).toContain(`| [[:${t('cat')}]] || stale-other-title || [[:fr:${t('chatte')}|fr:<nowiki>${t('chatte')}</nowiki>]]`)

      // Texts: read only for candidates, a full batch a request (50 titles, no account), one wiki at a time.
      console.log(`cognate farm: requests by kind per wiki: ${JSON.stringify(Object.fromEntries([...proxies].map(([l, p]) => [l, Object.fromEntries(p.counts)])))}`)
      for (const [lang, proxy] of proxies) {
        const reads = proxy.counts.get('query:titles') ?? 0
        const pages = seeded.filter((x) => x.wiki === lang).length
        expect({ lang, reads }).toEqual({ lang, reads: Math.min(reads, Math.ceil(pages / 50) + 1) })
      }
      expect(proxies.get('en')!.counts.get('query:titles') ?? 0).toBeGreaterThan(0)
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
    } finally {
      run.child.kill('SIGKILL')
      for (const p of proxies.values()) await p.close()
    }
  })

  it('refreshLinks clears outdated langlinks with one purge a page, verified first, and edits nothing', { timeout: 300_000 }, async () => {
    const bot = readFarm(farmJson).bot
    const { farm, proxies, config } = await mbwaOnFarm('refresh', { en: `, refreshLinks: true, credentials: {username: "${bot.botPasswordUser}", password: {env: FARM_BOT_PASSWORD}}` }, `projection: {settleMinutes: 0}
sink: {editIntervalSeconds: 0.2, maxPurgesPerMinute: 60}
`)
    const clients = new Map(farm.wikis.map((w) => [w.lang, new MediaWikiClient({ api: w.api, contact: 'mbwa tests', maxlag: 0 })]))
    const en = clients.get('en')!
    const mine = seeded.filter((x) => x.wiki === 'en')
    const outdatedNow = async () => {
      const out: string[] = []
      for (const { title } of mine) {
        const stored = await langlinks(en, title)
        if (stored === undefined) continue
        const parsed = (await en.post({ action: 'parse', title, text: await pageText(en, title), contentmodel: 'wikitext', prop: 'langlinks', formatversion: 2 })).parse as { langlinks: { lang: string; title: string }[] }
        const now = JSON.stringify(parsed.langlinks.map((l) => [l.lang, l.title]).sort())
        if (JSON.stringify([...stored].sort()) !== now) out.push(title)
      }
      return out.sort()
    }
    const before = await outdatedNow()
    // bird's stale row names a redirect a move left: mbwa cannot tell it from one Cognate holds, and leaves it.
    const refreshable = before.filter((x) => x !== t('bird'))
    expect(refreshable).toEqual([t('chat'), t('tree'), t('water')].sort())
    const run = startMbwa(['--config', config, 'run', '--apply'], { cwd: dir, env: { FARM_BOT_PASSWORD: farm.bot.botPassword } })
    try {
      await run.url()
      await waitFor(async () => (await outdatedNow()).every((x) => !refreshable.includes(x)), 120_000, 'the outdated langlinks refreshed')
      expect(await outdatedNow()).toEqual(before.filter((x) => !refreshable.includes(x)))
      const en = proxies.get('en')!
      await waitFor(() => run.stderr().includes('sink: purged'), 10_000, 'the purges logged')
      console.log(`cognate farm, refreshLinks: requests by kind on en: ${JSON.stringify(Object.fromEntries(en.counts))}`)
      expect(en.counts.get('purge') ?? 0).toBe(refreshable.length)
      for (const p of proxies.values()) expect(p.counts.get('edit') ?? 0).toBe(0)
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
    } finally {
      run.child.kill('SIGKILL')
      for (const c of clients.values()) await c.close()
      for (const p of proxies.values()) await p.close()
    }
  })

  it('mbwa run --apply keeps en\'s report page: the reports between the markers, the rest of the page and the articles untouched', { timeout: 300_000 }, async () => {
    const bot = readFarm(farmJson).bot
    const page = `User:${bot.user}/Interlanguage links ${s}`
    await editors.get('en')!.edit(page, `Kept above.\n<!-- mbwa:reports:start -->\n<!-- mbwa:reports:end -->\nKept below.`)
    // A short interval: the page follows the reports as they fill in (the texts are read after the snapshot).
    const { farm, proxies, config } = await mbwaOnFarm('report-page', { en: `, reportPage: "${page}", credentials: {username: "${bot.botPasswordUser}", password: {env: FARM_BOT_PASSWORD}}` }, `reports: {intervalHours: 0.001, checkMinutes: 0.01, publicUrl: "https://mbwa.example.org"}
sink: {editIntervalSeconds: 0.2}
`)
    const en = new MediaWikiClient({ api: farm.wikis.find((w) => w.lang === 'en')!.api, contact: 'mbwa tests', maxlag: 0 })
    const run = startMbwa(['--config', config, 'run', '--apply'], { cwd: dir, env: { FARM_BOT_PASSWORD: farm.bot.botPassword } })
    try {
      await run.url()
      const want = [t('house'), t('moon'), t('cat')] // stale-missing, stale-other-title
      let links: string[] = []
      await waitFor(async () => {
        const res = await en.get({ action: 'parse', page, prop: 'links|iwlinks', formatversion: 2 }).catch(() => undefined)
        links = ((res?.parse as { links?: { title: string }[] } | undefined)?.links ?? []).map((l) => l.title)
        return want.every((x) => links.includes(x))
      }, 120_000, 'the report page with the en reports').catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\nlinks: ${JSON.stringify(links)}\n${run.stderr().slice(-3000)}`)
      })
      const text = await pageText(en, page)
      expect(text.startsWith('Kept above.\n<!-- mbwa:reports:start -->\n')).toBe(true)
      expect(text.endsWith('<!-- mbwa:reports:end -->\nKept below.')).toBe(true)
      expect(text).toContain('=== stale-missing ===')
      expect(text).toContain('[https://mbwa.example.org/reports/en ')
      // Report only: the articles are not edited, nor any page of the other wikis.
      for (const p of [proxies.get('fr')!, proxies.get('de')!]) expect(p.counts.get('edit') ?? 0).toBe(0)
      const rc = await en.get({ action: 'query', list: 'recentchanges', rcuser: bot.user, rcprop: 'title', rclimit: 'max', rctype: 'edit|new', formatversion: 2 })
      const titles = new Set((rc.query as { recentchanges: { title: string }[] }).recentchanges.map((r) => r.title))
      expect([...titles].filter((x) => x.endsWith(s))).toEqual([page])
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
    } finally {
      run.child.kill('SIGKILL')
      await en.close()
      for (const p of proxies.values()) await p.close()
    }
  })
})

/** A page's stored langlinks (prop=langlinks), or undefined when it is missing or a redirect. */
async function langlinks(c: MediaWikiClient, title: string): Promise<Map<string, string> | undefined> {
  const res = await c.get({ action: 'query', titles: title, prop: 'langlinks|info', lllimit: 'max', formatversion: 2 })
  const page = (res.query as { pages: { missing?: boolean; redirect?: boolean; langlinks?: { lang: string; title: string }[] }[] }).pages[0]!
  if (page.missing || page.redirect) return undefined
  return new Map((page.langlinks ?? []).map((l) => [l.lang, l.title]))
}

async function pageText(c: MediaWikiClient, title: string): Promise<string> {
  const res = await c.get({ action: 'query', titles: title, prop: 'revisions', rvprop: 'content', rvslots: 'main', formatversion: 2 })
  return (res.query as { pages: { revisions: { slots: { main: { content: string } } }[] }[] }).pages[0]!.revisions[0]!.slots.main.content
}

/** wiki \0 Cognate key of every key a wiki holds only as redirects. */
async function redirectKeys(clients: Map<string, MediaWikiClient>): Promise<Set<string>> {
  const out = new Set<string>()
  for (const [lang, c] of clients) {
    const kinds = new Map<string, boolean>()
    for await (const res of c.continued({ action: 'query', list: 'allpages', apnamespace: 0, aplimit: 'max', apfilterredir: 'all', formatversion: 2 })) {
      for (const p of (res.query as { allpages: { title: string }[] }).allpages) kinds.set(p.title, kinds.get(p.title) ?? false)
    }
    for await (const res of c.continued({ action: 'query', list: 'allpages', apnamespace: 0, aplimit: 'max', apfilterredir: 'redirects', formatversion: 2 })) {
      for (const p of (res.query as { allpages: { title: string }[] }).allpages) kinds.set(p.title, true)
    }
    const real = new Set([...kinds].filter(([, r]) => !r).map(([title]) => cognateKey(title)))
    for (const [title, r] of kinds) if (r && !real.has(cognateKey(title))) out.add(`${lang}\0${cognateKey(title)}`)
  }
  return out
}
