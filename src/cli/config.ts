import type { Command } from 'commander'
import { stringify } from 'yaml'
import { commandContext } from './context.js'

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration (all layers applied; secrets appear as their references) and exit')
    .action((_options: unknown, command: Command) => {
      const { config, file } = commandContext(command)
      process.stdout.write(`# from: ${file ?? '(no file: defaults)'}, then MBWA_* environment, then flags\n`)
      process.stdout.write(stringify(config))
    })
}
