import type { EditRequested } from '../events/types.js'
import { titleKey } from '../events/titles.js'
import type { LivePage, Verification } from './verify.js'

// The sink's readings of titles on the live wikis, by normalised title, in reading order: a batched verify reads
// many titles at once (verify.ts) and the edits that follow use them while they are fresh. Bounded: readings older
// than maxAgeMs are dropped, and at most maxSize are kept (the oldest go first), texts included.

interface Reading {
  at: number
  v: Verification
}

export class Readings {
  private readonly byTitle = new Map<string, Reading>()

  constructor(
    private readonly maxAgeMs: number,
    private readonly maxSize: number,
    private readonly now: () => number,
  ) {}

  /**
   * A fresh reading of the command's title that includes its own page's text. A reading older than the command
   * is not used: the command may come from a newer fact (a deletion, an edit) than what the reading saw.
   */
  forCommand(c: EditRequested): Verification | undefined {
    const r = this.byTitle.get(titleKey(c.title))
    if (!r || r.at < c.observedAt || this.now() - r.at > this.maxAgeMs) return undefined
    const own = r.v.pages.get(c.wiki)
    if (!r.v.failed.has(c.wiki) && (!own || (own.exists && own.text === undefined))) return undefined
    return r.v
  }

  /** Keeps a batch's readings, all as old as `at`; drops the stale and, past the bound, the oldest. */
  keep(readings: ReadonlyMap<string, Verification>, at: number): void {
    for (const [title, r] of this.byTitle) if (this.now() - r.at > this.maxAgeMs) this.byTitle.delete(title)
    for (const [title, v] of readings) {
      this.byTitle.delete(title) // re-inserted last: the map stays in reading order
      this.byTitle.set(title, { at, v })
    }
    for (const title of this.byTitle.keys()) {
      if (this.byTitle.size <= this.maxSize) break
      this.byTitle.delete(title)
    }
  }

  /** The page as an edit of ours left it, known without reading it again. */
  update(title: string, wiki: string, page: LivePage): void {
    this.byTitle.get(titleKey(title))?.v.pages.set(wiki, page)
  }

  /** Forgets a title: the next command for it reads it again. */
  forget(title: string): void {
    this.byTitle.delete(titleKey(title))
  }
}
