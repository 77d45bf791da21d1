import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

// Structured logs on stderr, so stdout stays free for command output: JSON lines for machines (a file, a pipe,
// journald, a collector), readable lines with ISO times on a terminal (pino-pretty, written in this thread so a
// line is out before the process exits). Secrets never reach a log line: the fields that could carry one are
// redacted wherever they appear, in either format.
const REDACT = [
  'password',
  'token',
  'secret',
  'authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.*.password',
  '*.*.token',
  'headers.authorization',
  'headers.cookie',
]

export function createLogger(level: string = process.env.MBWA_LOGGING__LEVEL ?? 'info', format: 'auto' | 'json' | 'pretty' = 'auto'): Logger {
  const options = { name: 'mbwa', level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } }
  const readable = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true)
  if (!readable) return pino(options, pino.destination({ fd: 2, sync: false }))
  return pino(options, pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'", ignore: 'pid,hostname,name', singleLine: true }))
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: 'silent' })
