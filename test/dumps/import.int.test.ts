import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { runMbwa } from '../setup/mbwa-process.js'
import { created, observed, snapshotDone } from '../projections/fixtures.js'

// A dump written from one deployment and imported into an empty one gives that wiki the same content digest.
const mbwa = (cwd: string, ...args: string[]) => runMbwa(args, { cwd, env: { MBWA_HTTP__PORT: '0' } })

describe('dump and import (embedded log, mbwa processes)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-import-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('dumps a wiki, verifies and looks it up, and imports it into an empty deployment with the same digest', async () => {
    const source = join(work, 'source')
    const log = await EmbeddedLog.open({ path: join(source, 'data/log') })
    await log.ensureTopics(topicSpecs(topicNames(), { events: 12, edits: 4, dumps: 1, deadLetter: 1 }))
    const events = new EventStore(log, SchemaRegistry.load())
    await events.append('mbwa.events', [
      ...Array.from({ length: 3000 }, (_, i) => observed(i % 2 ? 'en' : 'fr', `word ${i % 1700}`, i % 3 ? ['de'] : [], { revision: i, blank: i % 7 ? false : null })),
      created('en', 'fresh', 4),
      ...snapshotDone('en', 'snap', 12, 1_700_000_000_000 - 10),
    ])
    await log.close()
    expect((await mbwa(source, 'rebuild', '--no-progress')).status).toBe(0)
    const sourceDigest = (await mbwa(source, 'digest', '--wiki', 'en')).stdout.split(' ')[0]
    expect(sourceDigest).toMatch(/^[0-9a-f]{64}$/)

    const file = join(work, 'en.mbwa.gz')
    const dumped = await mbwa(source, 'dump', 'write', '--wiki', 'en', '--out', file)
    expect(dumped.stderr.split('\n').filter((l) => l.startsWith('mbwa:'))).toEqual([])
    expect(dumped.status).toBe(0)
    expect((await mbwa(source, 'dump', 'verify', file)).stdout).toMatch(/^ok: en, \d+ titles/)
    const found = JSON.parse((await mbwa(source, 'dump', 'lookup', file, 'word 1')).stdout) as { title: string; revision: number }
    expect(found.title).toBe('word 1')
    expect((await mbwa(source, 'dump', 'lookup', file, 'no such word')).status).toBe(1)

    // A dump of a wiki the configuration does not follow is refused, naming the wiki.
    const elsewhere = join(work, 'elsewhere')
    mkdirSync(elsewhere)
    writeFileSync(join(elsewhere, 'mbwa.yaml'), 'wikis: {fr: {api: "http://127.0.0.1:9/api.php"}}\n')
    const refused = await mbwa(elsewhere, 'import', file)
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain('MBWA_WIKI_NOT_CONFIGURED')

    const target = join(work, 'target')
    mkdirSync(target)
    const imported = await mbwa(target, 'import', file)
    expect(imported.status).toBe(0)
    expect(imported.stdout).toMatch(/imported \d+ titles of en/)
    expect((await mbwa(target, 'rebuild', '--no-progress')).status).toBe(0)
    expect((await mbwa(target, 'digest', '--wiki', 'en')).stdout.split(' ')[0]).toBe(sourceDigest)
    expect((await mbwa(target, 'digest', '--wiki', 'fr')).stdout).toMatch(/ 0 pages/)
  })
})
