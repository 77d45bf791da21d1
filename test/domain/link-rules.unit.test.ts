import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import type { LanguageLink } from '../../src/events/types.js'
import { cognateFold, evaluateTitle, sameTitle, ucfirst, type TitleVerdict } from '../../src/domain/link-rules.js'
import type { PageState } from '../../src/domain/page-state.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'

// One test per domain rule (DESIGN.md "Domain rules"), on the pure evaluation.

function rulesFor(wikis: Record<string, object>, defaults: object = {}) {
  const w = Object.fromEntries(Object.entries(wikis).map(([code, s]) => [code, { api: `http://127.0.0.1/${code}/api.php`, edit: true, ...s }]))
  return wikiRules(loadConfig({ env: {}, searchPaths: [], flags: { wikis: w, wikiDefaults: { linkMode: 'manual', ...defaults } } }).config)
}

function page(links: string[] | null, over: Partial<PageState> = {}, title = 'chat'): PageState {
  return {
    redirect: false,
    blank: false,
    revision: 10,
    pageId: 1,
    links: links === null ? null : links.map((s) => link(s, title)),
    writtenLinks: links === null ? null : links.map((s) => link(s, title)),
    createdAt: 0,
    byBot: false,
    observedAt: 0,
    source: 'snapshot',
    snapshotId: 's',
    changedAt: 0,
    ...over,
  }
}

function link(s: string, title: string): LanguageLink {
  const [code, t] = s.includes(':') ? (s.split(/:(.*)/) as [string, string]) : [s, title]
  return { code, title: t }
}

const ALL = new Set(['en', 'fr', 'de', 'nl'])
const four = rulesFor({ en: {}, fr: {}, de: {}, nl: {} })

function evaluate(pages: Record<string, PageState>, rules = four, title = 'chat', snapshotted: ReadonlySet<string> = ALL): TitleVerdict {
  return evaluateTitle(title, new Map(Object.entries(pages)), rules, { snapshotted })
}
const of = (v: TitleVerdict, wiki: string) => v.pages.find((p) => p.wiki === wiki)!

describe('link rules (unit)', () => {
  it('compares link targets as the target wiki compares titles: first letter by its siteinfo case, spaces and NFC always', () => {
    expect(sameTitle('chat_noir', 'chat noir', 'case-sensitive')).toBe(true)
    expect(sameTitle('e\u0301cole', '\u00E9cole', undefined)).toBe(true)
    expect(sameTitle('chat', 'Chat', 'case-sensitive')).toBe(false)
    expect(sameTitle('chat', 'Chat', undefined)).toBe(false) // unknown: exact, never merges two titles
    expect(sameTitle('chat', 'Chat', 'first-letter')).toBe(true)
    expect(sameTitle('chat', 'CHAT', 'first-letter')).toBe(false)
    expect(ucfirst('ßtraße')).toBe('ßtraße') // its capital is two letters: MediaWiki leaves it
    expect(ucfirst('𝔞b')).toBe('𝔞b')
    expect(ucfirst('éa')).toBe('Éa')
    // A first-letter farm: [[fr:chat]] on the page "Chat" is the link it should be, not one to replace.
    const v = evaluateTitle('Chat', new Map([['en', page(['fr:chat'], {}, 'Chat')], ['fr', page(['en:Chat'], {}, 'Chat')]]), four, { snapshotted: new Set(['en', 'fr']), titleCase: () => 'first-letter' })
    expect(of(v, 'en')).toMatchObject({ add: [], remove: [] })
    const exact = evaluateTitle('Chat', new Map([['en', page(['fr:chat'], {}, 'Chat')], ['fr', page(['en:Chat'], {}, 'Chat')]]), four, { snapshotted: new Set(['en', 'fr']) })
    expect(of(exact, 'en')).toMatchObject({ add: ['fr'], remove: ['fr'] }) // on a case-sensitive wiki, "chat" is another page
    // Configured case wins over what siteinfo said.
    const configured = rulesFor({ en: {}, fr: { case: 'first-letter' }, de: {}, nl: {} })
    expect(of(evaluateTitle('Chat', new Map([['en', page(['fr:chat'], {}, 'Chat')], ['fr', page(['en:Chat'], {}, 'Chat')]]), configured, { snapshotted: new Set(['en', 'fr']) }), 'en')).toMatchObject({ add: [], remove: [] })
    // A case-sensitive en beside a first-letter fr: en:chat's [[fr:chat]] names fr:Chat, whose record is "Chat",
    // not this one: it is never removed for want of fr here.
    const mixed = evaluateTitle('chat', new Map([['en', page(['fr:chat'], {}, 'chat')], ['de', page(['en'], {}, 'chat')]]), configured, { snapshotted: ALL })
    expect(of(mixed, 'en')).toMatchObject({ add: ['de'], remove: [] })
  })

  it('manual mode: every page should carry the whole link set; what is missing is added', () => {
    const v = evaluate({ en: page(['fr']), fr: page(['en', 'de']), de: page([]) })
    expect(v.linkSet).toEqual(['de', 'en', 'fr'])
    expect(v.complete).toBe(true)
    expect(of(v, 'en')).toMatchObject({ shouldCarry: ['de', 'fr'], add: ['de'], remove: [] })
    expect(of(v, 'fr')).toMatchObject({ add: [], remove: [] })
    expect(of(v, 'de')).toMatchObject({ add: ['en', 'fr'], remove: [] })
  })

  it('rule 2: a redirect is never edited nor asked to carry links; a wiki with linkRedirects links to redirects on the others; a link to a redirect is tolerated', () => {
    const pages = { en: page(['fr']), fr: page([], { redirect: true }), de: page([]) }
    const v = evaluate(pages)
    expect(v.linkSet).toEqual(['de', 'en'])
    expect(of(v, 'en')).toMatchObject({ add: ['de'], remove: [] }) // en's link to the redirect stays
    expect(of(v, 'de')).toMatchObject({ add: ['en'], remove: [] }) // de does not link redirects: nothing added
    expect(of(v, 'fr')).toMatchObject({ participates: false, editable: false, add: [], remove: [] })
    // The setting is the linking wiki's, not the redirect's.
    const frLinks = evaluate(pages, rulesFor({ en: {}, fr: { linkRedirects: true }, de: {}, nl: {} }))
    expect(of(frLinks, 'de').add).toEqual(['en'])
    expect(of(frLinks, 'fr')).toMatchObject({ editable: false, add: [] })
    const deLinks = evaluate(pages, rulesFor({ en: {}, fr: {}, de: { linkRedirects: true }, nl: {} }))
    expect(of(deLinks, 'de')).toMatchObject({ shouldCarry: ['en', 'fr'], add: ['en', 'fr'] })
    expect(of(deLinks, 'fr')).toMatchObject({ editable: false, add: [] })
  })

  it('rule 2: a blank page takes no part and is not edited', () => {
    const v = evaluate({ en: page(['fr']), fr: page(['en'], { blank: true }) })
    expect(v.linkSet).toEqual(['en'])
    expect(of(v, 'fr')).toMatchObject({ participates: false, editable: false, add: [] })
    expect(of(v, 'en').remove).toEqual(['fr'])
  })

  it('rule 1: the main page is never linked nor edited', () => {
    const rules = rulesFor({ en: { mainPage: 'Main Page' }, fr: {}, de: {}, nl: {} })
    const v = evaluate({ en: page([], {}, 'Main Page'), fr: page([], {}, 'Main Page') }, rules, 'Main_Page')
    expect(v.linkSet).toEqual(['fr'])
    expect(of(v, 'en')).toMatchObject({ participates: false, editable: false })
    expect(of(v, 'fr').add).toEqual([])
  })

  it('rule 3: nolink codes are neither added nor kept', () => {
    const rules = rulesFor({ en: { nolink: ['de'] }, fr: {}, de: {}, nl: {} })
    const v = evaluate({ en: page(['de']), fr: page([]), de: page([]) }, rules)
    expect(of(v, 'en')).toMatchObject({ shouldCarry: ['fr'], add: ['fr'], remove: ['de'] })
    expect(of(v, 'de').add).toEqual(['en', 'fr']) // only en says no
  })

  it('rule 3: closed and locked wikis are never linked to and never edited', () => {
    const rules = rulesFor({ en: {}, fr: { closed: true }, de: { locked: true }, nl: {} })
    const v = evaluate({ en: page(['fr', 'de']), fr: page([]), de: page([]), nl: page([]) }, rules, 'chat', new Set(['en', 'nl', 'de']))
    expect(v.linkSet).toEqual(['en', 'nl'])
    expect(of(v, 'en')).toMatchObject({ add: ['nl'], remove: ['de', 'fr'] })
    expect(of(v, 'fr').editable).toBe(false)
    expect(of(v, 'de').editable).toBe(false)
  })

  it('rule 3: links to codes no longer valid are removed, even on incomplete information', () => {
    const rules = rulesFor({ en: {}, fr: {}, de: {}, nl: {} }, { invalidCodes: ['mo'] })
    const v = evaluate({ en: page(['fr', 'mo']), fr: page(null) }, rules)
    expect(v.complete).toBe(false)
    expect(of(v, 'en').remove).toEqual(['mo'])
  })

  it('rule 3: a wiki where the bot may not edit gets no edits, but still counts', () => {
    const rules = rulesFor({ en: { edit: false }, fr: {}, de: {}, nl: {} })
    const v = evaluate({ en: page([]), fr: page([]) }, rules)
    expect(v.linkSet).toEqual(['en', 'fr'])
    expect(of(v, 'en').editable).toBe(false)
    expect(of(v, 'fr')).toMatchObject({ editable: true, add: ['en'] })
  })

  it('rule 4: never remove on incomplete information, but still add', () => {
    // de's links are unknown (edited since last read): a stale link on en stays; the missing one is added.
    const v = evaluate({ en: page(['nl']), fr: page(['en']), de: page(null) })
    expect(v.complete).toBe(false)
    expect(v.incomplete).toContain('de: links unknown')
    expect(of(v, 'en')).toMatchObject({ add: ['de', 'fr'], remove: [] })
    // and a wiki whose snapshot has not completed might have the title: nothing is removed either
    const w = evaluate({ en: page(['nl']), fr: page([]) }, four, 'chat', new Set(['en', 'fr', 'de']))
    expect(w.incomplete).toEqual(['nl: not snapshotted yet'])
    expect(of(w, 'en').remove).toEqual([])
    const all = evaluate({ en: page(['nl']), fr: page([]) })
    expect(of(all, 'en').remove).toEqual(['nl'])
  })

  it('a link to another title is replaced where the other wiki has this title, and left alone where it has not', () => {
    const v = evaluate({ en: page(['fr:Chat', 'de:Katze']), fr: page([]) })
    expect(of(v, 'en')).toMatchObject({ add: ['fr'], remove: ['fr'] })
    expect(of(v, 'en').remove).not.toContain('de')
  })

  it('wikis mbwa does not know are left alone', () => {
    const v = evaluate({ en: page(['xx', 'fr']), fr: page(['en']) })
    expect(of(v, 'en')).toMatchObject({ add: [], remove: [] })
  })

  it('rule 9, cognate mode: nothing is added; stale and redundant written links are reported with their kind', () => {
    const rules = rulesFor({ en: {}, fr: {}, de: {}, nl: {} }, { linkMode: 'cognate' })
    const v = evaluate(
      {
        en: page(['fr', 'de:Katze', 'nl']), // fr: same title exists → redundant; de: other title while de has "chat" → stale-other-title; nl: no such page → stale-missing
        fr: page([]),
        de: page([]),
      },
      rules,
    )
    const en = of(v, 'en')
    expect(en.add).toEqual([])
    expect(en.reports).toEqual([
      { code: 'fr', title: 'chat', kind: 'redundant' },
      { code: 'de', title: 'Katze', kind: 'stale-other-title' },
      { code: 'nl', title: 'chat', kind: 'stale-missing' },
    ])
    expect(en.remove).toEqual([]) // report-only unless configured
    const removing = rulesFor({ en: { removeOverrides: true }, fr: {}, de: {}, nl: {} }, { linkMode: 'cognate' })
    expect(of(evaluate({ en: page(['fr', 'de:Katze', 'nl']), fr: page([]), de: page([]) }, removing), 'en').remove).toEqual(['de', 'fr', 'nl'])
  })

  it('rule 9: Cognate folds apostrophes and the ellipsis, then NFC', () => {
    expect(cognateFold('rock\u2019n\u2019roll')).toBe("rock'n'roll")
    expect(cognateFold('wait\u2026')).toBe('wait...')
    expect(cognateFold('ca\u0301fe\u02BC')).toBe("c\u00e1fe'")
    const rules = rulesFor({ en: {}, fr: {} }, { linkMode: 'cognate' })
    const v = evaluate({ en: page(["fr:aujourd\u2019hui"], {}, "aujourd'hui"), fr: page([], {}, "aujourd'hui") }, rules, "aujourd'hui", new Set(['en', 'fr']))
    expect(of(v, 'en').reports).toEqual([{ code: 'fr', title: 'aujourd\u2019hui', kind: 'redundant' }])
  })

  it('rule 9: a stale-missing report needs the target wiki\'s snapshot, not every page\'s state', () => {
    const rules = rulesFor({ en: {}, fr: {}, de: {}, nl: {} }, { linkMode: 'cognate' })
    // fr's links are unknown (the title is incomplete), but nl's snapshot says it lacks the title.
    const v = evaluate({ en: page(['nl']), fr: page(null) }, rules)
    expect(of(v, 'en').reports).toEqual([{ code: 'nl', title: 'chat', kind: 'stale-missing' }])
    expect(of(v, 'fr')).toMatchObject({ unknown: 'written-links-unknown', reports: [] })
    // nl not snapshotted yet: its absence is not known, nothing is said.
    expect(of(evaluate({ en: page(['nl']), fr: page(null) }, rules, 'chat', new Set(['en', 'fr', 'de'])), 'en').reports).toEqual([])
  })

  it('rule 9: reports from langlinks without the text (written links unknown), all but redundant', () => {
    const rules = rulesFor({ en: {}, fr: {}, de: {}, nl: {}, es: {} }, { linkMode: 'cognate' })
    const langlinksOnly = (links: string[]) => ({ ...page(links), writtenLinks: null })
    const v = evaluate(
      {
        // fr: same title, fr lacks it → a written stale link, or Cognate's row from before fr deleted it: only the
        // text tells, nothing is said. de: another title while de has this one → stale-other-title. nl: another title, nl lacks this one → a
        // legitimate override. es: same title, es has it → Cognate's own or written: only the text tells.
        en: langlinksOnly(['fr', 'de:Katze', 'nl:kat', 'es']),
        de: page([]),
        es: page([]),
      },
      rules,
      'chat',
      new Set(['en', 'fr', 'de', 'nl', 'es']),
    )
    expect(of(v, 'en').reports).toEqual([{ code: 'de', title: 'Katze', kind: 'stale-other-title' }])
    // From the text, the same-title link to a missing page is written: stale-missing. Not where the word has
    // another spelling Cognate folds together (fr may hold l’eau under another key).
    const written = evaluate({ en: page(['fr']) }, rules, 'chat', new Set(['en', 'fr', 'de', 'nl', 'es']))
    expect(of(written, 'en').reports).toEqual([{ code: 'fr', title: 'chat', kind: 'stale-missing' }])
    const folded = evaluate({ en: page(['fr:l\u2019eau'], {}, "l'eau") }, rules, "l'eau", new Set(['en', 'fr', 'de', 'nl', 'es']))
    expect(of(folded, 'en').reports).toEqual([])
    expect(of(v, 'en')).toMatchObject({ remove: [], add: [] })
    expect(of(v, 'en').unknown).toBeUndefined() // nothing to read unless removing overrides is asked for
    // A blank page on the target: Cognate links it too, so a same-title langlink to it says nothing.
    const blank = evaluate({ en: langlinksOnly(['fr']), fr: page([], { blank: true }) }, rules, 'chat', new Set(['en', 'fr', 'de', 'nl', 'es']))
    expect(of(blank, 'en').reports).toEqual([])
    // Removing overrides is asked for: the text is read first (the sink verifies), nothing removed on langlinks.
    const removing = rulesFor({ en: { removeOverrides: true }, fr: {}, de: {}, nl: {}, es: {} }, { linkMode: 'cognate' })
    const r = of(evaluate({ en: langlinksOnly(['fr']) }, removing, 'chat', new Set(['en', 'fr', 'de', 'nl', 'es'])), 'en')
    expect(r).toMatchObject({ remove: [], unknown: 'written-links-unknown' })
  })
})
