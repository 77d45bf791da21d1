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

export function topicSpecs(names: TopicNames, partitions: PartitionCounts): TopicSpec[] {
  return [
    { name: names.events, partitions: partitions.events },
    { name: names.edits, partitions: partitions.edits },
    { name: names.dumps, partitions: partitions.dumps },
    { name: names.deadLetter, partitions: partitions.deadLetter },
  ]
}
