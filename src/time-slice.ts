import { setImmediate as immediate } from 'node:timers/promises'

// Sources, the log, the projection and the query server share one thread. Work on a large batch (decoding,
// judging, encoding thousands of records) runs in slices: after SLICE_MS of it, whatever else waits on the thread
// (a query, above all) gets a turn, so a query waits milliseconds, not the length of a batch.

/** Longest stretch of synchronous batch work before other work on the thread gets a turn. */
export const SLICE_MS = 5

export class TimeSlice {
  private since = performance.now()

  /**
   * Whether this slice has run SLICE_MS or more; cheap enough to ask once per item, as
   * `if (slice.over()) await slice.handOver()`. (An `await` on every item, even of nothing, makes a promise each
   * time: millions in a bootstrap, all garbage.)
   */
  over(): boolean {
    return performance.now() - this.since >= SLICE_MS
  }

  /** Lets whatever else waits on the thread run, then starts a new slice. */
  async handOver(): Promise<void> {
    await immediate()
    this.since = performance.now()
  }
}
