import type { Command } from 'commander'
import { MbwaError } from '../errors/errors.js'
import { EventStore, type EventToAppend } from '../events/event-log.js'
import { SchemaRegistry } from '../events/registry.js'
import { titleKey } from '../events/titles.js'
import { openLog } from '../log/open-log.js'
import { readDump, verifyDump } from '../sinks/dump-file.js'
import { commandContext } from './context.js'
import { importWikimedia } from './import-wikimedia.js'
import { Progress } from '../progress.js'

// `mbwa import FILE`: a dump becomes a snapshot: PageObserved events (source import) for every title, then a
// SnapshotCompleted marker to every partition, so a new deployment starts from a dump instead of reading the wiki.
export function registerImport(program: Command): void {
  program
    .command('import [file]')
    .description('append a dump\'s pages to the events topic as a snapshot of its wiki: an mbwa dump FILE, or Wikimedia\'s table dumps (--wikimedia)')
    .option('--wikimedia [url]', "import each wiki's newest complete run of Wikimedia's dumps (default: sources.wikimediaDumps.url; a URL or a local mirror folder)")
    .option('--wiki <code...>', 'with --wikimedia: only these wikis (default: every wiki the configuration names or discovers)')
    .option('--no-progress', 'no progress bar (off when stderr is not a terminal; log lines then say how far it is)')
    .addHelpText('after', '\nExamples:\n  mbwa import data/dumps/fr-2026-12-01.mbwa.gz\n  mbwa import --wikimedia --wiki fr de\n  mbwa import --wikimedia /public/dumps/public --wiki fr\n')
    .action(async (file: string | undefined, options: { progress: boolean; wikimedia?: string | true; wiki?: string[] }, command: Command) => {
      if (options.wikimedia !== undefined) {
        if (file !== undefined) throw new MbwaError('MBWA_CONFIG_INVALID', 'give a dump FILE or --wikimedia, not both', {})
        await importWikimedia(command, { url: options.wikimedia === true ? undefined : options.wikimedia, wikis: options.wiki, progress: options.progress })
        return
      }
      if (file === undefined) throw new MbwaError('MBWA_CONFIG_INVALID', 'give a dump FILE, or --wikimedia to import Wikimedia\'s table dumps', {})
      await importDumpFile(file, command, options.progress)
    })
}

/** `mbwa import FILE`: an mbwa dump's pages appended as a snapshot of its wiki, after the file is checked through. */
async function importDumpFile(file: string, command: Command, progress: boolean): Promise<void> {
  const verified = verifyDump(file)
  const wiki = verified.header.wiki
  const { config, logger } = commandContext(command)
  // A dump of a wiki mbwa does not follow would become facts no rule reads (and a typo'd file stays unnoticed).
  if (!config.wikis[wiki] && !config.discovery.sitematrix.enabled) {
    throw new MbwaError('MBWA_WIKI_NOT_CONFIGURED', `the dump is of ${JSON.stringify(wiki)}, which is not in the configuration (and no sitematrix discovers wikis)`, { wiki })
  }
  const { log, topics } = await openLog(config, logger)
  try {
    const events = new EventStore(log, SchemaRegistry.load())
    const snapshotId = `import:${wiki}:${verified.sha256.slice(0, 16)}`
    // The pages are as the dump saw them when it was written: that is the snapshot's start, so a page observed
    // after it (by this deployment's own sources) is neither swept nor overruled.
    const written = Date.parse(verified.header.createdAt)
    const startedAt = Number.isFinite(written) ? Math.min(written, Date.now()) : Date.now()
    await events.append(topics.events, [{ type: 'SnapshotStarted', key: `snapshot:${wiki}`, value: { id: `${snapshotId}:started`, source: 'import', observedAt: startedAt, wiki, snapshotId } }])
    const began = Date.now()
    let batch: EventToAppend[] = []
    let n = 0
    const bar = new Progress({ label: `import ${wiki}`, unit: 'titles', total: verified.count, logger, bar: progress && process.stderr.isTTY === true })
    for (const { title, page } of readDump(file)) {
      if (page.links === null) {
        // The source did not know this page's links (changed since last read): say what it knew, no more.
        batch.push({
          type: 'PageCreated',
          key: titleKey(title),
          value: { id: `${snapshotId}:${n}`, source: 'import', observedAt: startedAt, wiki, title, pageId: page.pageId, revision: page.revision, byBot: page.byBot ?? false, createdAt: page.createdAt, redirect: page.redirect },
        })
        n++
        continue
      }
      batch.push({
        type: 'PageObserved',
        key: titleKey(title),
        value: {
          id: `${snapshotId}:${n}`,
          source: 'import',
          observedAt: startedAt,
          wiki,
          title,
          pageId: page.pageId,
          exists: true,
          redirect: page.redirect,
          blank: page.blank,
          revision: page.revision,
          links: page.links,
          writtenLinks: page.writtenLinks,
          snapshotId,
        },
      })
      n++
      if (batch.length >= 5000) {
        await events.append(topics.events, batch)
        batch = []
        bar.update(n)
      }
    }
    if (batch.length > 0) await events.append(topics.events, batch)
    bar.update(n)
    bar.stop()
    await events.appendToEveryPartition(topics.events, 'SnapshotCompleted', (partition) => ({ id: `${snapshotId}:completed:${partition}`, source: 'import', observedAt: Date.now(), wiki, snapshotId, partition, startedAt, pages: n }))
    const seconds = Math.max(0.001, (Date.now() - began) / 1000)
    process.stdout.write(`imported ${n} titles of ${wiki} from ${file} (${Math.round(n / seconds)} titles/s)\n`)
  } finally {
    await log.close()
  }
}
