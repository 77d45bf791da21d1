import type { Config } from '../config/schema.js'
import type { LinkOrder } from '../wikitext/interwiki.js'

let names: Intl.DisplayNames | undefined

/** A prefix is taken for a language code when it names a language (Intl knows it) or a configured wiki. */
function isLanguageCode(code: string): boolean {
  try {
    names ??= new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' })
    return names.of(code) !== undefined
  } catch {
    return false
  }
}

const COMMON = 'aa ab af ak am an ang ar as ast av ay az ba be bg bh bi bm bn bo br bs ca ce ch chr co cr cs csb cy da de dv dz el en eo es et eu fa fi fj fo fr fy ga gd gl gn gu gv ha he hi hr hsb hu hy ia id ie ik io is it iu ja jbo jv ka kk kl km kn ko ks ku kw ky la lb li ln lo lt lv mg mh mi mk ml mn mo mr ms mt my na nah nds ne nl nn no oc om or pa pi pl ps pt qu rm rn ro roa-rup ru rw sa sc scn sd sg sh si simple sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tpi tr ts tt tw ug uk ur uz vi vo wa wo xh yi yo za zh zh-min-nan zu'.split(' ')

/** The interlanguage prefixes for parsing a page: configured wikis, the given codes, and known language codes. */
export function interlanguageCodes(config: Config, extra: string[] = []): Set<string> {
  const codes = new Set<string>([...Object.keys(config.wikis), ...extra, ...COMMON])
  for (const w of Object.values(config.wikis)) for (const c of w.invalidCodes ?? []) codes.add(c)
  for (const c of config.wikiDefaults.invalidCodes ?? []) codes.add(c)
  return new Set([...codes].filter((c) => c in config.wikis || extra.includes(c) || COMMON.includes(c) || isLanguageCode(c)))
}

export function linkOrder(config: Config, wiki: string): LinkOrder {
  const w = config.wikis[wiki]
  const kind = w?.order ?? config.wikiDefaults.order ?? 'code'
  if (kind === 'put-first') return { kind, first: w?.putFirst ?? config.wikiDefaults.putFirst ?? [] }
  return { kind }
}
