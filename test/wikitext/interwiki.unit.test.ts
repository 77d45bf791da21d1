import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { botsDenied } from '../../src/wikitext/bots.js'
import { isLegalTitle, normaliseTitle } from '../../src/events/titles.js'
import { findLanguageLinks, isBlank, languageLinks, removeLanguageLinks, rewriteLanguageLinks } from '../../src/wikitext/interwiki.js'

const CODES = new Set(['en', 'fr', 'de', 'nl', 'pl', 'mg', 'zh-min-nan'])
const map = (o: Record<string, string>) => new Map(Object.entries(o))

describe('language links in wikitext (unit)', () => {
  it('finds the page\'s own links, not those in nowiki, pre, comments, includeonly or templates (noinclude content is the page\'s)', () => {
    const text = `chat
<nowiki>[[fr:nowiki]]</nowiki> <pre>[[de:pre]]</pre> <!-- [[nl:comment]] -->
<noinclude>[[pl:noinclude]]</noinclude><includeonly>[[pl:inc]]</includeonly>
{{template|[[nl:arg]]|{{inner|[[de:deep]]}}}} [[Category:Cats]] [[wikt:other]] [[:fr:inline]]
[[fr:chat]]
[[zh-min-nan:niau]] [[de:Katze]]
`
    expect(findLanguageLinks(text, CODES).map((l) => `${l.code}:${l.title}`)).toEqual(['pl:noinclude', 'fr:chat', 'zh-min-nan:niau', 'de:Katze'])
  })

  it('reads piped links, keeps the first link per language (T26502), and refuses what MediaWiki refuses', () => {
    const text = '[[fr:chat]] x [[fr:Chat]]\n[[de:Katze|die Katze]] [[ NL _: kat ]] [[:pl:kot]] [[en:cat]] [[en:mg:saka]] [[mg:a<b]] [[mg:a\tb]]'
    const found = findLanguageLinks(text, CODES, { self: 'en' })
    expect(found.map((l) => `${l.code}:${l.title}${l.duplicate ? ' (duplicate)' : ''}`)).toEqual(['fr:chat', 'fr:Chat (duplicate)', 'de:Katze', 'nl:kat', 'mg:saka'])
    expect(languageLinks(text, CODES, { self: 'en' })).toEqual([{ code: 'fr', title: 'chat' }, { code: 'de', title: 'Katze' }, { code: 'nl', title: 'kat' }, { code: 'mg', title: 'saka' }])
    expect(languageLinks('[[fr:a%20b]] [[de:x&amp;y]] [[nl:t#Noun_1]] [[pl::z]] [[mg:~~~x]] [[zh-min-nan:../x]]', CODES)).toEqual([{ code: 'fr', title: 'a b' }, { code: 'de', title: 'x&y' }, { code: 'nl', title: 't#Noun 1' }, { code: 'pl', title: 'z' }])
    // Unclosed <nowiki> is plain text; an unclosed template call hides nothing.
    // A bidi mark between a letter and its combining accent: gone, and the two composed (NFC), as MediaWiki's title.
    expect(languageLinks("[[fr:l'eau\u200f\u0301x]]", CODES)).toEqual([{ code: 'fr', title: "l'ea\u00fax" }])
    expect(languageLinks('<nowiki>[[fr:a]] {{x [[de:b]]', CODES)).toEqual([{ code: 'fr', title: 'a' }, { code: 'de', title: 'b' }])
    // A piped link's text may run over lines; a later [[ ends it.
    expect(languageLinks('[[fr:a|x\ny]] [[de:b|[[c]]]]', CODES)).toEqual([{ code: 'fr', title: 'a' }])
  })

  it('a page with only piped or duplicate links is blank; a rewrite keeps the first of two links, never the last', () => {
    expect(isBlank('[[fr:Chat|x]]\n[[fr:chat]]', CODES)).toBe(true)
    const r = rewriteLanguageLinks('Text.\n[[fr:chat]]\n[[fr:Chat]]\n[[de:Katze|k]]', map({ fr: 'chat', de: 'Katze', nl: 'kat' }), CODES)
    expect(r.text).toBe('Text.\n\n[[de:Katze]]\n[[fr:chat]]\n[[nl:kat]]')
    expect(r.before).toEqual([{ code: 'fr', title: 'chat' }, { code: 'de', title: 'Katze' }])
    // A kept link with a fragment can be written again.
    expect(rewriteLanguageLinks('[[fr:chat#Nom]]', map({ fr: 'chat#Nom', de: 'Katze' }), CODES).text).toBe('[[de:Katze]]\n[[fr:chat#Nom]]')
  })

  it('adds, removes and orders the block at the end, after categories, leaving the rest alone', () => {
    const text = 'A cat.\n\n[[fr:chat]]\n[[Category:Animals]]\n[[nl:kat]]\n'
    const r = rewriteLanguageLinks(text, map({ de: 'chat', fr: 'chat' }), CODES)
    expect(r.text).toBe('A cat.\n\n[[Category:Animals]]\n\n[[de:chat]]\n[[fr:chat]]')
    expect(r.changed).toBe(true)
    expect(rewriteLanguageLinks(text, map({ fr: 'chat', nl: 'kat' }), CODES)).toMatchObject({ changed: false, text })
    expect(rewriteLanguageLinks('x [[fr:a]] y', map({}), CODES).text).toBe('x  y')
  })

  it('orders by code, by language name, or with a put-first list', () => {
    const desired = map({ de: 'x', fr: 'x', nl: 'x', pl: 'x' })
    expect(rewriteLanguageLinks('t', desired, CODES, { kind: 'code' }).after.map((l) => l.code)).toEqual(['de', 'fr', 'nl', 'pl'])
    expect(rewriteLanguageLinks('t', desired, CODES, { kind: 'name' }).after.map((l) => l.code)).toEqual(['nl', 'fr', 'de', 'pl']) // Dutch, French, German, Polish
    expect(rewriteLanguageLinks('t', desired, CODES, { kind: 'put-first', first: ['pl', 'nl'] }).after.map((l) => l.code)).toEqual(['pl', 'nl', 'de', 'fr'])
  })

  it('finds links after text whose lower case has another length, and reads targets as MediaWiki does', () => {
    expect(findLanguageLinks('İ<!-- c -->[[fr:chat]]', CODES).map((l) => `${l.code}:${l.title}`)).toEqual(['fr:chat'])
    expect(findLanguageLinks('İİİ<NOWIKI>[[de:x]]</NoWiki>[[fr:chat]]', CODES).map((l) => `${l.code}:${l.title}`)).toEqual(['fr:chat'])
    const r = rewriteLanguageLinks('İ<!-- c -->\n[[fr:chat]]', map({ fr: 'chat', de: 'chat' }), CODES)
    expect(findLanguageLinks(r.text, CODES).map((l) => l.code)).toEqual(['de', 'fr']) // one block, not two
    expect(findLanguageLinks('[[fr:chat_noir]] [[de: Katze\u00A0schwarz ]] [[nl:e\u0301]]', CODES).map((l) => l.title)).toEqual(['chat noir', 'Katze schwarz', '\u00E9'])
  })

  it('knows a blank page: nothing but whitespace once the language links are gone', () => {
    expect(isBlank('  [[fr:chat]]\n\n[[de:Katze]]\n ', CODES)).toBe(true)
    expect(isBlank('[[fr:chat]] x', CODES)).toBe(false)
    expect(isBlank('{{stub}}', CODES)).toBe(false)
  })

  it('respects {{nobots}} and {{bots|allow/deny}} in either case of the first letter', () => {
    expect(botsDenied('x {{nobots}} y', 'InterwikiBot')).toBe(true)
    expect(botsDenied('x {{Nobots}} y', 'InterwikiBot')).toBe(true)
    expect(botsDenied('{{bots|deny=all}}', 'InterwikiBot')).toBe(true)
    expect(botsDenied('{{Bots|deny=SomeBot, InterwikiBot}}', 'InterwikiBot')).toBe(true)
    expect(botsDenied('{{bots|deny=SomeBot}}', 'InterwikiBot')).toBe(false)
    expect(botsDenied('{{bots|allow=none}}', 'InterwikiBot')).toBe(true)
    expect(botsDenied('{{bots|allow=OtherBot}}', 'InterwikiBot')).toBe(true)
    expect(botsDenied('{{bots|allow=InterwikiBot}}', 'InterwikiBot')).toBe(false)
    expect(botsDenied('plain page', 'InterwikiBot')).toBe(false)
    // Several names (the account the wiki names, and the tool): a deny of either denies, an allow of either allows.
    expect(botsDenied('{{bots|deny=mbwa}}', ['InterwikiBot', 'mbwa'])).toBe(true)
    expect(botsDenied('{{bots|deny=InterwikiBot}}', ['InterwikiBot', 'mbwa'])).toBe(true)
    expect(botsDenied('{{bots|allow=InterwikiBot}}', ['InterwikiBot', 'mbwa'])).toBe(false)
  })
})

// Generated pages: prose, categories, templates and masked zones holding links, and language links in various
// places; generated desired link sets. Words are drawn from all of Unicode (astral planes, combining marks, RTL,
// characters whose case mapping changes their length, every kind of space, underscores) except the characters
// that make wikitext syntax; titles are as MediaWiki would read them.
const SYNTAX = /[[\]{}<>|\n\r#]/u
const tricky = fc.constantFrom('İ', 'ß', 'ﬁ', 'ŉ', '\u00A0', '\u3000', '\u2009', '\u202F', '_', '\u0301', 'e\u0301', '\u05E9\u05DC\u05D5\u05DD', '\u0627\u0644', '𝔘', '😀', '\u200F', 'ǅ', 'Σ', '\uFEFF')
const unicodeText = fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }).filter((w) => !SYNTAX.test(w))
const word = fc.array(fc.oneof(tricky, unicodeText, fc.stringMatching(/^[a-zA-Z ]{1,6}$/)), { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''))
const code = fc.constantFrom(...CODES)
const titleOf = (w: string) => normaliseTitle(w)
const langLink = fc.tuple(code, word.filter((w) => isLegalTitle(titleOf(w)) && isLegalTitle(w))).map(([c, t]) => `[[${c}:${t}]]`)
const piece = fc.oneof(
  word,
  fc.constant('\n'),
  fc.constant('\n\n'),
  langLink,
  langLink.map((l) => `\n${l}\n`),
  word.map((w) => `[[Category:${w}]]`),
  langLink.map((l) => `{{tpl|${l}}}`),
  langLink.map((l) => `<!-- ${l} -->`),
  langLink.map((l) => `<nowiki>${l}</nowiki>`),
  langLink.map((l) => `<includeonly>${l}</includeonly>`),
  word.map((w) => `[[${w}]]`),
)
const page = fc.array(piece, { maxLength: 25 }).map((parts) => parts.join(''))
const desiredSet = fc.dictionary(code, word.map(titleOf).filter((t) => isLegalTitle(t)), { maxKeys: 5 })

describe('rewriter properties (unit, generated pages)', () => {
  const runs = { numRuns: 2000 }

  it('normalises a title once and for all: the key of a key is itself', () => {
    expect(normaliseTitle('a\u200E\u0301')).toBe('\u00E1') // a bidi mark between a letter and its accent
    fc.assert(
      fc.property(fc.oneof(word, fc.string({ unit: 'binary', maxLength: 12 })), (w) => {
        expect(normaliseTitle(normaliseTitle(w))).toBe(normaliseTitle(w))
      }),
      { numRuns: 5000 },
    )
  })

  it('rewriting twice gives the same text', () => {
    fc.assert(
      fc.property(page, desiredSet, (text, d) => {
        const once = rewriteLanguageLinks(text, map(d), CODES).text
        expect(rewriteLanguageLinks(once, map(d), CODES).text).toBe(once)
      }),
      runs,
    )
  })

  it('rewriting with the links the page already has changes nothing', () => {
    fc.assert(
      fc.property(page, (text) => {
        const own = findLanguageLinks(text, CODES)
        const codes = own.map((l) => l.code)
        fc.pre(new Set(codes).size === codes.length) // a page linking one wiki twice is not "as it should be"
        const r = rewriteLanguageLinks(text, new Map(own.map((l) => [l.code, l.title])), CODES)
        expect(r.changed).toBe(false)
        expect(r.text).toBe(text)
      }),
      runs,
    )
  })

  it('keeps every byte outside the language links (up to trailing whitespace, which MediaWiki drops anyway)', () => {
    fc.assert(
      fc.property(page, desiredSet, (text, d) => {
        const out = rewriteLanguageLinks(text, map(d), CODES)
        const strip = (t: string) => removeLanguageLinks(t, findLanguageLinks(t, CODES)).replace(/\s+$/u, '')
        expect(strip(out.text)).toBe(strip(text))
        expect(new Map(findLanguageLinks(out.text, CODES).map((l) => [l.code, l.title]))).toEqual(map(d))
      }),
      runs,
    )
  })
})
