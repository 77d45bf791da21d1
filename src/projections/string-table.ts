import { MbwaError } from '../errors/errors.js'

// Strings that recur in every title record — a page's snapshot id (`en:2026-12-02T07:27:23.001Z:97876a26`, the
// same for every page a snapshot saw) and its source — stored once, as numbers in the records. A snapshot id was
// ~40 % of a record's bytes, and a record is rewritten once per wiki in a bootstrap and compacted by LevelDB
// several times over; decoding one also made a string per page. The table is small (a few per wiki and week) and
// kept in memory. Each entry is written in the same batch as every record that uses it, so whatever a crash keeps,
// a stored record's numbers are in the stored table.

export class StringTable {
  private readonly numbers = new Map<string, number>()
  private readonly strings: string[] = []
  /** Numbers whose entry a completed write stored: batches issued after it need not store them again. */
  private readonly stored = new Set<number>()

  /** A table of stored entries (number → string). */
  constructor(entries: Iterable<[number, string]> = []) {
    for (const [n, s] of entries) {
      this.strings[n] = s
      this.numbers.set(s, n)
      this.stored.add(n)
    }
  }

  /**
   * The number of `s`, given one if it has none; `used` collects the numbers the caller's batch must store: those
   * no completed write has stored yet (a batch written while another with the same new entry is in flight stores
   * it too, since either may be the one a crash keeps).
   */
  number(s: string, used: Set<number>): number {
    let n = this.numbers.get(s)
    if (n === undefined) {
      n = this.strings.length
      this.strings.push(s)
      this.numbers.set(s, n)
    }
    if (!this.stored.has(n)) used.add(n)
    return n
  }

  /**
   * These numbers' entries are in the store (their batch's write completed). LevelDB applies writes in the order
   * they complete, and a crash keeps a prefix of them, so any batch issued from now on is kept only with them.
   */
  markStored(numbers: Iterable<number>): void {
    for (const n of numbers) this.stored.add(n)
  }

  string(n: number): string {
    const s = this.strings[n]
    if (s === undefined) throw new MbwaError('MBWA_STORE_DAMAGED', `a title record refers to string ${n}, which the store's table lacks`, { number: n })
    return s
  }
}
