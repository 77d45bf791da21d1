import type { LanguageLink } from '../events/types.js'
import { cognateKey, normaliseTitle, ucfirst } from '../events/titles.js'
import type { PageState } from './page-state.js'
import type { RulesByWiki, WikiRules } from './wiki-rules.js'

// The domain rules of DESIGN.md, as one pure evaluation of a title: which pages take part in its link set, and
// for each page what it should carry, what to add and remove, and (on cognate wikis) which written links are
// stale or redundant. Nothing here reads a clock or a store, so every rule is tested on its own.

export type ReportKind = 'stale-missing' | 'stale-other-title' | 'redundant' | 'invalid-code' | 'langlinks-outdated'
export type DiscrepancyKind = 'missing' | 'remove' | ReportKind

export interface WrittenLinkReport {
  code: string
  title: string
  kind: ReportKind
  /**
   * langlinks-outdated only: `stale` when the page's langlinks hold a row a links update would drop (Cognate's row
   * from before the target was deleted or moved), `missing` when they lack one it would add (the target created
   * since the page's last links update). Not a text fix: a purge with forcelinkupdate clears it.
   */
  outdated?: 'stale' | 'missing'
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
  /**
   * Cognate mode: the page's langlinks hold candidates for a written-link report and its text is not read (at
   * this revision): only the text says whether those links are written.
   */
  wantsText?: boolean
  /** Cognate mode with refreshLinks: the page's langlinks are outdated and a purge (links update) is asked for. */
  refresh?: boolean
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
   * notSnapshotted(rules, snapshotted), where the caller judges many titles with the same rules and snapshots (a
   * pass over every title): without it each title goes through every wiki's rules.
   */
  notSnapshotted?: readonly string[]
  /**
   * How a wiki compares titles (siteinfo `case`): on a `first-letter` wiki, [[fr:chat]] names the page "Chat".
   * Unknown wikis compare exactly (case-sensitive: every Wiktionary), which never merges two titles.
   */
  titleCase?: (wiki: string) => TitleCase | undefined
  /** A wiki's main page as the wiki says (siteinfo `mainpage`), where the configuration names none. */
  mainPage?: (wiki: string) => string | undefined
  /**
   * The pages of the other titles with this title's Cognate key (`l’eau` for `l'eau`), by title: Cognate takes
   * them for the same word, so cognate mode judges a target's presence under that key.
   */
  spellings?: ReadonlyMap<string, ReadonlyMap<string, PageState>>
  /**
   * Where this title begins with a letter a first-letter wiki capitalises (`chat`): that wiki's page of the
   * capitalised form (`Chat`, kept under its own key), by wiki, for first-letter wikis only. It is the page
   * [[W:chat]] names: this title's pages link to it; it is judged under its own title, never under this one.
   */
  firstLetter?: ReadonlyMap<string, PageState>
}

export type TitleCase = 'first-letter' | 'case-sensitive'

export { ucfirst }

/** Whether a link's target names `title` on a wiki that compares titles as `titleCase` says. */
export function sameTitle(target: string, title: string, titleCase: TitleCase | undefined): boolean {
  if (target === title) return true // most links name the title exactly: no normalising needed
  const a = normaliseTitle(target)
  const b = normaliseTitle(title)
  return a === b || (titleCase === 'first-letter' && ucfirst(a) === ucfirst(b))
}

/** Cognate's title folding (its key for a title): see cognateKey. */
export const cognateFold = cognateKey

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

/** The open wikis without a completed snapshot, in the rules' order: a title none of them has is complete for them. */
export function notSnapshotted(rules: RulesByWiki, snapshotted: ReadonlySet<string>): string[] {
  const out: string[] = []
  for (const [code, r] of rules) if (!r.closed && !snapshotted.has(code)) out.push(code)
  return out
}

export function evaluateTitle(title: string, pages: ReadonlyMap<string, PageState>, rules: RulesByWiki, ctx: EvaluationContext): TitleVerdict {
  const linkSet = [...pages.keys()].filter((w) => participates(title, pages.get(w), rules.get(w), ctx)).sort()
  const inSet = new Set(linkSet)
  const redirects = new Set([...pages.keys()].filter((w) => linkableRedirect(title, pages.get(w), rules.get(w), ctx)))
  const capitalised = ucfirst(title)
  const firstLetter = new Set([...(ctx.firstLetter?.keys() ?? [])].filter((w) => !pages.has(w) && participates(capitalised, ctx.firstLetter!.get(w), rules.get(w), ctx)))
  const incomplete: string[] = []
  for (const code of ctx.notSnapshotted ?? notSnapshotted(rules, ctx.snapshotted)) {
    if (!pages.has(code) && !ctx.firstLetter?.has(code)) incomplete.push(`${code}: not snapshotted yet`)
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
    const at: PageContext = { title, code, page, r, inSet, redirects, rules, complete, part, editable, titleCase: ctx.titleCase, known: (w) => ctx.snapshotted.has(w), pages, spellings: ctx.spellings, firstLetter, firstLetterPages: ctx.firstLetter }
    verdicts.push(r.linkMode === 'manual' ? manual(at) : cognate(at))
  }
  return { title, linkSet, complete, incomplete, pages: verdicts }
}

/** Every wiki's invalid codes together, once per set of rules (a link is checked against all of them). */
const invalidAnywhere = new WeakMap<RulesByWiki, ReadonlySet<string>>()

function isInvalid(code: string, own: WikiRules, rules: RulesByWiki): boolean {
  if (own.invalidCodes.has(code)) return true
  let all = invalidAnywhere.get(rules)
  if (all === undefined) {
    const union = new Set<string>()
    for (const r of rules.values()) for (const c of r.invalidCodes) union.add(c)
    invalidAnywhere.set(rules, (all = union))
  }
  return all.has(code)
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
  /** The title's pages (participating or not: redirects, blank pages). */
  pages: ReadonlyMap<string, PageState>
  spellings: EvaluationContext['spellings']
  /** First-letter wikis whose page of the capitalised title (EvaluationContext.firstLetter) takes part: linked to. */
  firstLetter: ReadonlySet<string>
  firstLetterPages: EvaluationContext['firstLetter']
}

function manual({ title, code, page, r, inSet, redirects, rules, complete, part, editable, titleCase, firstLetter }: PageContext): PageVerdict {
  const names = (l: LanguageLink) => sameTitle(l.title, title, rules.get(l.code)?.titleCase ?? titleCase?.(l.code))
  const elsewhere = (c: string) => keptUnderAnotherKey(title, rules.get(c)?.titleCase ?? titleCase?.(c))
  const desired: string[] = []
  for (const c of inSet) if (c !== code && !r.nolink.has(c)) desired.push(c)
  for (const c of firstLetter) if (c !== code && !r.nolink.has(c)) desired.push(c)
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

/** Whether Cognate's store holds the word on a wiki: surely, surely not, or mbwa cannot tell. */
type Presence = 'yes' | 'no' | 'unknown'

/**
 * The word's presence on `wiki` as Cognate's store has it: a page under the title's Cognate key, any spelling,
 * blank pages included. A redirect leaves it open: Cognate holds a redirect saved as one but not the one a move
 * leaves behind, and a snapshot cannot tell the two apart. Absence is known once the wiki's snapshot has
 * completed here (or the title's verdict is complete); a first-letter wiki keeps `Chat` under another key.
 */
function presence(at: PageContext, wiki: string): Presence {
  let redirect = false
  const onWiki = [at.pages.get(wiki), at.firstLetterPages?.get(wiki), ...[...(at.spellings?.values() ?? [])].map((p) => p.get(wiki))]
  for (const page of onWiki) {
    if (!page) continue
    if (!page.redirect) return 'yes'
    redirect = true
  }
  if (redirect) return 'unknown'
  if (keptUnderAnotherKey(at.title, at.rules.get(wiki)?.titleCase ?? at.titleCase?.(wiki))) return 'unknown'
  return at.complete || at.known(wiki) ? 'no' : 'unknown'
}

/**
 * Rule 9, as real Cognate behaves (notes/cognate-behaviour.md). Cognate adds, at parse time, a link to every other
 * Wiktionary holding the title under its key, for each language the text does not link; those links reach
 * `langlinks` like written ones, as of the page's last links update. So a langlinks row is only a candidate: a
 * report that a link is written (stale-missing, stale-other-title, redundant) is made from the page's text, read
 * as MediaWiki reads it (first link per language), and waits for it (wantsText). Where the langlinks differ from
 * what a links update would store now (a row nothing explains, a Cognate link not there yet), the report is
 * langlinks-outdated: a purge fixes that, not an edit. Presence is judged under Cognate's key (presence above).
 */
function cognate(at: PageContext): PageVerdict {
  const { title, code, page, r, rules, part, editable, titleCase } = at
  const base = { wiki: code, mode: 'cognate' as const, participates: part, editable, shouldCarry: [] as string[], add: [] as string[] }
  // A redirect carries no links of its own and is never edited: nothing to report on it.
  if (page.redirect) return { ...base, remove: [], reports: [] }
  const written = page.writtenLinks
  const rows = page.links
  if (written === null && rows === null) return { ...base, remove: [], reports: [], unknown: 'written-links-unknown' }
  const key = cognateKey(title)
  const caseOf = (c: string) => rules.get(c)?.titleCase ?? titleCase?.(c)
  const sameWord = (l: LanguageLink) => sameTitle(cognateKey(l.title), key, caseOf(l.code))
  /** A wiki Cognate links (open, cognate mode), other than this one. */
  const cognateWiki = (c: string) => c !== code && rules.get(c)?.linkMode === 'cognate' && !rules.get(c)!.closed
  const seen = new Map<string, Presence>()
  const presentOn = (c: string): Presence => {
    let v = seen.get(c)
    if (v === undefined) seen.set(c, (v = presence(at, c)))
    return v
  }
  const reports: WrittenLinkReport[] = []
  let wantsText = false
  // Written links: from the text; without it, the rows that may be written links wait for it.
  for (const l of written ?? rows ?? []) {
    if (l.code === code) continue
    if (isInvalid(l.code, r, rules)) {
      // From langlinks too: Cognate never links a code that is not a wiki it knows.
      reports.push({ code: l.code, title: l.title, kind: 'invalid-code' })
      continue
    }
    const target = rules.get(l.code)
    if (!target || target.closed) continue
    const there = presentOn(l.code)
    let kind: ReportKind | undefined
    if (sameWord(l)) {
      if (there === 'no') kind = 'stale-missing'
      else if (there === 'yes' && cognateWiki(l.code) && r.reportRedundant) kind = 'redundant'
    } else if (there === 'yes' && cognateWiki(l.code)) kind = 'stale-other-title' // blocks Cognate's own link
    if (kind === undefined) continue
    if (written === null) wantsText = true
    else reports.push({ code: l.code, title: l.title, kind })
  }
  // The langlinks against what a links update would store now: the written links, and Cognate's for the rest.
  if (rows !== null) {
    const writtenCodes = written === null ? null : new Set(written.map((l) => l.code))
    const rowCodes = new Set(rows.map((l) => l.code))
    for (const l of rows) {
      if (!cognateWiki(l.code) || !sameWord(l) || presentOn(l.code) !== 'no') continue
      // A same-word row to a wiki without the word: Cognate's row from before it went, unless the text writes it.
      if (writtenCodes !== null && !writtenCodes.has(l.code)) reports.push({ code: l.code, title: l.title, kind: 'langlinks-outdated', outdated: 'stale' })
    }
    for (const c of [...rules.keys()].sort()) {
      // Every link the text writes is in the langlinks after the links update that followed the writing: a row
      // absent for a wiki holding the word is Cognate's link, not stored yet.
      if (!cognateWiki(c) || rowCodes.has(c) || presentOn(c) !== 'yes') continue
      if (isInvalid(c, r, rules)) continue // Cognate links what it links whatever nolink says
      reports.push({ code: c, title: spellingOn(at, c) ?? title, kind: 'langlinks-outdated', outdated: 'missing' })
    }
  }
  const fromText = reports.filter((x) => x.kind !== 'langlinks-outdated')
  const refresh = r.refreshLinks && !r.closed && !r.locked && reports.some((x) => x.kind === 'langlinks-outdated') ? { refresh: true } : {}
  if (written === null) {
    // Nothing is removed on what langlinks say: a removal reads the text first (the sink verifies).
    const wantsVerify = r.removeOverrides && editable && wantsText
    return { ...base, remove: [], reports, ...refresh, ...(wantsText ? { wantsText } : {}), ...(wantsVerify ? { unknown: 'written-links-unknown' as const } : {}) }
  }
  // Removal of overrides acts on text-confirmed reports only; a missing target only once its absence is sure.
  const removable = r.removeOverrides && editable
  const remove = removable ? [...new Set(fromText.map((x) => x.code))].sort() : []
  // An edit runs a links update itself: a purge is asked for only where nothing is removed.
  return { ...base, remove, reports, ...(remove.length === 0 ? refresh : {}) }
}

/** The title a wiki holds the word under (this title first, else the first other spelling that is not a redirect). */
function spellingOn(at: PageContext, wiki: string): string | undefined {
  const own = at.pages.get(wiki)
  if (own && !own.redirect) return at.title
  for (const [t, pages] of at.spellings ?? []) {
    const p = pages.get(wiki)
    if (p && !p.redirect) return t
  }
  return undefined
}

/** One entry of the discrepancy index: a kind, its codes, and for reports the links they are about. */
export interface Discrepancy {
  kind: DiscrepancyKind
  codes: string[]
  /** Reports: each link's code and target title (and which way, for langlinks-outdated). */
  links?: { code: string; title: string; outdated?: 'stale' | 'missing' }[]
}

/** The discrepancy kinds a verdict shows, for the discrepancy index. */
export function discrepancies(v: PageVerdict): Discrepancy[] {
  const out: Discrepancy[] = []
  if (v.add.length > 0) out.push({ kind: 'missing', codes: v.add })
  if (v.mode === 'manual' && v.remove.length > 0) out.push({ kind: 'remove', codes: v.remove })
  const byKind = new Map<ReportKind, WrittenLinkReport[]>()
  for (const r of v.reports) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r])
  for (const [kind, reports] of byKind) out.push({ kind, codes: reports.map((r) => r.code), links: reports.map((r) => ({ code: r.code, title: r.title, ...(r.outdated ? { outdated: r.outdated } : {}) })) })
  return out
}

export type { LanguageLink }
