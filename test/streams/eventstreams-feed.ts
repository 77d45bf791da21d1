import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FeedItem } from '../setup/fake-eventstreams.js'
import { FIXTURES_DIR } from '../setup/fixtures-dir.js'

// Test data for the EventStreams source: the published recorded events and canaries made from the schema
// examples (as WMF makes them), plus generated events on configured wikis and malformed lines.

const FIXTURES = (): string => join(FIXTURES_DIR, 'eventstreams/examples')

export const WIKIS = new Map([
  ['enwiktionary', 'en'],
  ['frwiktionary', 'fr'],
  ['plwiktionary', 'pl'],
  ['mgwiktionary', 'mg'],
  ['nlwiki', 'nl'],
  ['dewiki', 'de'],
])

type Json = Record<string, unknown>

export function recorded(stream: string): Json[] {
  return JSON.parse(readFileSync(join(FIXTURES(), 'recorded', `${stream}.json`), 'utf8')) as Json[]
}

export function canaries(): Json[] {
  return ['mediawiki.recentchange', 'mediawiki.page-create', 'mediawiki.page-delete', 'mediawiki.page-move', 'mediawiki.page-undelete'].map((stream) => {
    const first = (JSON.parse(readFileSync(join(FIXTURES(), 'schema-examples', `${stream}.json`), 'utf8')) as Json[])[0]!
    const meta: Json = { ...(first.meta as Json), domain: 'canary', stream }
    delete meta.dt
    return { ...first, meta }
  })
}

let seq = 0
function meta(stream: string, domain: string): Json {
  seq++
  return { id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, domain, stream, dt: new Date(1_700_000_000_000 + seq).toISOString() }
}

/** n generated events on en/fr Wiktionary: creations, edits, deletions and moves of unique titles. */
export function generated(n: number): Json[] {
  const out: Json[] = []
  for (let i = 0; i < n; i++) {
    const db = i % 2 === 0 ? 'enwiktionary' : 'frwiktionary'
    const domain = db === 'enwiktionary' ? 'en.wiktionary.org' : 'fr.wiktionary.org'
    const title = `gen_word_${i}`
    switch (i % 4) {
      case 0:
        out.push({ $schema: '/mediawiki/revision/create/2.0.0', meta: meta('mediawiki.page-create', domain), database: db, page_id: 1000 + i, page_title: title, page_namespace: 0, page_is_redirect: false, rev_id: 50_000 + i, rev_timestamp: '2023-11-14T22:13:20Z', performer: { user_text: 'Someone', user_is_bot: false } })
        break
      case 1:
        out.push({ $schema: '/mediawiki/recentchange/1.0.0', meta: meta('mediawiki.recentchange', domain), wiki: db, type: 'edit', namespace: 0, title: title.replace(/_/g, ' '), user: 'SomeBot', bot: false, revision: { old: 1, new: 60_000 + i } })
        break
      case 2:
        out.push({ $schema: '/mediawiki/page/delete/1.0.0', meta: meta('mediawiki.page-delete', domain), database: db, page_id: 1000 + i, page_title: title, page_namespace: 0, page_is_redirect: false, rev_id: 7 })
        break
      default:
        out.push({ $schema: '/mediawiki/page/move/1.0.0', meta: meta('mediawiki.page-move', domain), database: db, page_id: 1000 + i, page_title: `${title}_new`, page_namespace: 0, page_is_redirect: false, rev_id: 8, prior_state: { page_title: title, page_namespace: 0, rev_id: 7 } })
    }
  }
  return out
}

/** Items with distinct, increasing timestamps (or runs of equal ones every `sameTsRun` items). */
export function feed(events: (Json | string)[], sameTsRun = 1): FeedItem[] {
  return events.map((e, i) => ({ data: typeof e === 'string' ? e : JSON.stringify(e), ts: 1_700_000_000_000 + Math.floor(i / sameTsRun) * 10 }))
}
