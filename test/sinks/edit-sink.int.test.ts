import { readFileSync, rmSync, writeFileSync } from 'node:fs'
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
    rmSync(join(farmWiki('fr').dir, 'no-bot-right'), { force: true })
    await admin.close()
    await Promise.allSettled(clients.map((c) => c.close()))
    await h.close()
  })

  async function sink(apply: boolean, name: string, botName?: string) {
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
      botName: botName ?? farm.bot.user,
      cooldownMs: 0,
      pauseCheck: { baseDelayMs: 200, maxDelayMs: 1000 },
      diffsDir: join(h.dir, `diffs-${name}`),
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
    expect(queue.backlog().get('en')).toBe(1)
    // A diff a person can review: the page's URL in its header, no "no newline" markers, kept in the wiki's file.
    expect(out()).toContain(`revision `)
    expect(out()).toMatch(/index\.php\?title=dry_/)
    expect(out()).not.toContain('No newline at end of file')
    expect(readFileSync(join(h.dir, 'diffs-dry', 'en.diff'), 'utf8')).toBe(out())
    await queue.close()
    // Shown once: a restart on the same store does not show it again.
    const again = await sink(false, 'dry')
    await again.s.start()
    await new Promise((r) => setTimeout(r, 3000))
    await again.s.stop()
    expect(again.out()).toBe('')
    expect(again.queue.backlog().get('en')).toBe(1)
    await again.queue.close()
  })

  it('checks {{bots|deny=…}} against the account the wiki names (userinfo), not only the configured name', async () => {
    const title = uniqueTitle('deny')
    await admin.edit(title, `{{bots|deny=${readFarm().bot.user}}}\nA page whose bot is refused by name.`)
    const fr = await FarmEditor.open('fr')
    await fr.edit(title, 'une page')
    await fr.close()
    // As with an OAuth token: the configuration names no account, the sink knows itself only as "mbwa".
    const { s, queue } = await sink(true, 'deny', 'mbwa')
    const cmd = command('en', title, ['fr'])
    await h.events.append(h.topics.edits, [{ type: 'EditRequested', key: 'en', value: cmd }])
    await s.start()
    await waitFor(async () => (await readEvents(h.log, h.topics.events)).some((e) => e.event.type === 'EditSkipped' && e.event.value.commandId === cmd.commandId), 30_000, 'the command to end')
    await s.stop()
    const outcome = (await readEvents(h.log, h.topics.events)).find((e) => e.event.type === 'EditSkipped' && e.event.value.commandId === cmd.commandId)
    expect((outcome!.event.value as EditSkipped).reason).toBe('nobots')
    expect(await links('en', title)).toEqual([])
    await queue.close()
  })

  async function links(lang: string, title: string): Promise<string[]> {
    const c = clients[lang === 'en' ? 0 : 2]!
    const res = await c.get({ action: 'query', titles: title, prop: 'langlinks', lllimit: 'max' })
    return ((res.query as { pages: { langlinks?: { lang: string }[] }[] }).pages[0]!.langlinks ?? []).map((l) => l.lang)
  }

  it('keeps failures local: a protected page is skipped, a read-only wiki or a lost bot right pauses it until it can be written again; unknown wikis are never written', { timeout: 240_000 }, async () => {
    const fr = await FarmEditor.open('fr')
    const t = { protectedPage: uniqueTitle('prot'), plain: uniqueTitle('plain'), ro: uniqueTitle('ro'), right: uniqueTitle('right') }
    for (const title of Object.values(t)) {
      await admin.edit(title, `page ${title}`)
      await fr.edit(title, `page fr ${title}`)
    }
    await admin.client.post({ action: 'protect', title: t.protectedPage, protections: 'edit=sysop', token: await admin.client.csrfToken(), reason: 'test' })
    await fr.close()
    writeFileSync(join(farmWiki('fr').dir, 'readonly'), 'maintenance by the test')
    const { s, queue } = await sink(true, 'local')
    await h.events.append(h.topics.edits, [
      { type: 'EditRequested', key: 'en', value: command('en', t.protectedPage, ['fr']) },
      { type: 'EditRequested', key: 'en', value: command('en', t.plain, ['fr']) },
      { type: 'EditRequested', key: 'fr', value: command('fr', t.ro, ['en']) },
      { type: 'EditRequested', key: 'xx', value: command('xx', t.plain, ['en']) },
    ])
    await s.start()
    try {
      // The protected page ends its command; the wiki goes on with the next one.
      await waitFor(async () => (s.stats.skipped.protectedpage ?? 0) === 1 && s.stats.applied >= 1 && queue.pausedWikis().has('fr') && (s.stats.skipped['not-configured'] ?? 0) === 1, 60_000, 'protected skipped, plain edited, fr paused, xx refused')
      expect(queue.pausedWikis().has('en')).toBe(false)
      // MediaWiki updates a page's langlinks after it has answered the edit (a deferred update): wait for them.
      await waitFor(async () => (await links('en', t.plain)).includes('fr'), 30_000, 'the plain page links fr')
      expect(await links('en', t.plain)).toEqual(['fr'])
      expect(queue.pausedWikis().get('fr')!.reason).toContain('readonly')
      expect(queue.backlog().get('fr')).toBe(1) // kept
      // The wiki is writable again: the sink finds out by itself and edits.
      rmSync(join(farmWiki('fr').dir, 'readonly'), { force: true })
      await waitFor(async () => !queue.pausedWikis().has('fr') && (await links('fr', t.ro)).includes('en'), 60_000, 'fr resumed and edited')

      // The account loses its bot right: edits asserting bot fail, the wiki pauses; the right back, it resumes.
      writeFileSync(join(farmWiki('fr').dir, 'no-bot-right'), '')
      await h.events.append(h.topics.edits, [{ type: 'EditRequested', key: 'fr', value: command('fr', t.right, ['en']) }])
      await waitFor(() => /assertbotfailed|bot right/.test(queue.pausedWikis().get('fr')?.reason ?? ''), 60_000, 'fr paused for the lost right')
      expect(await links('fr', t.right)).toEqual([])
      rmSync(join(farmWiki('fr').dir, 'no-bot-right'), { force: true })
      await waitFor(async () => !queue.pausedWikis().has('fr') && (await links('fr', t.right)).includes('en'), 60_000, 'fr resumed after the right came back')
    } finally {
      rmSync(join(farmWiki('fr').dir, 'readonly'), { force: true })
      rmSync(join(farmWiki('fr').dir, 'no-bot-right'), { force: true })
      await s.stop()
    }
    expect(await links('en', t.protectedPage)).toEqual([])
    const outcomes = (await readEvents(h.log, h.topics.events)).map((e) => e.event).filter((e) => e.type === 'EditFailed' || e.type === 'EditSkipped')
    expect(outcomes.some((e) => e.type === 'EditFailed' && (e.value as EditFailed).code === 'readonly' && (e.value as EditFailed).retriable)).toBe(true)
    expect(outcomes.some((e) => e.type === 'EditSkipped' && (e.value as EditSkipped).title === t.protectedPage && (e.value as EditSkipped).reason === 'protectedpage')).toBe(true)
    expect(outcomes.some((e) => e.type === 'EditSkipped' && (e.value as EditSkipped).wiki === 'xx' && (e.value as EditSkipped).reason === 'not-configured')).toBe(true)
    await queue.close()
  })
})
