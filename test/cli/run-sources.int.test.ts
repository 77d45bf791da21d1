import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { PageCreated, PageObserved } from '../../src/events/types.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { readEvents } from '../setup/events.js'
import { farmWiki, FarmEditor, uniqueTitle } from '../setup/farm.js'
import { waitFor } from '../log/helpers.js'

// `mbwa run` as users run it, against the real farm: it snapshots the configured wikis, polls their recent
// changes, and what happens on a wiki ends up in the embedded log.
describe('mbwa run with the farm (int, real MediaWiki)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-run-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('reads snapshots and recent changes of the configured wikis into the log', async () => {
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
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MBWA_')))
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist/src/cli/main.js'), '--config', config, 'run'], { env, cwd: dir })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      await waitFor(() => (stderr.match(/snapshot completed/g) ?? []).length >= 2, 60_000, 'both snapshots')
      const title = uniqueTitle('run word')
      const editor = await FarmEditor.open('fr')
      await editor.edit(title, 'un mot [[en:word]]')
      await editor.close()
      await waitFor(() => stderr.includes('recent changes read') && stderr.includes('"wiki":"fr"'), 30_000, 'the poll that sees it')
      await new Promise((r) => setTimeout(r, 1500))
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
