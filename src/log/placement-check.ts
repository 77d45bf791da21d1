import { doublingDelay } from '../backoff.js'
import { MbwaError } from '../errors/errors.js'
import { partitionForKey } from './partitioner.js'
import type { EventLog } from './types.js'

// A topic's messages must sit where this mbwa places their keys: a title's facts in one partition, in order. A
// log written by an mbwa that placed keys otherwise (before titles were placed with their first letter folded:
// `Chat` now goes where `chat` goes) or a topic whose partitions were added to would split a title's facts over
// two partitions, and the projection would judge from half of them. So at start the newest keyed messages of
// every partition are looked at, and a misplaced one stops mbwa before anything is appended. A sample: a log
// whose newest messages all begin in lower case would pass; such a log's titles are placed as they were.

export async function checkPlacement(log: EventLog, topic: string, sample = 100): Promise<void> {
  const [starts, ends] = await offsetsOf(log, topic)
  const partitions = ends.length
  const found = await Promise.all(
    ends.map(async (end, p) => {
      const from = Math.max(starts[p] ?? 0, end - sample)
      if (from >= end) return undefined
      for (const m of await log.read(topic, p, from, end - from)) {
        if (m.key === null) continue
        const placed = partitionForKey(m.key, partitions)
        if (placed !== p) return { partition: p, offset: m.offset, key: m.key, placed }
      }
      return undefined
    }),
  )
  const wrong = found.find((f) => f !== undefined)
  if (!wrong) return
  throw new MbwaError(
    'MBWA_LOG_PLACEMENT',
    `topic ${topic}: the message at partition ${wrong.partition}, offset ${wrong.offset} (key ${JSON.stringify(wrong.key)}) is where this mbwa would not put it (partition ${wrong.placed} of ${partitions}): ` +
      'the log was written by an older mbwa, which placed titles beginning with a capital letter otherwise, or its partitions were changed. ' +
      'Start a new log (another log.topicPrefix on Kafka, another dataDir with the embedded log: the snapshots fill it again), or go on with the older mbwa',
    { topic, partition: wrong.partition, offset: wrong.offset, key: wrong.key, expected: wrong.placed },
  )
}

/**
 * The topic's start and end offsets. A topic created a moment ago may not have its leaders known yet to the broker
 * asked (Kafka's NOT_LEADER_OR_FOLLOWER, retriable): asked again a few times before that is an error.
 */
async function offsetsOf(log: EventLog, topic: string): Promise<[number[], number[]]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await Promise.all([log.startOffsets(topic), log.endOffsets(topic)])
    } catch (err) {
      if (attempt >= 10 || (err as { retriable?: unknown }).retriable !== true) throw err
      await new Promise((r) => setTimeout(r, doublingDelay(attempt, 100, 2000)))
    }
  }
}
