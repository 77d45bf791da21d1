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
  mainPage: string | undefined
  /** How the wiki compares titles, when configured; otherwise what its siteinfo said (EvaluationContext). */
  titleCase: 'first-letter' | 'case-sensitive' | undefined
}

export type RulesByWiki = ReadonlyMap<string, WikiRules>

export function wikiRules(config: Config): RulesByWiki {
  const d = config.wikiDefaults
  const out = new Map<string, WikiRules>()
  for (const [code, w] of Object.entries(config.wikis)) {
    out.set(code, {
      code,
      linkMode: w.linkMode ?? d.linkMode ?? 'manual',
      linkRedirects: w.linkRedirects ?? d.linkRedirects ?? false,
      nolink: new Set(w.nolink ?? d.nolink ?? []),
      closed: w.closed ?? d.closed ?? false,
      locked: w.locked ?? d.locked ?? false,
      invalidCodes: new Set([...(d.invalidCodes ?? []), ...(w.invalidCodes ?? [])]),
      edit: w.edit ?? d.edit ?? false,
      removeOverrides: w.removeOverrides ?? d.removeOverrides ?? false,
      mainPage: w.mainPage ?? d.mainPage,
      titleCase: w.case ?? d.case,
    })
  }
  return out
}
