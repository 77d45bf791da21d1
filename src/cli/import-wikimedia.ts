import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { MbwaError } from '../errors/errors.js'
import { EventStore } from '../events/event-log.js'
import { SchemaRegistry } from '../events/registry.js'
import { openLog } from '../log/open-log.js'
import { MediaWikiClient } from '../mediawiki/client.js'
import { CheckpointStore } from '../streams/checkpoints.js'
import { mergeWikis, sitematrixWikis, wikisFromConfig, type DiscoveredWiki } from '../streams/discovery.js'
import { WikimediaDumpSource } from '../streams/wikimedia-dumps/dump-source.js'
import { commandContext } from './context.js'

// `mbwa import --wikimedia [URL] [--wiki CODE ...]`: each wiki's newest complete run of Wikimedia's dumps, once,
// as its snapshot (what `mbwa run` does by itself with sources.wikimediaDumps). Wikis one after the other, files
// in series: the dumps site asks for no more than two connections per address.
export async function importWikimedia(command: Command, options: { url?: string; wikis?: string[]; progress: boolean }): Promise<void> {
  const { config, logger } = commandContext(command)
  let known: DiscoveredWiki[] = wikisFromConfig(config)
  if (config.discovery.sitematrix.enabled) {
    const meta = new MediaWikiClient({ api: config.discovery.sitematrix.api, contact: config.userAgent.contact, logger })
    try {
      known = mergeWikis(await sitematrixWikis(meta, config.discovery.sitematrix.family), known)
    } finally {
      await meta.close()
    }
  }
  const wanted = options.wikis ?? known.filter((w) => !w.closed).map((w) => w.code)
  const byCode = new Map(known.map((w) => [w.code, w]))
  for (const code of wanted) {
    if (!byCode.has(code)) throw new MbwaError('MBWA_WIKI_NOT_CONFIGURED', `${JSON.stringify(code)} is not in the configuration (and no sitematrix lists it)`, { wiki: code })
  }
  if (wanted.length === 0) throw new MbwaError('MBWA_WIKI_NOT_CONFIGURED', 'no wikis to import: add some under `wikis:` or enable discovery.sitematrix', {})
  const { log, topics } = await openLog(config, logger)
  const checkpoints = await CheckpointStore.open(join(resolve(config.dataDir), 'sources'))
  const clients: MediaWikiClient[] = []
  let failed = 0
  try {
    const events = new EventStore(log, SchemaRegistry.load())
    const source = new WikimediaDumpSource({ config, events, topic: topics.events, checkpoints, logger, url: options.url, bar: options.progress && process.stderr.isTTY === true })
    for (const code of wanted) {
      const w = byCode.get(code)!
      const choice = await source.choose(code, w.dbname)
      if ('none' in choice) {
        const why = { 'no-complete-run': `no complete run of ${w.dbname} at ${source.site.where}`, 'not-newer': `run ${choice.date} is imported already`, 'too-old': `the newest complete run (${choice.date}) is older than sources.wikimediaDumps.maxRunAgeDays (recent changes would not reach back to it)` }[choice.none]
        process.stdout.write(`${code}: nothing imported: ${why}\n`)
        if (choice.none !== 'not-newer') failed++
        continue
      }
      const client = new MediaWikiClient({ api: w.api, contact: config.userAgent.contact, logger })
      clients.push(client)
      try {
        const r = await source.import({ code, client, dbname: w.dbname }, choice.run)
        process.stdout.write(`${code}: imported ${r.pages} pages of ${w.dbname}-${r.date} in ${r.seconds.toFixed(1)} s (${Math.round(r.pages / Math.max(r.seconds, 0.001))} pages/s; ${r.linksNewer} with links newer than the run's langlinks, ${r.orphanLinks} langlinks rows without their page)\n`)
      } catch (err) {
        failed++
        process.stderr.write(`mbwa: ${code}: ${(err as MbwaError).code ?? 'error'} ${(err as Error).message}\n`)
      }
    }
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()))
    await checkpoints.close()
    await log.close()
  }
  if (failed > 0) process.exitCode = 1
}
