import type { Command } from 'commander'
import { ProjectionService } from '../app/projection.js'
import { SinkService } from '../app/sink.js'
import { Sources } from '../app/sources.js'
import { EventStore } from '../events/event-log.js'
import { SchemaRegistry } from '../events/registry.js'
import { openLog } from '../log/open-log.js'
import { commandContext, endpointHeaders, exitAfterStop, untilSignal } from './context.js'
import { missingNodeFlags } from '../node-flags.js'
import { preflight } from '../app/preflight.js'
import type { StatsResponse } from '../projections/http/responses.js'

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run mbwa: the configured sources, the log, the projection and the sink, until SIGINT or SIGTERM')
    .option('--apply', 'edit the wikis (the default is a dry run that prints a diff per page)')
    .action(async (options: { apply?: boolean }, command: Command) => {
      const { config, file, logger } = commandContext(command, options.apply ? { 'sink.apply': true } : {})
      logger.info({ config: file ?? '(defaults)' }, 'mbwa starting')
      const missing = missingNodeFlags()
      if (missing.length > 0) logger.info({ missing }, 'node was started without %s: mbwa works, with more CPU and memory spent on garbage (npm start and the mbwa command pass these flags)', missing.join(' '))
      // Everything that can be checked is checked before anything starts: a failed start leaves nothing running.
      await preflight(config)
      const started: { stop(): Promise<void> }[] = []
      // Listening for SIGINT and SIGTERM from here on: a signal while mbwa starts (or just as it says it runs, which
      // a supervisor may answer at once) is an orderly stop once the start is over, never the default kill.
      const ended = new AbortController()
      const signalled = untilSignal(ended.signal)
      let log, topics, sources: Sources, sink: SinkService | undefined, projection: ProjectionService
      try {
        ;({ log, topics } = await openLog(config, logger))
        const opened = log
        started.push({ stop: () => opened.close() })
        const events = new EventStore(log, SchemaRegistry.load())
        // The sink and the projection (the query endpoint) start before the sources read any wiki.
        const s = config.sink.enabled ? await SinkService.start(config, events, topics, logger) : undefined
        sink = s
        if (s) started.push(s)
        let sourcesStatus: () => StatsResponse['sources'] = () => null
        const p = await ProjectionService.start(config, events, topics, logger, { sink: s ? () => s.status() : undefined, sources: () => sourcesStatus() })
        projection = p
        started.push(p)
        s?.reportsFrom(p.url, endpointHeaders(config))
        const projector = projection.projector
        sources = await Sources.start(config, events, topics, logger, { projectionBacklog: () => projector.status().reduce((n, st) => n + Math.max(0, st.end - st.offset), 0) })
        const src = sources
        sourcesStatus = () => src.status()
      } catch (err) {
        ended.abort()
        logger.error({ err: (err as Error).message }, 'mbwa could not start; stopping what had started')
        for (const part of started.reverse()) await part.stop().catch(() => undefined)
        logger.flush()
        exitAfterStop(logger, 1000)
        throw err
      }
      const ends = await log.endOffsets(topics.events)
      logger.info(
        { log: log.kind, topics, events: ends.reduce((a, b) => a + b, 0), wikis: Object.keys(config.wikis).length },
        'mbwa running; SIGINT or SIGTERM stops it',
      )
      process.stderr.write(`mbwa: running on the ${log.kind} log (${topics.events}), queries at ${projection.url}; Ctrl-C stops\n`)
      // A component that stops on its own (the projection's or the sink's consumer failed for good) stops mbwa
      // with an error, rather than leaving it serving a projection that no longer follows the log.
      const failed = (name: string, closed: Promise<void>) =>
        closed.then(
          () => new Promise<never>(() => undefined),
          (err: unknown) => ({ failed: name, err }),
        )
      const outcome = await Promise.race([signalled.then((signal) => ({ signal })), failed('projection', projection.projector.closed), failed('sources', sources.closed), ...(sink ? [failed('sink', sink.sink.closed)] : [])])
      // A component failed: the wait for a signal ends too (it alone would keep the process up after the stop).
      ended.abort()
      if ('failed' in outcome) {
        logger.error({ component: outcome.failed, err: (outcome.err as Error)?.message }, 'mbwa stopping: a component failed')
        process.exitCode = 1
      } else logger.info({ signal: outcome.signal }, 'mbwa stopping')
      await sources.stop()
      await sink?.stop()
      await projection.stop()
      await log.close()
      logger.info('mbwa stopped')
      logger.flush()
      exitAfterStop(logger)
    })
}
