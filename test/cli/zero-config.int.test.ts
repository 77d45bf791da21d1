import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { waitFor } from '../log/helpers.js'
import { farmWiki, FarmEditor, uniqueTitle } from '../setup/farm.js'
import { LoopbackSitematrix } from '../setup/loopback-sitematrix.js'
import { runMbwa, startMbwa } from '../setup/mbwa-process.js'

// mbwa with no `wikis:` section: the wikis come from a sitematrix (a loopback one leading to the real farm), take
// part in the link rules, are snapshotted, linked and reported; a wiki that closes later changes the rules without
// a restart, through an event in the log, so a rebuild from the log ends in the same state. A discovered wiki
// whose API never answers does not stop the others being read and reported.
describe('the main job with no wikis configured (int, real MediaWiki)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-zero-'))
  const matrix = new LoopbackSitematrix([
    { code: 'en', farm: farmWiki('en') },
    { code: 'fr', farm: farmWiki('fr') },
    { code: 'de', farm: farmWiki('de') },
    { code: 'xx', closed: true },
  ])
  // One wiki whose API never answers, listed first, so its snapshot is the first tried.
  const failing = new LoopbackSitematrix([{ code: 'ab' }, { code: 'en', farm: farmWiki('en') }, { code: 'fr', farm: farmWiki('fr') }])
  afterAll(async () => {
    await Promise.all([matrix.close(), failing.close()])
    rmSync(dir, { recursive: true, force: true })
  })

  const json = async <T>(url: string): Promise<T> => (await (await request(url)).body.json()) as T

  /** A title on en (linking fr) and on fr (linking nothing), both long enough for a snapshot to know neither is blank. */
  async function seedTitle(name: string): Promise<string> {
    const title = uniqueTitle(name)
    const en = await FarmEditor.open('en')
    const fr = await FarmEditor.open('fr')
    await en.edit(title, 'An English word, with a definition long enough to be a page.\n\n[[fr:' + title + ']]')
    await fr.edit(title, 'Un mot français, avec une définition assez longue, sans liens.')
    await en.close()
    await fr.close()
    return title
  }

  /** A configuration with no wikis section: the sitematrix at `api` names them. */
  function discoveryConfig(name: string, api: string, extra: string): string {
    const config = join(dir, `${name}.yaml`)
    writeFileSync(
      config,
      `dataDir: ${join(dir, name)}
userAgent: {contact: "mbwa tests"}
http: {port: 0}
projection: {settleMinutes: 0}
sink: {enabled: false}
${extra}`,
    )
    return config
  }

  /** Waits for fr's missing list to hold `title` (the pass over every title writes it), and returns its entry. */
  async function missingOnFr(url: string, title: string): Promise<{ title: string; codes: string[] } | undefined> {
    let missing: { items: { title: string; codes: string[] }[] } = { items: [] }
    await waitFor(async () => {
      missing = await json<typeof missing>(`${url}/v1/wikis/fr/discrepancies?kind=missing&limit=1000`)
      return missing.items.some((i) => i.title === title)
    }, 60_000, "the title in fr's missing list")
    return missing.items.find((i) => i.title === title)
  }

  it('follows the discovered wikis: linked and reported with no wikis section, closing one changes the rules in the log', { timeout: 300_000 }, async () => {
    const title = await seedTitle('zc word')
    const api = await matrix.listen()
    const config = discoveryConfig(
      'data',
      api,
      `discovery: {sitematrix: {api: "${api}", refreshHours: 0.0005}}
sources:
  recentChanges: {minIntervalSeconds: 0.5, initialIntervalSeconds: 0.5, maxIntervalSeconds: 1}
`,
    )
    const run = startMbwa(['--config', config, 'run'], { cwd: dir })
    try {
      const url = await run.url()
      type Wikis = { wikis: { code: string; closed: boolean; linkMode: string; lastSnapshot: string | null }[] }
      await waitFor(async () => (await json<Wikis>(`${url}/v1/wikis`)).wikis.filter((w) => !w.closed && w.lastSnapshot !== null).length === 3, 120_000, 'the three open discovered wikis snapshotted')
      const wikis = (await json<Wikis>(`${url}/v1/wikis`)).wikis
      expect(wikis.map((w) => [w.code, w.closed, w.linkMode])).toEqual([
        ['de', false, 'manual'],
        ['en', false, 'manual'],
        ['fr', false, 'manual'],
        ['xx', true, 'manual'],
      ])
      // Linked: fr has the title and does not link en; reported in the discrepancy index.
      type Verdict = { complete: boolean; linkSet: string[]; pages: { wiki: string; add: string[]; remove: string[] }[] }
      let last: unknown
      await waitFor(async () => {
        const v = await json<Verdict>(`${url}/v1/titles/${encodeURIComponent(title)}`)
        last = v
        return v.complete
      }, 60_000, 'the title complete').catch((err: unknown) => {
        throw new Error(`${(err as Error).message}: ${JSON.stringify(last)}`)
      })
      const verdict = await json<Verdict>(`${url}/v1/titles/${encodeURIComponent(title)}`)
      expect(verdict.linkSet).toEqual(['en', 'fr'])
      expect(verdict.pages.find((p) => p.wiki === 'fr')).toMatchObject({ add: ['en'], remove: [] })
      expect(verdict.pages.find((p) => p.wiki === 'en')).toMatchObject({ add: [], remove: [] })
      // The lists fill in as the pass over every title writes them: a query can see the title complete first
      // (the pass gives the thread to queries between slices).
      expect((await missingOnFr(url, title))?.codes).toEqual(['en'])

      // fr closes: the sitematrix says so at its next read; the projection follows from the log.
      matrix.sites = matrix.sites.map((s) => (s.code === 'fr' ? { ...s, closed: true } : s))
      await waitFor(async () => (await json<Wikis>(`${url}/v1/wikis`)).wikis.find((w) => w.code === 'fr')!.closed, 60_000, 'fr closed in the rules')
      await waitFor(async () => {
        const v = await json<Verdict>(`${url}/v1/titles/${encodeURIComponent(title)}`)
        return v.pages.find((p) => p.wiki === 'en')?.remove.includes('fr') === true
      }, 60_000, 'the link to the closed wiki to be removed')
      await waitFor(async () => (await json<{ lag: number }>(`${url}/v1/stats`)).lag === 0, 60_000, 'the projection caught up')
      const live = (await json<{ digest: string }>(`${url}/v1/digest`)).digest
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
      const log = run.stderr()
      expect(log).toMatch(/discovery: the wiki list changed; announced to the projection/)
      expect(log).not.toMatch(/no wikis to read/)

      // The same state from the log alone.
      const rebuilt = await runMbwa(['--config', config, 'rebuild', '--no-progress'], { cwd: dir })
      expect(rebuilt.status).toBe(0)
      expect(rebuilt.stdout).toContain(live)
    } finally {
      run.child.kill('SIGKILL')
    }
  })

  it('snapshots the other wikis while one cannot be read, and reports their titles without it', { timeout: 300_000 }, async () => {
    const title = await seedTitle('fw word')
    const api = await failing.listen()
    const config = discoveryConfig('failing', api, `discovery: {sitematrix: {api: "${api}"}}\nsources: {eventStreams: {enabled: false}}\n`)
    const run = startMbwa(['--config', config, 'run'], { cwd: dir })
    try {
      const url = await run.url()
      type Wikis = { wikis: { code: string; closed: boolean; lastSnapshot: string | null; snapshotFailures: number }[] }
      await waitFor(async () => (await json<Wikis>(`${url}/v1/wikis`)).wikis.filter((w) => w.lastSnapshot !== null).length === 2, 120_000, 'en and fr snapshotted')
      const wikis = (await json<Wikis>(`${url}/v1/wikis`)).wikis
      expect(wikis.find((w) => w.code === 'ab')).toMatchObject({ closed: false, lastSnapshot: null })
      expect(wikis.find((w) => w.code === 'ab')!.snapshotFailures).toBeGreaterThanOrEqual(1)
      expect(wikis.filter((w) => w.code !== 'ab').map((w) => w.snapshotFailures)).toEqual([0, 0])
      expect(await (await request(`${url}/metrics`)).body.text()).toMatch(/mbwa_snapshot_failures\{wiki="ab"\} [1-9]/)
      // The operator's screen names the failing wiki.
      const screen = await runMbwa(['--config', config, 'status', '--url', url], { cwd: dir })
      expect(screen.stdout).toMatch(/\n {4}ab: snapshot failing, [\d,]+ attempts? in a row failed\n/)
      // fr lacks its link to en: reported once the pass over every title ran, which it does without ab.
      expect((await missingOnFr(url, title))?.codes).toEqual(['en'])
      // The title is not complete (ab's titles are unknown), so nothing is removed for want of it.
      const verdict = await json<{ complete: boolean; incomplete: string[] }>(`${url}/v1/titles/${encodeURIComponent(title)}`)
      expect(verdict.complete).toBe(false)
      expect(verdict.incomplete.join(' ')).toMatch(/ab: not snapshotted/)
      expect(run.stderr()).toMatch(/snapshot failed; it resumes after a wait, other wikis go on/)
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
    } finally {
      run.child.kill('SIGKILL')
    }
  })

  it('with no configuration and no network: starts, answers /healthz, says once what it cannot reach, and idles', { timeout: 120_000 }, async () => {
    const work = mkdtempSync(join(dir, 'none-'))
    // No file and no MBWA_* variable but the port: Wikimedia's sitematrix and EventStreams, which this machine
    // cannot reach (and a loopback port that refuses, should it ever reach the internet).
    const run = startMbwa(['run'], { cwd: work, env: { MBWA_HTTP__PORT: '0' } })
    try {
      const url = await run.url()
      await waitFor(() => /cannot reach the sitematrix/.test(run.stderr()) && /eventstreams: cannot connect/.test(run.stderr()), 60_000, 'the first failures said')
      expect((await request(`${url}/healthz`)).statusCode).toBe(200)
      const stat = () => readFileSync(`/proc/${run.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      const cpu = () => Number(stat()[11]) + Number(stat()[12])
      const before = cpu()
      const t0 = Date.now()
      await new Promise((r) => setTimeout(r, 4000))
      const usedSeconds = (cpu() - before) / 100
      const wallSeconds = (Date.now() - t0) / 1000
      // Nothing loops hot: well under a tenth of a core while it waits (CPU time is the process's own).
      expect(usedSeconds / wallSeconds).toBeLessThan(0.1)
      const err = run.stderr()
      expect(err.match(/cannot reach the sitematrix/g)).toHaveLength(1)
      expect(err.match(/eventstreams: cannot connect/g)).toHaveLength(1)
      expect(err).toMatch(/https:\/\/meta\.wikimedia\.org\/w\/api\.php/)
      expect((await request(`${url}/healthz`)).statusCode).toBe(200)
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
    } finally {
      run.child.kill('SIGKILL')
    }
  })
})
