import { describe, expect, it } from 'vitest'
import { Throttle } from '../../src/sinks/throttle.js'

describe('edit throttle (unit)', () => {
  it('keeps the per-wiki interval, never shorter than configured', () => {
    let now = 1_000_000
    const t = new Throttle({ intervalMs: (w) => (w === 'en' ? 10_000 : 5_000), perMinute: 0, smallBacklog: 0, slowdown: 1, now: () => now })
    expect(t.nextAt('en', 100)).toBe(-Infinity)
    t.record('en')
    expect(t.nextAt('en', 100)).toBe(now + 10_000)
    t.record('fr')
    expect(t.nextAt('fr', 100)).toBe(now + 5_000)
    now += 20_000
    expect(t.nextAt('en', 100)).toBeLessThan(now)
  })

  it('slows down while the backlog is small', () => {
    const now = 0
    const t = new Throttle({ intervalMs: () => 10_000, perMinute: 0, smallBacklog: 5, slowdown: 3, now: () => now })
    t.record('en')
    expect(t.nextAt('en', 2)).toBe(30_000)
    expect(t.nextAt('en', 50)).toBe(10_000)
  })

  it('keeps the overall budget per minute', () => {
    let now = 0
    const t = new Throttle({ intervalMs: () => 0, perMinute: 3, smallBacklog: 0, slowdown: 1, now: () => now })
    for (const w of ['en', 'fr', 'de']) {
      t.record(w)
      now += 1000
    }
    expect(t.nextAt('nl', 10)).toBe(60_000) // the oldest of the three leaves the window
  })

  it('takes turns across wikis, so one long backlog does not starve the others', () => {
    let now = 0
    const t = new Throttle({ intervalMs: () => 1000, perMinute: 0, smallBacklog: 0, slowdown: 1, now: () => now })
    const order: string[] = []
    for (let i = 0; i < 9; i++) {
      const turn = t.pick(['big', 'small1', 'small2'], 1000)!
      now = Math.max(now, turn.at)
      order.push(turn.wiki)
      t.record(turn.wiki)
      now += 10
    }
    expect(order.slice(0, 3).sort()).toEqual(['big', 'small1', 'small2'])
    expect(order.filter((w) => w === 'big').length).toBe(3)
  })
})
