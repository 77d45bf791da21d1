import { randomUUID } from 'node:crypto'
import type { Batch, ConsumeOptions, EventLog, StoredMessage, Subscription } from '../../src/log/types.js'

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
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
  try {
    await waitFor(() => messages.length >= count, timeoutMs, `${count} messages (have ${messages.length})`)
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
