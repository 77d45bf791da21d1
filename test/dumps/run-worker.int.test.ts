import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { farmWiki } from '../setup/farm.js'
import { waitFor } from '../log/helpers.js'
import { startMbwa } from '../setup/mbwa-process.js'

// dumps.worker: `mbwa run` on the embedded log dumps every wiki that is due from its own store, and its own dump
// monitor (/v1/dumps, the /dumps page) shows them: the one-machine deployment (Toolforge) sees its dumps.
describe('dumps inside mbwa run (int, real MediaWiki)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-dumpjobs-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('dumps each wiki once its snapshot is in, and the status page shows the dumps', { timeout: 240_000 }, async () => {
    const config = join(dir, 'mbwa.yaml')
    writeFileSync(
      config,
      `dataDir: ${join(dir, 'data')}
userAgent: {contact: "mbwa tests"}
http: {port: 0}
wikis:
  en: {api: "${farmWiki('en').api}", dbname: enwiki}
  fr: {api: "${farmWiki('fr').api}", dbname: frwiki}
sink: {enabled: false}
dumps: {worker: true, intervalHours: 24, heartbeatSeconds: 0.5}
`,
    )
    const run = startMbwa(['--config', config, 'run'], { cwd: dir })
    try {
      const url = await run.url()
      const dumps = async () => ((await (await request(`${url}/v1/dumps`)).body.json()) as { wikis?: { wiki: string; lastGood: { count: number } | null }[] } | { wiki: string; lastGood: { count: number } | null }[])
      const list = async () => {
        const d = await dumps()
        return Array.isArray(d) ? d : (d.wikis ?? [])
      }
      await waitFor(async () => (await list()).filter((w) => w.lastGood !== null).length === 2, 180_000, 'both wikis dumped by mbwa run itself')
      for (const w of await list()) expect(w.lastGood!.count).toBeGreaterThan(0)
      const page = await (await request(`${url}/dumps`)).body.text()
      expect(page).toMatch(/<tr data-wiki="en">.*titles/)
      // The file, its checksum, when the next one is due; no reload unless asked.
      expect(page).toMatch(/<tr data-wiki="en">.*\.mbwa\.gz.*sha256 [0-9a-f]{12}….*<td class="due">in 2[34] h/)
      expect(page).not.toContain('http-equiv="refresh"')
      expect(await (await request(`${url}/dumps?refresh=10`)).body.text()).toContain('<meta http-equiv="refresh" content="10">')
      expect(readdirSync(join(dir, 'data/dumps/public/en')).some((f) => f.endsWith('.mbwa.gz'))).toBe(true)
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
    } finally {
      run.child.kill('SIGKILL')
    }
  })
})
