import type { EventToAppend } from '../../src/events/event-log.js'
import { titleKey } from '../../src/events/titles.js'
import type { LanguageLink } from '../../src/events/types.js'

// Event builders for projection tests.
let n = 0
const base = (wiki: string, source = 'snapshot', at = 1_700_000_000_000) => ({ id: `t-${++n}`, source, observedAt: at, wiki })

export function observed(wiki: string, title: string, links: string[], over: Partial<{ revision: number; redirect: boolean; blank: boolean | null; snapshotId: string; at: number; written: string[] | null }> = {}): EventToAppend {
  const l: LanguageLink[] = links.map((c) => (c.includes(':') ? { code: c.split(':')[0]!, title: c.slice(c.indexOf(':') + 1) } : { code: c, title }))
  return {
    type: 'PageObserved',
    key: titleKey(title),
    value: {
      ...base(wiki, 'snapshot', over.at),
      title,
      pageId: 1,
      exists: true,
      redirect: over.redirect ?? false,
      blank: over.blank === undefined ? false : over.blank,
      revision: over.revision ?? 100,
      links: l,
      writtenLinks: over.written === undefined ? l : over.written === null ? null : over.written.map((c) => ({ code: c, title })),
      snapshotId: over.snapshotId ?? null,
    },
  }
}

export function created(wiki: string, title: string, revision: number, byBot = false, at = 1_700_000_000_000): EventToAppend {
  return { type: 'PageCreated', key: titleKey(title), value: { ...base(wiki, 'rc', at), title, pageId: 2, revision, byBot, createdAt: at, redirect: false } }
}

export function edited(wiki: string, title: string, revision: number): EventToAppend {
  return { type: 'PageEdited', key: titleKey(title), value: { ...base(wiki, 'rc'), title, pageId: 2, revision, byBot: false } }
}

export function deleted(wiki: string, title: string): EventToAppend {
  return { type: 'PageDeleted', key: titleKey(title), value: { ...base(wiki, 'rc'), title, pageId: 2, logId: 9 } }
}

export function moved(wiki: string, from: string, to: string, redirectLeft: boolean): EventToAppend[] {
  const value = { ...base(wiki, 'rc'), fromTitle: from, toTitle: to, redirectLeft, pageId: 3, revision: 300, logId: 10 }
  return [
    { type: 'PageMoved', key: titleKey(from), value },
    { type: 'PageMoved', key: titleKey(to), value },
  ]
}

export function snapshotDone(wiki: string, snapshotId: string, partitions: number, startedAt: number, at = startedAt + 1000, titleCase: string | null = null, mainPage: string | null = null): EventToAppend[] {
  return Array.from({ length: partitions }, (_, partition) => ({
    type: 'SnapshotCompleted' as const,
    key: null,
    partition,
    value: { ...base(wiki, 'snapshot', at), snapshotId, partition, startedAt, pages: 0, titleCase, mainPage },
  }))
}
