import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { PageCreated, PageObserved } from '../../src/events/types.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { request } from 'undici'
import { readEvents } from '../setup/events.js'
import { farmWiki, FarmEditor, uniqueTitle } from '../setup/farm.js'
import { waitFor } from '../log/helpers.js'
import { startMbwa } from '../setup/mbwa-process.js'

// `mbwa run` as users run it, against the real farm: it snapshots the configured wikis, polls their recent
// changes, and what happens on a wiki ends up in the embedded log.
describe('mbwa run with the farm (int, real MediaWiki)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-run-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('reads snapshots and recent changes of the configured wikis into the log', { timeout: 300_000 }, async () => {
    const config = join(dir, 'mbwa.yaml')
    writeFileSync(
      config,
      `dataDir: ${join(dir, 'data')}
userAgent: {contact: "mbwa tests"}
http: {port: 0}
wikis:
  en: {api: "${farmWiki('en').api}", dbname: enwiki}
  fr: {api: "${farmWiki('fr').api}", dbname: frwiki}
sources:
  recentChanges: {minIntervalSeconds: 0.5, initialIntervalSeconds: 0.5, maxIntervalSeconds: 1}
`,
    )
    const run = startMbwa(['--config', config, 'run'], { cwd: dir })
    const { child, exited } = run
    const url = await run.url()
    try {
      await waitFor(() => (run.stderr().match(/snapshot completed/g) ?? []).length >= 2, 120_000, 'both snapshots')
      const title = uniqueTitle('run word')
      const editor = await FarmEditor.open('fr')
      await editor.edit(title, 'un mot [[en:word]]')
      await editor.close()
      // The page is in the log once the projection (which reads the log) knows it on fr.
      await waitFor(async () => {
        const res = await request(`${url}/v1/titles/${encodeURIComponent(title)}`)
        const body = (await res.body.json()) as { wikis?: Record<string, unknown> }
        return res.statusCode === 200 && body.wikis?.fr !== undefined
      }, 120_000, 'the poll that sees the new page')
      child.kill('SIGTERM')
      expect(await exited).toBe(0)

      const log = await EmbeddedLog.open({ path: join(dir, 'data/log') })
      try {
        const events = await readEvents(log, 'mbwa.events')
        const created = events.filter((e) => e.event.type === 'PageCreated' && (e.event.value as PageCreated).title === title)
        expect(created.map((e) => (e.event.value as PageCreated).wiki)).toEqual(['fr'])
        const observed = events.filter((e) => e.event.type === 'PageObserved' && (e.event.value as PageObserved).source === 'snapshot')
        expect(new Set(observed.map((e) => (e.event.value as PageObserved).wiki))).toEqual(new Set(['en', 'fr']))
        expect(events.filter((e) => e.event.type === 'SnapshotCompleted').length).toBe(2 * 12)
      } finally {
        await log.close()
      }
    } finally {
      child.kill('SIGKILL')
    }
  })
})
