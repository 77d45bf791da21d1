import type { Command } from 'commander'
import { openLog } from '../log/open-log.js'
import { commandContext } from './context.js'

// Inspect and reset a consumer group's committed offsets: the by-hand way to replay a topic (stop the group's
// members first; mbwa's projection stores its own offsets and has `mbwa rebuild` for this).
export function registerOffsets(program: Command): void {
  const offsets = program.command('offsets').description("show or reset a consumer group's committed offsets")
  offsets
    .command('show', { isDefault: true })
    .description('committed offset, end offset and lag per partition')
    .option('--group <id>', 'consumer group (default: log.groupId)')
    .option('--topic <name>', 'topic (default: the events topic)')
    .action(async (options: { group?: string; topic?: string }, command: Command) => {
      const { config, logger } = commandContext(command)
      const { log, topics } = await openLog(config, logger, { existing: true })
      try {
        const group = options.group ?? config.log.groupId
        const topic = options.topic ?? topics.events
        const [committed, ends] = await Promise.all([log.committedOffsets(group, topic), log.endOffsets(topic)])
        process.stdout.write(`group ${group}, topic ${topic}\npartition\tcommitted\tend\tlag\n`)
        ends.forEach((end, p) => {
          // A partition the group never committed: "none" (it starts where the group's reset says), all of it lag.
          const c = committed[p] ?? -1
          process.stdout.write(`${p}\t${c < 0 ? 'none' : c}\t${end}\t${c < 0 ? end : end - c}\n`)
        })
      } finally {
        await log.close()
      }
    })
  offsets
    .command('reset')
    .description('set the committed offsets of a stopped group to the earliest or latest offsets')
    .requiredOption('--to <where>', 'earliest or latest (required)')
    .option('--group <id>', 'consumer group (default: log.groupId)')
    .option('--topic <name>', 'topic (default: the events topic)')
    .action(async (options: { group?: string; topic?: string; to: string }, command: Command) => {
      if (options.to !== 'earliest' && options.to !== 'latest') {
        command.error(`error: --to must be earliest or latest, not ${options.to}`)
      }
      const { config, logger } = commandContext(command)
      const { log, topics } = await openLog(config, logger)
      try {
        const group = options.group ?? config.log.groupId
        const topic = options.topic ?? topics.events
        await log.resetOffsets(group, topic, options.to as 'earliest' | 'latest')
        process.stdout.write(`group ${group}, topic ${topic}: offsets reset to ${options.to}\n`)
      } finally {
        await log.close()
      }
    })
}
