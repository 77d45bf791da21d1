import fc from 'fast-check'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { isMbwaError } from '../../src/errors/errors.js'
import { normaliseTitle } from '../../src/events/titles.js'
import { findLanguageLinks, languageLinks, removeLanguageLinks, rewriteLanguageLinks } from '../../src/wikitext/interwiki.js'

// Generated page texts and the check that mbwa reads and writes language links as MediaWiki does, with
// MediaWiki's own parse (action=parse&prop=langlinks) as the judge: the links mbwa reads equal MediaWiki's, in
// order; a rewrite's text parses to exactly the intended links; and once mbwa removes what it takes for
// language-link markup, MediaWiki finds no language link left, while the rest of the text is byte for byte the
// same before and after the rewrite. Used by test/wikitext/parse-agreement.int.test.ts and bench/parse-agreement.ts.

// Characters that make wikitext syntax (or that a title refuses) stay out of words; links, zones and templates are
// made on purpose.
// eslint-disable-next-line no-control-regex -- control characters stay out of words
const SYNTAX = /[[\]{}<>|\n\r#%&~\u0000-\u001f\u007f\ufffd]/u
const tricky = fc.constantFrom('İ', 'ß', 'ŉ', '\u00A0', '\u3000', '\u2009', '\u202F', '_', '\u0301', 'e\u0301', '\u05E9\u05DC\u05D5\u05DD', '\u0627\u0644', '𝔘', '😀', '\u200F', '\u200E', 'ǅ', 'Σ', '日本', "l'eau", 'l\u2019eau', '\u2026', ':', '/', '.', 'Ω')
const unicode = fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }).filter((w) => !SYNTAX.test(w) && !/[\uD800-\uDFFF]/.test(w.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '')))
const word = fc.array(fc.oneof({ weight: 2, arbitrary: fc.stringMatching(/^[a-zA-Z]{1,6}$/) }, tricky, unicode, fc.constant(' ')), { minLength: 1, maxLength: 4 }).map((p) => p.join(''))

export interface CaseOptions {
  /** Interlanguage prefixes that are languages on the wiki. */
  codes: string[]
  /** Prefixes that are not (another wiki's interwiki, a namespace, nothing). */
  others: string[]
}

function linkArb(o: CaseOptions): fc.Arbitrary<string> {
  const code = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...o.codes) }, { weight: 1, arbitrary: fc.constantFrom(...o.others) })
  const spelled = fc.tuple(code, fc.constantFrom('lower', 'upper', 'first')).map(([c, k]) => (k === 'upper' ? c.toUpperCase() : k === 'first' ? c[0]!.toUpperCase() + c.slice(1) : c))
  const spaceL = fc.constantFrom('', '', ' ', '  ', '_')
  const spaceR = fc.constantFrom('', '', ' ', '_')
  const fragment = fc.oneof({ weight: 5, arbitrary: fc.constant('') }, { weight: 1, arbitrary: word.map((w) => `#${w}`) })
  const pipe = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: word.map((w) => `|${w}`) }, { weight: 1, arbitrary: word.map((w) => `|${w}\n${w}`) })
  const colon = fc.oneof({ weight: 8, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constant(':') })
  return fc.tuple(colon, spaceL, spelled, spaceR, spaceL, word, spaceR, fragment, pipe).map(([k, a, c, b, d, t, e, f, p]) => `[[${k}${a}${c}${b}:${d}${t}${e}${f}${p}]]`)
}

/** A page: prose, categories, ordinary links, language links in every form, and zones that hide some. */
export function pageArb(o: CaseOptions): fc.Arbitrary<string> {
  const link = linkArb(o)
  const piece = fc.oneof(
    { weight: 4, arbitrary: word },
    { weight: 2, arbitrary: fc.constantFrom('\n', '\n\n', ' ', '\n\n\n') },
    { weight: 5, arbitrary: link },
    { weight: 2, arbitrary: link.map((l) => `\n${l}\n`) },
    { weight: 1, arbitrary: word.map((w) => `[[Category:${w}]]`) },
    { weight: 1, arbitrary: word.map((w) => `[[${w}]]`) },
    { weight: 1, arbitrary: link.map((l) => `{{Mbwa-missing-template|${l}}}`) },
    { weight: 1, arbitrary: link.map((l) => `<!-- ${l} -->`) },
    { weight: 1, arbitrary: link.map((l) => `<nowiki>${l}</nowiki>`) },
    { weight: 1, arbitrary: link.map((l) => `<pre>${l}</pre>`) },
    { weight: 1, arbitrary: link.map((l) => `<includeonly>${l}</includeonly>`) },
    { weight: 1, arbitrary: link.map((l) => `<noinclude>${l}</noinclude>`) },
    { weight: 1, arbitrary: fc.constantFrom('== Noun ==\n', "'''", '* ', '<nowiki/>', '----\n') },
  )
  return fc.array(piece, { maxLength: 18 }).map((p) => p.join(''))
}

/** The links a rewrite is asked for: some of the page's own kept, others added or dropped. */
export function desiredArb(o: CaseOptions): fc.Arbitrary<Record<string, string>> {
  const title = word.map((w) => normaliseTitle(w)).filter((w) => w !== '' && !w.startsWith(':') && !/(^|\/)\.\.?(\/|$)/.test(w))
  return fc.dictionary(fc.constantFrom(...o.codes), title, { maxKeys: o.codes.length })
}

export interface Disagreement {
  wiki: string
  check: string
  text: string
  mbwa: unknown
  mediawiki: unknown
}

export interface AgreementFigures {
  cases: number
  rewrites: number
  /** Rewrites mbwa refused (MBWA_UNSAFE_TEXT or MBWA_BAD_TITLE): never a wrong edit, but counted. */
  refused: number
  requests: number
  disagreements: Disagreement[]
}

/** The judge: MediaWiki's parse of a text on one wiki. */
export class ParseJudge {
  requests = 0
  private readonly client: MediaWikiClient
  constructor(readonly wiki: string, api: string) {
    this.client = new MediaWikiClient({ api, contact: 'mbwa tests', maxlag: 0, timeoutMs: 30_000 })
  }

  async langlinks(text: string): Promise<{ code: string; title: string }[]> {
    this.requests++
    const res = await this.client.post({ action: 'parse', title: 'Mbwa parse agreement', contentmodel: 'wikitext', prop: 'langlinks', text, disablelimitreport: true })
    return ((res.parse as { langlinks?: { lang: string; title: string }[] }).langlinks ?? []).map((l) => ({ code: l.lang, title: l.title }))
  }

  close(): Promise<void> {
    return this.client.close()
  }
}

/** Runs every case on its judge's wiki (one request at a time per wiki, the wikis side by side). */
export async function checkAgreement(judges: ParseJudge[], cases: { text: string; desired: Record<string, string> }[], codes: ReadonlySet<string>): Promise<AgreementFigures> {
  const figures: AgreementFigures = { cases: 0, rewrites: 0, refused: 0, requests: 0, disagreements: [] }
  let next = 0
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
  await Promise.all(
    judges.map(async (judge) => {
      const self = { self: judge.wiki }
      while (next < cases.length) {
        const { text, desired } = cases[next++]!
        figures.cases++
        const mw = await judge.langlinks(text)
        const mine = languageLinks(text, codes, self)
        const say = (check: string, m: unknown, w: unknown, t = text) => figures.disagreements.push({ wiki: judge.wiki, check, text: t, mbwa: m, mediawiki: w })
        if (!same(mine, mw)) say('read', mine, mw)
        // What mbwa takes for link markup is all of it: without it, MediaWiki finds no language link.
        const body = removeLanguageLinks(text, findLanguageLinks(text, codes, self))
        const left = body === text && mw.length === 0 ? [] : await judge.langlinks(body)
        if (left.length > 0) say('markup', [], left, body)
        let r
        try {
          // Never a link to the wiki itself: on its own wiki `[[en:x]]` is an ordinary link.
          r = rewriteLanguageLinks(text, new Map(Object.entries(desired).filter(([c]) => c !== judge.wiki)), codes, { kind: 'code' }, self)
        } catch (err) {
          if (isMbwaError(err, 'MBWA_UNSAFE_TEXT') || isMbwaError(err, 'MBWA_BAD_TITLE')) {
            figures.refused++
            continue
          }
          throw err
        }
        figures.rewrites++
        const after = await judge.langlinks(r.text)
        if (!same(after, r.after)) say('rewrite', r.after, after, r.text)
        const strip = (t: string) => removeLanguageLinks(t, findLanguageLinks(t, codes, self)).replace(/\s+$/u, '')
        if (strip(r.text) !== strip(text)) say('outside', strip(r.text), strip(text))
      }
    }),
  )
  figures.requests = judges.reduce((n, j) => n + j.requests, 0)
  return figures
}

/** Cases drawn from a seed, so a failure can be drawn again. */
export function sampleCases(o: CaseOptions, count: number, seed: number): { text: string; desired: Record<string, string> }[] {
  return fc.sample(fc.record({ text: pageArb(o), desired: desiredArb(o) }), { numRuns: count, seed })
}
