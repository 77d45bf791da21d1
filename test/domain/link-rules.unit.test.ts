import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import type { LanguageLink } from '../../src/events/types.js'
import { cognateFold, evaluateTitle, sameTitle, ucfirst, type TitleVerdict } from '../../src/domain/link-rules.js'
import type { PageState } from '../../src/domain/page-state.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { cognateKey, hasSpellings } from '../../src/events/titles.js'
import { partitionForKey } from '../../src/log/partitioner.js'

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

  it("issue 28 item 9b: a case-sensitive wiki's `chat` links to a first-letter wiki's `Chat`; that page is linked to, never judged under `chat`", () => {
    const configured = rulesFor({ en: {}, fr: { case: 'first-letter' }, de: {}, nl: {} })
    const frChat = page(['en:Chat'], {}, 'Chat')
    // en:chat and de:chat, fr:Chat kept under its own key and given as the first-letter form's page.
    const v = evaluateTitle('chat', new Map([['en', page(['de'], {}, 'chat')], ['de', page(['en'], {}, 'chat')]]), configured, { snapshotted: ALL, firstLetter: new Map([['fr', frChat]]) })
    expect(of(v, 'en')).toMatchObject({ add: ['fr'], remove: [] })
    expect(of(v, 'de')).toMatchObject({ add: ['fr'], remove: [] })
    expect(v.pages.map((p) => p.wiki).sort()).toEqual(['de', 'en']) // fr is not judged here
    // A link already there, written either way, is right.
    for (const written of ['fr:chat', 'fr:Chat']) {
      const has = evaluateTitle('chat', new Map([['en', page(['de', written], {}, 'chat')], ['de', page(['en', 'fr'], {}, 'chat')]]), configured, { snapshotted: ALL, firstLetter: new Map([['fr', frChat]]) })
      expect(of(has, 'en'), written).toMatchObject({ add: [], remove: [] })
    }
    // fr's Chat as a redirect, blank, or fr closed: nothing to link to.
    for (const [fr, rules] of [[page([], { redirect: true }, 'Chat'), configured], [page([], { blank: true }, 'Chat'), configured], [frChat, rulesFor({ en: {}, fr: { case: 'first-letter', closed: true }, de: {}, nl: {} })]] as const) {
      const none = evaluateTitle('chat', new Map([['en', page(['de'], {}, 'chat')], ['de', page(['en'], {}, 'chat')]]), rules, { snapshotted: ALL, firstLetter: new Map([['fr', fr]]) })
      expect(of(none, 'en')).toMatchObject({ add: [], remove: [] })
    }
    // fr not snapshotted yet: its page of Chat is known, so chat's verdict is not incomplete for want of fr.
    const early = evaluateTitle('chat', new Map([['en', page(['de'], {}, 'chat')], ['de', page(['en'], {}, 'chat')]]), configured, { snapshotted: new Set(['en', 'de', 'nl']), firstLetter: new Map([['fr', frChat]]) })
    expect(early.incomplete).toEqual([])
    expect(of(early, 'en')).toMatchObject({ add: ['fr'] })
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

  describe('rule 9, cognate mode, as real Cognate behaves (notes/cognate-behaviour.md)', () => {
    const rules = rulesFor({ en: {}, fr: {}, de: {}, nl: {} }, { linkMode: 'cognate' })
    const redundantToo = rulesFor({ en: { reportRedundant: true }, fr: {}, de: {}, nl: {} }, { linkMode: 'cognate' })
    /** A page whose langlinks are `rows` and whose text writes `written` (null: the text not read). */
    const cpage = (rows: string[], written: string[] | null, title: string, over: Partial<PageState> = {}): PageState => ({
      ...page([], over, title),
      links: rows.map((x) => link(x, title)),
      writtenLinks: written === null ? null : written.map((x) => link(x, title)),
      ...over,
    })
    const judge = (title: string, pages: Record<string, PageState>, r = rules, spellings: Record<string, Record<string, PageState>> = {}, snapshotted: ReadonlySet<string> = ALL) =>
      of(evaluateTitle(title, new Map(Object.entries(pages)), r, { snapshotted, spellings: new Map(Object.entries(spellings).map(([t, p]) => [t, new Map(Object.entries(p))])) }), 'en')

    it('nothing is added, and a report that a link is written waits for the text', () => {
      // en:house writes [[fr:house]]; fr has no house. Through the API this is the same as Cognate's row from
      // before fr:house was deleted: only the text tells.
      expect(judge('house', { en: cpage(['fr'], null, 'house') })).toMatchObject({ add: [], reports: [], wantsText: true })
      expect(judge('house', { en: cpage(['fr'], ['fr'], 'house') })).toMatchObject({ reports: [{ code: 'fr', title: 'house', kind: 'stale-missing' }] })
      // The same row, not written: Cognate's stale row, a purge's business, never a written link.
      expect(judge('tree', { en: cpage(['fr'], [], 'tree') }).reports).toEqual([{ code: 'fr', title: 'tree', kind: 'langlinks-outdated', outdated: 'stale' }])
    })

    it('a written link to another title while the other wiki has this one blocks Cognate: stale-other-title, from the text', () => {
      expect(judge('cat', { en: cpage(['fr:chatte'], null, 'cat'), fr: cpage([], [], 'cat') })).toMatchObject({ reports: [], wantsText: true })
      expect(judge('cat', { en: cpage(['fr:chatte'], ['fr:chatte'], 'cat'), fr: cpage(['en'], [], 'cat') }).reports).toEqual([{ code: 'fr', title: 'chatte', kind: 'stale-other-title' }])
      // fr has no kitten: a legitimate override, nothing to read.
      const kitten = judge('kitten', { en: cpage(['fr:chaton'], null, 'kitten') })
      expect(kitten.reports).toEqual([])
      expect(kitten.wantsText).toBeUndefined()
    })

    it('redundant written links are reported where asked (reportRedundant), blank targets included', () => {
      const dog = { en: cpage(['fr'], ['fr'], 'dog'), fr: cpage(['en'], [], 'dog') }
      expect(judge('dog', dog).reports).toEqual([])
      expect(judge('dog', dog, redundantToo).reports).toEqual([{ code: 'fr', title: 'dog', kind: 'redundant' }])
      expect(judge('dog', { ...dog, en: cpage(['fr'], null, 'dog') }, redundantToo)).toMatchObject({ reports: [], wantsText: true })
      expect(judge('dog', { ...dog, en: cpage(['fr'], null, 'dog') }).wantsText).toBeUndefined() // not asked: nothing to read
      const voidPages = { en: cpage(['fr'], ['fr'], 'void'), fr: cpage([], [], 'void', { blank: true }) }
      expect(judge('void', voidPages, redundantToo).reports).toEqual([{ code: 'fr', title: 'void', kind: 'redundant' }])
      expect(rulesFor({ en: { removeOverrides: true } }, { linkMode: 'cognate' }).get('en')!.reportRedundant).toBe(true)
    })

    it('langlinks-outdated: a Cognate link not stored yet (the title created elsewhere since the last links update)', () => {
      const v = judge('water', { en: cpage([], null, 'water'), fr: cpage([], [], 'water') })
      expect(v.reports).toEqual([{ code: 'fr', title: 'water', kind: 'langlinks-outdated', outdated: 'missing' }])
      expect(v.wantsText).toBeUndefined() // a written link would be in the langlinks: no text needed
      // No case folding: fr:Maison is another word.
      expect(judge('maison', { en: cpage([], [], 'maison') }).reports).toEqual([])
    })

    it('presence under Cognate\'s key: other spellings on the other wikis count', () => {
      expect(cognateFold('rock\u2019n\u2019roll')).toBe("rock'n'roll")
      expect(cognateFold('wait\u2026')).toBe('wait...')
      expect(cognateFold('ca\u0301fe\u02BC')).toBe("c\u00e1fe'")
      const spellings = { 'l\u2019eau': { fr: cpage([], [], 'l\u2019eau') }, 'l\u02BCeau': { de: cpage([], [], 'l\u02BCeau') } }
      // Cognate's own links across spellings: nothing to say.
      expect(judge("l'eau", { en: cpage(['fr:l\u2019eau', 'de:l\u02BCeau'], null, "l'eau") }, rules, spellings)).toMatchObject({ reports: [] })
      expect(judge("l'eau", { en: cpage(['fr:l\u2019eau', 'de:l\u02BCeau'], null, "l'eau") }, rules, spellings).wantsText).toBeUndefined()
      // A written link to the target's own spelling is not a link to a missing page; the row not yet there is outdated.
      const v = judge("l'eau", { en: cpage(['fr:l\u2019eau'], ['fr:l\u2019eau'], "l'eau") }, redundantToo, spellings)
      expect(v.reports).toEqual([
        { code: 'fr', title: 'l\u2019eau', kind: 'redundant' },
        { code: 'de', title: 'l\u02BCeau', kind: 'langlinks-outdated', outdated: 'missing' },
      ])
    })

    it('redirects leave presence open (created as one: in Cognate\'s store; left by a move: not); unknown absence says nothing', () => {
      expect(judge('bird', { en: cpage(['fr'], [], 'bird'), fr: cpage([], [], 'bird', { redirect: true }) }).reports).toEqual([])
      expect(judge('bus', { en: cpage(['fr'], ['fr'], 'bus'), fr: cpage([], [], 'bus', { redirect: true }) }, redundantToo).reports).toEqual([])
      // fr not snapshotted: its absence is not known.
      expect(judge('house', { en: cpage(['fr'], ['fr'], 'house') }, rules, {}, new Set(['en', 'de', 'nl'])).reports).toEqual([])
      // A redirect page itself is never judged.
      expect(judge('car', { en: cpage(['fr'], null, 'car', { redirect: true }) })).toMatchObject({ reports: [] })
    })

    it('refreshLinks asks for a purge where the langlinks are outdated and nothing is removed (an edit runs a links update itself)', () => {
      const refreshing = rulesFor({ en: { refreshLinks: true, edit: false }, fr: {} }, { linkMode: 'cognate' })
      expect(judge('water', { en: cpage([], null, 'water'), fr: cpage([], [], 'water') }, refreshing).refresh).toBe(true)
      expect(judge('water', { en: cpage(['fr'], null, 'water'), fr: cpage([], [], 'water') }, refreshing).refresh).toBeUndefined()
      expect(judge('water', { en: cpage([], null, 'water'), fr: cpage([], [], 'water') }).refresh).toBeUndefined()
      const both = rulesFor({ en: { refreshLinks: true, removeOverrides: true }, fr: {}, de: {} }, { linkMode: 'cognate' })
      // A removal to make, and a missing row: the edit's own links update stores the row too.
      const v = judge('chat', { en: cpage(['de'], ['de'], 'chat'), fr: cpage([], [], 'chat') }, both)
      expect(v).toMatchObject({ remove: ['de'] })
      expect(v.refresh).toBeUndefined()
    })

    it('overrides are removed only where asked, only on what the text confirms; an outdated row is never removed', () => {
      const removing = rulesFor({ en: { removeOverrides: true }, fr: {}, de: {}, nl: {} }, { linkMode: 'cognate' })
      const pages = { en: cpage(['fr', 'de:Katze', 'nl'], ['fr', 'de:Katze'], 'chat'), fr: cpage([], [], 'chat'), de: cpage([], [], 'chat') }
      const v = judge('chat', pages, removing)
      expect(v.reports).toEqual([
        { code: 'fr', title: 'chat', kind: 'redundant' },
        { code: 'de', title: 'Katze', kind: 'stale-other-title' },
        { code: 'nl', title: 'chat', kind: 'langlinks-outdated', outdated: 'stale' },
      ])
      expect(v.remove).toEqual(['de', 'fr'])
      expect(judge('chat', pages).remove).toEqual([])
      // Without the text, nothing is removed: the sink reads it first.
      expect(judge('chat', { ...pages, en: cpage(['fr', 'de:Katze'], null, 'chat') }, removing)).toMatchObject({ remove: [], unknown: 'written-links-unknown', wantsText: true })
    })
  })
})

describe("Cognate's key (property)", () => {
  // Seeded, so a failure names its case: titles from pieces that Cognate's folding touches, and pieces it must not.
  const pieces = ["'", '\u2019', '\u02BC', '\u2026', '...', 'a', 'A', 'é', 'e\u0301', ' ', 'ß', 'Ж', 'ж', '中', '\u{1F600}', '-', 'o']
  let seed = 20261207
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)
  const title = () => Array.from({ length: 1 + rand(8) }, () => pieces[rand(pieces.length)]).join('')
  const variants = (t: string) => [t.replace(/'/g, '\u2019'), t.replace(/'/g, '\u02BC'), t.replace(/\.\.\./g, '\u2026'), t.replace(/[\u2019\u02BC]/g, "'")]

  it('folds every spelling of a word to one key, idempotently, without case folding, and places them in one partition', () => {
    for (let i = 0; i < 2000; i++) {
      const t = title()
      const key = cognateKey(t)
      expect(cognateKey(key)).toBe(key)
      expect(key).toBe(key.normalize('NFC'))
      expect(key).not.toMatch(/[\u2019\u02BC\u2026]/)
      for (const v of variants(t)) {
        expect(cognateKey(v)).toBe(key)
        expect(partitionForKey(v, 12)).toBe(partitionForKey(t, 12))
      }
      if (!hasSpellings(t)) expect(key).toBe(t.normalize('NFC')) // nothing to fold: no other title shares its key
      if (/[a-zа-я]/.test(t)) expect(cognateKey(t.toUpperCase())).not.toBe(key) // no case folding
    }
  })
})
