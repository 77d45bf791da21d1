import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { testBrokers } from './kafka.js'

/**
 * Writes the configuration of one `mbwa run` process on the test broker: its own data directory, a port of
 * its own, the shared topic prefix and group; no sources (the tests append events themselves). `extra` is more
 * YAML, appended as is.
 */
export function memberConfig(work: string, name: string, o: { prefix: string; events: number; extra?: string }): string {
  const file = join(work, `${name}.yaml`)
  writeFileSync(
    file,
    `dataDir: ${join(work, name)}
http: {host: 127.0.0.1, port: 0}
log:
  brokers: [${testBrokers().join(', ')}]
  topicPrefix: ${o.prefix}
  groupId: ${o.prefix}
  sessionTimeoutMs: 6000
  partitions: {events: ${o.events}, edits: 1, dumps: 1, deadLetter: 1}
sources: {snapshot: {enabled: false}, recentChanges: {enabled: false}}
discovery: {sitematrix: {enabled: false}}
${o.extra ?? ''}
`,
  )
  return file
}
