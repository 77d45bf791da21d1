import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { MbwaError, type ErrorCode } from '../../errors/errors.js'
import type { LogMessage } from '../../log/types.js'
import type { PageEventCounts, PageEventsInput } from './page-events.js'

// A run's page events read, joined and encoded in a worker thread (page-events-worker.ts): the parse, the join
// and the Avro encoding are most of an import's work, and in `mbwa run` the projection needs the thread they
// took (BENCHMARKS.md). Batches come back as log messages, in order, ready to append.

export type ToWorker = { type: 'more' }
export type FromWorker =
  | { type: 'batch'; keys: (string | null)[]; ends: Uint32Array; bytes: Uint8Array; pages: number }
  | { type: 'done'; counts: PageEventCounts }
  | { type: 'error'; code: string | undefined; message: string; details: Record<string, unknown> }

const WORKER = new URL('./page-events-worker.js', import.meta.url)

/** Whether the worker can run here (the built package; not when mbwa's sources are run as TypeScript). */
export function workerAvailable(): boolean {
  return WORKER.protocol === 'file:' && existsSync(fileURLToPath(WORKER))
}

/** The run's page events as log messages, `batchSize` at a time, from a worker thread; `counts` is filled in at the end. */
export async function* encodedPageEvents(input: PageEventsInput, counts: PageEventCounts, signal?: AbortSignal): AsyncGenerator<{ messages: LogMessage[]; pages: number }> {
  const worker = new Worker(WORKER, { workerData: input })
  const queue: FromWorker[] = []
  let failure: Error | undefined
  let wake: (() => void) | undefined
  worker.on('message', (m: FromWorker) => {
    queue.push(m)
    wake?.()
  })
  worker.on('error', (err) => {
    failure = err
    wake?.()
  })
  worker.on('exit', (code) => {
    failure ??= code === 0 ? undefined : new Error(`the dump's worker thread exited with code ${code}`)
    wake?.()
  })
  const onAbort = (): void => void worker.terminate()
  signal?.addEventListener('abort', onAbort)
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason
      const m = queue.shift()
      if (m === undefined) {
        if (failure) throw failure
        await new Promise<void>((r) => (wake = r))
        continue
      }
      if (m.type === 'error') throw m.code === undefined ? new Error(m.message) : new MbwaError(m.code as ErrorCode, m.message, m.details)
      if (m.type === 'done') {
        Object.assign(counts, m.counts)
        return
      }
      const value = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength)
      const messages: LogMessage[] = new Array(m.keys.length)
      let start = 0
      for (let i = 0; i < m.keys.length; i++) {
        messages[i] = { key: m.keys[i]!, value: value.subarray(start, m.ends[i]) }
        start = m.ends[i]!
      }
      worker.postMessage({ type: 'more' } satisfies ToWorker)
      yield { messages, pages: m.pages }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
    await worker.terminate()
  }
}
