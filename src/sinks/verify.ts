import type { LanguageLink, PageObserved } from '../events/types.js'
import { normaliseTitle } from '../events/titles.js'
import type { MediaWikiClient } from '../mediawiki/client.js'
import type { PageState } from '../domain/page-state.js'
import { findLanguageLinks, isBlank } from '../wikitext/interwiki.js'

// The old bot's hunter: read the title on the command's wiki and on every wiki that should be linked or is
// linked now, following links found on the way, and record what was seen. What could not be read is listed,
// so the caller adds what is missing and removes nothing.

export interface LivePage {
  wiki: string
  exists: boolean
  redirect: boolean
  blank: boolean
  revision: number | null
  pageId: number | null
  /** Language links as the API reports them. */
  links: LanguageLink[]
  /** Language links written in the text itself. */
  writtenLinks: LanguageLink[]
  text: string
  /** Timestamp of the revision read (basetimestamp for the edit). */
  timestamp: string | undefined
  /** When the read happened, by the wiki's clock (starttimestamp for the edit). */
  readAt: string | undefined
}

export interface Verification {
  title: string
  pages: Map<string, LivePage>
  failed: Map<string, string>
}

interface ApiPage {
  pageid?: number
  title: string
  missing?: boolean
  invalid?: boolean
  redirect?: boolean
  lastrevid?: number
  langlinks?: { lang: string; title: string }[]
  revisions?: { revid: number; timestamp: string; slots: { main: { content?: string } } }[]
}

/** Reads one title on one wiki: existence, redirect, langlinks, text. */
export async function readPage(client: MediaWikiClient, wiki: string, title: string, codes: ReadonlySet<string>): Promise<LivePage> {
  const res = await client.get({
    action: 'query',
    titles: title,
    prop: 'info|langlinks|revisions',
    rvprop: 'content|timestamp|ids',
    rvslots: 'main',
    lllimit: 'max',
    curtimestamp: true,
  })
  const page = ((res.query as { pages?: ApiPage[] } | undefined)?.pages ?? [])[0]
  const readAt = res.curtimestamp as string | undefined
  if (!page || page.missing || page.invalid) {
    return { wiki, exists: false, redirect: false, blank: false, revision: null, pageId: null, links: [], writtenLinks: [], text: '', timestamp: undefined, readAt }
  }
  const rev = page.revisions?.[0]
  const text = rev?.slots.main.content ?? ''
  return {
    wiki,
    exists: true,
    redirect: page.redirect === true,
    blank: isBlank(text, codes),
    revision: rev?.revid ?? page.lastrevid ?? null,
    pageId: page.pageid ?? null,
    links: (page.langlinks ?? []).map((l) => ({ code: l.lang, title: l.title })),
    writtenLinks: findLanguageLinks(text, codes).map((l) => ({ code: l.code, title: l.title })),
    text,
    timestamp: rev?.timestamp,
    readAt,
  }
}

/**
 * Reads `title` on `start` and on every configured wiki reached through links (same title) or named in
 * `alsoRead`, breadth first.
 */
export async function verifyTitle(
  title: string,
  start: string,
  alsoRead: string[],
  clients: ReadonlyMap<string, MediaWikiClient>,
  codes: ReadonlySet<string>,
): Promise<Verification> {
  const pages = new Map<string, LivePage>()
  const failed = new Map<string, string>()
  const queue = [start, ...alsoRead]
  const seen = new Set<string>()
  while (queue.length > 0) {
    const wiki = queue.shift()!
    if (seen.has(wiki) || !clients.has(wiki)) continue
    seen.add(wiki)
    try {
      const page = await readPage(clients.get(wiki)!, wiki, title, codes)
      pages.set(wiki, page)
      for (const l of page.links) if (normaliseTitle(l.title) === normaliseTitle(title) && !seen.has(l.code)) queue.push(l.code)
    } catch (err) {
      failed.set(wiki, (err as Error).message)
    }
  }
  return { title, pages, failed }
}

/** A live page as the projection's page state, for the link rules. */
export function asPageState(p: LivePage, now: number): PageState {
  return {
    redirect: p.redirect,
    blank: p.blank,
    revision: p.revision,
    pageId: p.pageId,
    links: p.links,
    writtenLinks: p.writtenLinks,
    createdAt: null,
    byBot: null,
    observedAt: now,
    source: 'verify',
    snapshotId: null,
    changedAt: now,
  }
}

/** What was seen, as events for the projection. */
export function observation(p: LivePage, title: string, now: number, commandId: string): PageObserved {
  return {
    id: `${p.wiki}:verify:${commandId}:${p.revision ?? 'missing'}`,
    source: 'verify',
    observedAt: now,
    wiki: p.wiki,
    title,
    pageId: p.pageId,
    exists: p.exists,
    redirect: p.redirect,
    blank: p.exists ? p.blank : null,
    revision: p.revision,
    links: p.links,
    writtenLinks: p.exists ? p.writtenLinks : null,
    snapshotId: null,
  }
}
