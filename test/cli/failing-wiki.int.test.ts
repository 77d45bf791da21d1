import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { waitFor } from '../log/helpers.js'
import { farmWiki, FarmEditor, uniqueTitle } from '../setup/farm.js'
import { LoopbackSitematrix } from '../setup/loopback-sitematrix.js'
import { startMbwa } from '../setup/mbwa-process.js'

// One discovered wiki whose API never answers (listed first, so its snapshot is the first tried): the other wikis
// are still read, and their titles are judged and reported without waiting for it.
describe('the main job with a wiki that cannot be read (int, real MediaWiki)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-failing-'))
  const matrix = new LoopbackSitematrix([{ code: 'ab' }, { code: 'en', farm: farmWiki('en') }, { code: 'fr', farm: farmWiki('fr') }])
  afterAll(async () => {
    await matrix.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const json = async <T>(url: string): Promise<T> => (await (await request(url)).body.json()) as T

  it('snapshots the others, and reports their titles without the failing wiki', { timeout: 300_000 }, async () => {
    const title = uniqueTitle('fw word')
    const en = await FarmEditor.open('en')
    const fr = await FarmEditor.open('fr')
    await en.edit(title, 'An English word, with a definition long enough to be a page.\n\n[[fr:' + title + ']]')
    await fr.edit(title, 'Un mot français, avec une définition assez longue, sans liens.')
    await en.close()
    await fr.close()

    const api = await matrix.listen()
    const config = join(dir, 'mbwa.yaml')
    writeFileSync(
      config,
      `dataDir: ${join(dir, 'data')}
userAgent: {contact: "mbwa tests"}
http: {port: 0}
projection: {settleMinutes: 0}
sink: {enabled: false}
discovery: {sitematrix: {api: "${api}"}}
sources:
  eventStreams: {enabled: false}
`,
    )
    const run = startMbwa(['--config', config, 'run'], { cwd: dir })
    try {
      const url = await run.url()
      type Wikis = { wikis: { code: string; closed: boolean; lastSnapshot: string | null; snapshotFailures: number }[] }
      await waitFor(async () => (await json<Wikis>(`${url}/v1/wikis`)).wikis.filter((w) => w.lastSnapshot !== null).length === 2, 120_000, 'en and fr snapshotted')
      const wikis = (await json<Wikis>(`${url}/v1/wikis`)).wikis
      expect(wikis.find((w) => w.code === 'ab')).toMatchObject({ closed: false, lastSnapshot: null })
      expect(wikis.find((w) => w.code === 'ab')!.snapshotFailures).toBeGreaterThanOrEqual(1)
      expect(wikis.filter((w) => w.code !== 'ab').map((w) => w.snapshotFailures)).toEqual([0, 0])
      // fr has the title and does not link en: in fr's missing list once the pass over every title ran, which it
      // does without ab (its snapshots fail).
      let missing: { items: { title: string; codes: string[] }[] } = { items: [] }
      await waitFor(async () => {
        missing = await json<typeof missing>(`${url}/v1/wikis/fr/discrepancies?kind=missing&limit=1000`)
        return missing.items.some((i) => i.title === title)
      }, 60_000, "the title in fr's missing list")
      expect(missing.items.find((i) => i.title === title)?.codes).toEqual(['en'])
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
})
