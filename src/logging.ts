import { pino, type Logger } from 'pino'

export type { Logger }

// Structured logs (JSON lines on stderr, so stdout stays free for command output). Secrets never reach a log
// line: the fields that could carry one are redacted wherever they appear.
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

export function createLogger(level: string = process.env.MBWA_LOGGING__LEVEL ?? 'info'): Logger {
  return pino(
    {
      name: 'mbwa',
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    pino.destination({ fd: 2, sync: false }),
  )
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: 'silent' })
