// Title normalisation as MediaWiki does it for database keys (DESIGN.md rule 1): underscores and every Unicode
// space become one space, bidi marks go, the result is trimmed and in NFC. The first letter is left alone:
// Wiktionaries are case-sensitive there.

const SPACES = /[ _\u00A0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+/gu
// U+200E, U+200F (LRM, RLM) and U+202A–U+202E (embeddings and overrides), as MediaWiki strips them.
const BIDI = /[\u200E\u200F\u202A-\u202E]/gu

// A title of printable ASCII words with single spaces between them (no underscore) is its own key: the common case
// needs none of the passes below.
const PLAIN_ASCII = /^(?:[\x21-\x5e\x60-\x7e]+ )*[\x21-\x5e\x60-\x7e]+$/

export function normaliseTitle(title: string): string {
  if (PLAIN_ASCII.test(title)) return title
  // NFC again at the end: removing a bidi mark or a space can bring a base letter and a combining mark together,
  // and a title's key must be its own key (normalising twice changes nothing).
  return title.normalize('NFC').replace(BIDI, '').replace(SPACES, ' ').trim().normalize('NFC')
}

/** The key under which all facts about a title are appended, so they land in one partition, in order. */
export function titleKey(title: string): string {
  return normaliseTitle(title)
}

/**
 * Cognate's key for a title (notes/cognate-behaviour.md): ’ (U+2019) and ʼ (U+02BC) are ', … is ..., in NFC; no
 * case folding. Cognate links `l'eau` to `fr:l’eau`: titles with one key are one word to it.
 */
export function cognateKey(title: string): string {
  return title.replace(/[\u02BC\u2019]/g, "'").replace(/\u2026/g, '...').normalize('NFC')
}

/** The first letter as MediaWiki capitalises it (a letter whose capital is longer, like ß, stays as it is). */
export function ucfirst(title: string): string {
  return withFirstLetter(title, (c) => c.toUpperCase())
}

/** The title with its first letter changed, where the change gives one letter (else the title as it is). */
function withFirstLetter(title: string, change: (letter: string) => string): string {
  if (title === '') return title
  const first = String.fromCodePoint(title.codePointAt(0)!)
  const changed = change(first)
  return [...changed].length === 1 ? changed + title.slice(first.length) : title
}

/**
 * What a key is placed by (which partition): its Cognate key, with the first letter folded as a first-letter wiki
 * folds it, then put in lower case. So `Chat` and `chat` (one page on a first-letter wiki: a case-sensitive wiki's
 * `chat` links to it) share a partition, as `l'eau` and `l’eau` do; wiki codes and keys that begin in lower case
 * are placed by themselves.
 */
export function placementKey(key: string): string {
  const k = cognateKey(key)
  const c = k.charCodeAt(0)
  if (c >= 0x41 && c <= 0x5a) return String.fromCharCode(c + 32) + k.slice(1) // ASCII capital: the common case
  if (c < 0x80) return k // ASCII lower case, digits, punctuation
  return lcfirst(ucfirst(k))
}

/** The first letter in lower case (where that is one letter: İ stays as it is). */
export function lcfirst(title: string): string {
  return withFirstLetter(title, (c) => c.toLowerCase())
}

/** Whether another title may share this title's Cognate key (it has a character the folding touches). */
export function hasSpellings(title: string): boolean {
  return /['\u02BC\u2019\u2026]|\.\.\./.test(title)
}

// Characters MediaWiki never allows in a title, and control characters (and U+FFFD, what invalid UTF-8 became).
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
export const ILLEGAL_TITLE_CHARS = /[#<>[\]|{}\u0000-\u001f\u007f\ufffd]/u

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** A title MediaWiki could have: not empty once normalised, at most 255 bytes, no character it refuses. */
export function isLegalTitle(title: string): boolean {
  if (ILLEGAL_TITLE_CHARS.test(title)) return false // as written, too: a newline trimmed away is still a newline in wikitext
  const t = normaliseTitle(title)
  return t !== '' && Buffer.byteLength(t, 'utf8') <= 255 && !ILLEGAL_TITLE_CHARS.test(t) && !LONE_SURROGATE.test(t)
}
