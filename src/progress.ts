import { Presets, SingleBar } from 'cli-progress'
import type { Logger } from './logging.js'
import { barStarted, barStopped } from './terminal-lines.js'

// Progress of long work (snapshots, rebuild, import, dumps): a bar on a terminal (cli-progress), and a log line
// every `everyMs` otherwise, so a person reading a journal or a Kubernetes log sees it move too. Rate and ETA
// are over this run; with no known total there is no ETA.

export interface ProgressOptions {
  /** What is being done, e.g. "rebuild" or "snapshot en". */
  label: string
  /** What is counted, e.g. "events", "pages". */
  unit: string
  total?: number | null
  logger: Logger
  /** Draw a bar (default: when stderr is a terminal). */
  bar?: boolean
  everyMs?: number
  /** Extra fields of every log line (e.g. the wiki). */
  fields?: Record<string, unknown>
  now?: () => number
}

export interface ProgressFigures {
  done: number
  total: number | null
  rate: number
  etaSeconds: number | null
}

export class Progress {
  private readonly bar: SingleBar | undefined
  private readonly startedAt: number
  private readonly startDone: number
  private lastLogAt: number
  private done: number
  private total: number | null
  private readonly now: () => number
  private live: { redraw(): void } | undefined

  constructor(
    private readonly options: ProgressOptions,
    done = 0,
  ) {
    this.now = options.now ?? Date.now
    this.startedAt = this.now()
    this.lastLogAt = this.startedAt
    this.done = done
    this.startDone = done
    this.total = options.total ?? null
    if (options.bar ?? process.stderr.isTTY === true) {
      this.bar = new SingleBar(
        {
          // With no known total: a count and a rate, no bar.
          format: this.total === null ? `${options.label} {value} ${options.unit} | {speed} ${options.unit}/s` : `${options.label} |{bar}| {value}/{total} ${options.unit} | {speed} ${options.unit}/s | ETA {eta_formatted}`,
          stream: process.stderr,
          etaBuffer: 50,
          hideCursor: true,
        },
        Presets.shades_classic,
      )
      this.bar.start(this.total ?? 0, done, { speed: 0 })
      // Log lines go above it (terminal-lines.ts): cli-progress draws again what it drew last when told to.
      const bar = this.bar as unknown as { lastDrawnString: string | null; render(): void }
      this.live = { redraw: () => { bar.lastDrawnString = null; bar.render() } }
      barStarted(this.live)
    }
  }

  figures(): ProgressFigures {
    const seconds = (this.now() - this.startedAt) / 1000
    const rate = seconds > 0 ? (this.done - this.startDone) / seconds : 0
    const left = this.total === null ? null : Math.max(0, this.total - this.done)
    return { done: this.done, total: this.total, rate: Math.round(rate * 10) / 10, etaSeconds: left === null || rate <= 0 ? null : Math.round(left / rate) }
  }

  update(done: number, total?: number | null): void {
    this.done = done
    if (total !== undefined) {
      this.total = total
      if (total !== null) this.bar?.setTotal(total)
    }
    const f = this.figures()
    if (this.bar) {
      // A total passed means more than was expected (a wiki grew): the bar follows.
      if (this.total !== null && done > this.total) this.bar.setTotal(done)
      this.bar.update(done, { speed: Math.round(f.rate) })
      return
    }
    if (this.now() - this.lastLogAt >= (this.options.everyMs ?? 10_000)) {
      this.lastLogAt = this.now()
      this.options.logger.info({ ...this.options.fields, [this.options.unit]: f.done, total: f.total, perSecond: f.rate, etaSeconds: f.etaSeconds }, `${this.options.label}: progress`)
    }
  }

  stop(): ProgressFigures {
    const f = this.figures()
    this.bar?.update(this.done, { speed: Math.round(f.rate) })
    this.bar?.stop()
    if (this.live) barStopped(this.live)
    return f
  }
}
