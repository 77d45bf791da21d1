import type { Command } from 'commander'
import { stringify } from 'yaml'
import { commandContext } from './context.js'
import { checkConfig } from './config-check.js'

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration (all layers applied; secrets appear as their references) and exit')
    .option('--check', 'contact each configured endpoint once (wikis, sitematrix, EventStreams, Kafka) and print what it said; exit 1 if any failed')
    .action(async (options: { check?: boolean }, command: Command) => {
      const { config, file } = commandContext(command)
      if (options.check) {
        process.stdout.write(`# from: ${file ?? '(no file: defaults)'}; ${Object.keys(config.wikis).length} wikis configured\n`)
        const lines = await checkConfig(config)
        if (lines.length === 0) process.stdout.write('nothing to check: no wikis, no sitematrix, no EventStreams, no Kafka configured\n')
        const width = Math.max(0, ...lines.map((l) => l.what.length))
        for (const l of lines) process.stdout.write(`${l.what.padEnd(width)}  ${l.ok ? 'ok    ' : 'FAILED'}  ${l.said}\n`)
        const failed = lines.filter((l) => !l.ok).length
        if (failed > 0) {
          process.stderr.write(`mbwa: ${failed} of ${lines.length} checks failed\n`)
          process.exitCode = 1
        }
        return
      }
      process.stdout.write(`# from: ${file ?? '(no file: defaults)'}, then MBWA_* environment, then flags\n`)
      process.stdout.write(stringify(config))
    })
}
