import type { TitleCase } from '../domain/link-rules.js'
import type { Logger } from '../logging.js'
import type { MediaWikiClient } from '../mediawiki/client.js'
import type { WikiEditor } from './wiki-editor.js'

// What the sink needs to know of a wiki before reading it, asked once per wiki (one request): titles per request
// (500 where the editing account has apihighlimits), how the wiki compares titles (siteinfo `case`), its main
// page, and the editing account's name (for {{bots|deny=…}}).

export interface WikiFacts {
  /** The editing account's name there (userinfo), for {{bots|deny=…}}. */
  userName?: string
  perRequest: number
  titleCase: TitleCase | undefined
  mainPage: string | undefined
}

export interface WikiFactsOptions {
  /** The account is asked only when the sink edits (a dry run reads siteinfo, logged out). */
  apply: boolean
  editors: ReadonlyMap<string, WikiEditor>
  clients: ReadonlyMap<string, MediaWikiClient>
  /** Titles per read request on a wiki, when the configuration says (instead of the account's rights). */
  titlesPerRequest?: (wiki: string) => Promise<number>
  logger: Logger
}

function asTitleCase(v: string | undefined): TitleCase | undefined {
  return v === 'first-letter' || v === 'case-sensitive' ? v : undefined
}

export class WikiFactsCache {
  private readonly facts = new Map<string, WikiFacts>()

  constructor(private readonly options: WikiFactsOptions) {}

  /** What is known of the wiki so far (nothing before the first read of it). */
  known(wiki: string): WikiFacts | undefined {
    return this.facts.get(wiki)
  }

  async of(wiki: string): Promise<WikiFacts> {
    const known = this.facts.get(wiki)
    if (known) return known
    const { options } = this
    const editor = options.apply ? options.editors.get(wiki) : undefined
    let facts: WikiFacts = { perRequest: 50, titleCase: undefined, mainPage: undefined }
    try {
      if (editor) {
        const f = await editor.facts()
        facts = { perRequest: f.rights.includes('apihighlimits') ? 500 : 50, titleCase: asTitleCase(f.titleCase), mainPage: f.mainPage, userName: f.userName }
      } else {
        const res = await options.clients.get(wiki)?.get({ action: 'query', meta: 'siteinfo', siprop: 'general' })
        const general = (res?.query as { general?: { case?: string; mainpage?: string } } | undefined)?.general
        facts = { perRequest: 50, titleCase: asTitleCase(general?.case), mainPage: general?.mainpage }
      }
    } catch (err) {
      // Read again next time; meanwhile the safe defaults (50 a request, titles compared exactly).
      options.logger.warn({ wiki, err: (err as Error).message }, 'sink: could not read what the wiki says of itself')
      return facts
    }
    if (options.titlesPerRequest) facts.perRequest = await options.titlesPerRequest(wiki)
    this.facts.set(wiki, facts)
    return facts
  }
}
