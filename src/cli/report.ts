import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { wikiApi, type Config } from '../config/schema.js'
import { MbwaError } from '../errors/errors.js'
import { REPORT_KINDS, reportRows, toCsv, toTable, toWikitext, type ReportRow } from '../projections/report-rows.js'
import { fetchReportItems } from '../projections/report-client.js'
import { TitleStore, type DiscrepancyItem } from '../projections/title-store.js'
import { WIKI_CODE } from '../domain/wiki-code.js'
import { commandContext, endpointHeaders, endpointUrl } from './context.js'

// `mbwa report`: a wiki's reports where an operator looks, a terminal (a table), a tool (CSV, JSON) or a wiki
// (a sortable wikitable to paste), from a running mbwa's endpoint or, with mbwa run stopped, from the local store.

const FORMATS = ['table', 'csv', 'json', 'wikitext'] as const

async function fromStore(config: Config, wiki: string, kinds: readonly string[]): Promise<DiscrepancyItem[]> {
  const path = join(resolve(config.dataDir), 'projection')
  if (!existsSync(path)) throw new MbwaError('MBWA_NO_STORE', `no running mbwa answered, and no projection store at ${path} (is dataDir, or --data-dir, right? --url names a running mbwa)`, { path })
  const store = await TitleStore.open(path).catch((err: unknown) => {
    throw new MbwaError('MBWA_LOG_LOCKED', `the projection at ${path} is in use and its endpoint did not answer: --url names it`, {}, { cause: err })
  })
  try {
    const out: DiscrepancyItem[] = []
    for (const p of await store.partitions()) {
      for (const kind of kinds) {
        let after: string | undefined
        for (;;) {
          const page = await store.discrepancies(p, wiki, kind, after, 1000)
          out.push(...page)
          if (page.length < 1000) break
          after = page[page.length - 1]!.title
        }
      }
    }
    return out.sort((a, b) => (a.kind === b.kind ? (a.title < b.title ? -1 : 1) : a.kind < b.kind ? -1 : 1))
  } finally {
    await store.close()
  }
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description("a wiki's reports (cognate mode): each page and its URL, the kind, the link, the evidence, since when")
    .requiredOption('--wiki <code>', 'the wiki (required)')
    .option('--kind <kind...>', `only these kinds (${REPORT_KINDS.join(', ')})`)
    .option('--format <format>', `${FORMATS.join(', ')} (default: table on a terminal, else csv)`)
    .option('--url <url>', 'a running mbwa (default: the local endpoint, http.host:http.port; then the local store)')
    .action(async (options: { wiki: string; kind?: string[]; format?: string; url?: string }, command: Command) => {
      const { config } = commandContext(command)
      if (!WIKI_CODE.test(options.wiki)) throw new MbwaError('MBWA_CONFIG_INVALID', `--wiki: ${JSON.stringify(options.wiki)} is not a wiki code`)
      const kinds = options.kind ?? [...REPORT_KINDS]
      for (const k of kinds) if (!(REPORT_KINDS as readonly string[]).includes(k)) throw new MbwaError('MBWA_CONFIG_INVALID', `--kind: ${JSON.stringify(k)} is not one of ${REPORT_KINDS.join(', ')}`)
      const format = options.format ?? (process.stdout.isTTY ? 'table' : 'csv')
      if (!(FORMATS as readonly string[]).includes(format)) throw new MbwaError('MBWA_CONFIG_INVALID', `--format: ${JSON.stringify(format)} is not one of ${FORMATS.join(', ')}`)
      const base = endpointUrl(config, options.url)
      let items: DiscrepancyItem[]
      try {
        items = await fetchReportItems(base, endpointHeaders(config), options.wiki, kinds)
      } catch (err) {
        // No endpoint named and none answers locally: the store itself, with mbwa run stopped.
        const refused = (err as { code?: string }).code === 'ECONNREFUSED' || (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED'
        if (options.url !== undefined || !refused) throw err
        items = await fromStore(config, options.wiki, kinds)
      }
      const apiOf = (w: string) => wikiApi(config, w)
      const rows: ReportRow[] = reportRows(options.wiki, items, apiOf)
      const out = format === 'json' ? JSON.stringify(rows, null, 2) + '\n' : format === 'csv' ? toCsv(rows) : format === 'wikitext' ? toWikitext(rows) : toTable(rows)
      process.stdout.write(out)
    })
}
