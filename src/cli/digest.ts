import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { request } from 'undici'
import { MbwaError } from '../errors/errors.js'
import { digestHex, TitleStore, wikiDigest } from '../projections/title-store.js'
import { commandContext, endpointHeaders } from './context.js'
import type { DigestResponse, ErrorBody } from '../projections/http/responses.js'

// The digest of the projection: the same events give the same digest, whatever the batch sizes, restarts or
// number of instances. Offline from the local store, or from a running deployment (which sums its members').
export function registerDigest(program: Command): void {
  program
    .command('digest')
    .description('print the digest of the title-links projection (local store, or --url of a running member)')
    .option('--url <url>', 'a running member\'s query endpoint, e.g. http://127.0.0.1:8642; it asks the other members too')
    .option('--wiki <code>', 'the content digest of one wiki (its pages and links, not when they were seen): equal after importing its dump')
    .action(async (options: { url?: string; wiki?: string }, command: Command) => {
      const { config } = commandContext(command)
      if (options.url && !options.wiki) {
        const res = await request(`${options.url.replace(/\/$/, '')}/v1/digest`, { headers: endpointHeaders(config) })
        const body = (await res.body.json()) as DigestResponse & Partial<ErrorBody>
        if (res.statusCode !== 200) throw new MbwaError('MBWA_RESTORING', `${options.url}: ${body.error?.message ?? res.statusCode}`)
        process.stdout.write(`${body.digest}  ${body.pages} pages${body.complete ? '' : ' (not every partition answered)'}\n`)
        return
      }
      const path = join(resolve(config.dataDir), 'projection')
      if (!existsSync(path)) throw new MbwaError('MBWA_NOT_FOUND', `no projection at ${path}`)
      const store = await TitleStore.open(path).catch((err: unknown) => {
        throw new MbwaError('MBWA_LOG_LOCKED', `the projection at ${path} is in use (stop mbwa run, or use --url)`, {}, { cause: err })
      })
      try {
        const d = options.wiki ? await wikiDigest(store, options.wiki) : await store.digest('all')
        process.stdout.write(`${digestHex(d.sum)}  ${d.pages} pages\n`)
      } finally {
        await store.close()
      }
    })
}
