import { Command, Option } from 'commander'
import { exitCodeOf, isMbwaError } from '../errors/errors.js'
import { PACKAGE_VERSION } from '../paths.js'
import { registerRun } from './run.js'
import { registerConfig } from './config.js'
import { registerOffsets } from './offsets.js'
import { registerDigest } from './digest.js'
import { registerRebuild } from './rebuild.js'
import { registerRelink } from './relink.js'
import { registerDump } from './dump.js'
import { registerImport } from './import.js'
import { registerSink } from './sink.js'
import { registerStatus } from './status.js'
import { registerReport } from './report.js'

// mbwa's command line. Each subcommand lives in its own file and registers itself here.
export function buildProgram(): Command {
  const program = new Command()
  program
    .name('mbwa')
    .description('Keeps interlanguage links between wikis that share a title, as an event-sourced stream processor.')
    .version(PACKAGE_VERSION, '-V, --version')
    .addOption(new Option('-c, --config <file>', 'configuration file (default: first of ./mbwa.yaml, $XDG_CONFIG_HOME/mbwa/mbwa.yaml (~/.config), /etc/mbwa/mbwa.yaml; .yml too)'))
    .addOption(new Option('--data-dir <dir>', 'where the embedded log and stores live (config: dataDir)'))
    .addOption(new Option('--brokers <list>', 'Kafka bootstrap servers, comma-separated; none = embedded log (config: log.brokers)'))
    .addOption(new Option('--log-level <level>', 'log level (config: logging.level)'))
    .addOption(new Option('--log-format <format>', 'auto (readable on a terminal, else JSON), json or pretty (config: logging.format)'))
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Examples:
  mbwa run                                 every Wiktionary, cognate mode, a dry run (embedded log in ./data)
  mbwa --config mbwa.yaml run --apply      edit for real, as the configuration says
  mbwa status                              one screen from the running mbwa
  mbwa report --wiki en --format csv       the English Wiktionary's reports, for a spreadsheet
  mbwa config --check                      contact every configured endpoint once, start nothing

Configuration: ./mbwa.yaml, $XDG_CONFIG_HOME/mbwa/mbwa.yaml, /etc/mbwa/mbwa.yaml (first found), then MBWA_* variables
(MBWA_HTTP__PORT=9000: the key path in upper snake case, __ between levels), then flags.
Exit codes: 0 done, 1 failure, 2 bad configuration, 3 dump run: the wiki is not free to dump now.`,
    )
  registerRun(program)
  registerConfig(program)
  registerOffsets(program)
  registerDigest(program)
  registerRebuild(program)
  registerRelink(program)
  registerDump(program)
  registerImport(program)
  registerSink(program)
  registerStatus(program)
  registerReport(program)
  return program
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv)
    return process.exitCode === undefined ? 0 : Number(process.exitCode)
  } catch (err) {
    if (isMbwaError(err)) {
      process.stderr.write(`mbwa: ${err.message}\n  (${err.code})\n`)
      return exitCodeOf(err.code)
    }
    const code = (err as { code?: string }).code
    if (code?.startsWith('commander.')) return (err as { exitCode?: number }).exitCode ?? 1
    // What the system or a request said (a missing file, a refused connection, a bad URL): one line, no trace.
    const ordinary = ordinaryError(err)
    if (ordinary) {
      process.stderr.write(`mbwa: ${ordinary}\n`)
      return 1
    }
    process.stderr.write(`mbwa: ${(err as Error).stack ?? String(err)}\n`)
    return 1
  }
}


/** Errors a user can act on from their message alone: their code and message, or undefined for a bug. */
function ordinaryError(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined
  const code = (err as { code?: string }).code
  // Node's system errors (ENOENT, EACCES, ECONNREFUSED, ETIMEDOUT…), invalid URLs, undici's request errors.
  if (code !== undefined && (/^E[A-Z]+$/.test(code) || code === 'ERR_INVALID_URL' || code.startsWith('UND_ERR'))) return err.message.startsWith(code) ? err.message : `${code}: ${err.message}`
  if (err instanceof TypeError && /Invalid URL/i.test(err.message)) return `ERR_INVALID_URL: ${err.message}`
  const cause = (err as { cause?: unknown }).cause
  return cause ? ordinaryError(cause) : undefined
}
