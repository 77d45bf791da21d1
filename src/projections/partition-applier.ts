import type { DecodedEvent } from '../events/event-log.js'
import { isReadingSource, type EditRequested, type MbwaEvent } from '../events/types.js'
import { isPurge } from './edit-commands.js'
import { discrepancies, evaluateTitle, notSnapshotted, type PageVerdict, type TitleVerdict } from '../domain/link-rules.js'
import { applyToPage, pageWiki } from '../domain/page-state.js'
import { keys, TEXT_WANTED, type Op, type SnapshotMark, type SweepStamp, type TitlePages, type TitleRecord, type TitleStore } from './title-store.js'
import type { KnownWiki, RulesByWiki } from '../domain/wiki-rules.js'
import { TimeSlice } from '../time-slice.js'
import { BootstrapGate } from './bootstrap-gate.js'
import { TitleIndex } from './title-index.js'
import { planEdits, type Answer } from './edit-planner.js'
import { cognateKey, hasSpellings, lcfirst, titleKey, ucfirst } from '../events/titles.js'
import type { PageState } from '../domain/page-state.js'

// Applies one partition's events to the store: page facts in order, snapshot sweeps, the discrepancy index, and
// edit commands for pages that have settled. Each write carries the partition's next offset, so state and
// position commit together; a sweep that is interrupted is simply done again (it is idempotent).

/**
 * A reading that says a page exists (verify, text reads, a dump's page): what the page was when it was read,
 * appended some time later; a deletion observed after the read must not be undone by it.
 */
function isReadingOfExisting(e: MbwaEvent): e is Extract<MbwaEvent, { type: 'PageObserved' | 'PageEdited' }> {
  return (e.type === 'PageObserved' && e.value.exists && isReadingSource(e.value.source)) || (e.type === 'PageEdited' && isReadingSource(e.value.source))
}

export interface ApplierOptions {
  /** The configured wikis' rules. */
  rules: RulesByWiki
  /** The rules once a discovered list is known (configured wikis over discovered ones); default: configured only. */
  rulesWith?: (discovered: readonly KnownWiki[]) => RulesByWiki
  /** How long a page must be unchanged before mbwa asks to edit it. */
  settleMs: number
  /** Send edit commands (off while rebuilding). */
  emitCommands: boolean
  now: () => number
  /** Appends edit commands durably; called before the state that records them is written. */
  sendCommands?: (commands: EditRequested[]) => Promise<void>
  /** fsync each write (state and offset agree either way; sync only narrows what a crash replays). */
  sync?: boolean
  logger?: { debug?: (o: object, msg: string) => void }
}

export interface ApplyStats {
  events: number
  commands: number
  swept: number
  /** Title records a snapshot's sweep read (to find pages it left behind, or for the pass over every title). */
  sweepReads: number
  /** Titles a snapshot's sweep looked at again. */
  reevaluated: number
  /** Titles the link rules judged (changed titles and those a pass looked at again). */
  evaluated: number
}

/** Titles judged and written in one batch during a pass or a sweep. */
const CHUNK = 2000

export class PartitionApplier {
  /** Which wikis have their first snapshot here, which are failing, whether first-snapshot pages are held. */
  private gate: BootstrapGate
  private marks: Record<string, SnapshotMark> = {}
  /** Titles per wiki, the wiki-title index, presence and spellings: kept beside the records. */
  private readonly titles: TitleIndex
  private loaded = false
  /** Discrepancy index entries per `wiki \0 kind` (reports and text-wanted too), kept with the entries (key c). */
  private counted = new Map<string, number>()
  /**
   * Wikis that may have tombstones here (a superset): a reading is checked against tombstones only on these, so a
   * bootstrap, which has none, looks none up.
   */
  private tombstoned = new Set<string>()
  /** The wikis the link rules know in this partition: configured ones, and those the log said were discovered. */
  private current: RulesByWiki

  constructor(
    private readonly store: TitleStore,
    readonly partition: number,
    private readonly options: ApplierOptions,
  ) {
    this.current = options.rules
    this.gate = new BootstrapGate(partition)
    this.titles = new TitleIndex(partition)
  }

  get rules(): RulesByWiki {
    return this.current
  }

  async load(): Promise<void> {
    await this.titles.load(this.store)
    const discovered = await this.store.discovered(this.partition)
    this.current = discovered && this.options.rulesWith ? this.options.rulesWith(discovered) : this.options.rules
    this.marks = await this.store.snapshots(this.partition)
    this.gate = new BootstrapGate(this.partition)
    await this.gate.load(this.store, Object.keys(this.marks))

    this.counted = await this.store.reportCounts(this.partition)
    this.tombstoned = new Set(await this.store.tombstoneWikis(this.partition))
    this.loaded = true
  }

  /** How a wiki compares titles, as its last snapshot in this partition read it. */
  private readonly titleCase = (wiki: string) => this.marks[wiki]?.titleCase ?? undefined
  /** A wiki's main page, as its last snapshot in this partition read it. */
  private readonly mainPage = (wiki: string) => this.marks[wiki]?.mainPage ?? undefined

  get snapshotMarks(): Readonly<Record<string, SnapshotMark>> {
    return this.marks
  }

  /** Snapshot failures in a row per wiki since its last completed snapshot (as the log says, for /v1/wikis). */
  get snapshotFailures(): ReadonlyMap<string, number> {
    return this.gate.failures
  }

  get titleCounts(): Readonly<Record<string, number>> {
    return this.titles.titleCounts
  }

  /** Entries of the discrepancy index per wiki and kind (`wiki \0 kind`). */
  get entryCounts(): ReadonlyMap<string, number> {
    return this.counted
  }

  /** Counts the change from a title's old index entries to its new ones. */
  private recount(before: readonly [string, string][], after: readonly [string, string][], touched: Set<string>): void {
    if (before.length === 0 && after.length === 0) return
    for (const [w, k] of before) {
      const key = `${w}\0${k}`
      this.counted.set(key, Math.max(0, (this.counted.get(key) ?? 0) - 1))
      touched.add(key)
    }
    for (const [w, k] of after) {
      const key = `${w}\0${k}`
      this.counted.set(key, (this.counted.get(key) ?? 0) + 1)
      touched.add(key)
    }
  }

  verdict(title: string, pages: TitlePages, spellings?: ReadonlyMap<string, TitlePages>, firstLetter?: ReadonlyMap<string, PageState>, waiting?: readonly string[]): TitleVerdict {
    const others = spellings && spellings.size > 0 ? new Map([...spellings].map(([t, pgs]) => [t, new Map(Object.entries(pgs))])) : undefined
    return evaluateTitle(title, new Map(Object.entries(pages)), this.current, { snapshotted: this.gate.snapshotted, notSnapshotted: waiting, titleCase: this.titleCase, mainPage: this.mainPage, spellings: others, firstLetter })
  }

  /** Wikis that capitalise a title's first letter: as configured, else as the wiki's last snapshot said. */
  private firstLetterWikis(): string[] {
    return [...this.current.values()].filter((r) => (r.titleCase ?? this.titleCase(r.code)) === 'first-letter').map((r) => r.code)
  }

  /**
   * For each title a first-letter wiki would capitalise (`chat`), that wiki's page of the capitalised title
   * (`Chat`, in this partition: see placementKey), from `fresh` where there, else from the store. Where no wiki
   * is first-letter (the Wiktionaries), nothing is read.
   */
  async firstLetterOf(titles: readonly string[], fresh?: ReadonlyMap<string, { pages: TitlePages }>): Promise<Map<string, Map<string, PageState>>> {
    const out = new Map<string, Map<string, PageState>>()
    const wikis = this.firstLetterWikis()
    if (wikis.length === 0) return out
    const capital = new Map<string, string>()
    for (const t of titles) {
      const u = titleKey(ucfirst(t))
      if (u !== t) capital.set(t, u)
    }
    const load = [...new Set([...capital.values()])].filter((u) => !fresh?.has(u))
    const records = load.length > 0 ? await this.store.records(this.partition, load) : []
    const stored = new Map(load.map((u, i) => [u, records[i]?.pages]))
    for (const [t, u] of capital) {
      const pages = fresh?.get(u)?.pages ?? stored.get(u)
      const on = new Map<string, PageState>()
      for (const w of wikis) if (pages?.[w]) on.set(w, pages[w])
      if (on.size > 0) out.set(t, on)
    }
    return out
  }

  /** The titles that link to these titles' pages on first-letter wikis (`chat` for `Chat`): judged again with them. */
  lowerCaseSiblings(titles: Iterable<string>): string[] {
    if (this.firstLetterWikis().length === 0) return []
    const out: string[] = []
    for (const t of titles) {
      const lower = titleKey(lcfirst(t))
      if (lower !== t && titleKey(ucfirst(lower)) === t) out.push(lower)
    }
    return out
  }

  /**
   * The other spellings of each title that has some (`l’eau` for `l'eau`: one word to Cognate), with their pages:
   * from `fresh` (this batch's work) where there, else from the store. Titles without a character Cognate's
   * folding touches have none, and cost nothing.
   */
  async spellingsOf(titles: readonly string[], fresh?: ReadonlyMap<string, { pages: TitlePages }>): Promise<Map<string, Map<string, TitlePages>>> {
    const out = new Map<string, Map<string, TitlePages>>()
    const byKey = byCognateKey(titles)
    if (byKey.size === 0) return out
    const groups = new Map<string, string[]>()
    const load = new Set<string>()
    const listedUnder = await this.store.spellings(this.partition, byKey.keys())
    // This batch's titles by key, once (not once per key: a chunk has thousands).
    const freshByKey = byCognateKey(fresh?.keys() ?? [])
    for (const key of byKey.keys()) {
      const listed = new Set([...listedUnder.get(key)!, ...byKey.get(key)!, ...(freshByKey.get(key) ?? [])])
      groups.set(key, [...listed])
      for (const t of listed) if (!fresh?.has(t)) load.add(t)
    }
    const list = [...load]
    const records = await this.store.records(this.partition, list)
    const stored = new Map(list.map((t, i) => [t, records[i]?.pages]))
    for (const [key, members] of groups) {
      for (const t of byKey.get(key)!) {
        const others = new Map<string, TitlePages>()
        for (const m of members) {
          if (m === t) continue
          const pages = fresh?.get(m)?.pages ?? stored.get(m)
          if (pages && Object.keys(pages).length > 0) others.set(m, pages)
        }
        out.set(t, others)
      }
    }
    return out
  }

  /** Applies decoded events (in offset order) and stores the partition's next offset with them. */
  async apply(events: DecodedEvent[], nextOffset: number): Promise<ApplyStats> {
    if (!this.loaded) await this.load()
    const stats: ApplyStats = { events: events.length, commands: 0, swept: 0, sweepReads: 0, reevaluated: 0, evaluated: 0 }
    // Held titles whose wait ended another way (the configuration no longer names the wiki they waited for).
    if (this.gate.holding && this.gate.waitIsOver(this.current) && events.length > 0) await this.passOverEveryTitle(events[0]!.offset, stats)
    let segment: DecodedEvent[] = []
    for (const e of events) {
      const marker = this.marker(e.event)
      if (marker === undefined) {
        segment.push(e)
        continue
      }
      // A marker acts on the state the events before it made.
      await this.applySegment(segment, e.offset, stats)
      segment = []
      await marker(e.offset + 1, stats)
    }
    await this.applySegment(segment, nextOffset, stats)
    return stats
  }

  /** What a marker meant for this partition does (undefined for any other event). */
  private marker(event: MbwaEvent): ((nextOffset: number, stats: ApplyStats) => Promise<void>) | undefined {
    switch (event.type) {
      case 'SnapshotCompleted':
        return event.value.partition === this.partition ? (next, stats) => this.sweep(event.value, next, stats) : undefined
      case 'SnapshotFailed':
        return event.value.partition === this.partition ? (next, stats) => this.snapshotFailed(event.value.wiki, event.value.failures, next, stats) : undefined
      case 'WikisDiscovered':
        return event.value.partition === this.partition ? (next, stats) => this.discover(event.value.wikis, next, stats) : undefined
      default:
        return undefined
    }
  }

  private async applySegment(events: DecodedEvent[], nextOffset: number, stats: ApplyStats): Promise<void> {
    const p = this.partition
    const titles = [...new Set(events.filter((e) => e.key !== null && isTitleEvent(e.event)).map((e) => e.key!))]
    const records = await this.store.records(p, titles)
    const work = new Map<string, Work>()
    titles.forEach((t, i) => {
      const rec = records[i]
      work.set(t, { title: t, pages: { ...(rec?.pages ?? {}) }, before: rec?.pages ?? {}, disc: rec?.disc ?? [], holdable: true, changed: true })
    })
    const answered: Answer[] = []
    const goneOps: Op[] = []
    const gone = await this.tombstones(events)
    for (const { key, event } of events) {
      if (key === null) continue
      const w = work.get(key)
      if (!w) continue
      if (w.holdable && !this.gate.holds(event, this.current)) w.holdable = false
      const wiki = pageWiki(event)
      if (wiki !== undefined) {
        const prev = w.pages[wiki]
        const tomb = keys.gone(p, wiki, key)
        // A reading of a page that a fact observed after the read deleted does not bring it back.
        if (!prev && isReadingOfExisting(event) && (gone.get(tomb) ?? -Infinity) > event.value.observedAt) continue
        const next = applyToPage(prev, event, key)
        if (next === null) {
          delete w.pages[wiki]
          if (prev) {
            gone.set(tomb, event.value.observedAt)
            goneOps.push({ type: 'put', key: tomb, value: String(event.value.observedAt) })
            this.tombstoned.add(wiki)
          }
        } else if (next !== undefined) {
          w.pages[wiki] = next
          if (!prev && gone.delete(tomb)) goneOps.push({ type: 'del', key: tomb })
        }
      }
      if (event.type === 'EditApplied' || event.type === 'EditSkipped') answered.push({ title: key, wiki: event.value.wiki, commandId: event.value.commandId, done: true })
      if (event.type === 'EditFailed') answered.push({ title: key, wiki: event.value.wiki, commandId: event.value.commandId, done: !event.value.retriable })
    }
    const ops: Op[] = goneOps
    // The titles sharing a Cognate key with this batch's (read once: the index keeps them, and they are judged together).
    const listed = await this.store.spellings(p, byCognateKey(work.keys()).keys())
    const others = new Set<string>()
    for (const titles of listed.values()) for (const o of titles) if (!work.has(o)) others.add(o)
    this.titles.update([...work.values()], ops, listed)
    // A title that only a wiki's first snapshot changed waits for the pass over every title, which comes when
    // the last open wiki has its first snapshot: judging it now would be judging it again there (a bootstrap
    // would judge every title once per wiki), and its verdict stays incomplete until then anyway.
    const now: Work[] = []
    const answeredTitles = new Set(answered.map((a) => a.title))
    for (const item of work.values()) {
      if (!item.holdable || item.disc.length > 0 || Object.keys(item.pages).length === 0 || answeredTitles.has(item.title)) now.push(item)
      else ops.push({ type: 'put', key: keys.title(p, item.title), record: { pages: item.pages } })
    }
    if (now.length < work.size) ops.push(...this.gate.startHolding())
    // A title's other spellings are judged with it (Cognate links them as one word): a change to one is looked at
    // from the others too.
    for (const o of this.lowerCaseSiblings(work.keys())) if (!work.has(o)) others.add(o)
    if (others.size > 0) {
      const list = [...others]
      const recs = await this.store.records(p, list)
      list.forEach((t, i) => {
        if (recs[i]) now.push(toWork(t, recs[i]!))
      })
    }
    const { commands, evaluated } = await this.evaluate(now, ops, answered, work)
    stats.commands += commands
    stats.evaluated += evaluated
    await this.commit(ops, nextOffset)
  }

  /** The only place the partition's offset is written: with the state the events up to it made, in one batch. */
  private async commit(ops: Op[], nextOffset: number): Promise<void> {
    await this.store.write([...ops, { type: 'put', key: keys.offset(this.partition), value: String(nextOffset) }], this.options.sync)
  }

  /**
   * Judges titles as they stream (a pass, a sweep), CHUNK at a time: `onChunk` adds what a chunk writes and the
   * chunk is written; the last (possibly empty) one is committed with `last()`'s operations and the offset.
   */
  private async inChunks(items: AsyncIterable<Work>, nextOffset: number, stats: ApplyStats, last: () => Promise<Op[]> | Op[], onChunk: (chunk: Work[], ops: Op[]) => Promise<void> | void = () => undefined): Promise<void> {
    let chunk: Work[] = []
    const judge = async (): Promise<Op[]> => {
      const ops: Op[] = []
      await onChunk(chunk, ops)
      const { commands, evaluated } = await this.evaluate(chunk, ops)
      stats.commands += commands
      stats.evaluated += evaluated
      chunk = []
      return ops
    }
    for await (const item of items) {
      chunk.push(item)
      if (chunk.length >= CHUNK) await this.store.write(await judge(), this.options.sync)
    }
    const ops = await judge()
    await this.commit([...ops, ...(await last())], nextOffset)
  }

  /**
   * When the pages the segment's readings are about were last deleted (tombstones): only readings race with
   * deletions (a read, a deletion, then the reading's append), so only they are looked up.
   */
  private async tombstones(events: DecodedEvent[]): Promise<Map<string, number>> {
    const wanted = new Set<string>()
    if (this.tombstoned.size === 0) return new Map()
    for (const { key, event } of events) if (key !== null && isReadingOfExisting(event) && this.tombstoned.has(event.value.wiki)) wanted.add(keys.gone(this.partition, event.value.wiki, key))
    const out = new Map<string, number>()
    if (wanted.size === 0) return out
    const list = [...wanted]
    const values = await this.store.db.getMany(list)
    list.forEach((k, i) => {
      if (values[i] !== undefined) out.set(k, Number(values[i]))
    })
    return out
  }

  private async *sweepCandidates(wiki: string, all: boolean, mark: SweepMark): AsyncGenerator<[string, TitleRecord]> {
    const p = this.partition
    if (all || !this.titles.complete) {
      yield* this.store.entries(p)
      return
    }
    let titles: string[] = []
    const flush = async function* (this: PartitionApplier): AsyncGenerator<[string, TitleRecord]> {
      const records = await this.store.records(p, titles)
      for (let i = 0; i < titles.length; i++) if (records[i]) yield [titles[i]!, records[i]!]
      titles = []
    }
    for await (const run of this.store.wikiTitles(p, wiki)) {
      for (const [t, stamp] of run) {
        if (stamp !== undefined && !leftBehind(stamp, mark)) continue
        titles.push(t)
      }
      if (titles.length >= CHUNK) yield* flush.call(this)
    }
    yield* flush.call(this)
  }

  /**
   * Re-evaluates titles and writes their records: pages, discrepancy index entries (replacing the old ones), and
   * for pages mbwa should edit, a command once they have settled (or a look scheduled for when they will have).
   */
  async evaluate(items: Work[], ops: Op[], answered: Answer[] = [], fresh?: ReadonlyMap<string, Work>): Promise<{ commands: number; evaluated: number }> {
    const p = this.partition
    const now = this.options.now()
    const fresher = fresh ?? new Map(items.map((i) => [i.title, i]))
    const spellings = await this.spellingsOf(items.map((i) => i.title), fresher)
    const firstLetter = await this.firstLetterOf(items.map((i) => i.title), fresher)
    const touched = new Set<string>()
    const waiting = notSnapshotted(this.current, this.gate.snapshotted)
    let evaluated = 0
    const needPending: { item: Work; actionable: PageVerdict[]; answers: Answer[] }[] = []
    const slice = new TimeSlice()
    for (const item of items) {
      if (slice.over()) await slice.handOver() // a large batch is many milliseconds of work: queries share this thread
      const { title, pages } = item
      if (Object.keys(pages).length === 0) {
        for (const [w, k] of item.disc) ops.push({ type: 'del', key: keys.disc(p, w, k, title) })
        this.recount(item.disc, [], touched)
        ops.push({ type: 'del', key: keys.title(p, title) })
        if (item.disc.length > 0 || answered.some((a) => a.title === title)) ops.push({ type: 'del', key: keys.pending(p, title) })
        continue
      }
      const v = this.verdict(title, pages, spellings.get(title), firstLetter.get(title), waiting)
      evaluated++
      const entries: [string, string][] = []
      for (const pv of v.pages) {
        for (const d of discrepancies(pv)) {
          entries.push([pv.wiki, d.kind])
          ops.push({ type: 'put', key: keys.disc(p, pv.wiki, d.kind, title), value: JSON.stringify(d.links ? { codes: d.codes, links: d.links, at: pages[pv.wiki]!.observedAt } : d.codes) })
        }
        if (pv.wantsText) {
          entries.push([pv.wiki, TEXT_WANTED])
          ops.push({ type: 'put', key: keys.disc(p, pv.wiki, TEXT_WANTED, title), value: String(pages[pv.wiki]!.revision ?? '') })
        }
      }
      this.recount(item.disc, entries, touched)
      if (item.disc.length > 0) {
        const keep = new Set(entries.map(([w, k]) => `${w}\0${k}`))
        for (const [w, k] of item.disc) if (!keep.has(`${w}\0${k}`)) ops.push({ type: 'del', key: keys.disc(p, w, k, title) })
      }
      // A pass over every title rewrites only the records whose pages or index entries changed.
      if (item.changed || !sameEntries(entries, item.disc)) ops.push({ type: 'put', key: keys.title(p, title), record: entries.length > 0 ? { pages, disc: entries } : { pages } })
      // A page mbwa may edit whose links or blankness are unknown (created or changed since last read; a snapshot
      // does not read the text) is to be verified:
      // the sink reads it and the wikis that have the title, records what it saw, and fixes it if needed.
      const actionable = v.pages.filter(
        (pv) => (pv.editable && (pv.add.length > 0 || pv.remove.length > 0 || pv.unknown !== undefined || (pages[pv.wiki]!.blank === null && !pages[pv.wiki]!.redirect))) || isPurge(pv),
      )
      const answers = answered.filter((a) => a.title === title)
      // The settle schedule is state, kept whether commands are sent or not: a store rebuilt without sending
      // (mbwa rebuild) still asks for the pages that were settling when it was built.
      if (!this.options.emitCommands) {
        for (const pv of actionable) {
          const due = pages[pv.wiki]!.changedAt + this.options.settleMs
          if (due > now) ops.push({ type: 'put', key: keys.deferred(p, due, title), value: '' })
        }
      }
      // Pending commands matter when commands are sent (live), or when an answer to one arrives.
      if (answers.length > 0 || (this.options.emitCommands && (actionable.length > 0 || item.disc.length > 0))) needPending.push({ item, actionable, answers })
    }
    for (const key of touched) {
      const [w, k] = key.split('\0') as [string, string]
      ops.push({ type: 'put', key: keys.reportCount(p, w, k), value: String(this.counted.get(key) ?? 0) })
    }
    const commands: EditRequested[] = []
    const pendings = await this.store.pending(p, needPending.map((n) => n.item.title))
    needPending.forEach(({ item: { title, pages }, actionable, answers }, i) => {
      const plan = planEdits({ partition: p, title, pages, actionable, answers, pending: pendings[i]!, now, settleMs: this.options.settleMs, emitCommands: this.options.emitCommands })
      ops.push(...plan.ops)
      commands.push(...plan.commands)
    })
    // Sent before the state that records them is written: a crash in between re-sends the same ids.
    if (commands.length > 0) await this.options.sendCommands?.(commands)
    return { commands: commands.length, evaluated }
  }

  /** Looks again at titles whose pages have settled since they were last evaluated. */
  async settleDue(): Promise<number> {
    // Without commands to send (a rebuild) the schedule is kept for the store's next live run.
    if (!this.options.emitCommands) return 0
    if (!this.loaded) await this.load()
    const due = await this.store.due(this.partition, this.options.now())
    if (due.length === 0) return 0
    const titles = [...new Set(due.map((d) => d.title))]
    const records = await this.store.records(this.partition, titles)
    const ops: Op[] = due.map((d) => ({ type: 'del' as const, key: d.key }))
    const items = titles.flatMap((t, i) => (records[i] ? [toWork(t, records[i]!)] : []))
    const { commands } = await this.evaluate(items, ops)
    await this.store.write(ops, this.options.sync)
    return commands
  }

  /**
   * A discovered wiki list reached this partition: the rules take it from here on (so a replay decides the same).
   * A wiki that appears is not snapshotted yet, so titles stay as they were until its first snapshot (which looks
   * at every title once the last open wiki has one). A wiki that closed or left changes what is linked now: every
   * title is looked at again, once.
   */
  private async discover(wikis: readonly KnownWiki[], nextOffset: number, stats: ApplyStats): Promise<void> {
    const p = this.partition
    const before = this.current
    this.current = this.options.rulesWith ? this.options.rulesWith(wikis) : this.options.rules
    const lost = [...before.values()].some((r) => !r.closed && (this.current.get(r.code)?.closed ?? true))
    // The list is stored with the offset, in the last write: a crash during the pass does the pass again.
    const done: Op[] = [{ type: 'put', key: keys.discovered(p), value: JSON.stringify(wikis) }]
    if (lost) await this.passOverEveryTitle(nextOffset, stats, done)
    else await this.commit(done, nextOffset)
  }

  /**
   * A snapshot of `wiki` failed (it is tried again later). It is counted; and if none of the wiki's snapshots has
   * completed here, the pass over every title stops waiting for it (if it was the last one waited for, the pass
   * comes now). The titles' verdicts stay incomplete for that wiki (nothing is removed for want of it) until its
   * first snapshot completes, which brings another pass.
   */
  private async snapshotFailed(wiki: string, failures: number, nextOffset: number, stats: ApplyStats): Promise<void> {
    const p = this.partition
    if (!this.current.has(wiki)) return this.commit([], nextOffset)
    this.gate.snapshotFailed(wiki, failures)
    const done: Op[] = [{ type: 'put', key: keys.snapshotFailures(p, wiki), value: String(failures) }]
    if (this.gate.holding && !this.gate.snapshotted.has(wiki) && this.gate.waitIsOver(this.current)) {
      this.options.logger?.debug?.({ partition: p, wiki, failures }, 'snapshot failed; the pass over every title does not wait for it')
      await this.passOverEveryTitle(nextOffset, stats, done)
    } else await this.commit(done, nextOffset)
  }

  /** Judges every title of the partition again, in one streaming pass; `done` is written with the last chunk. */
  private async passOverEveryTitle(nextOffset: number, stats: ApplyStats, done: Op[] = []): Promise<void> {
    const store = this.store
    const p = this.partition
    async function* everyTitle(): AsyncGenerator<Work> {
      for await (const [title, record] of store.entries(p)) {
        stats.reevaluated++
        yield toWork(title, record)
      }
    }
    await this.inChunks(everyTitle(), nextOffset, stats, () => [...done, ...this.gate.passDone(this.current)])
  }

  /** A snapshot of `wiki` completed: titles of that wiki it did not see, and nobody saw since it began, are gone. */
  private async sweep(mark: Extract<MbwaEvent, { type: 'SnapshotCompleted' }>['value'], nextOffset: number, stats: ApplyStats): Promise<void> {
    const p = this.partition
    const { wiki } = mark
    // A title is complete once every open wiki is snapshotted or has the title. So the first snapshot that
    // leaves no open wiki unsnapshotted in this partition makes titles complete: every title is looked at again,
    // in one streaming pass, so their discrepancies (removals) show. An earlier first snapshot does not: looking
    // at every title once per wiki would cost wikis × titles during a bootstrap, for verdicts that stay
    // incomplete. (A title with pages on every wiki still unknown is made complete by it; it is looked at again
    // in that last pass, or when it next changes.) Pages of first snapshots were stored unjudged (held) for this
    // pass, so it is also where they are judged for the first time.
    const { first, failedBefore } = this.gate.snapshotCompleted(wiki)
    // Or the first snapshot after which only wikis whose snapshots fail are left: the pass comes without them.
    const passAll = first && (this.gate.waitingFor(this.current).length === 0 || (this.gate.holding && this.gate.waitIsOver(this.current)))
    if (first && !passAll) this.options.logger?.debug?.({ partition: p, wiki, waitingFor: this.gate.waitingFor(this.current).length }, 'first snapshot; the pass over every title waits for the last open wiki')
    // Written with the last chunk: the snapshot's mark, and the tombstones it makes obsolete.
    const last = async (): Promise<Op[]> => {
      const ops: Op[] = passAll ? this.gate.passDone(this.current) : []
      const titleCase = mark.titleCase === 'first-letter' || mark.titleCase === 'case-sensitive' ? mark.titleCase : null
      const m: SnapshotMark = { snapshotId: mark.snapshotId, startedAt: mark.startedAt, completedAt: mark.observedAt, pages: mark.pages, titleCase, mainPage: mark.mainPage ?? null }
      this.marks[wiki] = m
      ops.push({ type: 'put', key: keys.snapshot(p, wiki), value: JSON.stringify(m) })
      if (failedBefore) ops.push({ type: 'del', key: keys.snapshotFailures(p, wiki) })
      // Tombstones older than the snapshot: it read the wiki after them, and its sweep decides from here.
      const prefix = keys.gonePrefix(p, wiki)
      let kept = 0
      for await (const [k, v] of this.store.db.iterator({ gte: prefix, lt: keys.end(prefix) })) {
        if (Number(v) < mark.startedAt) ops.push({ type: 'del', key: k })
        else kept++
      }
      if (kept === 0) this.tombstoned.delete(wiki)
      return ops
    }
    // One pass over the partition's titles (a sweep is rare: once per wiki and snapshot).
    const candidates = this.sweepCandidates(wiki, passAll, mark)
    // Only a first-letter wiki's pages are linked to from another title (decided once, not per title).
    const linkedFromLowerCase = this.firstLetterWikis().includes(wiki)
    const siblingOf = async (title: string): Promise<Work | undefined> => {
      const [lower] = linkedFromLowerCase ? this.lowerCaseSiblings([title]) : []
      const record = lower === undefined ? undefined : (await this.store.records(p, [lower]))[0]
      return record ? toWork(lower!, record) : undefined
    }
    async function* judged(): AsyncGenerator<Work> {
      for await (const [title, record] of candidates) {
        stats.sweepReads++
        const page = record.pages[wiki]
        const gone = page !== undefined && leftBehind(page, mark)
        if (!gone && !passAll) continue
        const item = toWork(title, record)
        if (gone) {
          delete item.pages[wiki]
          item.changed = true
          stats.swept++
        }
        stats.reevaluated++
        yield item
        // The title that links to this one's page on a first-letter wiki (`chat` to `Chat`) is judged again after it.
        const sibling = gone ? await siblingOf(title) : undefined
        if (sibling) yield sibling
      }
    }
    const index = async (chunk: Work[], ops: Op[]): Promise<void> => this.titles.update(chunk, ops, await this.store.spellings(p, byCognateKey(chunk.map((w) => w.title)).keys()))
    await this.inChunks(judged(), nextOffset, stats, last, index)
  }
}

interface Work {
  title: string
  pages: TitlePages
  /** The pages as stored before the change (a page object that is still the same did not change). */
  before: TitlePages
  /** The title's discrepancy index entries before the change. */
  disc: [string, string][]
  /** Only first snapshots changed it: it may wait for the pass over every title. */
  holdable?: boolean
  /** Its pages differ from the stored record (false when a pass looks at it again as it is). */
  changed: boolean
}

type SweepMark = { snapshotId: string; startedAt: number }

/** The wikis where a title is a real page (not a redirect, not known blank), in code order, joined by commas. */
function leftBehind(page: SweepStamp, mark: SweepMark): boolean {
  return page.snapshotId !== mark.snapshotId && page.observedAt < mark.startedAt
}

/** In order: the rules list a title's entries in the same order each time, and a false "differ" costs only a put. */
function sameEntries(a: readonly [string, string][], b: readonly [string, string][]): boolean {
  return a.length === b.length && a.every(([w, k], i) => b[i]![0] === w && b[i]![1] === k)
}


/** The titles that have other spellings (a character Cognate's folding touches), by their Cognate key. */
function byCognateKey(titles: Iterable<string>): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const t of titles) {
    if (!hasSpellings(t)) continue
    const key = cognateKey(t)
    const group = out.get(key)
    if (group) group.push(t)
    else out.set(key, [t])
  }
  return out
}

function toWork(title: string, record: TitleRecord): Work {
  return { title, pages: { ...record.pages }, before: record.pages, disc: record.disc ?? [], changed: false }
}

function isTitleEvent(e: MbwaEvent): boolean {
  return pageWiki(e) !== undefined || e.type === 'EditSkipped' || e.type === 'EditFailed'
}
