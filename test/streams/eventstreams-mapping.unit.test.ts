import { describe, expect, it } from 'vitest'
import { applyToPage } from '../../src/domain/page-state.js'
import type { PageMoved } from '../../src/events/types.js'
import { mapStreamEvent, resumeId } from '../../src/streams/eventstreams-mapping.js'
import { canaries, recorded, WIKIS } from './eventstreams-feed.js'

const NOW = 1_800_000_000_000
const map = (e: unknown) => mapStreamEvent(e, WIKIS, NOW)

describe('EventStreams mapping (unit, published recorded events)', () => {
  it('drops every canary before looking at anything else', () => {
    for (const c of canaries()) expect(map(c)).toEqual({ kind: 'canary' })
  })

  it('maps an enwiktionary recentchange edit in namespace 0 to PageEdited, keyed by the title', () => {
    const thought = recorded('mediawiki.recentchange').find((e) => e.wiki === 'enwiktionary' && e.type === 'edit' && e.namespace === 0)!
    const m = map(thought)
    expect(m.kind).toBe('events')
    if (m.kind !== 'events') return
    const rev = (thought.revision as { new: number }).new
    expect(m.events).toEqual([
      {
        type: 'PageEdited',
        key: thought.title,
        value: { id: `en:rev:${rev}`, source: 'stream', observedAt: NOW, wiki: 'en', title: thought.title, pageId: null, revision: rev, byBot: false },
      },
    ])
  })

  it('leaves out wikis that are not configured, other namespaces, and rc entries the page streams carry', () => {
    for (const e of recorded('mediawiki.recentchange')) {
      const m = map(e)
      if (!WIKIS.has(e.wiki as string)) expect(m).toEqual({ kind: 'ignored', reason: 'wiki-not-configured' })
      else if (e.type !== 'edit') expect(m.kind).toBe('ignored')
      else if (e.namespace !== 0) expect(m).toEqual({ kind: 'ignored', reason: 'namespace' })
    }
  })

  it('maps page-create with its redirect flag and performer, titles with underscores normalised in the key', () => {
    const wikt = recorded('mediawiki.page-create').find((e) => e.database === 'enwiktionary')!
    const m = map(wikt)
    if (m.kind !== 'events') throw new Error(`expected events, got ${m.kind}`)
    const [ev] = m.events
    expect(ev!.type).toBe('PageCreated')
    expect(ev!.key).toBe((wikt.page_title as string).replace(/_/g, ' '))
    expect(ev!.value).toMatchObject({ wiki: 'en', id: `en:rev:${wikt.rev_id}`, pageId: wikt.page_id, redirect: wikt.page_is_redirect })
  })

  it('maps a page-move within namespace 0 to PageMoved under both titles (nlwiki Coulon)', () => {
    const move = recorded('mediawiki.page-move').find((e) => e.database === 'nlwiki')!
    const m = map(move)
    if (m.kind !== 'events') throw new Error(`expected events, got ${m.kind}`)
    expect(m.events.map((e) => e.key)).toEqual(['Coulon', 'Coulon (gemeente)'])
    expect(m.events[0]!.value).toMatchObject({ fromTitle: 'Coulon', toTitle: 'Coulon_(gemeente)', redirectLeft: false, wiki: 'nl' })
  })

  it('keeps a moved redirect a redirect (page_is_redirect), within namespace 0 and into it', () => {
    const move = { ...recorded('mediawiki.page-move').find((e) => e.database === 'nlwiki')!, page_is_redirect: true }
    const m = map(move)
    if (m.kind !== 'events') throw new Error(`expected events, got ${m.kind}`)
    expect(m.events[1]!.value).toMatchObject({ redirect: true })
    const target = applyToPage(undefined, { type: 'PageMoved', value: m.events[1]!.value as PageMoved }, 'Coulon (gemeente)')
    expect(target).toMatchObject({ redirect: true })
    const plain = map({ ...move, page_is_redirect: false })
    if (plain.kind !== 'events') throw new Error('expected events')
    expect(applyToPage(undefined, { type: 'PageMoved', value: plain.events[1]!.value as PageMoved }, 'Coulon (gemeente)')).toMatchObject({ redirect: false })
    // From another namespace into the main one: a creation, with the redirect flag.
    const into = map({ ...move, prior_state: { ...((move as Record<string, unknown>).prior_state as object), page_namespace: 2 } })
    if (into.kind !== 'events') throw new Error('expected events')
    expect(into.events.map((e) => [e.type, (e.value as { redirect?: boolean }).redirect])).toEqual([['PageCreated', true]])
  })

  it('maps page-delete on a configured Wiktionary to PageDeleted', () => {
    const del = recorded('mediawiki.page-delete').find((e) => e.database === 'mgwiktionary')!
    const m = map(del)
    if (del.page_namespace !== 0) {
      expect(m).toEqual({ kind: 'ignored', reason: 'namespace' })
      return
    }
    if (m.kind !== 'events') throw new Error(`expected events, got ${m.kind}`)
    expect(m.events[0]).toMatchObject({ type: 'PageDeleted', value: { wiki: 'mg', title: del.page_title } })
  })

  it('calls data without meta or wiki malformed', () => {
    expect(map('a string')).toEqual({ kind: 'malformed', reason: 'not-an-object' })
    expect(map({ database: 'enwiktionary' })).toEqual({ kind: 'malformed', reason: 'no-meta' })
    expect(map({ meta: { domain: 'en.wiktionary.org', stream: 'mediawiki.page-create' } })).toEqual({ kind: 'malformed', reason: 'no-wiki' })
  })
})

describe('resume id (unit)', () => {
  it('moves timestamps back to overlap same-millisecond events and turns offset -1 into a timestamp', () => {
    const id = JSON.stringify([
      { topic: 'eqiad.mediawiki.recentchange', partition: 0, timestamp: 1670732822001 },
      { topic: 'codfw.mediawiki.recentchange', partition: 0, offset: -1 },
    ])
    expect(JSON.parse(resumeId(id))).toEqual([
      { topic: 'eqiad.mediawiki.recentchange', partition: 0, timestamp: 1670732822000 },
      { topic: 'codfw.mediawiki.recentchange', partition: 0, timestamp: 1670732762001 },
    ])
    expect(resumeId('not json')).toBe('not json')
  })
})
