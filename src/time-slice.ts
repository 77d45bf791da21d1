// Sources, the log, the projection and the query server share one thread. Work on a large batch (decoding,
// judging, encoding thousands of records) runs in slices: after SLICE_MS of it, whatever else waits on the thread
// (a query, above all) gets a turn, so a query waits milliseconds, not the length of a batch.
//
// Slices of all the work on the thread take turns, one per turn of the event loop: with a snapshot's pages, their
// encoding and the projection's batches all sliced at once, each handing over with its own setImmediate, one turn
// ran a slice of each (15 ms and more) before the loop read a query's request or LevelDB's answer to it again.

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

  /** Lets whatever else waits on the thread run (I/O, and the other slices first in line), then starts a new slice. */
  async handOver(): Promise<void> {
    await new Promise<void>((resume) => {
      waiting.push(resume)
      if (!dispatching) {
        dispatching = true
        setImmediate(dispatch)
      }
    })
    this.since = performance.now()
  }
}

/** Slices waiting for their turn, first come first served. */
const waiting: (() => void)[] = []
let dispatching = false

/** One turn of the event loop: one waiting slice runs; the next waits for the loop to have polled I/O again. */
function dispatch(): void {
  const resume = waiting.shift()
  if (waiting.length > 0) setImmediate(dispatch)
  else dispatching = false
  resume?.()
}
