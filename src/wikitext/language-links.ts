// A page's language links read from its wikitext as MediaWiki 1.39 reads them, so that what mbwa believes a page
// carries is what MediaWiki stores in `langlinks`. The steps follow the parser's own:
//
// 1. The preprocessor: comments and <includeonly> go (an unclosed one runs to the end of the text, as does an
//    unclosed <noinclude>/<onlyinclude>); <noinclude>/<onlyinclude> tags go but their content is the page's;
//    <nowiki>, <pre> and extension tags become opaque markers (unclosed ones are plain text); template calls
//    are opaque too (mbwa does not expand them; a link in an argument is not the page's own).
// 2. Parser::handleInternalLinks2: the text is split at every `[[`; a piece is a link when it matches
//    `^([legal title chars #%]+)(?:\|(.+?))?]]`, so a piped link (`[[fr:Chat|x]]`) is a link and the pipe text
//    may hold newlines; a leading `:` makes it an ordinary link (`[[:fr:x]]`); `%XX` is URL-decoded.
// 3. MediaWikiTitleCodec::splitTitleString: character references decoded, NFC, bidi marks out, spaces and
//    underscores one, then the interwiki prefix (case-insensitive, spaces around the colon allowed; the wiki's
//    own prefix is dropped and splitting goes on), a `:` after it dropped, the fragment split off, and the title
//    refused for illegal characters, relative paths, `~~~` or more than 255 bytes.
// 4. T26502: a language already linked is not linked again: the first link per language is the one MediaWiki
//    keeps; the later ones are still language-link markup (they print nothing).
//
// Tested against MediaWiki's own parse of generated pages (test/wikitext/parse-agreement.int.test.ts).

export interface FoundLink {
  code: string
  /** The target as MediaWiki stores it (`langlinks.ll_title`): spaces, NFC, and `#fragment` when written. */
  title: string
  /** A later link to a language the page already links: MediaWiki ignores it. */
  duplicate: boolean
  /** Where the link itself is: [start, end) in the text. */
  start: number
  end: number
  /** The range removed with it: the whole line when the link is alone on its line, else the link. */
  removeStart: number
  removeEnd: number
}

export interface ReadOptions {
  /** The wiki's own code (`$wgLocalInterwikis`): `[[en:x]]` on en is an ordinary link, `[[en:fr:x]]` a link to fr. */
  self?: string
}

type ZoneKind = 'drop' | 'opaque'
interface Zone {
  open: RegExp
  close: RegExp | null
  kind: ZoneKind
  /** An opening without its closing runs to the end of the text (else it is plain text). */
  toEnd: boolean
}

// Each zone: how it opens (sticky, tried at a '<') and how it closes (searched from the end of the opening).
// Closings are found case-insensitively in the text itself, never in a lower-cased copy: lower-casing can change
// the length of a string ('İ' becomes two code units), which would shift every position after it.
const tag = (name: string, kind: ZoneKind, toEnd = false): Zone[] => [
  { open: new RegExp(`<${name}(?:\\s[^>]*?)?\\/>`, 'iy'), close: null, kind, toEnd },
  { open: new RegExp(`<${name}(?:\\s[^>]*)?>`, 'iy'), close: new RegExp(`<\\/${name}\\s*>`, 'gi'), kind, toEnd },
]
const ZONES: Zone[] = [
  { open: /<!--/y, close: /-->/g, kind: 'drop', toEnd: true },
  ...tag('nowiki', 'opaque'),
  ...tag('pre', 'opaque'),
  ...tag('includeonly', 'drop', true),
  // On the page itself these tags vanish and their content stays.
  { open: /<\/?(?:noinclude|onlyinclude)(?:\s[^>]*)?\/?>/iy, close: null, kind: 'drop', toEnd: false },
  // Extension tags of Wikimedia's wikis whose content is not wikitext.
  ...tag('syntaxhighlight', 'opaque'),
  ...tag('source', 'opaque'),
  ...tag('math', 'opaque'),
  ...tag('score', 'opaque'),
  ...tag('graph', 'opaque'),
  ...tag('templatedata', 'opaque'),
]

/** What the link parser sees: the text after the preprocessor, and where each of its characters came from. */
interface View {
  text: string
  /** For each character of `text`, its index in the original. */
  at: Int32Array
}

// A strip marker: not a legal title character, so a link whose target holds one is no link, as in MediaWiki.
const MARKER = '\x7f'

function preprocess(src: string): View {
  let text = ''
  const at = new Int32Array(src.length + 1)
  let n = 0
  let copyFrom = 0
  const copy = (to: number) => {
    for (let k = copyFrom; k < to; k++) at[n++] = k
    text += src.slice(copyFrom, to)
  }
  const opaque = (from: number) => {
    at[n++] = from
    text += MARKER
  }
  let i = 0
  while (i < src.length) {
    const ch = src.charCodeAt(i)
    if (ch === 0x3c /* < */) {
      let end = -1
      let kind: ZoneKind = 'drop'
      for (const z of ZONES) {
        z.open.lastIndex = i
        const m = z.open.exec(src)
        if (!m) continue
        const openEnd = i + m[0].length
        if (!z.close) end = openEnd
        else {
          z.close.lastIndex = openEnd
          const c = z.close.exec(src)
          if (c) end = c.index + c[0].length
          else if (z.toEnd) end = src.length
          else continue // unclosed: plain text
        }
        kind = z.kind
        break
      }
      if (end >= 0) {
        copy(i)
        if (kind === 'opaque') opaque(i)
        i = copyFrom = end
        continue
      }
    } else if (ch === 0x7b /* { */ && src.charCodeAt(i + 1) === 0x7b) {
      const end = bracesEnd(src, i)
      if (end > 0) {
        copy(i)
        opaque(i)
        i = copyFrom = end
        continue
      }
      i += 2 // unclosed: plain text
      continue
    }
    i++
  }
  copy(src.length)
  at[n] = src.length
  return { text, at: at.subarray(0, n + 1) }
}

/** The end of a template call or parameter starting at `i` (nesting counted), or -1 when it never closes. */
function bracesEnd(src: string, i: number): number {
  let depth = 0
  let j = i
  while (j < src.length) {
    if (src.charCodeAt(j) === 0x7b && src.charCodeAt(j + 1) === 0x7b) {
      depth++
      j += 2
    } else if (src.charCodeAt(j) === 0x7d && src.charCodeAt(j + 1) === 0x7d) {
      depth--
      j += 2
      if (depth === 0) return j
    } else j++
  }
  return -1
}

// Title::legalChars() plus '#' and '%', as the parser's link pattern allows: no controls, no DEL (strip markers),
// none of <>[]{}|. Any character beyond ASCII is legal.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const LINK = /^([^\u0000-\u001f\u007f<>[\]{}|]+)(?:\|([\s\S]+?))?\]\]/
// $wgUrlProtocols: a link target starting with one is an external link, never a title.
const PROTOCOLS = /^(?:bitcoin:|ftp:\/\/|ftps:\/\/|geo:|git:\/\/|gopher:\/\/|http:\/\/|https:\/\/|irc:\/\/|ircs:\/\/|magnet:|mailto:|matrix:|mms:\/\/|news:|nntp:\/\/|redis:\/\/|sftp:\/\/|sip:|sips:|sms:|ssh:\/\/|svn:\/\/|tel:|telnet:\/\/|urn:|worldwind:\/\/|xmpp:|\/\/)/i
const SPACES = /[ _\u00A0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+/gu
const BIDI = /[\u200E\u200F\u202A-\u202E]+/gu
// MediaWikiTitleCodec::getTitleInvalidRegex, on the title once its fragment is split off.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const INVALID = /[\u0000-\u001f\u007f#<>[\]{}|\ufffd]|%[0-9A-Fa-f]{2}|&[A-Za-z0-9\u{80}-\u{10FFFF}]+;|&#[0-9]+;|&#x[0-9A-Fa-f]+;/u

/** The language link a link target makes, or undefined when it makes none. */
export function languageLinkTarget(target: string, codes: ReadonlySet<string>, o: ReadOptions = {}): { code: string; title: string } | undefined {
  let raw = target
  if (raw.includes('%')) {
    const decoded = rawUrlDecode(raw)
    if (decoded === undefined) return undefined
    raw = decoded.replace(/</g, '&lt;').replace(/>/g, '&gt;')
  }
  raw = raw.replace(/^ +/, '')
  if (raw.startsWith(':') || PROTOCOLS.test(raw)) return undefined // [[:fr:x]] is an ordinary link; URLs are external
  // NFC again once the bidi marks are gone, as MediaWiki's title does: `u` RLM U+0301 is `ú` (a property-test seed found it).
  let key = decodeCharReferences(raw).normalize('NFC').replace(BIDI, '').normalize('NFC').replace(SPACES, '_').replace(/^_+|_+$/g, '')
  if (key.includes('\ufffd')) return undefined
  if (key.startsWith(':')) key = key.slice(1).replace(/^_+/, '') // '_:fr:x': the colon names the main namespace
  if (key === '') return undefined
  let code: string | undefined
  for (let hops = 0; hops < 2 && code === undefined; hops++) {
    const m = /^(.+?)_*:_*([\s\S]*)$/.exec(key)
    if (!m) return undefined
    const prefix = m[1]!.toLowerCase()
    if (o.self !== undefined && prefix === o.self) {
      // The wiki's own prefix: an ordinary link, unless another prefix follows.
      if (m[2] === '') return undefined
      key = m[2]!
      continue
    }
    if (!codes.has(prefix)) return undefined
    code = prefix
    key = m[2]!
  }
  if (code === undefined) return undefined
  if (key.startsWith(':')) key = key.slice(1).replace(/^_+/, '')
  let fragment = ''
  const hash = key.indexOf('#')
  if (hash >= 0) {
    fragment = key.slice(hash + 1).replace(/_/g, ' ')
    key = key.slice(0, hash).replace(/_+$/, '')
  }
  if (INVALID.test(key)) return undefined
  if (key.includes('.') && (key === '.' || key === '..' || key.startsWith('./') || key.startsWith('../') || key.includes('/./') || key.includes('/../') || key.endsWith('/.') || key.endsWith('/..'))) return undefined
  if (key.includes('~~~') || Buffer.byteLength(key, 'utf8') > 255 || key.startsWith(':')) return undefined
  return { code, title: key.replace(/_/g, ' ') + (fragment !== '' ? `#${fragment}` : '') }
}

/**
 * Every language-link markup of the page, in text order, the first per language marked as the link MediaWiki
 * keeps (`duplicate: false`). `codes` are the wiki's interlanguage prefixes: a link with another prefix is not a
 * language link.
 */
export function findLanguageLinks(text: string, codes: ReadonlySet<string>, o: ReadOptions = {}): FoundLink[] {
  const view = preprocess(text)
  const v = view.text
  const out: FoundLink[] = []
  const linked = new Set<string>()
  let open = v.indexOf('[[')
  while (open >= 0) {
    const next = v.indexOf('[[', open + 2)
    const piece = v.slice(open + 2, next < 0 ? v.length : next)
    const m = LINK.exec(piece)
    const link = m ? languageLinkTarget(m[1]!, codes, o) : undefined
    if (m && link) {
      const start = view.at[open]!
      const end = view.at[open + 2 + m[0].length - 1]! + 1
      out.push({ ...link, duplicate: linked.has(link.code), start, end, removeStart: start, removeEnd: end })
      linked.add(link.code)
    }
    open = next
  }
  return lineRanges(text, out)
}

/** The page's language links as MediaWiki keeps them: the first per language, in text order. */
export function languageLinks(text: string, codes: ReadonlySet<string>, o: ReadOptions = {}): { code: string; title: string }[] {
  return findLanguageLinks(text, codes, o).flatMap((l) => (l.duplicate ? [] : [{ code: l.code, title: l.title }]))
}

/** Links alone on their line (with spaces), or lines holding only links, are removed with the line. */
function lineRanges(text: string, links: FoundLink[]): FoundLink[] {
  let i = 0
  while (i < links.length) {
    const lineStart = text.lastIndexOf('\n', links[i]!.start - 1) + 1
    const nl = text.indexOf('\n', links[i]!.start)
    const lineEnd = nl < 0 ? text.length : nl
    let j = i
    while (j + 1 < links.length && links[j + 1]!.start < lineEnd) j++
    const group = links.slice(i, j + 1)
    let rest = ''
    let pos = lineStart
    for (const l of group) {
      rest += text.slice(pos, l.start)
      pos = Math.max(pos, l.end)
    }
    rest += text.slice(pos, Math.max(pos, lineEnd))
    // A link whose pipe text runs over several lines ends past this line: it is removed alone.
    if (rest.trim() === '' && group.every((l) => l.end <= lineEnd)) {
      group.forEach((l, k) => {
        l.removeStart = k === 0 ? lineStart : l.start
        l.removeEnd = k === group.length - 1 ? (nl < 0 ? text.length : nl + 1) : group[k + 1]!.start
      })
    }
    i = j + 1
  }
  return links
}

/** The text without the given links (lines that held only links go too). */
export function removeLanguageLinks(text: string, links: readonly FoundLink[]): string {
  let out = ''
  let pos = 0
  for (const l of [...links].sort((a, b) => a.removeStart - b.removeStart)) {
    if (l.removeStart < pos) continue
    out += text.slice(pos, l.removeStart)
    pos = l.removeEnd
  }
  return out + text.slice(pos)
}

/** Blank (DESIGN.md rule 2): nothing but whitespace once the language links (duplicates and piped ones too) are removed. */
export function isBlank(text: string, codes: ReadonlySet<string>, o: ReadOptions = {}): boolean {
  return removeLanguageLinks(text, findLanguageLinks(text, codes, o)).trim() === ''
}

/**
 * prop=info gives the page's length in bytes, not its text. A page is blank when nothing but whitespace is left
 * once its language links are removed (DESIGN.md rule 2); if the length exceeds the links' shortest possible
 * markup by a margin, the page surely has other content. Otherwise it is unknown (null) until the text is read.
 */
export function surelyNotBlank(length: number | undefined, links: readonly { code: string; title: string }[]): boolean {
  if (length === undefined) return false
  let linkBytes = 0
  for (const l of links) linkBytes += Buffer.byteLength(l.code) + Buffer.byteLength(l.title) + 6 // [[code:title]]\n
  return length - linkBytes > 32
}

function rawUrlDecode(s: string): string | undefined {
  if (!/%[0-9A-Fa-f]{2}/.test(s)) return s
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else for (const b of Buffer.from(s[i]! + (isHighSurrogate(s, i) ? s[++i]! : ''), 'utf8')) bytes.push(b)
  }
  return Buffer.from(bytes).toString('utf8') // invalid UTF-8 becomes U+FFFD, which the title refuses
}

function isHighSurrogate(s: string, i: number): boolean {
  const c = s.charCodeAt(i)
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length
}

// The named references titles hold in practice; an unknown one stays as written, and the title refuses it.
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00A0', ndash: '\u2013', mdash: '\u2014', shy: '\u00AD', lrm: '\u200E', rlm: '\u200F', hellip: '\u2026', rsquo: '\u2019', lsquo: '\u2018', ldquo: '\u201C', rdquo: '\u201D', middot: '\u00B7', times: '\u00D7', zwj: '\u200D', zwnj: '\u200C' }

/** Sanitizer::decodeCharReferences: `&amp;`, `&#233;`, `&#xE9;` (a code point that cannot be is U+FFFD). */
function decodeCharReferences(s: string): string {
  if (!s.includes('&')) return s
  return s.replace(/&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|([A-Za-z0-9]+));/g, (all, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return NAMED[name] ?? all
    const cp = parseInt((hex ?? dec)!, hex !== undefined ? 16 : 10)
    const valid = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
    return valid ? String.fromCodePoint(cp) : '\ufffd'
  })
}
