import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isMbwaError, type MbwaError } from '../../src/errors/errors.js'
import { loadConfig } from '../../src/config/load.js'
import { readSecret } from '../../src/config/secrets.js'

const dir = mkdtempSync(join(tmpdir(), 'mbwa-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function write(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

function failure(fn: () => unknown): MbwaError {
  try {
    fn()
  } catch (err) {
    if (isMbwaError(err)) return err
    throw err
  }
  throw new Error('expected an MbwaError')
}

const none = { env: {}, searchPaths: [] as string[] }

describe('configuration (unit)', () => {
  it('is complete with no file at all: embedded log, defaults everywhere', () => {
    const { config, file } = loadConfig(none)
    expect(file).toBeUndefined()
    expect(config.log.brokers).toEqual([])
    expect(config.log.partitions).toEqual({ events: 12, edits: 4, dumps: 1, deadLetter: 1 })
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8642 })
    expect(config.wikis).toEqual({})
  })

  it('takes the first file found in the search order and does not merge the others', () => {
    const first = write('first.yaml', 'dataDir: /var/lib/first\n')
    const second = write('second.yaml', 'dataDir: /var/lib/second\nhttp: {port: 9}\n')
    const { config, file } = loadConfig({ env: {}, searchPaths: [join(dir, 'missing.yaml'), first, second] })
    expect(file).toBe(first)
    expect(config.dataDir).toBe('/var/lib/first')
    expect(config.http.port).toBe(8642)
  })

  it('layers environment over the file and flags over the environment', () => {
    const file = write('layers.yaml', 'dataDir: /from/file\nhttp: {port: 1000}\nlog: {brokers: [a:1]}\n')
    const env = { MBWA_HTTP__PORT: '2000', MBWA_LOG__BROKERS: 'k1:9092,k2:9092', MBWA_DATA_DIR: '/from/env', MBWA_SOME_SECRET: 'x' }
    const { config } = loadConfig({ file, env, flags: { dataDir: '/from/flag' } })
    expect(config.http.port).toBe(2000)
    expect(config.log.brokers).toEqual(['k1:9092', 'k2:9092'])
    expect(config.dataDir).toBe('/from/flag')
  })

  it('reads wikis with per-wiki settings and secret references', () => {
    const file = write(
      'wikis.yaml',
      `wikiDefaults: {linkMode: cognate, nolink: [xx]}
wikis:
  en:
    api: https://en.wiktionary.org/w/api.php
    linkMode: manual
    credentials: {username: Bot@mbwa, password: {env: MBWA_EN_PASSWORD}}
  fr: {api: "http://127.0.0.1:8081/api.php", closed: true}
`,
    )
    const { config } = loadConfig({ file, env: { MBWA_WIKIS__FR__EDIT: 'true' } })
    expect(config.wikiDefaults.linkMode).toBe('cognate')
    expect(config.wikis.en!.linkMode).toBe('manual')
    expect(config.wikis.en!.credentials!.password).toEqual({ env: 'MBWA_EN_PASSWORD' })
    expect(config.wikis.fr!.edit).toBe(true)
  })

  it.each([
    ['an unknown top-level key', 'colour: blue\n', 'config key colour'],
    ['a misspelled nested key', 'log: {broker: [a:1]}\n', 'config key log.broker'],
    ['a bad value', 'http: {port: 70000}\n', 'config key http.port'],
    ['a bad enum', 'logging: {level: loud}\n', 'config key logging.level'],
    ['a bad broker address', 'log: {brokers: [nohostport]}\n', 'config key log.brokers.0'],
    ['a bad wiki code', 'wikis: {EN: {api: "https://x.org/w/api.php"}}\n', 'config key wikis.EN'],
    ['a family API without {code}', 'family: {api: "https://x.org/w/api.php"}\n', 'config key family.api'],
    ['a wiki configured twice (code and database form)', 'wikis: {roa-rup: {}, roa_rup: {}}\n', 'config key wikis.roa_rup'],
    ['a secret written in the file', 'wikis: {en: {api: "https://x.org/api.php", credentials: {password: hunter2hunter2}}}\n', 'config key wikis.en.credentials.password'],
  ])('stops on %s with a message naming the key', (_, text, expected) => {
    const file = write('bad.yaml', text)
    const err = failure(() => loadConfig({ file, env: {} }))
    expect(err.code).toBe('MBWA_CONFIG_INVALID')
    expect(err.message).toContain(expected)
    expect(err.message).toContain(file)
    expect(err.message).not.toContain('hunter2')
  })

  it('takes a wiki by its code alone: the family gives its API and database name; codes in database form become codes', () => {
    const file = write('family.yaml', 'wikis:\n  en: {}\n  roa_rup: {linkMode: manual}\n  zh_min_nanwiktionary: {}\n  fr: {api: "http://127.0.0.1:1/w/api.php", dbname: frtest}\nwikiDefaults: {nolink: [roa_rup]}\n')
    const { config } = loadConfig({ file, env: {} })
    expect(Object.keys(config.wikis).sort()).toEqual(['en', 'fr', 'roa-rup', 'zh-min-nan'])
    expect(config.wikis.en).toMatchObject({ api: 'https://en.wiktionary.org/w/api.php', dbname: 'enwiktionary' })
    expect(config.wikis['roa-rup']).toMatchObject({ api: 'https://roa-rup.wiktionary.org/w/api.php', dbname: 'roa_rupwiktionary', linkMode: 'manual' })
    expect(config.wikis['zh-min-nan']).toMatchObject({ dbname: 'zh_min_nanwiktionary' })
    expect(config.wikis.fr).toMatchObject({ api: 'http://127.0.0.1:1/w/api.php', dbname: 'frtest' })
    expect(config.wikiDefaults.nolink).toEqual(['roa-rup'])
    const farm = write('farm.yaml', 'family: {name: wiki, api: "http://{code}.farm.test:8080/api.php"}\nwikis: {sw: {}, enwiki: {}}\n')
    expect(loadConfig({ file: farm, env: {} }).config.wikis).toMatchObject({ sw: { api: 'http://sw.farm.test:8080/api.php', dbname: 'swwiki' }, en: { dbname: 'enwiki' } })
  })

  it('takes the EventStreams service base URL or its stream route, and refuses any other path naming the key', () => {
    const url = (u: string) => loadConfig({ ...none, flags: { sources: { eventStreams: { url: u } } } }).config.sources.eventStreams.url
    expect(url('https://stream.wikimedia.org')).toBe('https://stream.wikimedia.org/v2/stream')
    expect(url('https://stream.wikimedia.org/')).toBe('https://stream.wikimedia.org/v2/stream')
    expect(url('http://127.0.0.1:8092/v2/stream/')).toBe('http://127.0.0.1:8092/v2/stream')
    expect(url('http://127.0.0.1:8092/proxy/v2/stream')).toBe('http://127.0.0.1:8092/proxy/v2/stream')
    const err = failure(() => loadConfig({ ...none, flags: { sources: { eventStreams: { url: 'https://stream.wikimedia.org/v2/stream/mediawiki.recentchange' } } } }))
    expect(err.message).toContain('config key sources.eventStreams.url')
    expect(err.message).toContain('not an EventStreams route')
  })

  it('names the environment variable when the bad value came from there', () => {
    const err = failure(() => loadConfig({ ...none, env: { MBWA_HTTP__PORT: 'eighty' } }))
    expect(err.message).toContain('config key http.port (from environment variable MBWA_HTTP__PORT)')
    const misspelled = failure(() => loadConfig({ ...none, env: { MBWA_LOG__BROKER: 'a:1' } }))
    expect(misspelled.message).toContain('config key log.broker (from environment variable MBWA_LOG__BROKER)')
  })

  it('reports unreadable files and YAML syntax errors', () => {
    expect(failure(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {} })).code).toBe('MBWA_CONFIG_UNREADABLE')
    const broken = write('broken.yaml', 'http: {port: 1\n')
    expect(failure(() => loadConfig({ file: broken, env: {} })).code).toBe('MBWA_CONFIG_UNREADABLE')
    const list = write('list.yaml', '- a\n- b\n')
    expect(failure(() => loadConfig({ file: list, env: {} })).message).toContain('top level must be a mapping')
  })
})

describe('secrets (unit)', () => {
  it('come from the environment or a file, and errors never show them', () => {
    expect(readSecret({ env: 'PW' }, 'k', { PW: 's3cret' })).toBe('s3cret')
    const file = write('secret.txt', 'from-file-secret\n')
    expect(readSecret({ file }, 'k')).toBe('from-file-secret')
    const missing = failure(() => readSecret({ env: 'NOPE' }, 'wikis.en.credentials.password', {}))
    expect(missing.code).toBe('MBWA_SECRET_UNAVAILABLE')
    expect(missing.message).toBe('config key wikis.en.credentials.password: environment variable NOPE is not set')
    const unreadable = failure(() => readSecret({ file: join(dir, 'none') }, 'k'))
    expect(unreadable.message).toContain('ENOENT')
  })
})

describe('configuration files a person writes', () => {
  it('names the line of a bad key and the key it most likely meant', () => {
    const file = write('typos.yaml', 'dataDir: x\nwikis:\n  en:\n    linkmode: cognate\n    edit: true\nsink:\n  aply: true\n')
    const err = failure(() => loadConfig({ file, env: {} }))
    expect(err.message).toContain(`config key wikis.en.linkmode (from ${file}, line 4)`)
    expect(err.message).toContain('(did you mean wikis.en.linkMode?)')
    expect(err.message).toContain(`config key sink.aply (from ${file}, line 7)`)
    expect(err.message).toContain('(did you mean sink.apply?)')
    // Nothing close: no guess.
    expect(failure(() => loadConfig({ file: write('far.yaml', 'zzzzzzzz: 1\n'), env: {} })).message).not.toContain('did you mean')
  })

  it("searches ./mbwa.yaml, then the user's ($XDG_CONFIG_HOME) before the system's, each also as .yml", async () => {
    const { defaultSearchPaths } = await import('../../src/config/load.js')
    expect(defaultSearchPaths('/w', '/home/u', { XDG_CONFIG_HOME: '/x' })).toEqual(['/w/mbwa.yaml', '/w/mbwa.yml', '/x/mbwa/mbwa.yaml', '/x/mbwa/mbwa.yml', '/etc/mbwa/mbwa.yaml', '/etc/mbwa/mbwa.yml'])
    expect(defaultSearchPaths('/w', '/home/u', {})[2]).toBe('/home/u/.config/mbwa/mbwa.yaml')
    const cwd = mkdtempSync(join(dir, 'cwd-'))
    writeFileSync(join(cwd, 'mbwa.yml'), 'dataDir: from-yml\n')
    expect(loadConfig({ cwd, home: join(cwd, 'nohome'), env: {} }).config.dataDir).toBe('from-yml')
  })
})
