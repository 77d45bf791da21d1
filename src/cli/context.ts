import type { Command } from 'commander'
import { loadConfig, type LoadedConfig } from '../config/load.js'
import { createLogger, type Logger } from '../logging.js'
import type { Config } from '../config/schema.js'
import { readSecret } from '../config/secrets.js'

export interface GlobalFlags {
  config?: string
  dataDir?: string
  brokers?: string
  logLevel?: string
  logFormat?: string
}

/** The global flags as configuration overrides (the last layer). */
export function flagOverrides(flags: GlobalFlags): Record<string, unknown> {
  return {
    dataDir: flags.dataDir,
    'log.brokers': flags.brokers,
    'logging.level': flags.logLevel,
    'logging.format': flags.logFormat,
  }
}

export interface CommandContext extends LoadedConfig {
  logger: Logger
}

/** Loads the layered configuration for a subcommand (its global flags are the last layer) and a logger. */
export function commandContext(command: Command, extraFlags: Record<string, unknown> = {}): CommandContext {
  const flags = command.optsWithGlobals<GlobalFlags>()
  const loaded = loadConfig({ file: flags.config, flags: { ...flagOverrides(flags), ...extraFlags } })
  return { ...loaded, logger: createLogger(loaded.config.logging.level, loaded.config.logging.format) }
}

/**
 * Resolves on the first SIGINT or SIGTERM (the caller then stops gracefully: finishes the batch in hand, commits,
 * leaves the group, closes its stores); a second signal exits at once. Until then it keeps the process alive.
 * `stop` (an abort signal) ends the wait without a signal, e.g. when a component failed: otherwise the process
 * would stay up after its orderly stop, held by the wait alone.
 */
export function untilSignal(stop?: AbortSignal): Promise<NodeJS.Signals | 'stopped'> {
  return new Promise((resolve) => {
    // Signal handlers alone do not keep Node's event loop alive.
    const keepAlive = setInterval(() => undefined, 1 << 30)
    const release = (): void => {
      clearInterval(keepAlive)
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      stop?.removeEventListener('abort', stopped)
    }
    const stopped = (): void => {
      release()
      resolve('stopped')
    }
    const on = (signal: NodeJS.Signals): void => {
      release()
      const now = (again: NodeJS.Signals): void => {
        process.stderr.write(`mbwa: ${again} again: exiting now, without finishing the stop\n`)
        process.exit(again === 'SIGINT' ? 130 : 143)
      }
      process.once('SIGINT', now)
      process.once('SIGTERM', now)
      resolve(signal)
    }
    if (stop?.aborted) return stopped()
    stop?.addEventListener('abort', stopped)
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

/** Headers for requests to a running mbwa's endpoint: its bearer token, when the configuration names one. */
export function endpointHeaders(config: Config): Record<string, string> {
  return config.http.token ? { authorization: `Bearer ${readSecret(config.http.token, 'http.token')}` } : {}
}

/** A running mbwa's endpoint: the one named, or this configuration's own (http.host:http.port). */
export function endpointUrl(config: Config, url?: string): string {
  return (url ?? `http://${config.http.host}:${config.http.port}`).replace(/\/$/, '')
}

/**
 * After an orderly stop (state written, logs flushed), the process should end by itself. If something still holds
 * it (a client library's retry timer while a broker is away, say), it ends anyway after `graceMs`, naming what held
 * it, so a supervisor sees the exit and restarts it rather than waiting on a process that does nothing.
 */
export function exitAfterStop(logger: Logger, graceMs = 5000): void {
  setTimeout(() => {
    logger.warn({ holding: process.getActiveResourcesInfo() }, 'mbwa stopped, but something still held the process: exiting')
    logger.flush()
    process.exit()
  }, graceMs).unref()
}
