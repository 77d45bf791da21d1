import { describe, expect, it } from 'vitest'
import { TimeSlice } from '../src/time-slice.js'

/** `slices` slices of busy work, as the projection and the sources do, noting when each slice starts. */
async function slicedWork(name: string, slices: number, trace: string[]): Promise<void> {
  const slice = new TimeSlice()
  trace.push(name)
  for (let done = 1; done < slices; ) {
    if (slice.over()) {
      await slice.handOver()
      trace.push(name)
      done++
    }
  }
  while (!slice.over()) {
    // the last slice works too
  }
}

describe('TimeSlice', () => {
  it('lets the event loop poll between any two slices, however many tasks are sliced at once', async () => {
    const trace: string[] = []
    // A timer due at every turn of the loop stands for a query waiting on a socket or on LevelDB.
    const timer = setInterval(() => trace.push('t'), 0)
    await Promise.all([slicedWork('a', 10, trace), slicedWork('b', 10, trace), slicedWork('c', 10, trace)])
    clearInterval(timer)
    expect(trace.filter((x) => x !== 't').length).toBe(30)
    // After the first turn (the three tasks start in one go, before any hand-over), never two slices without a turn
    // of the loop between them.
    const afterStart = trace.slice(trace.indexOf('t')).join('')
    expect(afterStart).not.toMatch(/[abc][abc]/)
    // Turns go round: no task waits for another to finish (each of the first 15 slices' thirds has all three).
    const order = trace.filter((x) => x !== 't')
    for (let i = 0; i < 15; i += 5) expect(new Set(order.slice(i, i + 5)).size).toBe(3)
  })

  it('hands over at once when nothing else waits', async () => {
    const slice = new TimeSlice()
    const t0 = performance.now()
    for (let i = 0; i < 100; i++) await slice.handOver()
    expect(performance.now() - t0).toBeLessThan(1000)
  })
})
