// Finding and rewriting a page's language links ([[fr:chat]]) in wikitext, and only those: links inside
// <nowiki>, <pre>, comments, <noinclude>/<includeonly>/<onlyinclude> blocks or template calls are not the page's
// own and stay as they are, as does every byte outside the interwiki links (DESIGN.md rule 8).

import { MbwaError } from '../errors/errors.js'
import { isLegalTitle, normaliseTitle } from '../events/titles.js'

export interface FoundLink {
  code: string
  title: string
  /** Where the link itself is: [start, end) in the text. */
  start: number
  end: number
  /** The range removed with it: the whole line when the link is alone on its line, else the link. */
  removeStart: number
  removeEnd: number
}

export type LinkOrder = { kind: 'code' } | { kind: 'name' } | { kind: 'put-first'; first: string[] }

// Each zone: how it opens (sticky, tried at a '<') and how it closes (searched from the end of the opening).
// Closings are found case-insensitively in the text itself, never in a lower-cased copy: lower-casing can change
// the length of a string ('İ' becomes two code units), which would shift every position after it.
const ZONES: [RegExp, RegExp | null][] = [
  [/<!--/y, /-->/g],
  [/<nowiki\b[^>]*?\/>/iy, null],
  [/<nowiki\b[^>]*>/iy, /<\/nowiki>/gi],
  [/<pre\b[^>]*>/iy, /<\/pre>/gi],
  [/<noinclude\b[^>]*>/iy, /<\/noinclude>/gi],
  [/<includeonly\b[^>]*>/iy, /<\/includeonly>/gi],
  [/<onlyinclude\b[^>]*>/iy, /<\/onlyinclude>/gi],
  [/<syntaxhighlight\b[^>]*>/iy, /<\/syntaxhighlight>/gi],
  [/<source\b[^>]*>/iy, /<\/source>/gi],
  [/<math\b[^>]*>/iy, /<\/math>/gi],
]

/** Ranges [start, end) of the text where links are not the page's own. */
export function maskedRanges(text: string): [number, number][] {
  const ranges: [number, number][] = []
  let i = 0
  while (i < text.length) {
    const ch = text[i]
    if (ch === '<') {
      let matched = false
      for (const [open, close] of ZONES) {
        open.lastIndex = i
        const m = open.exec(text)
        if (!m) continue
        matched = true
        let end = i + m[0].length
        if (close) {
          close.lastIndex = end
          const c = close.exec(text)
          end = c ? c.index + c[0].length : text.length
        }
        ranges.push([i, end])
        i = end
        break
      }
      if (!matched) i++
      continue
    }
    if (ch === '{' && text[i + 1] === '{') {
      // A template call or parameter, with nesting: links in it are arguments, not the page's.
      let depth = 0
      let j = i
      while (j < text.length) {
        if (text[j] === '{' && text[j + 1] === '{') {
          depth++
          j += 2
        } else if (text[j] === '}' && text[j + 1] === '}') {
          depth--
          j += 2
          if (depth === 0) break
        } else j++
      }
      ranges.push([i, j])
      i = j
      continue
    }
    i++
  }
  return ranges
}

const LINK = /\[\[[ \t]*([a-zA-Z][a-zA-Z0-9-]*)[ \t]*:([^\][|\n]*?)\]\]/g

/** The language links of the page: links [[code:title]] whose code is one of `codes`, outside masked ranges. */
export function findLanguageLinks(text: string, codes: ReadonlySet<string>): FoundLink[] {
  const masked = maskedRanges(text)
  const out: FoundLink[] = []
  let r = 0
  for (const m of text.matchAll(LINK)) {
    const start = m.index
    const end = start + m[0].length
    while (r < masked.length && masked[r]![1] <= start) r++
    if (r < masked.length && masked[r]![0] <= start) continue
    const code = m[1]!.toLowerCase()
    if (!codes.has(code)) continue
    // The target as MediaWiki reads it: underscores and Unicode spaces are one space, NFC, trimmed.
    const title = normaliseTitle(m[2]!)
    if (title === '') continue
    // Alone on its line: remove the line with its newline.
    const lineStart = text.lastIndexOf('\n', start - 1) + 1
    const nl = text.indexOf('\n', end)
    const lineEnd = nl < 0 ? text.length : nl
    const before = text.slice(lineStart, start)
    const after = text.slice(end, lineEnd)
    const alone = before.trim() === '' && after.trim() === ''
    out.push({
      code,
      title,
      start,
      end,
      removeStart: alone ? lineStart : start,
      removeEnd: alone ? (nl < 0 ? text.length : nl + 1) : end,
    })
  }
  // Several links on one line with nothing else: the whole line goes with them.
  return joinLines(text, out)
}

/** Lines holding only language links (and spaces) are removed whole. */
function joinLines(text: string, links: FoundLink[]): FoundLink[] {
  const byLine = new Map<number, FoundLink[]>()
  for (const l of links) {
    const ls = text.lastIndexOf('\n', l.start - 1) + 1
    byLine.set(ls, [...(byLine.get(ls) ?? []), l])
  }
  for (const [ls, group] of byLine) {
    if (group.length < 2) continue
    const nl = text.indexOf('\n', ls)
    const le = nl < 0 ? text.length : nl
    let rest = text.slice(ls, le)
    for (const l of [...group].sort((a, b) => b.start - a.start)) rest = rest.slice(0, l.start - ls) + rest.slice(l.end - ls)
    if (rest.trim() !== '') continue
    group.sort((a, b) => a.start - b.start)
    group.forEach((l, i) => {
      l.removeStart = i === 0 ? ls : l.start
      l.removeEnd = i === group.length - 1 ? (nl < 0 ? text.length : nl + 1) : group[i + 1]!.start
    })
  }
  return links
}

/** The text without its language links (lines that held only links go too). */
export function removeLanguageLinks(text: string, links: FoundLink[]): string {
  let out = ''
  let pos = 0
  for (const l of [...links].sort((a, b) => a.removeStart - b.removeStart)) {
    if (l.removeStart < pos) continue
    out += text.slice(pos, l.removeStart)
    pos = l.removeEnd
  }
  return out + text.slice(pos)
}

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

export interface RewriteResult {
  text: string
  changed: boolean
  before: { code: string; title: string }[]
  after: { code: string; title: string }[]
}

/**
 * Rewrites the page's language links to `desired` (code → title): when the page already carries exactly those,
 * the text is returned as it is; otherwise its language links are removed and the desired ones written as one
 * block at the end (after categories), in the wiki's order. `codes` are the interlanguage prefixes (a link with
 * another prefix is not a language link). Rewriting twice gives the same text.
 */
export function rewriteLanguageLinks(text: string, desired: ReadonlyMap<string, string>, codes: ReadonlySet<string>, order: LinkOrder = { kind: 'code' }): RewriteResult {
  // A title that cannot be a MediaWiki title (`]]`, `|`, a newline…) would write wikitext outside the link.
  for (const [code, title] of desired) {
    if (!isLegalTitle(title) || !/^[a-z][a-z0-9-]*$/.test(code)) throw new MbwaError('MBWA_BAD_TITLE', `not a link mbwa may write: ${JSON.stringify(`${code}:${title}`)}`, { code })
  }
  const found = findLanguageLinks(text, codes)
  const before = found.map((l) => ({ code: l.code, title: l.title }))
  const same = before.length === desired.size && before.every((l) => desired.get(l.code) === l.title) && new Set(before.map((l) => l.code)).size === before.length
  if (same) return { text, changed: false, before, after: before }
  const after = orderLinks([...desired].map(([code, title]) => ({ code, title })), order)
  const body = removeLanguageLinks(text, found).replace(/\s+$/u, '')
  const block = after.map((l) => `[[${l.code}:${l.title}]]`).join('\n')
  const next = block === '' ? body : body === '' ? block : `${body}\n\n${block}`
  // Read back as MediaWiki would: an unclosed comment or tag in the text would swallow the block.
  const back = findLanguageLinks(next, codes)
  if (back.length !== after.length || back.some((l, i) => l.code !== after[i]!.code || l.title !== normaliseTitle(after[i]!.title))) {
    throw new MbwaError('MBWA_UNSAFE_TEXT', 'the page\'s text would hide or alter the links written at its end (an unclosed comment or tag?)')
  }
  return { text: next, changed: next !== text, before, after }
}

/** Blank (DESIGN.md rule 2): nothing but whitespace once the language links are removed. */
export function isBlank(text: string, codes: ReadonlySet<string>): boolean {
  return removeLanguageLinks(text, findLanguageLinks(text, codes)).trim() === ''
}

/**
 * prop=info gives the page's length in bytes, not its text. A page is blank when nothing but whitespace is left
 * once its language links are removed (DESIGN.md rule 2); if the length exceeds the links' shortest possible
 * markup by a margin, the page surely has other content. Otherwise it is unknown (null) until the text is read.
 */
export function surelyNotBlank(length: number | undefined, links: readonly { code: string; title: string }[]): boolean {
  if (length === undefined) return false
  const linkBytes = links.reduce((n, l) => n + Buffer.byteLength(`[[${l.code}:${l.title}]]\n`), 0)
  return length - linkBytes > 32
}
