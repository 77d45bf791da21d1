import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { mergeWikis, sitematrixWikis, wikisFromConfig } from '../../src/streams/discovery.js'
import { FIXTURES_DIR } from '../setup/fixtures-dir.js'

// A loopback action=sitematrix built from the published Wiktionary and closed dblists.
const WIKIS = join(FIXTURES_DIR, 'eventstreams/wikis')
const dblist = (f: string) => readFileSync(join(WIKIS, f), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))

let server: Server
let api: string
beforeAll(async () => {
  const wikt = dblist('wiktionary.dblist')
  const closed = new Set(dblist('closed.dblist'))
  const matrix: Record<string, unknown> = { count: wikt.length }
  wikt.forEach((db, i) => {
    const code = db.replace(/wiktionary$/, '').replace(/_/g, '-')
    matrix[String(i)] = {
      code,
      name: code,
      site: [
        { url: `https://${code}.wiktionary.org`, dbname: db, code: 'wiktionary', ...(closed.has(db) ? { closed: true } : {}) },
        { url: `https://${code}.wikipedia.org`, dbname: `${db.replace(/wiktionary$/, '')}wiki`, code: 'wiki' },
      ],
    }
  })
  matrix.specials = [{ url: 'https://meta.wikimedia.org', dbname: 'metawiki', code: 'meta' }]
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ sitematrix: matrix }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/w/api.php`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

describe('wiki discovery (unit)', () => {
  it('lists every Wiktionary of a sitematrix, closed ones marked, other families left out', async () => {
    const client = new MediaWikiClient({ api })
    const wikis = await sitematrixWikis(client, 'wiktionary')
    await client.close()
    expect(wikis.length).toBe(dblist('wiktionary.dblist').length)
    const closed = wikis.filter((w) => w.closed).map((w) => w.dbname).sort()
    expect(closed).toEqual(dblist('closed.dblist').filter((d) => d.endsWith('wiktionary')).sort())
    expect(wikis.find((w) => w.code === 'en')).toEqual({ code: 'en', api: 'https://en.wiktionary.org/w/api.php', dbname: 'enwiktionary', closed: false, from: 'sitematrix' })
    expect(wikis.find((w) => w.dbname === 'zh_min_nanwiktionary')?.code).toBe('zh-min-nan')
  })

  it('lets configured wikis override the sitematrix', async () => {
    const { config } = loadConfig({ env: {}, searchPaths: [], flags: { wikis: { en: { api: 'http://127.0.0.1:18081/api.php', dbname: 'enwiki' } } } })
    const merged = mergeWikis([{ code: 'en', api: 'https://en.wiktionary.org/w/api.php', dbname: 'enwiktionary', closed: false, from: 'sitematrix' }, { code: 'fr', api: 'https://fr.wiktionary.org/w/api.php', dbname: 'frwiktionary', closed: false, from: 'sitematrix' }], wikisFromConfig(config))
    expect(merged.map((w) => [w.code, w.dbname, w.from])).toEqual([
      ['en', 'enwiki', 'config'],
      ['fr', 'frwiktionary', 'sitematrix'],
    ])
  })
})
