import { describe, expect, it } from 'vitest'
import { murmur2, partitionForKey } from '../../src/log/partitioner.js'

// Expected values printed by Apache Kafka 4.1.1's own org.apache.kafka.common.utils.Utils.murmur2 and
// toPositive(h) % 12, run on the broker jars that infra/kafka fetches.
const JAVA: [string, number, number][] = [
  ['21', -973932308, 0],
  ['foobar', -790332482, 6],
  ['a-little-bit-long-string', -985981536, 8],
  ['a-little-bit-longer-string', -1486304829, 11],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971, 5],
  ['abc', 479470107, 3],
  ['chat', -715951362, 2],
  ['Ελλάδα', -974912271, 5],
  ['日本語', 1431860170, 10],
  ['ŋ', 289574714, 2],
]

describe('partitioner (unit)', () => {
  it.each(JAVA)('murmur2(%j) equals Java Kafka and picks the same partition of 12', (key, hash, partition) => {
    expect(murmur2(Buffer.from(key, 'utf8'))).toBe(hash)
    expect(partitionForKey(key, 12)).toBe(partition)
  })

  it('spreads keys over all partitions', () => {
    const counts = new Array<number>(8).fill(0)
    for (let i = 0; i < 8000; i++) counts[partitionForKey(`title-${i}`, 8)]!++
    for (const c of counts) expect(c).toBeGreaterThan(800)
  })
})
