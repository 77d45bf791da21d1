import type { TopicSpec } from './types.js'

// mbwa's topics. The prefix lets several deployments share a cluster; partition counts come from configuration
// (events are keyed by title and want many partitions; edits are keyed by wiki; dumps by wiki).
export interface TopicNames {
  events: string
  edits: string
  dumps: string
  deadLetter: string
}

export function topicNames(prefix = 'mbwa'): TopicNames {
  return {
    events: `${prefix}.events`,
    edits: `${prefix}.edits`,
    dumps: `${prefix}.dumps`,
    deadLetter: `${prefix}.deadletter`,
  }
}

export interface PartitionCounts {
  events: number
  edits: number
  dumps: number
  deadLetter: number
}

/** Kafka settings of a topic that keeps every message. */
const FOREVER = { 'retention.ms': '-1', 'retention.bytes': '-1', 'cleanup.policy': 'delete' }

/**
 * What each topic keeps. Every topic mbwa creates keeps every message, and none may be compacted: events, edits and
 * dumps are histories, not a latest value per key.
 * - events and dumps must keep everything, and are checked at start (a broker default of 7 days is refused): the
 *   projection is rebuilt by replaying the events from offset 0, and the dump monitor folds the whole dumps history.
 * - edits: a sink stopped longer than a shorter retention would lose the commands it had not read yet (the
 *   projection does not ask twice for the same thing), so it is created to keep them too.
 * - dead letters: the original bytes of what did not decode; an operator may shorten it once they are looked at.
 */
export function topicSpecs(names: TopicNames, partitions: PartitionCounts): TopicSpec[] {
  return [
    { name: names.events, partitions: partitions.events, config: FOREVER, keepForever: true },
    { name: names.edits, partitions: partitions.edits, config: FOREVER },
    { name: names.dumps, partitions: partitions.dumps, config: FOREVER, keepForever: true },
    { name: names.deadLetter, partitions: partitions.deadLetter, config: FOREVER },
  ]
}
