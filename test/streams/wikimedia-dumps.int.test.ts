import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PageEdited, PageObserved, SnapshotCompleted } from '../../src/events/types.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { mwTimestamp } from '../../src/streams/wikimedia-dumps/dump-import.js'
import { readEvents, type ReadEvent } from '../setup/events.js'
import { farmWiki, FarmEditor, uniqueTitle } from '../setup/farm.js'
import { runMbwa, startMbwa } from '../setup/mbwa-process.js'
import { waitFor } from '../log/helpers.js'
import { request } from 'undici'
import { pageRow, serveDumpsSite, writeRun, type Cell, type DumpsSite } from '../setup/wikimedia-dump-files.js'

// `mbwa import --wikimedia` against a loopback dumps site of real-format files (mysqldump text, gzip, dumpstatus.json
// with sha1) and the real farm (its siteinfo, and its recent changes since the run's date):
// - the newest run in progress gives way to the complete one before it;
// - page and langlinks join by page id; other namespaces, orphans and rows of a later links update are handled;
// - a page deleted on the wiki after the run's date stays deleted (recent changes since the run come after it);
// - a download cut in the middle resumes with Range; a file whose sha1 differs is refused, nothing applied;
// - a local mirror folder gives the same events as the site.

const day = 86_400_000
const ymd = (ms: number) => new Date(ms).toISOString().slice(0, 10).replace(/-/g, '')

describe('Wikimedia dumps as a bootstrap (int: loopback dumps site, real MediaWiki)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-wmdumps-'))
  const root = join(work, 'site')
  const en = farmWiki('en')
  const fr = farmWiki('fr')
  const complete = ymd(Date.now() - 3 * day)
  const inProgress = ymd(Date.now() - day)
  const stem = uniqueTitle('dumpword')
  const titles = { linked: `${stem} chat`, talk: `${stem} talk`, redirect: `${stem} redir`, newer: `${stem} newer`, odd: `${stem} l'eau "x" \\ 中 ok`, deleted: `${stem} deleted`, plain: `${stem} plain` }
  let site: DumpsSite
  let deletedOnWiki: string

  beforeAll(async () => {
    // A page that exists at the run's date and is deleted on the wiki after it: the dump still lists it.
    const editor = await FarmEditor.open('en')
    deletedOnWiki = titles.deleted
    await editor.edit(deletedOnWiki, 'a word soon gone')
    await editor.delete(deletedOnWiki)
    await editor.close()
    const linksDone = `${complete.slice(0, 4)}-${complete.slice(4, 6)}-${complete.slice(6, 8)} 09:00:00`
    const page: Cell[][] = [
      pageRow({ id: 3, title: titles.linked, latest: 30, len: 900 }),
      pageRow({ id: 4, ns: 1, title: titles.talk, latest: 40, len: 10 }),
      pageRow({ id: 5, title: titles.redirect, redirect: true, latest: 50, len: 30 }),
      pageRow({ id: 7, title: titles.newer, latest: 70, len: 500, linksUpdated: mwTimestamp(Date.parse(`${linksDone.replace(' ', 'T')}Z`) + 3_600_000) }),
      pageRow({ id: 8, title: titles.odd, latest: 80, len: 12 }),
      pageRow({ id: 9, title: titles.deleted, latest: 90, len: 800 }),
      pageRow({ id: 12, title: titles.plain, latest: 120, len: 700 }),
    ]
    const langlinks: Cell[][] = [
      [3, 'de', titles.linked],
      [3, 'fr', `${titles.linked}#Nom`],
      [4, 'fr', 'ignored: a talk page'],
      [6, 'fr', 'orphan: no such page'],
      [7, 'fr', 'stale'],
      [8, 'fr', titles.odd],
      [13, 'fr', 'orphan after the last page'],
    ]
    await writeRun(root, en.dbname, complete, { page, langlinks, updated: { langlinkstable: linksDone }, pageOptions: { rowsPerInsert: 2 }, langlinksOptions: { rowsPerInsert: 3 } })
    await writeRun(root, en.dbname, inProgress, { page: [pageRow({ id: 3, title: 'never read', latest: 1, len: 1 })], langlinks: [], status: { langlinkstable: 'in-progress' } })
    // fr: a complete run whose langlinks file was altered after its checksum was taken.
    await writeRun(root, fr.dbname, complete, { page: [pageRow({ id: 1, title: titles.linked, latest: 10, len: 900 })], langlinks: [[1, 'en', titles.linked]] })
    const frLinks = join(root, fr.dbname, complete, `${fr.dbname}-${complete}-langlinks.sql.gz`)
    const bytes = readFileSync(frLinks)
    bytes[bytes.length - 12]! ^= 0xff
    writeFileSync(frLinks, bytes)
    site = await serveDumpsSite(root)
  })
  afterAll(async () => {
    await site?.close()
    rmSync(work, { recursive: true, force: true })
  })

  const deployment = (name: string, parseIn: 'auto' | 'worker' = 'auto') => {
    const dir = join(work, name)
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      join(dir, 'mbwa.yaml'),
      `dataDir: ${join(dir, 'data')}
userAgent: {contact: "mbwa tests"}
wikis:
  en: {api: "${en.api}", dbname: ${en.dbname}}
  fr: {api: "${fr.api}", dbname: ${fr.dbname}}
sources:
  wikimediaDumps: {enabled: true, url: "${site.url}", parseIn: ${parseIn}}
`,
    )
    return dir
  }
  const eventsOf = async (dir: string): Promise<ReadEvent[]> => {
    const log = await EmbeddedLog.open({ path: join(dir, 'data/log') })
    try {
      return await readEvents(log, 'mbwa.events')
    } finally {
      await log.close()
    }
  }
  const pagesOf = (events: ReadEvent[], wiki: string) => events.filter((e) => (e.event.type === 'PageObserved' || e.event.type === 'PageEdited') && (e.event.value as PageObserved).wiki === wiki && (e.event.value as PageObserved).source === 'dump')

  it('imports the newest complete run, resuming a cut download, and refuses an altered file', { timeout: 180_000 }, async () => {
    const dir = deployment('http')
    site.cutAfter(`/${en.dbname}/${complete}/${en.dbname}-${complete}-page.sql.gz`, 200)
    const res = await runMbwa(['import', '--wikimedia', '--no-progress'], { cwd: dir })
    expect(res.stdout).toMatch(new RegExp(`en: imported 6 pages of ${en.dbname}-${complete} .*1 with links newer than the run's langlinks, 2 langlinks rows without their page`))
    expect(res.stderr).toMatch(/mbwa: fr: MBWA_WIKIMEDIA_DUMP_INVALID .*langlinks\.sql\.gz does not match its sha1/)
    expect(res.status).toBe(1)
    // The cut download went on from where it stopped; the run in progress was never downloaded.
    const pageGets = site.requests.filter((r) => r.path.endsWith(`${en.dbname}-${complete}-page.sql.gz`))
    expect(pageGets, JSON.stringify(site.requests)).toHaveLength(2)
    expect(pageGets[1]!.range).toBe('bytes=200-')
    expect(site.requests.some((r) => r.path.includes(`/${inProgress}/`) && r.path.endsWith('.gz'))).toBe(false)
    expect(site.requests.some((r) => r.path === `/${en.dbname}/${inProgress}/dumpstatus.json`)).toBe(true)

    const events = await eventsOf(dir)
    const enPages = pagesOf(events, 'en')
    const byTitle = new Map(enPages.map((e) => [(e.event.value as PageObserved).title, e.event]))
    expect([...byTitle.keys()].sort()).toEqual([titles.linked, titles.redirect, titles.newer, titles.odd, titles.deleted, titles.plain].sort())
    const linked = byTitle.get(titles.linked)!.value as PageObserved
    expect(linked).toMatchObject({ pageId: 3, revision: 30, redirect: false, blank: false, exists: true, observedAt: Date.parse(`${complete.slice(0, 4)}-${complete.slice(4, 6)}-${complete.slice(6, 8)}T00:00:00Z`) })
    expect(linked.links).toEqual([{ code: 'de', title: titles.linked }, { code: 'fr', title: `${titles.linked}#Nom` }])
    expect((byTitle.get(titles.redirect)!.value as PageObserved).redirect).toBe(true)
    // Links written after the langlinks table was dumped: recorded as an edit at page_latest, links unknown.
    expect(byTitle.get(titles.newer)!.type).toBe('PageEdited')
    expect((byTitle.get(titles.newer)!.value as PageEdited).revision).toBe(70)
    // A short page could be blank: left open; quotes, backslashes, CJK and an RLM read back as written.
    expect(byTitle.get(titles.odd)!.value).toMatchObject({ blank: null, links: [{ code: 'fr', title: titles.odd }] })
    // Recent changes since the run's date come after the run's pages: the deletion after the run wins.
    const deletedAt = events.findIndex((e) => e.event.type === 'PageDeleted' && (e.event.value as { title: string }).title === deletedOnWiki)
    expect(deletedAt).toBeGreaterThan(events.indexOf(enPages.find((e) => (e.event.value as PageObserved).title === deletedOnWiki)!))
    const markers = events.filter((e) => e.event.type === 'SnapshotCompleted').map((e) => e.event.value as SnapshotCompleted)
    expect(markers.length).toBe(12)
    expect(markers.every((m) => m.wiki === 'en' && m.source === 'dump' && m.pages === 6 && m.startedAt === linked.observedAt && m.titleCase !== null)).toBe(true)
    // In the deleted title's partition, the marker (and so its sweep) comes after the deletion.
    const partition = events[deletedAt]!.partition
    expect(events.findIndex((e) => e.event.type === 'SnapshotCompleted' && e.partition === partition)).toBeGreaterThan(deletedAt)
    // The altered fr file: nothing of fr appended.
    expect(pagesOf(events, 'fr')).toEqual([])
    expect(events.some((e) => e.event.type === 'SnapshotStarted' && (e.event.value as { wiki: string }).wiki === 'fr')).toBe(false)

    // Imported once: asked again, nothing is fetched.
    const again = await runMbwa(['import', '--wikimedia', '--wiki', 'en', '--no-progress'], { cwd: dir })
    expect(again.stdout).toContain(`en: nothing imported: run ${complete} is imported already`)
    expect(again.status).toBe(0)

    // After a rebuild, the projection has the deleted page gone and the others there.
    expect((await runMbwa(['rebuild', '--no-progress'], { cwd: dir })).status).toBe(0)
    const digest = await runMbwa(['digest', '--wiki', 'en'], { cwd: dir })
    const file = join(dir, 'en.mbwa.gz')
    expect((await runMbwa(['dump', 'write', '--wiki', 'en', '--out', file], { cwd: dir })).status).toBe(0)
    for (const t of [titles.linked, titles.redirect, titles.newer, titles.odd, titles.plain]) expect((await runMbwa(['dump', 'lookup', file, t], { cwd: dir })).status, t).toBe(0)
    expect((await runMbwa(['dump', 'lookup', file, deletedOnWiki], { cwd: dir })).status).toBe(1)

    // The same run from a local mirror folder, its tables parsed in a worker thread: the same projection.
    const mirror = deployment('mirror', 'worker')
    const local = await runMbwa(['import', '--wikimedia', root, '--wiki', 'en', '--no-progress'], { cwd: mirror })
    expect(local.status).toBe(0)
    expect(local.stdout).toMatch(/en: imported 6 pages/)
    expect((await runMbwa(['rebuild', '--no-progress'], { cwd: mirror })).status).toBe(0)
    expect((await runMbwa(['digest', '--wiki', 'en'], { cwd: mirror })).stdout.split(' ')[0]).toBe(digest.stdout.split(' ')[0])
  })

  it('mbwa run bootstraps a dump-fed wiki from its run and a wiki with no run over the API', { timeout: 180_000 }, async () => {
    const dir = deployment('run')
    const config = join(dir, 'mbwa.yaml')
    writeFileSync(config, readFileSync(config, 'utf8').replace(`dbname: ${fr.dbname}`, 'dbname: norunwiki').replace('userAgent:', 'http: {port: 0}\nuserAgent:') + '  recentChanges: {minIntervalSeconds: 0.5, initialIntervalSeconds: 0.5, maxIntervalSeconds: 1}\n')
    const run = startMbwa(['--config', config, 'run'], { cwd: dir })
    try {
      const url = await run.url()
      await waitFor(() => /wikimedia dump imported/.test(run.stderr()) && /snapshot completed/.test(run.stderr()), 120_000, 'the en run imported and fr read over the API')
      expect(run.stderr()).toMatch(/no usable run; reading the wiki over the API/)
      type Verdict = { complete: boolean; pages: { wiki: string; links?: { code: string; title: string }[] }[] }
      let last: Verdict | undefined
      await waitFor(async () => {
        const res = await request(`${url}/v1/titles/${encodeURIComponent(titles.plain)}`)
        last = (await res.body.json()) as Verdict
        return res.statusCode === 200 && last.pages?.some((p) => p.wiki === 'en') === true
      }, 60_000, 'a page of the run in the projection').catch((err: unknown) => {
        throw new Error(`${(err as Error).message}: ${JSON.stringify(last)}`)
      })
      const gone = await request(`${url}/v1/titles/${encodeURIComponent(deletedOnWiki)}`)
      const body = (await gone.body.json()) as Verdict
      expect(body.pages?.some((p) => p.wiki === 'en') ?? false).toBe(false)
    } finally {
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
    }
  })

  it('a table that does not read stops the import by name, from a worker thread as from the main one', { timeout: 120_000 }, async () => {
    const cut = join(work, 'cut-site')
    await writeRun(cut, en.dbname, complete, { page: [pageRow({ id: 1, title: 'cut', latest: 1, len: 500 }), pageRow({ id: 2, title: 'off', latest: 2, len: 500 })], langlinks: [], pageOptions: { truncated: true } })
    for (const parseIn of ['worker', 'main'] as const) {
      const dir = deployment(`cut-${parseIn}`)
      writeFileSync(join(dir, 'mbwa.yaml'), readFileSync(join(dir, 'mbwa.yaml'), 'utf8').replace('parseIn: auto', `parseIn: ${parseIn}`))
      const res = await runMbwa(['import', '--wikimedia', cut, '--wiki', 'en', '--no-progress'], { cwd: dir })
      expect(res.status, res.stderr).toBe(1)
      expect(res.stderr).toMatch(/MBWA_WIKIMEDIA_DUMP_INVALID .*page\.sql\.gz: .*truncated/)
      // No marker: the snapshot is not complete, and the wiki is tried again later.
      expect((await eventsOf(dir)).some((e) => e.event.type === 'SnapshotCompleted')).toBe(false)
    }
  })

  it('says which wiki is unknown, and that no complete run exists', { timeout: 60_000 }, async () => {
    const dir = deployment('unknown')
    const res = await runMbwa(['import', '--wikimedia', '--wiki', 'xx'], { cwd: dir })
    expect(res.status).toBe(1)
    expect(res.stderr).toContain('MBWA_WIKI_NOT_CONFIGURED')
    writeFileSync(join(dir, 'mbwa.yaml'), readFileSync(join(dir, 'mbwa.yaml'), 'utf8').replace(`dbname: ${fr.dbname}`, 'dbname: nowiki'))
    const none = await runMbwa(['import', '--wikimedia', '--wiki', 'fr'], { cwd: dir })
    expect(none.stdout).toContain('fr: nothing imported: no complete run of nowiki')
    expect(none.status).toBe(1)
  })
})
