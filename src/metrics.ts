import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

// One Prometheus registry per process (served at /metrics by the query server). Metrics are created here so
// their names and labels are in one place.
export const metricsRegistry = new Registry()

let defaultsCollected = false
export function collectProcessMetrics(): void {
  if (defaultsCollected) return
  defaultsCollected = true
  collectDefaultMetrics({ register: metricsRegistry, prefix: 'mbwa_' })
}

export const deadLetters = new Counter({
  name: 'mbwa_dead_letters_total',
  help: 'Messages that did not decode and went to the dead-letter topic',
  labelNames: ['topic', 'reason'] as const,
  registers: [metricsRegistry],
})

export const eventsConsumed = new Counter({
  name: 'mbwa_events_consumed_total',
  help: 'Events decoded and handed to a consumer',
  labelNames: ['topic', 'group'] as const,
  registers: [metricsRegistry],
})

export const consumerLag = new Gauge({
  name: 'mbwa_consumer_lag',
  help: 'Messages between a group position and the partition end, as of the last batch',
  labelNames: ['topic', 'group', 'partition'] as const,
  registers: [metricsRegistry],
})
