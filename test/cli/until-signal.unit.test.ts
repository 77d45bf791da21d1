import { describe, expect, it } from 'vitest'
import { untilSignal } from '../../src/cli/context.js'

// `mbwa run` waits for a signal while its components work; when a component fails instead, the wait must end
// too: its keep-alive timer alone held a stopped mbwa up forever (found by the broker-outage test: "mbwa
// stopped", then no exit, so no supervisor could restart it).
describe('the wait for a signal', () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

  it('ends without a signal when stopped, and holds nothing afterwards', async () => {
    const before = timers()
    const ended = new AbortController()
    const wait = untilSignal(ended.signal)
    expect(timers()).toBe(before + 1)
    ended.abort()
    await expect(wait).resolves.toBe('stopped')
    expect(timers()).toBe(before)
    expect(process.listenerCount('SIGTERM')).toBe(0)
  })

  it('resolves with the signal, and lets go of the process too', async () => {
    const before = timers()
    const wait = untilSignal()
    process.emit('SIGTERM', 'SIGTERM')
    await expect(wait).resolves.toBe('SIGTERM')
    expect(timers()).toBe(before)
    // A second signal would exit at once: its handler stays until then (removed here, this is a test).
    process.removeAllListeners('SIGTERM')
    process.removeAllListeners('SIGINT')
  })

  it('an already stopped wait ends at once', async () => {
    const ended = new AbortController()
    ended.abort()
    await expect(untilSignal(ended.signal)).resolves.toBe('stopped')
  })
})
