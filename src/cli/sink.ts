import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { request } from 'undici'
import { sinkControlDir, type SinkStatus } from '../app/sink.js'
import type { Config } from '../config/schema.js'
import { MbwaError } from '../errors/errors.js'
import { EditQueue, type PauseInfo } from '../sinks/edit-queue.js'
import { WIKI_CODE } from '../domain/wiki-code.js'
import type { StatsResponse } from '../projections/http/responses.js'
import { commandContext, endpointHeaders, endpointUrl } from './context.js'

// The edit sink from the command line: what waits per wiki and which wikis are paused and why; resuming a paused
// wiki by hand. The sink's store is locked while `mbwa run` holds it: status then asks the running instance's
// endpoint, and resume leaves a request the running sink takes within seconds.

async function openQueue(config: Config): Promise<EditQueue | undefined> {
  const dir = join(resolve(config.dataDir), 'sink')
  if (!existsSync(dir)) throw new MbwaError('MBWA_NO_STORE', `no sink store at ${dir}: no sink ever ran there (is dataDir, or --data-dir, right?)`, { path: dir })
  try {
    return await EditQueue.open(dir)
  } catch {
    return undefined // in use by mbwa run
  }
}

function printStatus(s: { waiting: Record<string, number>; paused: Record<string, PauseInfo>; apply?: boolean }, from: string): void {
  const out: string[] = [`sink (${from})`]
  const wikis = [...new Set([...Object.keys(s.waiting), ...Object.keys(s.paused)])].sort()
  if (wikis.length === 0) out.push('  nothing waiting, no wiki paused')
  for (const w of wikis) {
    const p = s.paused[w]
    const state = p ? `paused since ${new Date(p.since).toISOString()}: ${p.reason}; next check ${new Date(p.checkAt).toISOString()}` : s.apply === undefined ? 'waiting for mbwa run' : s.apply ? 'writing' : 'dry run (nothing is written)'
    out.push(`  ${w}\t${s.waiting[w] ?? 0} waiting\t${state}`)
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

export function registerSink(program: Command): void {
  const sink = program.command('sink').description('the edit sink: waiting commands, paused wikis')
  sink
    .command('status', { isDefault: true })
    .description('commands waiting per wiki, and the wikis paused (read-only, blocked, rights lost) with why')
    .option('--url <url>', 'ask a running mbwa (default: the local store, or the local endpoint while mbwa run holds it)')
    .action(async (options: { url?: string }, command: Command) => {
      const { config } = commandContext(command)
      const queue = options.url ? undefined : await openQueue(config)
      if (queue) {
        try {
          printStatus({ waiting: Object.fromEntries(queue.backlog()), paused: Object.fromEntries(queue.pausedWikis()) }, `store ${join(resolve(config.dataDir), 'sink')}`)
        } finally {
          await queue.close()
        }
        return
      }
      const url = endpointUrl(config, options.url)
      const res = await request(`${url}/v1/stats`, { headers: endpointHeaders(config) }).catch((err: unknown) => {
        throw new MbwaError('MBWA_MEDIAWIKI_UNREACHABLE', `${url}: ${(err as Error).message}`)
      })
      const stats = (await res.body.json()) as StatsResponse<SinkStatus>
      if (!stats.sink) throw new MbwaError('MBWA_NOT_FOUND', `${url} runs no sink`)
      printStatus(stats.sink, url)
    })
  sink
    .command('resume <wiki>')
    .description('resume writing to a paused wiki now (it is also resumed by itself once a check finds it writable)')
    .action(async (wiki: string, _options: unknown, command: Command) => {
      if (!WIKI_CODE.test(wiki)) command.error(`error: not a wiki code: ${JSON.stringify(wiki)}`)
      const { config } = commandContext(command)
      if (!config.wikis[wiki]) throw new MbwaError('MBWA_WIKI_NOT_CONFIGURED', `${wiki}: not a wiki the configuration names; the sink writes only to those`, { wiki })
      const queue = await openQueue(config)
      if (queue) {
        try {
          const was = await queue.resume(wiki)
          process.stdout.write(was ? `${wiki}: resumed\n` : `${wiki}: was not paused\n`)
        } finally {
          await queue.close()
        }
        return
      }
      const dir = sinkControlDir(config)
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, wiki), '')
      process.stdout.write(`${wiki}: asked the running sink to resume it\n`)
    })
}
