import type { DecodedEvent } from '../events/event-log.js'
import type { EditRequested, MbwaEvent } from '../events/types.js'
import { editRequested, commandId, type PendingCommand } from './edit-commands.js'
import { discrepancies, evaluateTitle, type TitleVerdict } from './link-rules.js'
import { applyToPage, pageWiki } from './page-state.js'
import { keys, type Op, type SnapshotMark, type TitlePages, type TitleStore } from './title-store.js'
import type { RulesByWiki } from './wiki-rules.js'

// Applies one partition's events to the store: page facts in order, snapshot sweeps, the discrepancy index, and
// edit commands for pages that have settled. Each write carries the partition's next offset, so state and
// position commit together; a sweep that is interrupted is simply done again (it is idempotent).

export interface ApplierOptions {
  rules: RulesByWiki
  /** How long a page must be unchanged before mbwa asks to edit it. */
  settleMs: number
  /** Send edit commands (off while rebuilding). */
  emitCommands: boolean
  now: () => number
  /** Appends edit commands durably; called before the state that records them is written. */
  sendCommands?: (commands: EditRequested[]) => Promise<void>
  /** fsync each write (state and offset agree either way; sync only narrows what a crash replays). */
  sync?: boolean
}

export interface ApplyStats {
  events: number
  commands: number
  swept: number
}

export class PartitionApplier {
  private snapshotted = new Set<string>()
  private marks: Record<string, SnapshotMark> = {}
  private counts: Record<string, number> = {}
  private loaded = false

  constructor(
    private readonly store: TitleStore,
    readonly partition: number,
    private readonly options: ApplierOptions,
  ) {}

  async load(): Promise<void> {
    this.marks = await this.store.snapshots(this.partition)
    this.snapshotted = new Set(Object.keys(this.marks))
    this.counts = await this.store.counts(this.partition)
    this.loaded = true
  }

  get snapshotMarks(): Readonly<Record<string, SnapshotMark>> {
    return this.marks
  }

  get titleCounts(): Readonly<Record<string, number>> {
    return this.counts
  }

  verdict(title: string, pages: TitlePages): TitleVerdict {
    return evaluateTitle(title, new Map(Object.entries(pages)), this.options.rules, { snapshotted: this.snapshotted })
  }

  /** Applies decoded events (in offset order) and stores the partition's next offset with them. */
  async apply(events: DecodedEvent[], nextOffset: number): Promise<ApplyStats> {
    if (!this.loaded) await this.load()
    const stats: ApplyStats = { events: events.length, commands: 0, swept: 0 }
    let segment: DecodedEvent[] = []
    for (const e of events) {
      if (e.event.type === 'SnapshotCompleted' && e.event.value.partition === this.partition) {
        await this.applySegment(segment, e.offset, stats)
        segment = []
        await this.sweep(e.event.value, e.offset + 1, stats)
      } else segment.push(e)
    }
    await this.applySegment(segment, nextOffset, stats)
    return stats
  }

  private async applySegment(events: DecodedEvent[], nextOffset: number, stats: ApplyStats): Promise<void> {
    const p = this.partition
    const titles = [...new Set(events.filter((e) => e.key !== null && isTitleEvent(e.event)).map((e) => e.key!))]
    const loaded = await this.store.titles(p, titles)
    const state = new Map<string, TitlePages>()
    const before = new Map<string, Set<string>>()
    titles.forEach((t, i) => {
      const pages = loaded[i] ?? {}
      state.set(t, { ...pages })
      before.set(t, new Set(Object.keys(pages)))
    })
    const answered: { title: string; wiki: string; commandId: string; done: boolean }[] = []
    for (const { key, event } of events) {
      if (key === null) continue
      const pages = state.get(key)
      if (!pages) continue
      const wiki = pageWiki(event)
      if (wiki !== undefined) {
        const next = applyToPage(pages[wiki], event, key)
        if (next === null) delete pages[wiki]
        else if (next !== undefined) pages[wiki] = next
      }
      if (event.type === 'EditApplied' || event.type === 'EditSkipped') answered.push({ title: key, wiki: event.value.wiki, commandId: event.value.commandId, done: true })
      if (event.type === 'EditFailed') answered.push({ title: key, wiki: event.value.wiki, commandId: event.value.commandId, done: !event.value.retriable })
    }
    const ops: Op[] = []
    for (const [title, pages] of state) this.titleOps(title, pages, before.get(title)!, ops)
    const { commands } = await this.evaluate([...state.entries()], ops, answered)
    stats.commands += commands
    ops.push({ type: 'put', key: keys.offset(p), value: String(nextOffset) })
    await this.store.write(ops, this.options.sync)
  }

  /** The puts and deletes that store a title's pages and keep the wiki index and counts in step. */
  private titleOps(title: string, pages: TitlePages, had: Set<string>, ops: Op[]): void {
    const p = this.partition
    const wikis = Object.keys(pages)
    if (wikis.length === 0) ops.push({ type: 'del', key: keys.title(p, title) })
    else ops.push({ type: 'put', key: keys.title(p, title), value: JSON.stringify(pages) })
    for (const w of wikis) {
      if (had.has(w)) continue
      ops.push({ type: 'put', key: keys.wiki(p, w, title), value: '' })
      this.counts[w] = (this.counts[w] ?? 0) + 1
      ops.push({ type: 'put', key: keys.count(p, w), value: String(this.counts[w]) })
    }
    for (const w of had) {
      if (w in pages) continue
      ops.push({ type: 'del', key: keys.wiki(p, w, title) })
      this.counts[w] = Math.max(0, (this.counts[w] ?? 0) - 1)
      ops.push({ type: 'put', key: keys.count(p, w), value: String(this.counts[w]) })
    }
  }

  /**
   * Re-evaluates titles: replaces their discrepancy index entries, and for pages mbwa should edit, sends a
   * command once they have settled (or schedules a look when they will have).
   */
  async evaluate(
    titles: [string, TitlePages][],
    ops: Op[],
    answered: { title: string; wiki: string; commandId: string; done: boolean }[] = [],
  ): Promise<{ commands: number }> {
    const p = this.partition
    const now = this.options.now()
    const oldEntries = await this.store.verdictEntries(p, titles.map(([t]) => t))
    const commands: EditRequested[] = []
    for (let i = 0; i < titles.length; i++) {
      const [title, pages] = titles[i]!
      const v = this.verdict(title, pages)
      const entries: [string, string][] = []
      for (const pv of v.pages) {
        for (const d of discrepancies(pv)) {
          entries.push([pv.wiki, d.kind])
          ops.push({ type: 'put', key: keys.disc(p, pv.wiki, d.kind, title), value: JSON.stringify(d.codes) })
        }
      }
      const keep = new Set(entries.map(([w, k]) => `${w}\0${k}`))
      for (const [w, k] of oldEntries[i] ?? []) if (!keep.has(`${w}\0${k}`)) ops.push({ type: 'del', key: keys.disc(p, w, k, title) })
      if (entries.length > 0) ops.push({ type: 'put', key: keys.verdict(p, title), value: JSON.stringify(entries) })
      else if (oldEntries[i]) ops.push({ type: 'del', key: keys.verdict(p, title) })

      const actionable = v.pages.filter((pv) => pv.editable && (pv.add.length > 0 || pv.remove.length > 0))
      const answers = answered.filter((a) => a.title === title)
      if (actionable.length === 0 && answers.length === 0 && !(oldEntries[i] ?? []).length) continue
      const pending = await this.store.pending(p, title)
      for (const a of answers) {
        if (a.done && pending[a.wiki]?.commandId === a.commandId) {
          ops.push({ type: 'del', key: keys.pending(p, title, a.wiki) })
          delete pending[a.wiki]
        }
      }
      const wanted = new Set(actionable.map((pv) => pv.wiki))
      for (const wiki of Object.keys(pending)) {
        if (!wanted.has(wiki)) ops.push({ type: 'del', key: keys.pending(p, title, wiki) }) // resolved by itself
      }
      if (!this.options.emitCommands) continue
      for (const pv of actionable) {
        const page = pages[pv.wiki]!
        const due = page.changedAt + this.options.settleMs
        if (due > now) {
          ops.push({ type: 'put', key: keys.deferred(p, due, title), value: '' })
          continue
        }
        const id = commandId(pv.wiki, title, page.revision, pv.add, pv.remove)
        if (pending[pv.wiki]?.commandId === id) continue
        const cmd = editRequested(title, page, pv, now)
        commands.push(cmd)
        const record: PendingCommand = { commandId: id, add: cmd.add, remove: cmd.remove, priority: cmd.priority, requestedAt: now, reason: cmd.reason }
        ops.push({ type: 'put', key: keys.pending(p, title, pv.wiki), value: JSON.stringify(record) })
      }
    }
    // Sent before the state that records them is written: a crash in between re-sends the same ids.
    if (commands.length > 0) await this.options.sendCommands?.(commands)
    return { commands: commands.length }
  }

  /** Looks again at titles whose pages have settled since they were last evaluated. */
  async settleDue(): Promise<number> {
    if (!this.loaded) await this.load()
    const due = await this.store.due(this.partition, this.options.now())
    if (due.length === 0) return 0
    const titles = [...new Set(due.map((d) => d.title))]
    const loaded = await this.store.titles(this.partition, titles)
    const ops: Op[] = due.map((d) => ({ type: 'del' as const, key: d.key }))
    const { commands } = await this.evaluate(titles.map((t, i) => [t, loaded[i] ?? {}]), ops)
    await this.store.write(ops, this.options.sync)
    return commands
  }

  /** A snapshot of `wiki` completed: titles of that wiki it did not see, and nobody saw since it began, are gone. */
  private async sweep(mark: Extract<MbwaEvent, { type: 'SnapshotCompleted' }>['value'], nextOffset: number, stats: ApplyStats): Promise<void> {
    const p = this.partition
    const { wiki } = mark
    const first = !this.snapshotted.has(wiki)
    let chunk: string[] = []
    const flush = async (final: boolean): Promise<void> => {
      const loaded = await this.store.titles(p, chunk)
      const changed: [string, TitlePages][] = []
      const ops: Op[] = []
      chunk.forEach((title, i) => {
        const pages = loaded[i]
        const page = pages?.[wiki]
        if (!pages || !page) return
        if (page.snapshotId === mark.snapshotId || page.observedAt >= mark.startedAt) return
        const had = new Set(Object.keys(pages))
        const next = { ...pages }
        delete next[wiki]
        this.titleOps(title, next, had, ops)
        changed.push([title, next])
        stats.swept++
      })
      this.snapshotted.add(wiki)
      await this.evaluate(changed, ops)
      if (final) {
        const m: SnapshotMark = { snapshotId: mark.snapshotId, startedAt: mark.startedAt, completedAt: mark.observedAt, pages: mark.pages }
        this.marks[wiki] = m
        ops.push({ type: 'put', key: keys.snapshot(p, wiki), value: JSON.stringify(m) })
        ops.push({ type: 'put', key: keys.offset(p), value: String(nextOffset) })
      }
      await this.store.write(ops, this.options.sync)
      chunk = []
    }
    for await (const title of this.store.wikiTitles(p, wiki)) {
      chunk.push(title)
      if (chunk.length >= 5000) await flush(false)
    }
    await flush(true)
    // The first snapshot of a wiki makes titles it does not have complete (its absence is now known): look at
    // every title of the partition again, so their discrepancies (removals) show.
    if (first) await this.reevaluateAll()
  }

  private async reevaluateAll(): Promise<void> {
    const prefix = keys.titlePrefix(this.partition)
    let chunk: [string, TitlePages][] = []
    const flush = async (): Promise<void> => {
      const ops: Op[] = []
      await this.evaluate(chunk, ops)
      await this.store.write(ops, this.options.sync)
      chunk = []
    }
    for await (const [k, v] of this.store.db.iterator({ gte: prefix, lt: keys.end(prefix) })) {
      chunk.push([k.slice(prefix.length), JSON.parse(v) as TitlePages])
      if (chunk.length >= 2000) await flush()
    }
    if (chunk.length > 0) await flush()
  }
}

function isTitleEvent(e: MbwaEvent): boolean {
  return pageWiki(e) !== undefined || e.type === 'EditSkipped' || e.type === 'EditFailed'
}
