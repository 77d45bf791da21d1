import { afterAll, beforeAll, describe } from 'vitest'
import type { EventLog } from '../../../src/log/types.js'
import { groupsContract } from './groups.js'
import { persistenceContract } from './persistence.js'
import { placementContract } from './placement.js'
import { readingContract } from './reading.js'
import { topicsContract } from './topics.js'

// The log's contract, run against every implementation (as abstract-level's suite is run by each store), a file
// per concern. `open` returns a log on the same underlying data each time it is called; `supports` says what an
// implementation can do beyond the common core, and the concerns read it.

export interface LogUnderTest {
  open(): Promise<EventLog>
  supports: {
    /** Can a second instance on the same data run while the first is open (Kafka: yes; embedded: locked). */
    concurrentInstances: boolean
  }
}

/** What each concern's tests share: the log under test (reopened by some), and what it supports. */
export interface ContractContext {
  log: EventLog
  readonly subject: LogUnderTest
}

export function logContract(name: string, subject: LogUnderTest): void {
  describe(`log contract: ${name}`, () => {
    const ctx = { subject } as ContractContext
    beforeAll(async () => {
      ctx.log = await subject.open()
    })
    afterAll(async () => {
      await ctx.log?.close()
    })
    topicsContract(ctx)
    placementContract(ctx)
    readingContract(ctx)
    groupsContract(ctx)
    persistenceContract(ctx)
  })
}
