import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { murmur2, partitionForKey } from '../../src/log/partitioner.js'
import { placementKey, ucfirst } from '../../src/events/titles.js'

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
  it.each(JAVA)('murmur2(%j) equals Java Kafka and picks the same partition of 12 (for a key that is its own placement key)', (key, hash, partition) => {
    expect(murmur2(Buffer.from(key, 'utf8'))).toBe(hash)
    if (placementKey(key) === key) expect(partitionForKey(key, 12)).toBe(partition)
    else expect(partitionForKey(key, 12)).toBe(partitionForKey(placementKey(key), 12))
  })

  it('places a title with its first letter folded, as a first-letter wiki reads it; wiki codes as Kafka does', () => {
    // One page on a first-letter wiki (MediaWiki's ucfirst): one partition.
    const pairs: [string, string][] = [['Chat', 'chat'], ['Ελλάδα', 'ελλάδα'], ['Ǆx', 'ǆx'], ['ǅx', 'ǆx'], ['Ünter', 'ünter'], ['Жук', 'жук'], ["L'eau", 'l’eau'], ['ſun', 'Sun']]
    for (const [a, b] of pairs) expect(partitionForKey(a, 12), `${a} ${b}`).toBe(partitionForKey(b, 12))
    for (const [a, b] of pairs) expect(ucfirst(placementKey(a)), `${a} ${b}`).toBe(ucfirst(placementKey(b)))
    // Letters MediaWiki leaves alone keep their own key: ß (its capital is two letters), İ (its small form is).
    expect(placementKey('ßa')).toBe('ßa')
    expect(placementKey('İstanbul')).toBe('İstanbul')
    for (const key of ['en', 'fr', 'zh-min-nan', 'snapshot:en', 'report-page:de', '日本語', '1990', 'chat']) expect(placementKey(key)).toBe(key)
    expect(partitionForKey('en', 12)).toBe((murmur2(Buffer.from('en', 'utf8')) & 0x7fffffff) % 12)
  })

  it('gives every title the placement key of its first-letter form (property, titles as keys are: NFC)', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).map((t) => t.normalize('NFC')), (t) => placementKey(t) === placementKey(ucfirst(t))), { numRuns: 5000 })
  })

  it('spreads keys over all partitions', () => {
    const counts = new Array<number>(8).fill(0)
    for (let i = 0; i < 8000; i++) counts[partitionForKey(`title-${i}`, 8)]!++
    for (const c of counts) expect(c).toBeGreaterThan(800)
  })
})
