import { isReadingSource, type LanguageLink, type MbwaEvent } from '../events/types.js'
import { titleKey } from '../events/titles.js'

// What the projection knows about one page (one title on one wiki), and how each event changes it. Applying an
// event is idempotent and tolerant of order: facts are ordered by revision where they carry one, so a stale
// observation (an older revision than the one known) does not undo a newer fact.

export interface PageState {
  redirect: boolean
  /** Nothing but whitespace once language links are removed; null while unknown (text not read). */
  blank: boolean | null
  revision: number | null
  pageId: number | null
  /** Language links as the API reports them; null while unknown (changed since last read). */
  links: LanguageLink[] | null
  /** Links written in the wikitext itself (cognate wikis); null while unknown. */
  writtenLinks: LanguageLink[] | null
  createdAt: number | null
  byBot: boolean | null
  /** When the last fact about the page was observed, and by which source. */
  observedAt: number
  source: string
  /** The last snapshot that saw the page. */
  snapshotId: string | null
  /** When the page's content last changed (new revision), for letting new pages settle. */
  changedAt: number
}

/** The page after the event: a state, or null when the page does not exist (any more). */
export function applyToPage(prev: PageState | undefined, e: MbwaEvent, key: string): PageState | null | undefined {
  switch (e.type) {
    case 'PageObserved': {
      const v = e.value
      // A reading (the sink's verify) says what the page was when it was read; a fact observed after that, which
      // the log holds before the reading, is newer and stays (a creation is not undone, nor a deletion).
      // A reading of the same or a newer revision is not older in what it says of the page's content.
      if (isReadingSource(v.source) && prev && prev.observedAt > v.observedAt && !(v.exists && v.revision !== null && (prev.revision === null || v.revision >= prev.revision))) return prev
      if (!v.exists) return null
      if (prev && isOlder(v.revision, prev.revision)) {
        // An older read: keep the newer facts, but remember the snapshot saw the page (it must not be swept).
        return v.snapshotId ? { ...prev, snapshotId: v.snapshotId } : prev
      }
      const same = prev !== undefined && prev.revision !== null && prev.revision === v.revision
      return {
        redirect: v.redirect,
        blank: v.blank ?? (same ? prev.blank : null),
        revision: v.revision ?? prev?.revision ?? null,
        pageId: v.pageId ?? prev?.pageId ?? null,
        // A text reading did not read the langlinks: those known at this revision stay (unknown at another).
        links: v.source === 'text' ? (same ? prev.links : null) : sortLinks(v.links),
        writtenLinks: v.writtenLinks ? sortLinks(v.writtenLinks) : same ? prev.writtenLinks : null,
        createdAt: prev?.createdAt ?? null,
        byBot: prev?.byBot ?? null,
        observedAt: v.observedAt,
        source: v.source,
        snapshotId: v.snapshotId ?? prev?.snapshotId ?? null,
        changedAt: same ? prev.changedAt : v.observedAt,
      }
    }
    case 'PageCreated': {
      const v = e.value
      if (prev && !isNewer(v.revision, prev.revision)) {
        return { ...prev, createdAt: prev.createdAt ?? v.createdAt, byBot: prev.byBot ?? v.byBot }
      }
      return changed(prev, v, { redirect: v.redirect ?? false, revision: v.revision, pageId: v.pageId ?? prev?.pageId ?? null, createdAt: v.createdAt ?? v.observedAt, byBot: v.byBot })
    }
    case 'PageEdited': {
      const v = e.value
      if (prev && !isNewer(v.revision, prev.revision)) return prev
      return changed(prev, v, { revision: v.revision ?? prev?.revision ?? null, pageId: v.pageId ?? prev?.pageId ?? null, byBot: prev?.byBot ?? v.byBot })
    }
    case 'PageDeleted':
      return null
    case 'PageMoved': {
      const v = e.value
      const fromKey = titleKey(v.fromTitle)
      const toKey = titleKey(v.toTitle)
      if (fromKey === toKey) return prev
      if (key === fromKey) {
        if (v.redirectLeft === false) return null
        // The old title: a redirect now (links known: none), or unknown when the source could not say.
        return changed(prev, v, { redirect: v.redirectLeft === true ? true : (prev?.redirect ?? false), revision: null, pageId: null, links: v.redirectLeft === true ? [] : null })
      }
      // The moved page is a redirect when the source says so (a moved redirect stays one); otherwise not known to
      // be one, and its links unknown until read.
      return changed(prev, v, { redirect: v.redirect ?? false, revision: v.revision, pageId: v.pageId })
    }
    case 'EditApplied': {
      // The page changed under our own edit: its links are what verify reads next, not what we assume.
      const v = e.value
      if (!prev || !isNewer(v.revision, prev.revision)) return prev
      return { ...prev, revision: v.revision, links: null, writtenLinks: null, blank: null, observedAt: v.observedAt, source: v.source, changedAt: v.observedAt }
    }
    default:
      return undefined // not a page fact
  }
}

/**
 * A page whose content changed and has not been read since: links, written links and blankness unknown until
 * the next read; what is known of its history (creation, bot) kept.
 */
function changed(prev: PageState | undefined, v: { observedAt: number; source: string }, facts: Partial<PageState>): PageState {
  return {
    redirect: prev?.redirect ?? false,
    blank: null,
    revision: prev?.revision ?? null,
    pageId: prev?.pageId ?? null,
    links: null,
    writtenLinks: null,
    createdAt: prev?.createdAt ?? null,
    byBot: prev?.byBot ?? null,
    snapshotId: prev?.snapshotId ?? null,
    ...facts,
    observedAt: v.observedAt,
    source: v.source,
    changedAt: v.observedAt,
  }
}

function isOlder(a: number | null, b: number | null): boolean {
  return a !== null && b !== null && a < b
}

function isNewer(a: number | null, b: number | null): boolean {
  return a === null || b === null || a > b
}

const byCodeThenTitle = (x: LanguageLink, y: LanguageLink): number => (x.code < y.code ? -1 : x.code > y.code ? 1 : x.title < y.title ? -1 : x.title > y.title ? 1 : 0)

/** The links by code, then title: the array itself when it is in that order already (the API lists them so). */
export function sortLinks(links: LanguageLink[]): LanguageLink[] {
  for (let i = 1; i < links.length; i++) if (byCodeThenTitle(links[i - 1]!, links[i]!) > 0) return [...links].sort(byCodeThenTitle)
  return links
}

/** The wiki a page event is about, and whether it is one (keyed events only). */
export function pageWiki(e: MbwaEvent): string | undefined {
  switch (e.type) {
    case 'PageObserved':
    case 'PageCreated':
    case 'PageEdited':
    case 'PageDeleted':
    case 'PageMoved':
    case 'EditApplied':
      return e.value.wiki
    default:
      return undefined
  }
}
