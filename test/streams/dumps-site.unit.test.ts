import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isMbwaError } from '../../src/errors/errors.js'
import { completeRun, DumpsSite } from '../../src/streams/wikimedia-dumps/dumps-site.js'
import { pageRow, writeRun } from '../setup/wikimedia-dump-files.js'

// Which run of a database counts (a local folder in the dumps site's layout): the newest whose page, langlinks and
// redirect jobs are done; a run in progress, failed, or without a readable status gives way to the one before; the
// files of a run are checked against the size and sha1 its status gives.

describe('the dumps site: which run, and its files checked', () => {
  const root = mkdtempSync(join(tmpdir(), 'mbwa-dumps-site-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const files = { page: [pageRow({ id: 1, title: 'chat', latest: 5, len: 100 })], langlinks: [[1, 'fr', 'chat']] }

  it('takes the newest complete run, not one in progress, failed or without its status', async () => {
    await writeRun(root, 'xwiktionary', '20261101', files)
    await writeRun(root, 'xwiktionary', '20261120', files)
    await writeRun(root, 'xwiktionary', '20261201', { ...files, status: { langlinkstable: 'failed' } })
    await writeRun(root, 'xwiktionary', '20261203', { ...files, status: { redirecttable: 'in-progress' } })
    mkdirSync(join(root, 'xwiktionary', '20261205'))
    writeFileSync(join(root, 'xwiktionary', '20261206.tmp'), '')
    mkdirSync(join(root, 'xwiktionary', 'latest'))
    const site = new DumpsSite({ base: root })
    expect(await site.runs('xwiktionary')).toEqual(['20261205', '20261203', '20261201', '20261120', '20261101'])
    const run = await site.latestComplete('xwiktionary')
    expect(run?.date).toBe('20261120')
    expect(run?.startedAt).toBe(Date.parse('2026-11-20T00:00:00Z'))
    expect(run?.files.page.name).toBe('xwiktionary-20261120-page.sql.gz')
    expect(run?.files.langlinks.sha1).toMatch(/^[0-9a-f]{40}$/)
    expect(run?.finishedAt.langlinks).toBe(Date.parse('2026-11-20T06:00:00Z'))
    expect(await site.latestComplete('xwiktionary', '20261120')).toBeUndefined()
    expect(await site.latestComplete('nosuchwiktionary')).toBeUndefined()
  })

  it('refuses a status whose table jobs list no file', () => {
    expect(completeRun('x', '20261201', { jobs: { pagetable: { status: 'done', files: {} }, langlinkstable: { status: 'done' }, redirecttable: { status: 'done' } } })).toBeUndefined()
    expect(completeRun('x', 'notadate', { jobs: {} })).toBeUndefined()
  })

  it('checks a file against its size and sha1', async () => {
    await writeRun(root, 'ywiktionary', '20261201', files)
    const site = new DumpsSite({ base: root })
    const run = (await site.latestComplete('ywiktionary'))!
    await expect(site.fetch(run.files.page, join(root, 'cache'))).resolves.toBe(join(root, 'ywiktionary', '20261201', 'ywiktionary-20261201-page.sql.gz'))
    const path = join(root, 'ywiktionary', '20261201', run.files.langlinks.name)
    const bytes = readFileSync(path)
    bytes[20]! ^= 1
    writeFileSync(path, bytes)
    const altered = await site.fetch(run.files.langlinks, join(root, 'cache')).catch((e: unknown) => e)
    expect(isMbwaError(altered, 'MBWA_WIKIMEDIA_DUMP_INVALID')).toBe(true)
    expect((altered as Error).message).toMatch(/does not match its sha1/)
    writeFileSync(path, bytes.subarray(0, 30))
    await expect(site.fetch(run.files.langlinks, join(root, 'cache'))).rejects.toThrow(/is 30 bytes; dumpstatus\.json says \d+ \(cut or altered\)/)
  })
})
