import { parentPort, workerData } from 'node:worker_threads'
import { isMbwaError } from '../../errors/errors.js'
import { SchemaRegistry } from '../../events/registry.js'
import { pageEventBatches, type PageEventCounts, type PageEventsInput } from './page-events.js'
import type { FromWorker, ToWorker } from './page-events-thread.js'

// The worker thread of page-events-thread.ts: the run's tables read, joined and each page's event encoded here,
// so the thread that appends them (and applies them, in `mbwa run`) does not. A batch's values go back in one
// transferred buffer; at most two batches are on their way before the import thread asks for more.

const port = parentPort!
const input = workerData as PageEventsInput
const registry = SchemaRegistry.load()
let credit = 2
let wake: (() => void) | undefined
port.on('message', (m: ToWorker) => {
  if (m.type === 'more') {
    credit++
    wake?.()
  }
})

async function main(): Promise<void> {
  const counts: PageEventCounts = { pages: 0, linksNewer: 0, orphanLinks: 0 }
  for await (const batch of pageEventBatches(input, counts)) {
    const values = batch.map((e) => registry.encode(e.type, e.value))
    const bytes = new Uint8Array(values.reduce((n, v) => n + v.length, 0))
    const ends = new Uint32Array(values.length)
    let at = 0
    values.forEach((v, i) => {
      bytes.set(v, at)
      ends[i] = at += v.length
    })
    while (credit === 0) await new Promise<void>((r) => (wake = r))
    credit--
    const message: FromWorker = { type: 'batch', keys: batch.map((e) => e.key), ends, bytes, pages: counts.pages }
    port.postMessage(message, [bytes.buffer, ends.buffer])
  }
  port.postMessage({ type: 'done', counts } satisfies FromWorker)
}

main().catch((err: unknown) => {
  const e = err as Error
  port.postMessage({ type: 'error', code: isMbwaError(err) ? err.code : undefined, message: e.message ?? String(err), details: isMbwaError(err) ? err.details : {} } satisfies FromWorker)
})
