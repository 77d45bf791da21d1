import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import { Writable } from 'node:stream'
import { writeAboveBars } from './terminal-lines.js'

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
  const tty = process.stderr.isTTY === true
  const readable = format === 'pretty' || (format === 'auto' && tty)
  // On a terminal, lines go above a live progress bar (terminal-lines.ts), written at once.
  const toTerminal = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writeAboveBars(chunk.toString())
      done()
    },
  })
  if (!readable) return pino(options, tty ? toTerminal : pino.destination({ fd: 2, sync: false }))
  return pino(options, pretty({ destination: tty ? toTerminal : 2, sync: true, colorize: tty, translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'", ignore: 'pid,hostname,name', singleLine: true }))
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: 'silent' })
