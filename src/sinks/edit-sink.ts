import { setTimeout as sleep } from 'node:timers/promises'
import { createTwoFilesPatch } from 'diff'
import type { EventStore, EventToAppend } from '../events/event-log.js'
import { titleKey } from '../events/titles.js'
import type { EditRequested } from '../events/types.js'
import { silentLogger, type Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import type { Subscription } from '../log/types.js'
import { MediaWikiApiError, type MediaWikiClient } from '../mediawiki/client.js'
import { evaluateTitle } from '../domain/link-rules.js'
import type { RulesByWiki } from '../domain/wiki-rules.js'
import { botsDenied } from '../wikitext/bots.js'
import { rewriteLanguageLinks, type LinkOrder } from '../wikitext/interwiki.js'
import type { EditQueue } from './edit-queue.js'
import type { Throttle } from './throttle.js'
import { asPageState, observation, verifyTitle } from './verify.js'
import type { WikiEditor } from './wiki-editor.js'

// The edit sink: edit commands from the edits topic wait in the sink's queue; one at a time, at the pace the
// throttle allows, a command's title is verified on the live wikis, and its page is rewritten if it still needs
// it. Every outcome is an event (applied, skipped, failed), appended before the command leaves the queue: a crash
// in between leaves the command queued, and the next verify finds the page already right.

export interface EditSinkOptions {
  events: EventStore
  topics: TopicNames
  groupId: string
  queue: EditQueue
  throttle: Throttle
  rules: RulesByWiki
  /** Readers for every configured wiki (verify reads them all as needed). */
  clients: ReadonlyMap<string, MediaWikiClient>
  /** Writers for the wikis mbwa may edit. Only these are ever written, whatever a command says. */
  editors: ReadonlyMap<string, WikiEditor>
  codes: ReadonlySet<string>
  order: (wiki: string) => LinkOrder
  /** Edit for real; otherwise print a unified diff per page and leave the command queued. */
  apply: boolean
  /** Name the page's {{bots}} templates are checked against. */
  botName: string
  cooldownMs: number
  out?: NodeJS.WritableStream
  logger?: Logger
  now?: () => number
}

export interface SinkStats {
  applied: number
  skipped: Record<string, number>
  failed: number
  shown: number
}

export class EditSink {
  readonly stats: SinkStats = { applied: 0, skipped: {}, failed: 0, shown: 0 }
  private subscription: Subscription | undefined
  private readonly stopping = new AbortController()
  private worker: Promise<void> | undefined
  /** Dry run: commands already shown, and wikis whose commands have all been shown. */
  private readonly shown = new Set<string>()
  private readonly shownWikis = new Set<string>()
  private readonly logger: Logger
  private readonly now: () => number

  constructor(private readonly options: EditSinkOptions) {
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
  }

  async start(): Promise<void> {
    const { events, topics, queue } = this.options
    // The pace holds across restarts: the throttle starts from the last edits recorded.
    for (const [wiki, at] of await queue.lastEdits()) this.options.throttle.record(wiki, at)
    this.subscription = await events.consume({
      groupId: `${this.options.groupId}.sink`,
      topics: [topics.edits],
      deadLetterTopic: topics.deadLetter,
      logger: this.logger,
      onAssign: async (assigned) => new Map(await Promise.all(assigned.map(async (tp) => [`${tp.topic}:${tp.partition}`, await queue.offset(tp.partition)] as [string, number]))),
      eachBatch: async (batch) => {
        const commands = batch.events.flatMap((e) => (e.event.type === 'EditRequested' ? [e.event.value] : []))
        await queue.enqueue(commands, batch.partition, batch.lastOffset + 1)
      },
    })
    this.worker = this.work()
  }

  /** Settles when the sink's consumer ends (rejects if it failed). */
  get closed(): Promise<void> {
    return this.subscription?.closed ?? Promise.resolve()
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    await this.subscription?.stop()
    await this.worker
  }

  /** Waiting commands per wiki, stopped wikis left out. */
  async backlog(): Promise<Map<string, number>> {
    const backlog = await this.options.queue.backlog()
    for (const wiki of (await this.options.queue.stoppedWikis()).keys()) backlog.delete(wiki)
    return backlog
  }

  private async work(): Promise<void> {
    const signal = this.stopping.signal
    while (!signal.aborted) {
      try {
        const backlog = await this.backlog()
        const total = [...backlog.values()].reduce((a, b) => a + b, 0)
        const wikis = [...backlog.keys()].filter((w) => !this.allShown(w))
        const turn = this.options.throttle.pick(wikis, total)
        if (!turn) {
          await sleep(250, undefined, { signal }).catch(() => undefined)
          continue
        }
        const wait = turn.at - this.now()
        if (wait > 0) {
          await sleep(Math.min(wait, 1000), undefined, { signal }).catch(() => undefined)
          continue
        }
        const next = await this.nextCommand(turn.wiki)
        if (!next) continue
        await this.run(next.key, next.command)
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'sink: worker error')
        await sleep(1000, undefined, { signal }).catch(() => undefined)
      }
    }
  }

  private allShown(wiki: string): boolean {
    return !this.options.apply && this.shownWikis.has(wiki)
  }


  private async nextCommand(wiki: string): Promise<{ key: string; command: EditRequested } | undefined> {
    if (this.options.apply) return this.options.queue.next(wiki)
    // Dry run: commands stay queued; show each once.
    for await (const next of this.options.queue.waiting(wiki)) if (!this.shown.has(next.key)) return next
    this.shownWikis.add(wiki)
    return undefined
  }

  private async outcome(events: EventToAppend[]): Promise<void> {
    if (events.length > 0) await this.options.events.append(this.options.topics.events, events)
  }

  private skipped(c: EditRequested, reason: string): EventToAppend {
    this.stats.skipped[reason] = (this.stats.skipped[reason] ?? 0) + 1
    this.logger.info({ wiki: c.wiki, title: c.title, reason, command: c.reason }, 'sink: skipped')
    return { type: 'EditSkipped', key: titleKey(c.title), value: { id: `${c.commandId}:skipped`, source: 'sink', observedAt: this.now(), wiki: c.wiki, title: c.title, commandId: c.commandId, reason } }
  }

  private failed(c: EditRequested, code: string, message: string, retriable: boolean): EventToAppend {
    this.stats.failed++
    return { type: 'EditFailed', key: titleKey(c.title), value: { id: `${c.commandId}:failed:${this.now()}`, source: 'sink', observedAt: this.now(), wiki: c.wiki, title: c.title, commandId: c.commandId, code, message, retriable } }
  }

  /** Runs one command to an outcome. */
  async run(key: string, c: EditRequested): Promise<void> {
    const { queue, rules, editors } = this.options
    if (await queue.isDone(c.commandId)) {
      await queue.finish(key, c.commandId, 'done-before')
      return
    }
    const r = rules.get(c.wiki)
    const editor = editors.get(c.wiki)
    if (!r || !editor || !r.edit || r.closed || r.locked) {
      // Only configured, editable wikis are ever written, whatever a command says.
      await this.outcome([this.skipped(c, 'not-configured')])
      await queue.finish(key, c.commandId, 'not-configured')
      return
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const v = await verifyTitle(c.title, c.wiki, [...(c.read ?? []), ...c.add, ...c.remove], this.options.clients, this.options.codes)
      const now = this.now()
      const seen: EventToAppend[] = [...v.pages.values()].map((p) => ({ type: 'PageObserved', key: titleKey(c.title), value: observation(p, c.title, now, c.commandId) }))
      const page = v.pages.get(c.wiki)
      if (!page) {
        await this.outcome([...seen, this.failed(c, 'MBWA_MEDIAWIKI_UNREACHABLE', v.failed.get(c.wiki) ?? 'not read', true)])
        await queue.requeue(key, c)
        return
      }
      if (!page.exists) {
        await this.outcome([...seen, this.skipped(c, 'page-missing')])
        await queue.finish(key, c.commandId, 'page-missing')
        return
      }
      const snapshotted = new Set([...rules.keys()].filter((w) => !v.failed.has(w)))
      const states = new Map([...v.pages].filter(([, p]) => p.exists).map(([w, p]) => [w, asPageState(p, now)]))
      const verdict = evaluateTitle(titleKey(c.title), states, rules, { snapshotted }).pages.find((pv) => pv.wiki === c.wiki)
      if (!verdict || !verdict.editable) {
        await this.outcome([...seen, this.skipped(c, 'not-editable')])
        await queue.finish(key, c.commandId, 'not-editable')
        return
      }
      if (verdict.add.length === 0 && verdict.remove.length === 0) {
        await this.outcome([...seen, this.skipped(c, 'already-correct')])
        await queue.finish(key, c.commandId, 'already-correct')
        return
      }
      if (botsDenied(page.text, this.options.botName)) {
        await this.outcome([...seen, this.skipped(c, 'nobots')])
        await queue.finish(key, c.commandId, 'nobots')
        return
      }
      const desired = new Map(page.writtenLinks.map((l) => [l.code, l.title]))
      for (const code of verdict.remove) desired.delete(code)
      for (const code of verdict.add) desired.set(code, titleKey(c.title))
      const rewritten = rewriteLanguageLinks(page.text, desired, this.options.codes, this.options.order(c.wiki))
      if (!rewritten.changed) {
        await this.outcome([...seen, this.skipped(c, 'already-correct')])
        await queue.finish(key, c.commandId, 'already-correct')
        return
      }
      const summary = `mbwa: interwiki ${[...verdict.add.map((x) => `+${x}`), ...verdict.remove.map((x) => `−${x}`)].join(' ')}`
      if (!this.options.apply) {
        this.shown.add(key)
        this.stats.shown++
        this.options.out?.write(createTwoFilesPatch(`${c.wiki}:${c.title}`, `${c.wiki}:${c.title}`, page.text, rewritten.text, `revision ${page.revision}`, summary))
        await this.outcome(seen)
        return
      }
      const last = await queue.lastEdit(c.wiki, c.title)
      if (last !== undefined && this.now() - last < this.options.cooldownMs) {
        // The page was edited recently (rule 6): what it saw is recorded; the edit waits its turn again.
        await this.outcome(seen)
        await queue.requeue(key, c)
        return
      }
      // Noted before sending too: a crash while the edit is in flight still leaves the pace on record.
      await queue.noteEdit(c.wiki, this.now())
      try {
        const res = await editor.edit({ title: c.title, text: rewritten.text, summary, basetimestamp: page.timestamp, starttimestamp: page.readAt })
        this.options.throttle.record(c.wiki)
        await queue.noteEdit(c.wiki, this.now())
        if (res.revision === null) {
          await this.outcome([...seen, this.skipped(c, 'already-correct')])
          await queue.finish(key, c.commandId, 'already-correct')
          return
        }
        this.stats.applied++
        await this.outcome([
          ...seen,
          { type: 'EditApplied', key: titleKey(c.title), value: { id: `${c.commandId}:applied`, source: 'sink', observedAt: this.now(), wiki: c.wiki, title: c.title, commandId: c.commandId, revision: res.revision, added: verdict.add, removed: verdict.remove } },
        ])
        await queue.finish(key, c.commandId, `applied:${res.revision}`, { wiki: c.wiki, title: c.title, at: this.now() })
        this.logger.info({ wiki: c.wiki, title: c.title, revision: res.revision, summary }, 'sink: edited')
        return
      } catch (err) {
        if (err instanceof MediaWikiApiError) {
          if (err.apiCode === 'editconflict') continue // someone edited meanwhile: verify again
          if (err.apiCode === 'pagedeleted' || err.apiCode === 'missingtitle') {
            await this.outcome([...seen, this.skipped(c, 'page-missing')])
            await queue.finish(key, c.commandId, 'page-missing')
            return
          }
          if (['readonly', 'blocked', 'autoblocked', 'permissiondenied', 'protectedpage', 'cascadeprotected'].includes(err.apiCode)) {
            // Stop writing to this wiki; its commands stay queued.
            await queue.stopWiki(c.wiki, `${err.apiCode}: ${err.info}`)
            this.logger.error({ wiki: c.wiki, code: err.apiCode }, 'sink: stopped writing to this wiki')
            await this.outcome([...seen, this.failed(c, err.apiCode, err.info, true)])
            return
          }
          await this.outcome([...seen, this.failed(c, err.apiCode, err.info, false)])
          await queue.finish(key, c.commandId, `failed:${err.apiCode}`)
          return
        }
        // The write may or may not have happened: never resend blindly; the next verify tells.
        await this.outcome([...seen, this.failed(c, 'MBWA_MEDIAWIKI_UNREACHABLE', (err as Error).message, true)])
        await queue.requeue(key, c)
        return
      }
    }
    await this.outcome([this.failed(c, 'editconflict', 'edit conflicts three times in a row', true)])
    await queue.requeue(key, c)
  }
}
