// Pacing of edits (DESIGN.md rule 7), as the old bot's tick-tock: a minimum interval between two edits on one wiki
// (never shorter than configured), an overall budget of edits per minute, and a slower pace while the backlog is
// small (no hurry then). Wikis take turns: the next edit goes to the wiki whose turn comes first, so one huge
// backlog does not starve the others.

export interface ThrottleOptions {
  /** Minimum ms between two edits on a wiki. */
  intervalMs: (wiki: string) => number
  /** Most edits per minute over all wikis (0: no overall limit). */
  perMinute: number
  /** Backlog below which the pace slows, and by how much (1: never). */
  smallBacklog: number
  slowdown: number
  now?: () => number
}

/** At most `perMinute` actions a minute on each wiki (0: none at all), over a sliding minute. */
export class PerMinute {
  private readonly recent = new Map<string, number[]>()

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** When the next action on `wiki` may go (now, if it may). */
  nextAt(wiki: string): number {
    if (this.perMinute <= 0) return Infinity
    const since = this.now() - 60_000
    const times = (this.recent.get(wiki) ?? []).filter((t) => t > since)
    this.recent.set(wiki, times)
    return times.length < this.perMinute ? this.now() : times[0]! + 60_000
  }

  record(wiki: string): void {
    this.recent.set(wiki, [...(this.recent.get(wiki) ?? []), this.now()])
  }
}

export class Throttle {
  private readonly last = new Map<string, number>()
  private recent: number[] = []
  private readonly now: () => number

  constructor(private readonly options: ThrottleOptions) {
    this.now = options.now ?? Date.now
  }

  /** The configured minimum interval between two edits on a wiki (ms). */
  interval(wiki: string): number {
    return this.options.intervalMs(wiki)
  }

  /** When `wiki` may be edited next, given the size of the whole backlog. */
  nextAt(wiki: string, backlog: number): number {
    const base = this.options.intervalMs(wiki)
    const interval = backlog < this.options.smallBacklog ? base * this.options.slowdown : base
    const perWiki = (this.last.get(wiki) ?? -Infinity) + interval
    let overall = -Infinity
    if (this.options.perMinute > 0) {
      const since = this.now() - 60_000
      this.recent = this.recent.filter((t) => t > since)
      if (this.recent.length >= this.options.perMinute) overall = this.recent[0]! + 60_000
    }
    return Math.max(perWiki, overall)
  }

  /** Of the wikis with work, the one whose turn comes first (ties: the one edited longest ago). */
  pick(wikis: string[], backlog: number): { wiki: string; at: number } | undefined {
    let best: { wiki: string; at: number; last: number } | undefined
    for (const wiki of wikis) {
      const at = this.nextAt(wiki, backlog)
      const last = this.last.get(wiki) ?? -Infinity
      if (!best || at < best.at || (at === best.at && last < best.last)) best = { wiki, at, last }
    }
    return best && { wiki: best.wiki, at: best.at }
  }

  record(wiki: string, at = this.now()): void {
    this.last.set(wiki, at)
    this.recent.push(at)
  }
}
