import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { MbwaError } from '../errors/errors.js'
import { TitleStore, wikiPages } from '../projections/title-store.js'
import { lookupDump, verifyDump, writeDump } from '../sinks/dump-file.js'
import { commandContext } from './context.js'

// Dump files of one wiki's pages (format: src/sinks/dump-file.ts and the README): write from the local
// projection, verify, look a title up. Public dumps go to dataDir/dumps/public/WIKI/.
export function registerDump(program: Command): void {
  const dump = program.command('dump').description('dump files of a wiki\'s pages: write, verify, look up')
  dump
    .command('write')
    .description('write a dump of one wiki from the local projection (stop mbwa run first, as for rebuild)')
    .requiredOption('--wiki <code>', 'the wiki')
    .option('--out <file>', 'where (default dataDir/dumps/public/WIKI/WIKI-DATE.mbwa.gz)')
    .action(async (options: { wiki: string; out?: string }, command: Command) => {
      const { config } = commandContext(command)
      const path = join(resolve(config.dataDir), 'projection')
      if (!existsSync(path)) throw new MbwaError('MBWA_NOT_FOUND', `no projection at ${path}`)
      const store = await TitleStore.open(path).catch((err: unknown) => {
        throw new MbwaError('MBWA_LOG_LOCKED', `the projection at ${path} is in use: stop mbwa run first`, {}, { cause: err })
      })
      try {
        const records = []
        for await (const r of wikiPages(store, options.wiki)) records.push(r)
        const stamp = new Date().toISOString().replace(/[:.]/g, '-')
        const out = options.out ?? join(resolve(config.dataDir), 'dumps/public', options.wiki, `${options.wiki}-${stamp}.mbwa.gz`)
        const started = Date.now()
        const written = writeDump(out, { wiki: options.wiki, createdAt: new Date().toISOString(), source: `mbwa@${hostname()}` }, records)
        const verified = verifyDump(out)
        const seconds = Math.max(0.001, (Date.now() - started) / 1000)
        process.stdout.write(`${written.path}\n${verified.count} titles, ${written.bytes} bytes, sha256 ${verified.sha256}, ${Math.round(verified.count / seconds)} titles/s\n`)
      } finally {
        await store.close()
      }
    })
  dump
    .command('verify <file>')
    .description('check a dump: complete (not truncated), every block intact, count and checksum as in its trailer')
    .action((file: string) => {
      const v = verifyDump(file)
      process.stdout.write(`ok: ${v.header.wiki}, ${v.count} titles in ${v.blocks} blocks, sha256 ${v.sha256}\n`)
    })
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
