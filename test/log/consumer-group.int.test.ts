import { afterAll, describe, expect, it } from 'vitest'
import type { KafkaLog } from '../../src/log/kafka-log.js'
import type { Subscription, TopicPartition } from '../../src/log/types.js'
import { connectTestKafka } from '../setup/kafka.js'
import { uniqueName, waitFor } from './helpers.js'

// Three members of one group on the real broker: partitions are spread, a member that leaves has its partitions
// taken over, and every message is handled exactly once across the rebalance (every key counted).
describe('consumer group on Kafka (int, real broker)', () => {
  const logs: KafkaLog[] = []
  afterAll(async () => {
    await Promise.allSettled(logs.map((l) => l.close()))
  })

  it('spreads partitions, hands a leaver\'s partitions over, loses and repeats nothing', async () => {
    const topic = uniqueName('t-group')
    const group = uniqueName('g-group')
    const partitions = 6
    // A long session timeout: this test is about graceful hand-over, and a member of a busy machine that misses
    // heartbeats for a few seconds must not be evicted mid-batch (that is the kill tests' subject).
    for (let i = 0; i < 4; i++) logs.push(await connectTestKafka({ sessionTimeoutMs: 30_000 }))
    const [producer, ...memberLogs] = logs as [KafkaLog, KafkaLog, KafkaLog, KafkaLog]
    await producer.ensureTopics([{ name: topic, partitions }])
    const first = 3000

    const counts = new Map<string, number>()
    const byMember: number[] = [0, 0, 0]
    const subs: Subscription[] = []
    for (let m = 0; m < 3; m++) {
      subs.push(
        await memberLogs[m]!.consume({
          groupId: group,
          topics: [topic],
          maxBatchSize: 25,
          memberData: `http://member-${m}.test:8642`,
          eachBatch: async (batch) => {
            for (const msg of batch.messages) {
              const key = msg.value.toString()
              counts.set(key, (counts.get(key) ?? 0) + 1)
            }
            byMember[m]! += batch.messages.length
            // slow enough that the rebalance happens while there is work in flight
            await new Promise((r) => setTimeout(r, 20))
          },
        }),
      )
    }
    const union = (list: Subscription[]): TopicPartition[] => list.flatMap((s) => s.assignment())
    await waitFor(() => subs.every((s) => s.assignment().length > 0) && union(subs).length === partitions, 60000, 'three members with partitions')
    const spread = subs.map((s) => s.assignment().length)
    expect(spread).toEqual([2, 2, 2])
    expect(new Set(union(subs).map((tp) => tp.partition)).size).toBe(partitions)
    // Every member reads what each shared through the membership metadata, and who holds what.
    const members = await subs[1]!.members()
    expect(members.map((x) => x.data).sort()).toEqual(['http://member-0.test:8642', 'http://member-1.test:8642', 'http://member-2.test:8642'])
    for (let m = 0; m < 3; m++) {
      const entry = members.find((x) => x.data === `http://member-${m}.test:8642`)!
      expect(entry.assignment.map((tp) => tp.partition).sort()).toEqual(subs[m]!.assignment().map((tp) => tp.partition).sort())
    }
    expect(members.filter((x) => x.self).map((x) => x.data)).toEqual(['http://member-1.test:8642'])
    // Appended once the three share the partitions, so each has work of its own when one leaves.
    await producer.append(topic, Array.from({ length: first }, (_, i) => ({ key: `k-${i}`, value: Buffer.from(`k-${i}`) })))

    // the leaver must have done work of its own, so its last commit is part of what is checked
    await waitFor(() => counts.size >= 600 && byMember[2]! > 0, 60000, 'some progress before the leave')
    const leaver = subs[2]!
    const leaversPartitions = leaver.assignment().map((tp) => tp.partition)
    await leaver.stop()
    const stayers = subs.slice(0, 2)
    await waitFor(() => union(stayers).length === partitions, 60000, 'the two others to take over all partitions')
    const taken = union(stayers).map((tp) => tp.partition)
    for (const p of leaversPartitions) expect(taken).toContain(p)

    const second = 1000
    await producer.append(topic, Array.from({ length: second }, (_, i) => ({ key: `n-${i}`, value: Buffer.from(`n-${i}`) })))
    await waitFor(() => counts.size >= first + second, 120000, () => `all ${first + second} keys (have ${counts.size})`)
    await Promise.all(stayers.map((s) => s.stop()))

    const repeated = [...counts.entries()].filter(([, c]) => c !== 1)
    expect(repeated).toEqual([])
    expect(counts.size).toBe(first + second)
    expect(byMember.reduce((a, b) => a + b, 0)).toBe(first + second)
    expect(byMember.every((n) => n > 0)).toBe(true)
    const committed = await producer.committedOffsets(group, topic)
    expect(committed).toEqual(await producer.endOffsets(topic))
  })
})
