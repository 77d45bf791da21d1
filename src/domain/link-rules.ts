import type { LanguageLink } from '../events/types.js'
import { normaliseTitle } from '../events/titles.js'
import type { PageState } from './page-state.js'
import type { RulesByWiki, WikiRules } from './wiki-rules.js'

// The domain rules of DESIGN.md, as one pure evaluation of a title: which pages take part in its link set, and
// for each page what it should carry, what to add and remove, and (on cognate wikis) which written links are
// stale or redundant. Nothing here reads a clock or a store, so every rule is tested on its own.

export type ReportKind = 'stale-missing' | 'stale-other-title' | 'redundant' | 'invalid-code'
export type DiscrepancyKind = 'missing' | 'remove' | ReportKind

export interface WrittenLinkReport {
  code: string
  title: string
  kind: ReportKind
}

export interface PageVerdict {
  wiki: string
  mode: 'manual' | 'cognate'
  /** The page takes part in the title's link set. */
  participates: boolean
  /** mbwa may edit this page (configured, not closed or locked, bot may edit, page takes part). */
  editable: boolean
  /** What the page's links should be (manual mode), as codes; null when its links are unknown. */
  shouldCarry: string[] | null
  add: string[]
  remove: string[]
  /** Cognate mode: written links that override the automatic ones. */
  reports: WrittenLinkReport[]
  /** Why nothing could be computed for this page, if so. */
  unknown?: 'links-unknown' | 'written-links-unknown'
}

export interface TitleVerdict {
  title: string
  linkSet: string[]
  /** All information needed to remove links is there (rule 4). */
  complete: boolean
  incomplete: string[]
  pages: PageVerdict[]
}

export interface EvaluationContext {
  /** Wikis whose snapshot has completed in this partition: only for them is a missing page known to be missing. */
  snapshotted: ReadonlySet<string>
  /**
   * How a wiki compares titles (siteinfo `case`): on a `first-letter` wiki, [[fr:chat]] names the page "Chat".
   * Unknown wikis compare exactly (case-sensitive: every Wiktionary), which never merges two titles.
   */
  titleCase?: (wiki: string) => TitleCase | undefined
  /** A wiki's main page as the wiki says (siteinfo `mainpage`), where the configuration names none. */
  mainPage?: (wiki: string) => string | undefined
}

export type TitleCase = 'first-letter' | 'case-sensitive'

/** The first letter as MediaWiki capitalises it (a letter whose capital is longer, like ß, stays as it is). */
export function ucfirst(title: string): string {
  if (title === '') return title
  const first = String.fromCodePoint(title.codePointAt(0)!)
  const upper = first.toUpperCase()
  return [...upper].length === 1 ? upper + title.slice(first.length) : title
}

/** Whether a link's target names `title` on a wiki that compares titles as `titleCase` says. */
export function sameTitle(target: string, title: string, titleCase: TitleCase | undefined): boolean {
  if (target === title) return true // most links name the title exactly: no normalising needed
  const a = normaliseTitle(target)
  const b = normaliseTitle(title)
  return a === b || (titleCase === 'first-letter' && ucfirst(a) === ucfirst(b))
}

/** Whether a title has spellings that Cognate folds together (another record may hold the same word). */
function hasFoldedSpellings(title: string, target: string): boolean {
  return /['\u02BC\u2019\u2026]|\.\.\./.test(title) || /['\u02BC\u2019\u2026]|\.\.\./.test(target)
}

/** Cognate's title folding: U+02BC and U+2019 to ', … to ..., then NFC. */
export function cognateFold(title: string): string {
  return title.replace(/[\u02BC\u2019]/g, "'").replace(/\u2026/g, '...').normalize('NFC')
}

/**
 * On a first-letter wiki the page this title names is `Chat`, kept under the key `Chat`, not `chat`: this title's
 * record cannot tell whether it exists, so a link to it is never removed for want of it.
 */
function keptUnderAnotherKey(title: string, targetCase: TitleCase | undefined): boolean {
  return targetCase === 'first-letter' && ucfirst(title) !== title
}

function participates(title: string, page: PageState | undefined, rules: WikiRules | undefined, ctx: EvaluationContext): boolean {
  if (!page || !rules) return false
  if (rules.closed || rules.locked) return false
  const mainPage = rules.mainPage ?? ctx.mainPage?.(rules.code)
  if (mainPage !== undefined && normaliseTitle(mainPage) === normaliseTitle(title)) return false
  if (page.redirect) return false // a redirect carries no links and is never edited; it may be linked to (below)
  if (page.blank === true) return false
  return true
}

/**
 * A redirect of the title that wikis with `linkRedirects` link to (the seed's `flws[home].redirs`: the setting is
 * the linking wiki's, "this wiki links to redirects on the others"): open, not the main page.
 */
function linkableRedirect(title: string, page: PageState | undefined, rules: WikiRules | undefined, ctx: EvaluationContext): boolean {
  if (!page?.redirect || !rules || rules.closed || rules.locked) return false
  const mainPage = rules.mainPage ?? ctx.mainPage?.(rules.code)
  return mainPage === undefined || normaliseTitle(mainPage) !== normaliseTitle(title)
}

export function evaluateTitle(title: string, pages: ReadonlyMap<string, PageState>, rules: RulesByWiki, ctx: EvaluationContext): TitleVerdict {
  const linkSet = [...pages.keys()].filter((w) => participates(title, pages.get(w), rules.get(w), ctx)).sort()
  const inSet = new Set(linkSet)
  const redirects = new Set([...pages.keys()].filter((w) => linkableRedirect(title, pages.get(w), rules.get(w), ctx)))
  const incomplete: string[] = []
  for (const [code, r] of rules) {
    if (r.closed) continue
    if (!ctx.snapshotted.has(code) && !pages.has(code)) incomplete.push(`${code}: not snapshotted yet`)
  }
  for (const [code, page] of pages) {
    if (!rules.has(code)) continue
    if (page.links === null) incomplete.push(`${code}: links unknown`)
    if (page.blank === null && !page.redirect) incomplete.push(`${code}: blank unknown`)
  }
  const complete = incomplete.length === 0
  const verdicts: PageVerdict[] = []
  for (const [code, page] of [...pages].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const r = rules.get(code)
    if (!r) continue
    const part = inSet.has(code)
    const editable = part && r.edit && !r.closed && !r.locked
    const at: PageContext = { title, code, page, r, inSet, redirects, rules, complete, part, editable, titleCase: ctx.titleCase, known: (w) => ctx.snapshotted.has(w), present: (w) => pages.has(w) }
    verdicts.push(r.linkMode === 'manual' ? manual(at) : cognate(at))
  }
  return { title, linkSet, complete, incomplete, pages: verdicts }
}

function isInvalid(code: string, own: WikiRules, rules: RulesByWiki): boolean {
  if (own.invalidCodes.has(code)) return true
  for (const r of rules.values()) if (r.invalidCodes.size > 0 && r.invalidCodes.has(code)) return true
  return false
}

/** One page of a title, with what the rules need to judge it. */
interface PageContext {
  title: string
  code: string
  page: PageState
  r: WikiRules
  inSet: ReadonlySet<string>
  /** Wikis where the title is a redirect that may be linked to (by wikis with linkRedirects). */
  redirects: ReadonlySet<string>
  rules: RulesByWiki
  complete: boolean
  part: boolean
  editable: boolean
  titleCase: EvaluationContext['titleCase']
  /** Whether a wiki's absence of this title is known (its snapshot completed in this partition). */
  known: (wiki: string) => boolean
  /** Whether a wiki has a page of this title (participating or not: a redirect, a blank page). */
  present: (wiki: string) => boolean
}

function manual({ title, code, page, r, inSet, redirects, rules, complete, part, editable, titleCase }: PageContext): PageVerdict {
  const names = (l: LanguageLink) => sameTitle(l.title, title, rules.get(l.code)?.titleCase ?? titleCase?.(l.code))
  const elsewhere = (c: string) => keptUnderAnotherKey(title, rules.get(c)?.titleCase ?? titleCase?.(c))
  const desired: string[] = []
  for (const c of inSet) if (c !== code && !r.nolink.has(c)) desired.push(c)
  if (r.linkRedirects) for (const c of redirects) if (c !== code && !r.nolink.has(c)) desired.push(c)
  desired.sort()
  if (page.links === null) return { wiki: code, mode: 'manual', participates: part, editable, reports: [], shouldCarry: desired, add: [], remove: [], unknown: 'links-unknown' }
  if (!part) return { wiki: code, mode: 'manual', participates: part, editable, reports: [], shouldCarry: [], add: [], remove: [] }
  const links = page.links
  const add: string[] = []
  for (const c of desired) {
    let has = false
    for (const l of links) if (l.code === c && names(l)) has = true
    if (!has) add.push(c)
  }
  let remove: string[] | undefined
  const drop = (c: string): void => {
    remove ??= []
    if (!remove.includes(c)) remove.push(c)
  }
  for (const l of links) {
    if (l.code === code) continue // a link to the wiki itself is an ordinary link, not a language link
    // A link to a different title on a wiki that has this title is replaced by the same-title link.
    if (!names(l) && add.includes(l.code)) drop(l.code)
    if (isInvalid(l.code, r, rules)) {
      drop(l.code) // codes no longer valid go whatever else is known
      continue
    }
    if (!complete) continue // rule 4: never remove on incomplete information
    const target = rules.get(l.code)
    if (!target) continue // a wiki mbwa does not know: not its business
    if (target.closed || target.locked || r.nolink.has(l.code)) drop(l.code)
    else if (names(l) && !inSet.has(l.code) && !redirects.has(l.code) && !elsewhere(l.code)) drop(l.code) // a link to a redirect is tolerated
  }
  return { wiki: code, mode: 'manual', participates: part, editable, reports: [], shouldCarry: desired, add, remove: remove ? remove.sort() : [] }
}

/**
 * Rule 9. Cognate adds a link to the parser output only for a language the text does not already link, and only
 * to the title the other wiki has under the same folded key; its links reach `langlinks` like written ones, as of
 * the page's last links update (notes/cognate-behaviour.md). So, from the langlinks and which titles exist,
 * without the text, only a link to another title is surely written (stale-other-title when the target wiki has
 * this title; a legitimate override otherwise). Whether a same-title link is written (stale-missing, redundant)
 * needs the text: a stale Cognate row looks the same. A report about a missing target needs that wiki's snapshot
 * (its absence known), not every page's state, and is not made where another spelling of the word may exist.
 */
function cognate({ title, code, page, r, inSet, rules, complete, part, editable, titleCase, known, present }: PageContext): PageVerdict {
  const base = { wiki: code, mode: 'cognate' as const, participates: part, editable, shouldCarry: [] as string[], add: [] as string[] }
  const fromText = page.writtenLinks !== null
  const links = page.writtenLinks ?? page.links
  if (links === null) return { ...base, remove: [], reports: [], unknown: 'written-links-unknown' }
  const folded = cognateFold(title)
  const reports: WrittenLinkReport[] = []
  for (const l of links) {
    if (l.code === code) continue
    if (isInvalid(l.code, r, rules)) {
      // From langlinks too: Cognate never links a code that is not a wiki it knows.
      reports.push({ code: l.code, title: l.title, kind: 'invalid-code' })
      continue
    }
    if (!rules.has(l.code)) continue
    if (sameTitle(cognateFold(l.title), folded, rules.get(l.code)?.titleCase ?? titleCase?.(l.code))) {
      if (inSet.has(l.code)) {
        if (fromText) reports.push({ code: l.code, title: l.title, kind: 'redundant' }) // a langlink here may be Cognate's own
      } else if (keptUnderAnotherKey(title, rules.get(l.code)?.titleCase ?? titleCase?.(l.code)) || hasFoldedSpellings(title, l.title)) {
        // The target may be kept under another key (a first-letter wiki's `Chat`, Cognate's other spelling
        // `l’eau` of `l'eau`): its absence from this record says nothing.
      } else if (fromText && (complete || known(l.code) || present(l.code))) {
        // Only from the text: through the API a stale Cognate row (the target deleted or moved after this page's
        // last links update) is the same as a written link to a missing page (notes/cognate-behaviour.md).
        reports.push({ code: l.code, title: l.title, kind: 'stale-missing' })
      }
    } else if (inSet.has(l.code)) {
      // The other wiki has this very title: the written link to another title blocks the automatic one.
      reports.push({ code: l.code, title: l.title, kind: 'stale-other-title' })
    }
  }
  if (!fromText) {
    // Nothing is removed on what langlinks say: a removal reads the text first (the sink verifies), and so does
    // a redundancy report, where removing overrides is asked for.
    const wantsText = r.removeOverrides && editable
    return { ...base, remove: [], reports, ...(wantsText ? { unknown: 'written-links-unknown' as const } : {}) }
  }
  const removable = r.removeOverrides && editable && (complete || reports.every((x) => x.kind === 'invalid-code' || x.kind === 'redundant'))
  const remove = removable ? [...new Set(reports.map((x) => x.code))].sort() : []
  return { ...base, remove, reports }
}

/** The discrepancy kinds a verdict shows, for the discrepancy index. */
export function discrepancies(v: PageVerdict): { kind: DiscrepancyKind; codes: string[] }[] {
  const out: { kind: DiscrepancyKind; codes: string[] }[] = []
  if (v.add.length > 0) out.push({ kind: 'missing', codes: v.add })
  if (v.mode === 'manual' && v.remove.length > 0) out.push({ kind: 'remove', codes: v.remove })
  const byKind = new Map<ReportKind, string[]>()
  for (const r of v.reports) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r.code])
  for (const [kind, codes] of byKind) out.push({ kind, codes })
  return out
}

export type { LanguageLink }
