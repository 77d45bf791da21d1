// Kafka's default partitioner for keyed messages: murmur2 of the key's UTF-8 bytes, sign bit cleared, modulo
// the partition count (Java's Utils.murmur2 / toPositive). Both logs use it, so a key lands on the same
// partition number in the embedded log and in Kafka. One difference: the bytes hashed are those of the key's
// Cognate key (’ ʼ as ', … as ...), so titles Cognate takes for one word (`l'eau`, `l’eau`) share a partition
// and are judged together; and the first letter is folded (placementKey), so `Chat` and `chat` do too: a
// case-sensitive wiki's `chat` links to a first-letter wiki's `Chat`. Keys that begin in lower case and have none
// of those characters (wiki codes, `snapshot:en`) hash exactly as Kafka's own partitioner does.
import { placementKey } from '../events/titles.js'

const SEED = 0x9747b28c
const M = 0x5bd1e995

export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = (SEED ^ length) | 0
  const length4 = length >> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M)
    h ^= k
  }
  const tail = length4 * 4
  const rest = length % 4
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8
  if (rest >= 1) {
    h ^= data[tail]! & 0xff
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(placementKey(key), 'utf8')) & 0x7fffffff) % partitions
}

/** Unkeyed messages go round-robin, per topic. */
export class RoundRobin {
  private next = new Map<string, number>()
  pick(topic: string, partitions: number): number {
    const n = this.next.get(topic) ?? 0
    this.next.set(topic, n + 1)
    return n % partitions
  }
}
