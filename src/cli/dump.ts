import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { request } from 'undici'
import { MbwaError } from '../errors/errors.js'
import { TitleStore, wikiPageParts } from '../projections/title-store.js'
import { BLOCK, DumpWriter, lookupDump, mergeParts, verifyDump, verifyDumpAsync } from '../sinks/dump-file.js'
import { DumpWorker, dumpWorkerPace, type PageSource } from '../sinks/dump-worker.js'
import { httpPageSource } from '../sinks/page-sources.js'
import { EventStore } from '../events/event-log.js'
import { SchemaRegistry } from '../events/registry.js'
import { openLog } from '../log/open-log.js'
import { loadConfig } from '../config/load.js'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../config/schema.js'
import type { Logger } from '../logging.js'
import { safeWikiCode } from '../domain/wiki-code.js'
import { Progress } from '../progress.js'
import type { WikisResponse } from '../projections/http/responses.js'
import { dumpsDirOf } from '../app/dump-jobs.js'
import { commandContext, endpointHeaders, flagOverrides, untilSignal, type GlobalFlags } from './context.js'

// Dump files of one wiki's pages (format: src/sinks/dump-file.ts and the README): write from the local
// projection, verify, look a title up. Public dumps go to dataDir/dumps/public/WIKI/.
export function registerDump(program: Command): void {
  const dump = program.command('dump').description('dump files of a wiki\'s pages: write, verify, look up')
  registerDumpWrite(dump)
  registerDumpRun(dump)
  registerDumpWorker(dump)
  registerDumpVerify(dump)
  registerDumpLookup(dump)
}

/** `mbwa dump write`: a dump of a wiki from the local store. */
function registerDumpWrite(dump: Command): void {
  dump
    .command('write')
    .description('write a dump of one wiki from the local projection (stop mbwa run first, as for rebuild)')
    .requiredOption('--wiki <code>', 'the wiki (required)')
    .option('--out <file>', 'where (default dataDir/dumps/public/WIKI/WIKI-DATE.mbwa.gz)')
    .option('--no-progress', 'no progress bar (off when stderr is not a terminal; log lines then say how far it is)')
    .action(async (options: { wiki: string; out?: string; progress: boolean }, command: Command) => {
      const { config, logger } = commandContext(command)
      safeWikiCode(options.wiki)
      const path = join(resolve(config.dataDir), 'projection')
      if (!existsSync(path)) throw new MbwaError('MBWA_NOT_FOUND', `no projection at ${path}`)
      const store = await TitleStore.open(path).catch((err: unknown) => {
        throw new MbwaError('MBWA_LOG_LOCKED', `the projection at ${path} is in use: stop mbwa run first`, {}, { cause: err })
      })
      try {
        // Streamed: the partitions merged in title order as they are read; memory holds a block, not the wiki.
        const stamp = new Date().toISOString().replace(/[:.]/g, '-')
        const out = options.out ?? join(resolve(config.dataDir), 'dumps/public', options.wiki, `${options.wiki}-${stamp}.mbwa.gz`)
        const started = Date.now()
        const writer = await DumpWriter.open(out, { wiki: options.wiki, createdAt: new Date().toISOString(), source: `mbwa@${hostname()}` })
        const progress = new Progress({ label: `dump ${options.wiki}`, unit: 'titles', logger, bar: options.progress && process.stderr.isTTY === true })
        try {
          for await (const r of mergeParts(await wikiPageParts(store, options.wiki))) {
            await writer.add(r)
            if (writer.written % BLOCK === 0) progress.update(writer.written)
          }
          progress.update(writer.written)
          progress.stop()
          const written = await writer.finish()
          await verifyDumpAsync(writer.tmp)
          await writer.commit()
          const seconds = Math.max(0.001, (Date.now() - started) / 1000)
          process.stdout.write(`${out}\n${written.count} titles, ${written.bytes} bytes, sha256 ${written.sha256}, ${Math.round(written.count / seconds)} titles/s\n`)
        } catch (err) {
          await writer.abort()
          throw err
        }
      } finally {
        await store.close()
      }
    })
}

/** `mbwa dump run`: a dump job with a lease on the log, from this store or a running endpoint. */
function registerDumpRun(dump: Command): void {
  dump
    .command('run')
    .description('take the lease on one wiki (or the least recently dumped one), write its dump, announce the outcome')
    .option('--wiki <code>', 'the wiki (default: the least recently dumped one no lease holds)')
    .option('--all', 'dump every wiki that is due (dumps.intervalHours), one after the other, then exit (a daily job)')
    .option('--from <url>', 'read pages from a running member\'s query endpoint (default: the local projection)')
    .action(async (options: { wiki?: string; all?: boolean; from?: string }, command: Command) => {
      const { config, logger } = commandContext(command)
      if (options.wiki !== undefined) safeWikiCode(options.wiki)
      if (options.wiki !== undefined && options.all) throw new MbwaError('MBWA_BAD_REQUEST', '--wiki and --all: one or the other')
      await withWorker(config, logger, options.from, async (worker) => {
        const wikis = await worker.wikis()
        if (wikis.length === 0) throw new MbwaError('MBWA_WIKI_NOT_CONFIGURED', `no wikis to dump: the configuration names none${options.from ? `, and ${options.from} knows none` : ' (or read from a running mbwa with --from URL, which dumps the wikis it knows)'}`)
        if (options.wiki !== undefined && !wikis.includes(options.wiki)) throw new MbwaError('MBWA_WIKI_NOT_CONFIGURED', `--wiki ${options.wiki}: not a wiki ${options.from ? `${options.from} knows` : 'the configuration names'} (${wikis.join(', ')})`, { wiki: options.wiki })
        let dumped = 0
        // Each wiki once per run: one whose dump failed is not taken again until the next run.
        const tried = new Set<string>()
        for (;;) {
          const lease = await worker.claim(options.wiki, tried)
          if (!lease) break
          tried.add(lease.wiki)
          const done = await worker.run(lease)
          if (!done) process.exitCode = 1
          else {
            dumped++
            process.stdout.write(`${done.path}\n${done.count} titles\n`)
          }
          if (!options.all) break
        }
        if (dumped === 0 && process.exitCode === undefined) {
          process.stderr.write(`mbwa: ${options.wiki ?? 'no wiki'} is free to dump right now (another worker holds it, or nothing is due)\n`)
          // A daily job with nothing due has done its work.
          if (!options.all) process.exitCode = 3
        }
      })
    })
}

/** `mbwa dump worker`: dumps every wiki that is due, again and again. */
function registerDumpWorker(dump: Command): void {
  dump
    .command('worker')
    .description('dump wikis one after the other, least recently dumped first, until SIGINT or SIGTERM')
    .option('--from <url>', 'read pages from a running member\'s query endpoint (default: the local projection)')
    .action(async (options: { from?: string }, command: Command) => {
      const { config, logger } = commandContext(command)
      // Aborted when the worker ends for any reason (an error too), so the wait for a signal lets the process go.
      const ended = new AbortController()
      const stop = untilSignal(ended.signal)
      let stopping = false
      void stop.then(() => (stopping = true))
      try {
        await withWorker(config, logger, options.from, async (worker) => {
          while (!stopping) {
            const lease = await worker.claim()
            if (lease) await worker.run(lease)
            else await Promise.race([sleep(5000), stop])
          }
        }, command)
      } finally {
        ended.abort()
      }
    })
}

/** `mbwa dump verify FILE`: a dump file checked through. */
function registerDumpVerify(dump: Command): void {
  dump
    .command('verify <file>')
    .description('check a dump: complete (not truncated), every block intact, count and checksum as in its trailer')
    .action((file: string) => {
      const v = verifyDump(file)
      process.stdout.write(`ok: ${v.header.wiki}, ${v.count} titles in ${v.blocks} blocks, sha256 ${v.sha256}\n`)
    })
}

/** `mbwa dump lookup FILE TITLE`: one title of a dump file. */
function registerDumpLookup(dump: Command): void {
  dump
    .command('lookup <file> <title>')
    .description('find one title in a dump through its index (reads one block, not the whole file)')
    .action((file: string, title: string) => {
      const page = lookupDump(file, title)
      if (!page) {
        process.stderr.write(`mbwa: ${title}: not in ${file}\n`)
        process.exitCode = 1
        return
      }
      process.stdout.write(JSON.stringify({ title, ...page }, null, 2) + '\n')
    })
}

/** A worker over the configured log; the wiki list is read from the configuration afresh for each job. */
async function withWorker(config: Config, logger: Logger, from: string | undefined, body: (worker: DumpWorker) => Promise<void>, command?: Command): Promise<void> {
  const { log, topics } = await openLog(config, logger)
  let store: TitleStore | undefined
  try {
    let pages: PageSource
    if (from) pages = httpPageSource(from, endpointHeaders(config))
    else {
      const path = join(resolve(config.dataDir), 'projection')
      const local = await TitleStore.open(path).catch((err: unknown) => {
        throw new MbwaError('MBWA_LOG_LOCKED', `the projection at ${path} is in use: stop mbwa run, or read from it with --from URL`, {}, { cause: err })
      })
      store = local
      pages = { parts: (wiki) => wikiPageParts(local, wiki) } // the local projection store (mbwa run not running on it)
    }
    const registry = SchemaRegistry.load()
    const flags = command?.optsWithGlobals<GlobalFlags>()
    const worker = new DumpWorker({
      events: new EventStore(log, registry),
      registry,
      topic: topics.dumps,
      pages,
      dir: dumpsDirOf(config),
      wikis: async () => {
        // Read afresh for each job: wikis added or removed since the worker started count.
        const fresh = flags ? loadConfig({ file: flags.config, flags: flagOverrides(flags) }).config : config
        const configured = Object.keys(fresh.wikis).filter((w) => !fresh.wikis[w]!.closed)
        // Reading from a running member: the wikis it knows too (those it discovered from the sitematrix).
        const known = from ? await endpointWikis(from, endpointHeaders(config)) : []
        return [...new Set([...configured, ...known.filter((w) => !fresh.wikis[w]?.closed)])]
      },
      ...dumpWorkerPace(config.dumps),
      logger,
    })
    try {
      await body(worker)
    } finally {
      await worker.close()
    }
  } finally {
    await store?.close()
    await log.close()
  }
}

/** The open wikis a running member knows (configured or discovered), from its /v1/wikis. */
async function endpointWikis(base: string, headers: Record<string, string>): Promise<string[]> {
  const res = await request(`${base.replace(/\/$/, '')}/v1/wikis`, { headers })
  if (res.statusCode !== 200) {
    await res.body.dump()
    throw new MbwaError('MBWA_UNREACHABLE', `${base}/v1/wikis answered ${res.statusCode}`)
  }
  const body = (await res.body.json()) as WikisResponse
  return body.wikis.filter((w) => !w.closed).map((w) => w.code)
}
