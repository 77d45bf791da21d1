import type { Config } from '../config/schema.js'
import type { MediaWikiClient } from '../mediawiki/client.js'

// Which wikis mbwa knows: those in the configuration, or those a Wikimedia sitematrix lists for a family (all
// Wiktionaries), with closed ones marked. Configured wikis override what the sitematrix says about them.

export interface DiscoveredWiki {
  code: string
  api: string
  dbname: string
  closed: boolean
  /** Where the entry came from. */
  from: 'config' | 'sitematrix'
}

export function defaultDbName(code: string, family = 'wiktionary'): string {
  return `${code.replace(/-/g, '_')}${family}`
}

export function wikisFromConfig(config: Config): DiscoveredWiki[] {
  return Object.entries(config.wikis).map(([code, w]) => ({
    code,
    api: w.api,
    dbname: w.dbname ?? defaultDbName(code),
    closed: w.closed ?? config.wikiDefaults.closed ?? false,
    from: 'config' as const,
  }))
}

interface SiteMatrixSite {
  url: string
  dbname: string
  code: string
  closed?: boolean | string
  private?: boolean | string
  fishbowl?: boolean | string
}

interface SiteMatrixLanguage {
  code: string
  site?: SiteMatrixSite[]
}

/** The wikis of one family from action=sitematrix (its `code` per site is the family, e.g. "wiktionary"). */
export async function sitematrixWikis(client: MediaWikiClient, family: string): Promise<DiscoveredWiki[]> {
  const res = await client.get({ action: 'sitematrix', smtype: 'language', smlangprop: 'code|site', smsiteprop: 'url|dbname|code', smlimit: 'max' })
  const matrix = (res.sitematrix ?? {}) as Record<string, unknown>
  const out: DiscoveredWiki[] = []
  for (const [key, value] of Object.entries(matrix)) {
    if (key === 'count' || key === 'specials') continue
    const lang = value as SiteMatrixLanguage
    for (const site of lang.site ?? []) {
      if (site.code !== family) continue
      if (flag(site.private) || flag(site.fishbowl)) continue
      out.push({ code: lang.code, api: `${site.url.replace(/\/$/, '')}/w/api.php`, dbname: site.dbname, closed: flag(site.closed), from: 'sitematrix' })
    }
  }
  return out.sort((a, b) => a.code.localeCompare(b.code))
}

// formatversion=2 gives true; formatversion=1 gives "" for a present flag.
function flag(v: boolean | string | undefined): boolean {
  return v === true || v === ''
}

/** The sitematrix list with configured wikis laid over it (configuration wins). */
export function mergeWikis(discovered: DiscoveredWiki[], configured: DiscoveredWiki[]): DiscoveredWiki[] {
  const byCode = new Map(discovered.map((w) => [w.code, w]))
  for (const w of configured) byCode.set(w.code, w)
  return [...byCode.values()].sort((a, b) => a.code.localeCompare(b.code))
}
