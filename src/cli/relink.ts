import type { Command } from 'commander'
import { MbwaError } from '../errors/errors.js'
import { languageLinks, rewriteLanguageLinks, type LinkOrder } from '../wikitext/interwiki.js'
import { commandContext } from './context.js'
import { interlanguageCodes, linkOrder } from '../sinks/wiki-codes.js'
import { WIKI_CODE } from '../domain/wiki-code.js'

// `mbwa relink --wiki CODE --links fr,de,nl < page.wikitext`: prints the page rewritten to carry exactly those
// language links, as the edit sink would write it, so a user can check one page by hand.
export function registerRelink(program: Command): void {
  program
    .command('relink')
    .description('read wikitext on stdin, print it with exactly the given language links (as the sink would write it)')
    .requiredOption('--wiki <code>', 'the wiki the page is on (its link order applies) (required)')
    .requiredOption('--links <codes>', 'comma-separated codes the page should link to, e.g. fr,de,nl (required)')
    .option('--title <title>', 'the page title the links point to (default: the title its current links use)')
    .action(async (options: { wiki: string; links: string; title?: string }, command: Command) => {
      const { config } = commandContext(command)
      // A wiki code, and one the configuration names when it names any (with none, the Wiktionaries' codes all do).
      if (!WIKI_CODE.test(options.wiki) || (Object.keys(config.wikis).length > 0 && !config.wikis[options.wiki])) {
        throw new MbwaError('MBWA_WIKI_NOT_CONFIGURED', `--wiki ${JSON.stringify(options.wiki)}: not a wiki the configuration names${Object.keys(config.wikis).length > 0 ? ` (${Object.keys(config.wikis).join(', ')})` : ''}`, { wiki: options.wiki })
      }
      const text = await readStdin()
      const wanted = options.links.split(',').map((c) => c.trim().toLowerCase()).filter(Boolean)
      const codes = interlanguageCodes(config, wanted)
      const existing = languageLinks(text, codes, { self: options.wiki })
      let title = options.title
      if (!title) {
        const counts = new Map<string, number>()
        for (const l of existing) counts.set(l.title, (counts.get(l.title) ?? 0) + 1)
        title = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0]
      }
      if (!title && wanted.length > 0) throw new MbwaError('MBWA_BAD_REQUEST', 'the page has no language links to take the title from: give --title')
      const desired = new Map(wanted.map((c) => [c, existing.find((l) => l.code === c)?.title ?? title!]))
      const order: LinkOrder = linkOrder(config, options.wiki)
      process.stdout.write(rewriteLanguageLinks(text, desired, codes, order, { self: options.wiki }).text)
    })
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
