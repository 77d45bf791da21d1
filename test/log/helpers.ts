import { randomUUID } from 'node:crypto'
import type { Batch, ConsumeOptions, EventLog, StoredMessage, Subscription } from '../../src/log/types.js'

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

/** `what` may be a function: it is read when the wait times out, so it can say what was reached by then. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Consumes until `count` messages arrived, then stops; returns them and the batches they came in. */
export async function consumeUntil(
  log: EventLog,
  count: number,
  options: Omit<ConsumeOptions, 'eachBatch'> & { eachBatch?: ConsumeOptions['eachBatch'] },
  timeoutMs = 60000,
): Promise<{ messages: StoredMessage[]; batches: Batch[]; sub: Subscription }> {
  const messages: StoredMessage[] = []
  const batches: Batch[] = []
  const sub = await log.consume({
    ...options,
    eachBatch: async (batch) => {
      await options.eachBatch?.(batch)
      batches.push(batch)
      messages.push(...batch.messages)
    },
  })
  // A subscription that failed (a consumer crash the client will not restart) ends the wait with its own error,
  // and a wait that times out says what the subscription held, so a failure in CI can be read from its message.
  let failure: unknown
  sub.closed.catch((err: unknown) => {
    failure = err ?? new Error('subscription failed')
  })
  try {
    await waitFor(
      () => {
        if (failure !== undefined) throw new Error(`the subscription failed after ${messages.length} of ${count} messages`, { cause: failure })
        return messages.length >= count
      },
      timeoutMs,
      () =>
        `${count} messages (have ${messages.length}; assigned ${JSON.stringify(sub.assignment())}; batches from ${JSON.stringify([...byPartition(messages)].map(([p, o]) => [p, o[0], o[o.length - 1]]))})`,
    )
  } finally {
    await sub.stop()
  }
  return { messages, batches, sub }
}

export function byPartition(messages: StoredMessage[]): Map<number, number[]> {
  const out = new Map<number, number[]>()
  for (const m of messages) {
    const list = out.get(m.partition) ?? []
    list.push(m.offset)
    out.set(m.partition, list)
  }
  return out
}
