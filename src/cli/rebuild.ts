import { existsSync, renameSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { MbwaError } from '../errors/errors.js'
import { EventStore } from '../events/event-log.js'
import { SchemaRegistry } from '../events/registry.js'
import { openLog } from '../log/open-log.js'
import { Projector } from '../projections/projector.js'
import { digestHex, TitleStore } from '../projections/title-store.js'
import { wikiRules } from '../domain/wiki-rules.js'
import { commandContext } from './context.js'
import { Progress } from '../progress.js'

// Rebuilding is replaying: a fresh store is fed the events topic from offset 0 (in a group of its own, so the
// live group's offsets are untouched; no edit commands are sent), and swapped in for the live one when it has
// caught up with the end the topic had when the rebuild began. The live store must not be open: stop `mbwa run`
// (on Kafka: this member) first.
export function registerRebuild(program: Command): void {
  program
    .command('rebuild')
    .description('replay the events topic from offset 0 into a fresh projection store and swap it in')
    .option('--no-progress', 'no progress bar (off when stderr is not a terminal; log lines then say how far it is)')
    .action(async (options: { progress: boolean }, command: Command) => {
      const { config, logger } = commandContext(command)
      const dir = resolve(config.dataDir)
      const live = join(dir, 'projection')
      const fresh = join(dir, 'projection.rebuild')
      if (existsSync(live)) {
        // Refuse early if the live store is open elsewhere: swapping a directory under a running process loses it.
        // Only a lock says it is in use: a store of another format, or one that does not open, is what the rebuild replaces.
        const probe = await TitleStore.open(live).catch((err: { cause?: { code?: string } }) => {
          if (err.cause?.code === 'LEVEL_LOCKED') throw new MbwaError('MBWA_LOG_LOCKED', `the projection at ${live} is in use: stop mbwa run first`, {}, { cause: err })
          return undefined
        })
        await probe?.close()
      }
      rmSync(fresh, { recursive: true, force: true })
      const { log, topics } = await openLog(config, logger)
      const store = await TitleStore.open(fresh)
      let closed = false
      try {
        const events = new EventStore(log, SchemaRegistry.load())
        const ends = await log.endOffsets(topics.events)
        const total = ends.reduce((a, b) => a + b, 0)
        const projector = new Projector({
          store,
          events,
          topics,
          groupId: `${config.log.groupId}.rebuild.${Date.now()}`,
          rules: wikiRules(config),
          rulesWith: (discovered) => wikiRules(config, discovered),
          emitCommands: false,
          maxBatchSize: config.projection.maxBatchSize,
          logger,
        })
        const progress = new Progress({ label: 'rebuild', unit: 'events', total, logger, bar: options.progress && process.stderr.isTTY === true })
        const started = Date.now()
        await projector.start()
        const caughtUp = () => {
          const s = projector.status()
          return s.length === ends.length && s.every((x) => x.offset >= ends[x.partition]!)
        }
        while (!caughtUp()) {
          await Promise.race([projector.closed.then(() => Promise.reject(new Error('the projector stopped'))), new Promise((r) => setTimeout(r, 250))])
          progress.update(projector.status().reduce((n, x) => n + Math.min(x.offset, ends[x.partition]!), 0))
        }
        await projector.stop()
        progress.update(total)
        progress.stop()
        const d = await store.digest('all')
        await store.close()
        closed = true
        // The swap: the old store aside, the new one in, the old one removed.
        const old = `${live}.old-${Date.now()}`
        if (existsSync(live)) renameSync(live, old)
        renameSync(fresh, live)
        rmSync(old, { recursive: true, force: true })
        const seconds = (Date.now() - started) / 1000
        process.stdout.write(`rebuilt from ${total} events in ${seconds.toFixed(1)} s (${Math.round(total / Math.max(seconds, 0.001))} events/s)\n${digestHex(d.sum)}  ${d.pages} pages\n`)
      } finally {
        if (!closed) await store.close().catch(() => undefined)
        await log.close()
      }
    })
}
