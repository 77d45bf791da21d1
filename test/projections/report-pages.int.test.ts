import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { loadConfig } from '../../src/config/load.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { Projector } from '../../src/projections/projector.js'
import { QueryServer } from '../../src/projections/http/query-server.js'
import { TitleStore } from '../../src/projections/title-store.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { harness, type Harness } from '../setup/events.js'
import { waitFor } from '../log/helpers.js'
import { observed, snapshotDone } from './fixtures.js'

// The report pages in a real headless Chromium (Debian's, driven by playwright-core): /, /reports and one wiki's
// reports with its CSV, fed with hostile titles (quotes, ampersands, a javascript: title, right-to-left text):
// everything shows as text, no script runs, every link goes where it says. A screenshot of each page is kept in
// test-results/.
describe('report pages in a browser (int, Chromium)', () => {
  const PARTITIONS = 4
  let h: Harness | undefined
  let store: TitleStore | undefined
  let projector: Projector | undefined
  let server: QueryServer | undefined
  let browser: Browser | undefined
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await projector?.stop()
    await store?.close()
    await h?.close()
  })

  const hostile = [`a"b'c&amp;d`, 'javascript:alert(1)', 'שלום עולם', `x' onmouseover='alert(2)`, 'and/or']

  it('shows every report as text, links to the page and the target, and downloads the same as CSV', { timeout: 180_000 }, async () => {
    const executablePath = execFileSync('bash', [join(PACKAGE_ROOT, 'infra/browser/chromium.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
    const config = loadConfig({ env: {}, searchPaths: [], flags: { wikiDefaults: { linkMode: 'cognate' }, wikis: { en: { api: 'https://en.wiktionary.org/w/api.php' }, fr: { api: 'http://127.0.0.1:18082/api.php' }, de: { api: 'https://de.wiktionary.org/w/api.php' } } } }).config
    h = await harness(PARTITIONS)
    const t0 = 1_700_000_000_000
    await h.events.append(h.topics.events, [
      ...['en', 'fr', 'de'].flatMap((w) => snapshotDone(w, `s-${w}`, PARTITIONS, t0 - 100_000, t0 - 90_000)),
      // Words fr and de have and en lacks: its "missing here" list.
      ...hostile.flatMap((title) => ['fr', 'de'].map((w) => observed(w, `${title} (mot)`, [], { at: t0, written: [] }))),
      // Each en page writes a link to fr, which has no such page: stale-missing, from the text.
      ...hostile.map((title) => observed('en', title, ['fr'], { at: t0, written: ['fr'] })),
    ])
    store = await TitleStore.open(join(h.dir, 'projection'))
    const rules = wikiRules(config)
    projector = new Projector({ store, events: h.events, topics: h.topics, groupId: 'pages', rules, settleMs: 0 })
    // A dry-run sink's diffs of en, as it writes them, with hostile text in them.
    const diffsDir = join(h.dir, 'diffs')
    mkdirSync(diffsDir, { recursive: true })
    writeFileSync(join(diffsDir, 'en.diff'), `# en:${hostile[0]} https://en.wiktionary.org/wiki/x\n--- a/${hostile[1]}\n+++ b/${hostile[1]}\n@@ -1,2 +1,3 @@\n text <script>alert(3)</script>\n-[[fr:x' onmouseover='alert(2)]]\n+[[de:${hostile[2]}]]\n`)
    server = new QueryServer({ store, projector, rules, partitions: PARTITIONS, apiOf: (w) => config.wikis[w]?.api, diffsDir })
    const base = await server.listen('127.0.0.1', 0)
    await projector.start()
    const ends = await h.log.endOffsets(h.topics.events)
    await waitFor(() => projector!.status().every((s) => s.offset >= ends[s.partition]!), 20_000, 'catch up')

    browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
    const page = await browser.newPage()
    const dialogs: string[] = []
    page.on('dialog', (d) => {
      dialogs.push(d.message())
      void d.dismiss()
    })
    const shots = join(PACKAGE_ROOT, 'test-results')
    mkdirSync(shots, { recursive: true })

    await page.goto(`${base}/`)
    expect(await page.title()).toBe('mbwa')
    expect(await page.locator('a[href="/reports"]').count()).toBeGreaterThan(0)
    await page.screenshot({ path: join(shots, 'report-pages-index.png') })

    await page.goto(`${base}/reports`)
    expect(await page.locator('tbody tr th').allTextContents()).toEqual(['de', 'en', 'fr'])
    expect(await page.locator('tr[data-wiki="en"] td').first().textContent()).toBe(String(hostile.length)) // stale-missing column
    await page.screenshot({ path: join(shots, 'report-pages-reports.png') })

    await page.locator('tr[data-wiki="en"] th a').click()
    await page.waitForURL(`${base}/reports/en`)
    const titles = await page.locator('tbody tr td:first-child').allTextContents()
    expect(titles.sort()).toEqual([...hostile].sort())
    for (const title of hostile) {
      const a = page.locator('tbody tr td:first-child a', { hasText: title }).first()
      expect(await a.textContent()).toBe(title)
      // The page's own URL on Wikimedia's article path; never a javascript: link.
      expect(await a.getAttribute('href')).toBe(`https://en.wiktionary.org/wiki/${encodeURIComponent(title.replace(/ /g, '_')).replace(/%2F/g, '/').replace(/%3A/g, ':')}`)
    }
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0)
    expect(await page.locator('[onmouseover]').count()).toBe(0)
    // The target on the other wiki (not Wikimedia: its index.php).
    expect(await page.locator('tbody tr td:nth-child(3) a').first().getAttribute('href')).toMatch(/^http:\/\/127\.0\.0\.1:18082\/index\.php\?title=/)
    await page.locator('tbody tr td:first-child a').first().hover()
    await page.screenshot({ path: join(shots, 'report-pages-wiki.png'), fullPage: true })
    expect(dialogs).toEqual([])

    // The CSV download: the same rows, one per report.
    const csvHref = await page.locator('a', { hasText: 'Download as CSV' }).getAttribute('href')
    const res = await request(`${base}${csvHref}`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/csv/)
    const csv = await res.body.text()
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(hostile.length + 1)
    expect(csv).toContain('"a""b\'c&amp;d"')
    // The dry-run diffs: every line as text, additions and removals marked; none for fr; the whole file as text.
    await page.goto(`${base}/reports/en`)
    await page.locator('a', { hasText: 'Dry-run diffs' }).click()
    await page.waitForURL(`${base}/reports/en/diffs`)
    expect(await page.locator('pre.diff span.a').allTextContents()).toEqual([`+++ b/${hostile[1]}`, `+[[de:${hostile[2]}]]`].filter((l) => !l.startsWith('+++')))
    expect(await page.locator('pre.diff span.r').allTextContents()).toEqual([`-[[fr:x' onmouseover='alert(2)]]`])
    expect(await page.locator('pre.diff').textContent()).toContain('text <script>alert(3)</script>')
    expect(await page.locator('script').count()).toBe(0)
    expect(await page.locator('[onmouseover]').count()).toBe(0)
    await page.screenshot({ path: join(shots, 'report-pages-diffs.png'), fullPage: true })
    expect(dialogs).toEqual([])
    await page.goto(`${base}/reports/fr/diffs`)
    expect(await page.locator('body').textContent()).toContain('No dry-run diffs of fr here')
    const whole = await request(`${base}/reports/en/diffs?format=text`)
    expect(whole.headers['content-type']).toMatch(/^text\/plain/)
    expect(await whole.body.text()).toContain(`+[[de:${hostile[2]}]]`)
    expect((await request(`${base}/reports/fr/diffs?format=text`)).statusCode).toBe(404)
    expect((await request(`${base}/reports/en/diffs?format=<b>`)).statusCode).toBe(400)
    // Missing here: the words fr and de have, as text, each linked to its page there.
    await page.goto(`${base}/reports/en`)
    await page.locator('a', { hasText: 'Missing here' }).click()
    await page.waitForURL(`${base}/reports/en/missing`)
    await page.locator('a', { hasText: /^2$/ }).click()
    await page.waitForURL(`${base}/reports/en/missing?minWikis=2`)
    expect((await page.locator('tbody tr td:first-child').allTextContents()).sort()).toEqual(hostile.map((t) => `${t} (mot)`).sort())
    expect(await page.locator('tbody tr td:nth-child(3) a', { hasText: 'de' }).first().getAttribute('href')).toMatch(/^https:\/\/de\.wiktionary\.org\/wiki\//)
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0)
    expect(await page.locator('[onmouseover]').count()).toBe(0)
    await page.screenshot({ path: join(shots, 'report-pages-missing.png'), fullPage: true })
    expect(dialogs).toEqual([])
    // A bad kind or an unknown wiki: a 4xx with a JSON error.
    expect((await request(`${base}/reports/en?kind=<b>`)).statusCode).toBe(400)
    expect((await request(`${base}/reports/zz`)).statusCode).toBe(404)
  })
})
