import { setImmediate as immediate } from 'node:timers/promises'

// Sources, the log, the projection and the query server share one thread. Work on a large batch (decoding,
// judging, encoding thousands of records) runs in slices: after SLICE_MS of it, whatever else waits on the thread
// (a query, above all) gets a turn, so a query waits milliseconds, not the length of a batch.

/** Longest stretch of synchronous batch work before other work on the thread gets a turn. */
export const SLICE_MS = 5

export class TimeSlice {
  private since = performance.now()

  /** Gives the thread away if this slice has run SLICE_MS or more; cheap enough to call once per item. */
  async pass(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return
    await immediate()
    this.since = performance.now()
  }
}
