import { mix } from '../test/setup/generated-wikis.js'

// Which of W wikis have a title, as on the Wiktionaries: wiki sizes fall off as a power of their rank (the largest
// has about a seventh of all pages), and a title is on one wiki, then on more while a draw says so (2.5 on
// average; a few titles are on dozens). Deterministic: the same t gives the same wikis. For the dumps and the
// missing-here benches.
export class TitleSpread {
  private readonly cumulative: number[] = []
  private readonly total: number

  constructor(readonly wikis: number) {
    let sum = 0
    for (let i = 0; i < wikis; i++) this.cumulative.push((sum += 1 / (i + 1) ** 0.9))
    this.total = sum
  }

  /** A wiki drawn by size from a 32-bit random number. */
  private pick(r: number): number {
    const x = (r / 2 ** 32) * this.total
    let lo = 0
    let hi = this.wikis - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.cumulative[mid]! < x) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** The wikis (by rank) that have title t. */
  holders(t: number): number[] {
    const out = [this.pick(mix(t, 0))]
    for (let j = 1; out.length < this.wikis && mix(t, j, 9) % 100 < 60; j++) {
      const w = this.pick(mix(t, j))
      if (!out.includes(w)) out.push(w)
      else if (j > 40) break
    }
    return out
  }
}
