import type { Config } from '../config/schema.js'

// Each wiki's settings as the link rules use them: the wiki's own keys over wikiDefaults over built-in defaults.

export interface WikiRules {
  code: string
  linkMode: 'manual' | 'cognate'
  linkRedirects: boolean
  nolink: ReadonlySet<string>
  closed: boolean
  locked: boolean
  invalidCodes: ReadonlySet<string>
  edit: boolean
  removeOverrides: boolean
  /** Cognate mode: report written links Cognate would make itself (their texts are read for it). */
  reportRedundant: boolean
  /** Cognate mode: purge (with a links update) pages whose langlinks are outdated. */
  refreshLinks: boolean
  mainPage: string | undefined
  /** How the wiki compares titles, when configured; otherwise what its siteinfo said (EvaluationContext). */
  titleCase: 'first-letter' | 'case-sensitive' | undefined
}

export type RulesByWiki = ReadonlyMap<string, WikiRules>

/** A wiki of Wikimedia's Wiktionaries, where Cognate links same titles by itself (DESIGN.md rule 9). */
export function isWikimediaWiktionary(api: string): boolean {
  try {
    return /(^|\.)wiktionary\.org$/.test(new URL(api).hostname)
  } catch {
    return false
  }
}

/** What a wiki of the discovered list (a WikisDiscovered event) is, as the rules need it. */
export interface KnownWiki {
  code: string
  api: string
  closed: boolean
}

type Settings = Partial<Config['wikiDefaults']>

function rulesOf(code: string, w: Settings, d: Settings, api: string | undefined): WikiRules {
  return {
    code,
    // Wikimedia's Wiktionaries default to cognate (report, never add); other farms to manual.
    linkMode: w.linkMode ?? d.linkMode ?? (api !== undefined && isWikimediaWiktionary(api) ? 'cognate' : 'manual'),
    linkRedirects: w.linkRedirects ?? d.linkRedirects ?? false,
    nolink: new Set(w.nolink ?? d.nolink ?? []),
    closed: w.closed ?? d.closed ?? false,
    locked: w.locked ?? d.locked ?? false,
    invalidCodes: new Set([...(d.invalidCodes ?? []), ...(w.invalidCodes ?? [])]),
    edit: w.edit ?? d.edit ?? false,
    removeOverrides: w.removeOverrides ?? d.removeOverrides ?? false,
    reportRedundant: w.reportRedundant ?? d.reportRedundant ?? w.removeOverrides ?? d.removeOverrides ?? false,
    refreshLinks: w.refreshLinks ?? d.refreshLinks ?? false,
    mainPage: w.mainPage ?? d.mainPage,
    titleCase: w.case ?? d.case,
  }
}

/**
 * The rules of the configured wikis and of the discovered ones (wikiDefaults apply to both; a configured wiki
 * overrides what discovery says of it). A discovered wiki is never editable: mbwa edits only wikis its
 * configuration names.
 */
export function wikiRules(config: Config, discovered: readonly KnownWiki[] = []): RulesByWiki {
  const d = config.wikiDefaults
  const out = new Map<string, WikiRules>()
  for (const k of discovered) {
    if (config.wikis[k.code]) continue
    const r = rulesOf(k.code, {}, d, k.api)
    out.set(k.code, { ...r, closed: r.closed || k.closed, edit: false, refreshLinks: false })
  }
  for (const [code, w] of Object.entries(config.wikis)) out.set(code, rulesOf(code, w, d, w.api))
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}
