import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import type { KafkaLog } from '../../src/log/kafka-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { connectTestKafka } from '../setup/kafka.js'
import { memberConfig } from '../setup/member-config.js'
import { startMbwa, type MbwaProcess } from '../setup/mbwa-process.js'
import { uniqueName, waitFor } from '../log/helpers.js'
import { observed } from '../projections/fixtures.js'

// The dumps status page in a real headless Chromium (Debian's, driven by playwright-core): it renders, lists the
// configured wikis, and shows a running job turn into a completed dump.
describe('dumps status page in a browser (int, Chromium)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-page-'))
  const procs: MbwaProcess[] = []
  let kafka: KafkaLog | undefined
  let browser: Browser | undefined
  afterAll(async () => {
    await browser?.close()
    for (const p of procs) p.child.kill('SIGKILL')
    await kafka?.close()
    rmSync(work, { recursive: true, force: true })
  })

  it('renders, lists the wikis, and shows a running job turning into completed', { timeout: 240_000 }, async () => {
    const executablePath = execFileSync('bash', [join(PACKAGE_ROOT, 'infra/browser/chromium.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
    const prefix = uniqueName('pg').replace(/-/g, '_')
    const config = (name: string, extra = '') =>
      memberConfig(work, name, {
        prefix,
        events: 4,
        extra: `wikis: {en: {api: "http://127.0.0.1:9/api.php"}, fr: {api: "http://127.0.0.1:9/api.php"}, nl: {api: "http://127.0.0.1:9/api.php"}}
sink: {enabled: false}
dumps: {dir: ${join(work, 'dumps')}, heartbeatSeconds: 0.5, checkSeconds: 1${extra}}`,
      })
    kafka = await connectTestKafka()
    const topics = topicNames(prefix)
    await kafka.ensureTopics(topicSpecs(topics, { events: 4, edits: 1, dumps: 1, deadLetter: 1 }))
    await new EventStore(kafka, SchemaRegistry.load()).append(topics.events, Array.from({ length: 3000 }, (_, i) => observed(i % 2 ? 'en' : 'fr', `w ${i}`, [], { revision: i })))
    const member = startMbwa(['--config', config('member'), 'run'], { cwd: work })
    procs.push(member)
    const url = await member.url(60_000)
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 60_000, 'readiness')

    browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
    const page = await browser.newPage()
    await page.goto(`${url}/dumps`)
    expect(await page.title()).toBe('mbwa dumps')
    expect(await page.locator('tbody tr th').allTextContents()).toEqual(['en', 'fr', 'nl'])
    expect(await page.locator('tr[data-wiki="en"] .good').textContent()).toBe('none yet')

    const worker = startMbwa(['--config', config('worker', ', parallelParts: 1, pauseBetweenPartsMs: 1500'), 'dump', 'run', '--wiki', 'en', '--from', url], { cwd: work })
    procs.push(worker)
    const state = async () => {
      await page.reload()
      return page.locator('tr[data-wiki="en"] .job [data-state]').getAttribute('data-state')
    }
    await waitFor(async () => (await state()) === 'running', 60_000, 'the page to show the job running')
    expect(await page.locator('tr[data-wiki="en"] .job').textContent()).toMatch(/titles written/)
    expect(await worker.exited).toBe(0)
    await waitFor(async () => (await state()) === 'idle', 30_000, 'the page to show the job done')
    expect(await page.locator('tr[data-wiki="en"] .good').textContent()).toMatch(/ago, .* 1,500 titles/)
    // The file links to its download: the same bytes as in the dump folder; nothing else of the disk is served.
    const href = await page.locator('tr[data-wiki="en"] .file a').getAttribute('href')
    expect(href).toMatch(/^\/dumps\/files\/en\/en-[0-9TZ-]+\.mbwa\.gz$/)
    const res = await fetch(`${url}${href}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/gzip')
    const onDisk = readFileSync(join(work, 'dumps', 'public', 'en', href!.split('/').pop()!))
    expect(Buffer.from(await res.arrayBuffer()).equals(onDisk)).toBe(true)
    for (const bad of ['/dumps/files/en/..%2F..%2Fmember.yaml', '/dumps/files/en/fr-2026.mbwa.gz', '/dumps/files/..%2Fprivate/x.json', '/dumps/files/en/en-2026-12-07T00-00-00-000Z.mbwa.gz']) {
      expect((await fetch(`${url}${bad}`)).status, bad).toBe(404)
    }
    await page.screenshot({ path: join(work, 'dumps.png') })
  })
})
