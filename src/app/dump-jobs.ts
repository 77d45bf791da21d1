import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../config/schema.js'
import type { EventStore } from '../events/event-log.js'
import type { Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import type { Projector } from '../projections/projector.js'
import { wikiPageParts, type TitleStore } from '../projections/title-store.js'
import { DumpWorker, dumpWorkerPace } from '../sinks/dump-worker.js'

// Dumps inside `mbwa run` (dumps.worker): one worker that dumps, one after another, every wiki that is due, from
// this member's own store, with its leases and outcomes on the same log as everything else, so the member's dump
// monitor (/dumps, /v1/dumps) sees them. For a deployment on one machine with the embedded log, where a separate
// `mbwa dump run` process would need a log of its own and its dumps would stay invisible.

export class DumpJobs {
  private stopped = false
  private loop: Promise<void> | undefined
  private readonly worker: DumpWorker
  /** Between two looks for a wiki that is due (dumps.checkSeconds). */
  private readonly pauseMs: number

  constructor(config: Config, events: EventStore, topics: TopicNames, store: TitleStore, projector: Projector, private readonly logger: Logger) {
    this.pauseMs = config.dumps.checkSeconds * 1000
    this.worker = new DumpWorker({
      events,
      registry: events.registry,
      topic: topics.dumps,
      pages: { parts: (wiki) => wikiPageParts(store, wiki) },
      dir: dumpsDirOf(config),
      // The open wikis the rules know now (configured, and discovered ones) whose pages this store holds in full:
      // every partition caught up and holding the wiki's completed snapshot. A dump before that would be partial.
      wikis: () => {
        const owned = [...projector.owned.values()]
        if (owned.length === 0 || owned.some((o) => o.restoring)) return []
        return [...projector.rules().values()].filter((r) => !r.closed && owned.every((o) => o.applier.snapshotMarks[r.code] !== undefined)).map((r) => r.code)
      },
      ...dumpWorkerPace(config.dumps),
      logger,
    })
  }

  start(): void {
    this.loop = this.run()
  }

  private async run(): Promise<void> {
    // Each wiki once per round: one whose dump failed waits for the next round (its retry delay applies too).
    while (!this.stopped) {
      const tried = new Set<string>()
      try {
        for (;;) {
          if (this.stopped) return
          const lease = await this.worker.claim(undefined, tried)
          if (!lease) break
          tried.add(lease.wiki)
          const done = await this.worker.run(lease)
          if (done) this.logger.info({ wiki: lease.wiki, path: done.path, titles: done.count }, 'dumps: dump written')
        }
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'dumps: a dump job failed; tried again in the next round')
      }
      for (let waited = 0; waited < this.pauseMs && !this.stopped; waited += 200) await sleep(200)
    }
  }

  /** Stops taking jobs. A dump being written is left to its lease (declared abandoned once its heartbeats stop). */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.race([this.loop, sleep(2000)])
    await this.worker.close()
  }
}

/** The dump folder: dumps.dir, or DATA_DIR/dumps. */
export function dumpsDirOf(config: Config): string {
  return config.dumps.dir ?? join(resolve(config.dataDir), 'dumps')
}
