import { isSnapshotSource, type MbwaEvent } from '../events/types.js'
import type { RulesByWiki } from '../domain/wiki-rules.js'
import { keys, type Op, type TitleStore } from './title-store.js'

// The bootstrap of one partition: which wikis have their first snapshot here, which are failing, and whether the
// pages of first snapshots are stored unjudged for the pass over every title that the last of them brings.
//
// A title is complete once every open wiki is snapshotted or has the title, so judging it before that makes
// verdicts that stay incomplete; judging every title once per wiki would cost wikis × titles. So the pages of first
// snapshots are held (stored unjudged) and the pass over every title judges them once, when every open wiki has a
// snapshot here, or when the wikis still without one are all failing (one wiki whose API keeps failing must not
// hold back every report). A pass that came without them leaves the gate judging first-snapshot pages as they
// come, so that a wiki that recovers costs its own pages, not another pass.

export class BootstrapGate {
  /** Wikis with a completed snapshot in this partition. */
  readonly snapshotted = new Set<string>()
  /** Wikis whose snapshots failed since their last completed one here, with the failures in a row (key k). */
  readonly failures = new Map<string, number>()
  /** Pages of first snapshots are being stored unjudged, waiting for the pass over every title (key h). */
  holding = false
  /** A pass came while some open wiki still had no snapshot (all of those failing; key r): pages are judged as they come. */
  judgingAsTheyCome = false

  constructor(private readonly partition: number) {}

  async load(store: TitleStore, snapshotted: Iterable<string>): Promise<void> {
    for (const w of snapshotted) this.snapshotted.add(w)
    for (const [w, n] of Object.entries(await store.snapshotFailures(this.partition))) this.failures.set(w, n)
    this.holding = await store.isHeld(this.partition)
    this.judgingAsTheyCome = await store.isReleased(this.partition)
  }

  /** Open wikis (not closed) with no completed snapshot in this partition. */
  waitingFor(rules: RulesByWiki): string[] {
    return [...rules.values()].filter((r) => !r.closed && !this.snapshotted.has(r.code)).map((r) => r.code)
  }

  /** Nothing more to wait for before judging held titles: every open wiki without a snapshot is failing. */
  waitIsOver(rules: RulesByWiki): boolean {
    return this.waitingFor(rules).every((w) => this.failures.has(w))
  }

  /** Whether the page this event tells of may be held: one seen by the first snapshot of an open wiki. */
  holds(event: MbwaEvent, rules: RulesByWiki): boolean {
    if (this.judgingAsTheyCome || event.type !== 'PageObserved' || !isSnapshotSource(event.value.source) || this.snapshotted.has(event.value.wiki)) return false
    const r = rules.get(event.value.wiki)
    return r !== undefined && !r.closed
  }

  /** Holding starts with the first held title (written with it). */
  startHolding(): Op[] {
    if (this.holding) return []
    this.holding = true
    return [{ type: 'put', key: keys.held(this.partition), value: '1' }]
  }

  /** The pass over every title is done: holding ends; judged as they come while an open wiki still has no snapshot. */
  passDone(rules: RulesByWiki): Op[] {
    this.holding = false
    this.judgingAsTheyCome = this.waitingFor(rules).length > 0
    const released = keys.released(this.partition)
    return [{ type: 'del', key: keys.held(this.partition) }, this.judgingAsTheyCome ? { type: 'put', key: released, value: '1' } : { type: 'del', key: released }]
  }

  /** A snapshot of `wiki` completed here: whether it is the wiki's first, and whether it had been failing. */
  snapshotCompleted(wiki: string): { first: boolean; failedBefore: boolean } {
    const first = !this.snapshotted.has(wiki)
    this.snapshotted.add(wiki)
    return { first, failedBefore: this.failures.delete(wiki) }
  }

  snapshotFailed(wiki: string, failures: number): void {
    this.failures.set(wiki, failures)
  }
}
