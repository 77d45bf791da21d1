// Rewriting a page's language links ([[fr:chat]]), and only those: the links are read as MediaWiki reads them
// (language-links.ts: piped links, duplicates, links in <nowiki>, comments, <includeonly> or template calls that
// are not the page's own), and every byte outside their markup stays as it is (DESIGN.md rule 8).

import { MbwaError } from '../errors/errors.js'
import { isLegalTitle, normaliseTitle } from '../events/titles.js'
import { findLanguageLinks, removeLanguageLinks, type ReadOptions } from './language-links.js'

export { findLanguageLinks, isBlank, languageLinks, removeLanguageLinks, surelyNotBlank, type FoundLink, type ReadOptions } from './language-links.js'

export type LinkOrder = { kind: 'code' } | { kind: 'name' } | { kind: 'put-first'; first: string[] }

let names: Intl.DisplayNames | undefined
function languageName(code: string): string {
  try {
    names ??= new Intl.DisplayNames(['en'], { type: 'language' })
    return names.of(code) ?? code
  } catch {
    return code
  }
}

export function orderLinks(links: { code: string; title: string }[], order: LinkOrder): { code: string; title: string }[] {
  const byCode = (a: { code: string }, b: { code: string }) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)
  const sorted = [...links].sort(byCode)
  if (order.kind === 'name') return sorted.sort((a, b) => languageName(a.code).localeCompare(languageName(b.code), 'en') || byCode(a, b))
  if (order.kind === 'put-first') {
    const rank = (c: string) => {
      const i = order.first.indexOf(c)
      return i < 0 ? order.first.length : i
    }
    return sorted.sort((a, b) => rank(a.code) - rank(b.code) || byCode(a, b))
  }
  return sorted
}

/**
 * A target mbwa may write in a link: a legal title, with a `#fragment` where the page's own link had one (a
 * link kept as it was must not make the page unwritable).
 */
function isWritableTarget(title: string): boolean {
  const hash = title.indexOf('#')
  if (hash < 0) return isLegalTitle(title)
  const fragment = title.slice(hash + 1)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return (hash === 0 || isLegalTitle(title.slice(0, hash))) && fragment.trim() !== '' && !/[<>[\]{}|\u0000-\u001f\u007f]/u.test(fragment)
}

export interface RewriteResult {
  text: string
  changed: boolean
  before: { code: string; title: string }[]
  after: { code: string; title: string }[]
}

/**
 * Rewrites the page's language links to `desired` (code → title): when the page already carries exactly those
 * (one link per language, no duplicate), the text is returned as it is; otherwise all its language-link markup
 * (duplicates too, which MediaWiki ignores) is removed and the desired links written as one block at the end
 * (after categories), in the wiki's order. `codes` are the interlanguage prefixes (a link with another prefix is
 * not a language link). Rewriting twice gives the same text.
 */
export function rewriteLanguageLinks(text: string, desired: ReadonlyMap<string, string>, codes: ReadonlySet<string>, order: LinkOrder = { kind: 'code' }, o: ReadOptions = {}): RewriteResult {
  // A title that cannot be a MediaWiki title (`]]`, `|`, a newline…) would write wikitext outside the link.
  for (const [code, title] of desired) {
    if (!isWritableTarget(title) || !/^[a-z][a-z0-9-]*$/.test(code)) throw new MbwaError('MBWA_BAD_TITLE', `not a link mbwa may write: ${JSON.stringify(`${code}:${title}`)}`, { code })
  }
  const found = findLanguageLinks(text, codes, o)
  const before = found.filter((l) => !l.duplicate).map((l) => ({ code: l.code, title: l.title }))
  const same = found.length === before.length && before.length === desired.size && before.every((l) => desired.get(l.code) === l.title)
  if (same) return { text, changed: false, before, after: before }
  const after = orderLinks([...desired].map(([code, title]) => ({ code, title })), order)
  const body = removeLanguageLinks(text, found).replace(/\s+$/u, '')
  const block = after.map((l) => `[[${l.code}:${l.title}]]`).join('\n')
  const next = block === '' ? body : body === '' ? block : `${body}\n\n${block}`
  // Read back as MediaWiki would: an unclosed comment or tag in the text would swallow the block, and a link
  // in the body that the removal joined into a new one would change the page's links.
  const back = findLanguageLinks(next, codes, o)
  if (back.length !== after.length || back.some((l, i) => l.duplicate || l.code !== after[i]!.code || l.title !== normaliseTitle(after[i]!.title))) {
    throw new MbwaError('MBWA_UNSAFE_TEXT', 'the page\'s text would hide or alter the links written at its end (an unclosed comment or tag?)')
  }
  return { text: next, changed: next !== text, before, after }
}
