import type { LanguageLink, PageObserved } from '../events/types.js'
import { normaliseTitle } from '../events/titles.js'
import type { MediaWikiClient } from '../mediawiki/client.js'
import type { PageState } from '../domain/page-state.js'
import { isBlank, languageLinks, surelyNotBlank } from '../wikitext/language-links.js'

// The old bot's hunter, batched as Wikimedia's API etiquette asks: the titles of many commands are read together,
// per wiki, many titles per request (50, or 500 with apihighlimits), one request at a time. A title is read on its
// command's wiki with its text (the edit needs it), and on every other wiki that should be linked or is linked
// now, following links found on the way, without text unless its byte length leaves its blankness open. What
// could not be read is listed, so the caller adds what is missing and removes nothing.

export interface LivePage {
  wiki: string
  /**
   * The title the wiki read where it is another than the one asked for (a first-letter wiki reads `chat` as
   * `Chat`): what was seen is that page's, and is recorded under it, never under the title asked for.
   */
  asTitle?: string
  exists: boolean
  redirect: boolean
  /** Null when the text was not read and the length does not settle it. */
  blank: boolean | null
  revision: number | null
  pageId: number | null
  /** Language links as the API reports them. */
  links: LanguageLink[]
  /** Language links written in the text itself; null when the text was not read. */
  writtenLinks: LanguageLink[] | null
  /** The text, when it was read. */
  text: string | undefined
  /** Timestamp of the revision read (basetimestamp for the edit). */
  timestamp: string | undefined
  /** When the read happened, by the wiki's clock (starttimestamp for the edit). */
  readAt: string | undefined
  /**
   * When the request that read it was sent, by this host's clock: what the page was at that moment is all the
   * reading says, so it is the reading's time in the log (facts observed after it win; the sources stamp theirs
   * with the same clock: they run beside the sink).
   */
  readStartedAt?: number
}

export interface Verification {
  title: string
  pages: Map<string, LivePage>
  failed: Map<string, string>
}

/** One title to verify: the wikis whose page text is needed (commands' wikis) and the others to read. */
export interface VerifyItem {
  title: string
  withText: string[]
  also: string[]
}

export interface VerifyContext {
  /** Readers for every wiki that may be read. */
  clients: ReadonlyMap<string, MediaWikiClient>
  codes: ReadonlySet<string>
  /** Titles per request on a wiki (50; 500 where the account has apihighlimits). */
  titlesPerRequest: (wiki: string) => Promise<number>
  /** Requests a wiki may have in flight at once (default 1: in series, as Wikimedia asks). */
  concurrency?: (wiki: string) => number
}

interface ApiPage {
  pageid?: number
  title: string
  missing?: boolean
  invalid?: boolean
  redirect?: boolean
  lastrevid?: number
  length?: number
  langlinks?: { lang: string; title: string }[]
  revisions?: { revid: number; timestamp: string; slots: { main: { content?: string } } }[]
}

/**
 * Reads titles on one wiki, `perRequest` at a time, following continuation (langlinks and revisions of one
 * batch may come in several answers; they are merged by page). Returns the pages by normalised title.
 */
export async function readTitles(client: MediaWikiClient, wiki: string, titles: readonly string[], o: ReadOptions & { perRequest: number; concurrency?: number }): Promise<Map<string, LivePage>> {
  const out = new Map<string, LivePage>()
  const chunks: string[][] = []
  for (let i = 0; i < titles.length; i += o.perRequest) chunks.push(titles.slice(i, i + o.perRequest))
  // One request at a time unless the wiki allows more (private farms): a few workers take the chunks in turn.
  let next = 0
  const worker = async () => {
    while (next < chunks.length) await readChunk(client, wiki, chunks[next++]!, o, out)
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 1, chunks.length)) }, worker))
  return out
}

interface ReadOptions {
  text: boolean
  codes: ReadonlySet<string>
  /** Read the langlinks too (default); without them a page's `links` come back empty (not read). */
  langlinks?: boolean
}

async function readChunk(client: MediaWikiClient, wiki: string, chunk: string[], o: ReadOptions, out: Map<string, LivePage>): Promise<void> {
  const byApiTitle = new Map<string, ApiPage>()
  const renamed = new Map<string, string>()
  let readAt: string | undefined
  const startedAt = Date.now()
  const params = {
    action: 'query',
    titles: chunk,
    prop: [...['info'], ...(o.langlinks === false ? [] : ['langlinks']), ...(o.text ? ['revisions'] : [])].join('|'),
    ...(o.langlinks === false ? {} : { lllimit: 'max' }),
    curtimestamp: true,
    ...(o.text ? { rvprop: 'content|timestamp|ids', rvslots: 'main' } : {}),
  }
  for await (const res of client.continued(params)) {
    readAt ??= res.curtimestamp as string | undefined
    const query = res.query as { pages?: ApiPage[]; normalized?: { from: string; to: string }[] } | undefined
    for (const n of query?.normalized ?? []) renamed.set(n.from, n.to)
    for (const p of query?.pages ?? []) {
      const seen = byApiTitle.get(p.title)
      if (!seen) byApiTitle.set(p.title, { ...p, langlinks: [...(p.langlinks ?? [])] })
      else {
        seen.langlinks!.push(...(p.langlinks ?? []))
        seen.revisions ??= p.revisions
      }
    }
  }
  for (const title of chunk) {
    const page = byApiTitle.get(renamed.get(title) ?? title)
    const asked = normaliseTitle(title)
    const read = normaliseTitle(renamed.get(title) ?? title)
    out.set(asked, { ...livePage(wiki, page, readAt, o), readStartedAt: startedAt, ...(read !== asked ? { asTitle: read } : {}) })
  }
}

function livePage(wiki: string, page: ApiPage | undefined, readAt: string | undefined, o: { text: boolean; codes: ReadonlySet<string> }): LivePage {
  if (!page || page.missing || page.invalid) {
    return { wiki, exists: false, redirect: false, blank: false, revision: null, pageId: null, links: [], writtenLinks: [], text: undefined, timestamp: undefined, readAt }
  }
  const links = (page.langlinks ?? []).map((l) => ({ code: l.lang, title: l.title }))
  const rev = page.revisions?.[0]
  const text = o.text ? (rev?.slots.main.content ?? '') : undefined
  return {
    wiki,
    exists: true,
    redirect: page.redirect === true,
    blank: text !== undefined ? isBlank(text, o.codes, { self: wiki }) : surelyNotBlank(page.length, links) ? false : null,
    revision: rev?.revid ?? page.lastrevid ?? null,
    pageId: page.pageid ?? null,
    links,
    writtenLinks: text !== undefined ? languageLinks(text, o.codes, { self: wiki }) : null,
    text,
    timestamp: rev?.timestamp,
    readAt,
  }
}

/**
 * Verifies many titles at once. Round by round, each wiki is read once for all the titles it is wanted for
 * (titles needing text first; titles needing none ride along in the last request's free places), then links
 * found to the same title on wikis not yet read, and pages whose blankness is still open, are read in the next
 * round. Requests go one at a time.
 */
export async function verifyTitles(items: readonly VerifyItem[], ctx: VerifyContext): Promise<Map<string, Verification>> {
  const out = new Map<string, Verification>()
  const wantText = new Map<string, Set<string>>() // wiki → titles
  const wantInfo = new Map<string, Set<string>>()
  const want = (m: Map<string, Set<string>>, wiki: string, title: string) => {
    if (!ctx.clients.has(wiki)) return
    const v = out.get(title)!
    if (v.failed.has(wiki)) return
    const read = v.pages.get(wiki)
    if (read && (m === wantInfo || read.text !== undefined)) return
    let set = m.get(wiki)
    if (!set) m.set(wiki, (set = new Set()))
    set.add(title)
  }
  for (const item of items) {
    const title = normaliseTitle(item.title)
    if (!out.has(title)) out.set(title, { title, pages: new Map(), failed: new Map() })
    for (const w of item.withText) want(wantText, w, title)
    for (const w of item.also) want(wantInfo, w, title)
  }
  while (wantText.size > 0 || wantInfo.size > 0) {
    const round = [...new Set([...wantText.keys(), ...wantInfo.keys()])].sort()
    const text = new Map(wantText)
    const info = new Map(wantInfo)
    wantText.clear()
    wantInfo.clear()
    for (const wiki of round) {
      const client = ctx.clients.get(wiki)!
      const per = await ctx.titlesPerRequest(wiki)
      const withText = [...(text.get(wiki) ?? [])]
      const textTitles = new Set(withText)
      const without = [...(info.get(wiki) ?? [])].filter((t) => !textTitles.has(t))
      // Titles that need no text fill the free places of the last text request: no request more for them.
      const free = withText.length === 0 ? 0 : (per - (withText.length % per)) % per
      withText.push(...without.splice(0, free))
      for (const [titles, withTextToo] of [[withText, true], [without, false]] as const) {
        if (titles.length === 0) continue
        try {
          const pages = await readTitles(client, wiki, titles, { text: withTextToo, perRequest: per, codes: ctx.codes, concurrency: ctx.concurrency?.(wiki) })
          for (const [title, page] of pages) out.get(title)!.pages.set(wiki, page)
        } catch (err) {
          for (const t of titles) out.get(t)!.failed.set(wiki, (err as Error).message)
        }
      }
    }
    // Next round: wikis reached through links, and texts that settle a page's blankness.
    for (const v of out.values()) {
      for (const page of v.pages.values()) {
        if (page.exists && !page.redirect && page.blank === null) want(wantText, page.wiki, v.title)
        for (const l of page.links) if (!v.pages.has(l.code) && normaliseTitle(l.title) === v.title) want(wantInfo, l.code, v.title)
      }
    }
  }
  return out
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

/** What was seen, as an event for the projection. */
/** What a reading saw, as a fact of the page the wiki read (`asTitle` where it is another than `title`). */
export function observation(p: LivePage, asked: string, now: number): PageObserved {
  const title = p.asTitle ?? asked
  return {
    id: `${p.wiki}:verify:${title}:${p.revision ?? 'missing'}:${p.readAt ?? now}`,
    source: 'verify',
    // Never a time after the read: a fact observed between the read and this event's append must win over it.
    observedAt: Math.min(now, p.readStartedAt ?? now),
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
