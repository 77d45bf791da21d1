import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { doubled } from '../backoff.js'
import type { Logger } from '../logging.js'
import type { EditQueue } from './edit-queue.js'
import type { WikiEditor } from './wiki-editor.js'

// Wikis the sink stopped writing to (read-only, a block, lost rights): paused in the sink's store with the reason,
// checked again with a backoff that doubles up to a limit, resumed by themselves once a check finds them writable,
// or by hand (`mbwa sink resume WIKI` leaves a file in the control folder while mbwa runs).

export interface PauseControlOptions {
  queue: EditQueue
  editors: ReadonlyMap<string, WikiEditor>
  controlDir?: string
  /** Backoff of the checks (default 1 min doubling to 1 h). */
  check?: { baseDelayMs: number; maxDelayMs: number }
  logger: Logger
  now: () => number
}

export class PauseControl {
  constructor(private readonly options: PauseControlOptions) {}

  async pause(wiki: string, reason: string): Promise<void> {
    const { queue, logger, now } = this.options
    const base = this.options.check?.baseDelayMs ?? 60_000
    await queue.pause(wiki, { reason, since: now(), checkAt: now() + base, backoffMs: base })
    logger.error({ wiki, reason }, 'sink: paused writing to this wiki; it is checked again with backoff (mbwa sink resume resumes it by hand)')
  }

  /** Resume requests left by hand, taken (each file is removed as it is read). */
  private askedByHand(): Set<string> {
    const asked = new Set<string>()
    const dir = this.options.controlDir
    if (!dir) return asked
    try {
      for (const f of readdirSync(dir)) {
        asked.add(f)
        rmSync(join(dir, f), { force: true })
      }
    } catch {
      // no requests
    }
    return asked
  }

  /** Paused wikis whose check is due (or whose resume was asked for): writable again → resumed. */
  async checkPaused(): Promise<void> {
    const { queue, editors, logger, now } = this.options
    const asked = this.askedByHand()
    for (const [wiki, info] of queue.pausedWikis()) {
      if (asked.has(wiki)) {
        await queue.resume(wiki)
        logger.info({ wiki }, 'sink: resumed by hand')
        continue
      }
      if (info.checkAt > now()) continue
      const editor = editors.get(wiki)
      const state = editor ? await editor.writable() : { ok: true as const }
      if (state.ok) {
        await queue.resume(wiki)
        logger.info({ wiki, pausedFor: info.reason }, 'sink: the wiki is writable again; resumed')
        continue
      }
      const max = this.options.check?.maxDelayMs ?? 3600_000
      const backoffMs = doubled(info.backoffMs, max)
      await queue.pause(wiki, { ...info, reason: state.reason, checkAt: now() + info.backoffMs, backoffMs })
    }
  }
}
