import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import type { EditRequested, EditSkipped, EditFailed } from '../../src/events/types.js'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { EditQueue } from '../../src/sinks/edit-queue.js'
import { EditSink } from '../../src/sinks/edit-sink.js'
import { Throttle } from '../../src/sinks/throttle.js'
import { WikiEditor } from '../../src/sinks/wiki-editor.js'
import { harness, readEvents, type Harness } from '../setup/events.js'
import { farmWiki, FarmEditor, readFarm, uniqueTitle } from '../setup/farm.js'
import { waitFor } from '../log/helpers.js'

// The sink on its own against the real farm: a dry run prints a diff and edits nothing; a read-only wiki stops
// the sink writing there and keeps the command; a command for a wiki not in the configuration is never run.
describe('edit sink (int, real MediaWiki)', () => {
  let h: Harness
  const clients: MediaWikiClient[] = []
  let admin: FarmEditor
  beforeAll(async () => {
    h = await harness(4)
    admin = await FarmEditor.open('en')
  })
  afterAll(async () => {
    rmSync(join(farmWiki('fr').dir, 'readonly'), { force: true })
    await admin.close()
    await Promise.allSettled(clients.map((c) => c.close()))
    await h.close()
  })

  async function sink(apply: boolean, name: string) {
    const farm = readFarm()
    const wikis = Object.fromEntries(['en', 'fr'].map((l) => [l, { api: farmWiki(l).api, edit: true, linkMode: 'manual' }]))
    const config = loadConfig({ env: {}, searchPaths: [], flags: { wikis } }).config
    const readers = new Map<string, MediaWikiClient>()
    const editors = new Map<string, WikiEditor>()
    for (const l of ['en', 'fr']) {
      const r = new MediaWikiClient({ api: farmWiki(l).api, contact: 'mbwa tests' })
      const w = new MediaWikiClient({ api: farmWiki(l).api, contact: 'mbwa tests' })
      clients.push(r, w)
      readers.set(l, r)
      editors.set(l, new WikiEditor(l, w, { username: farm.bot.botPasswordUser, password: farm.bot.botPassword }, 'bot'))
    }
    let out = ''
    const queue = await EditQueue.open(join(h.dir, `sink-${name}`))
    const s = new EditSink({
      events: h.events,
      topics: h.topics,
      groupId: `g-${name}`,
      queue,
      throttle: new Throttle({ intervalMs: () => 0, perMinute: 0, smallBacklog: 0, slowdown: 1 }),
      rules: wikiRules(config),
      clients: readers,
      editors,
      codes: new Set(['en', 'fr', 'de', 'nl']),
      order: () => ({ kind: 'code' }),
      apply,
      botName: farm.bot.user,
      cooldownMs: 0,
      out: new Writable({
        write(chunk: Buffer, _e, cb) {
          out += chunk.toString()
          cb()
        },
      }),
    })
    return { s, queue, out: () => out }
  }

  function command(wiki: string, title: string, add: string[], id = uniqueTitle('cmd')): EditRequested {
    return { id, commandId: id, source: 'projection', observedAt: Date.now(), wiki, title, add, remove: [], read: ['en', 'fr'], priority: 1, reason: 'missing' }
  }

  it('dry run: prints a unified diff, edits nothing, keeps the command', async () => {
    const title = uniqueTitle('dry')
    await admin.edit(title, 'dry run page')
    const fr = await FarmEditor.open('fr')
    await fr.edit(title, 'page à sec')
    await fr.close()
    const { s, queue, out } = await sink(false, 'dry')
    await h.events.append(h.topics.edits, [{ type: 'EditRequested', key: 'en', value: command('en', title, ['fr']) }])
    await s.start()
    await waitFor(() => out().includes('+[[fr:'), 20_000, 'a diff')
    await s.stop()
    expect(out()).toContain(`--- en:${title}`)
    expect(out()).toContain(`+[[fr:${title}]]`)
    const res = await clients[0]!.get({ action: 'query', titles: title, prop: 'revisions', rvprop: 'ids', rvlimit: 'max' })
    expect((res.query as { pages: { revisions: unknown[] }[] }).pages[0]!.revisions.length).toBe(1)
    expect((await queue.backlog()).get('en')).toBe(1)
    await queue.close()
  })

  it('stops writing to a read-only wiki and keeps its commands; never runs a command for a wiki it does not know', async () => {
    const title = uniqueTitle('ro')
    await admin.edit(title, 'read-only test')
    const fr = await FarmEditor.open('fr')
    await fr.edit(title, 'lecture seule')
    await fr.close()
    writeFileSync(join(farmWiki('fr').dir, 'readonly'), 'maintenance by the test')
    const { s, queue } = await sink(true, 'ro')
    await h.events.append(h.topics.edits, [
      { type: 'EditRequested', key: 'fr', value: command('fr', title, ['en']) },
      { type: 'EditRequested', key: 'xx', value: command('xx', title, ['en']) },
    ])
    await s.start()
    await waitFor(async () => (await queue.stoppedWikis()).has('fr') && (s.stats.skipped['not-configured'] ?? 0) === 1, 20_000, 'fr stopped, xx refused')
    await s.stop()
    rmSync(join(farmWiki('fr').dir, 'readonly'), { force: true })
    expect((await queue.stoppedWikis()).get('fr')).toContain('readonly')
    expect((await queue.backlog()).get('fr')).toBe(1) // kept
    const outcomes = (await readEvents(h.log, h.topics.events)).map((e) => e.event).filter((e) => e.type === 'EditFailed' || e.type === 'EditSkipped')
    expect(outcomes.some((e) => e.type === 'EditFailed' && (e.value as EditFailed).code === 'readonly' && (e.value as EditFailed).retriable)).toBe(true)
    expect(outcomes.some((e) => e.type === 'EditSkipped' && (e.value as EditSkipped).wiki === 'xx' && (e.value as EditSkipped).reason === 'not-configured')).toBe(true)
    await queue.close()
  })
})
