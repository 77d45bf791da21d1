import { cognateKey, hasSpellings } from '../events/titles.js'
import { keys, type Op, type TitlePages, type TitleStore } from './title-store.js'

// What the partition keeps about its titles beside their records, in step with pages appearing and disappearing:
// titles per wiki (counts), the wiki-title index (a sweep reads only the records of pages it may remove), the
// presence index ("missing here": titles with real pages on two wikis or more), and the spellings Cognate folds
// together. Written in the same batch as the records they describe.

/** A title as a batch changes it: its pages now, and as they were stored. */
export interface TitleChange {
  title: string
  pages: TitlePages
  /** The pages as stored before the change (a page object that is still the same did not change). */
  before: TitlePages
}

export class TitleIndex {
  private counts: Record<string, number> = {}
  /** The partition keeps a wiki-title index (a store from before the index scans every title instead). */
  private indexed = false
  /** The index starts with this batch: the store is flagged as indexed with it. */
  private flagIndex = false

  constructor(private readonly partition: number) {}

  async load(store: TitleStore): Promise<void> {
    // A partition that starts empty keeps a wiki-title index from its first event, so a snapshot's sweep reads
    // that wiki's pages only; a store from before the index scans every title, as it always did.
    const flagged = await store.isIndexed(this.partition)
    this.indexed = flagged || (await store.offset(this.partition)) === 0
    this.flagIndex = this.indexed && !flagged
    this.counts = await store.counts(this.partition)
  }

  /** Whether the wiki-title index is complete (a sweep may read it instead of every title). */
  get complete(): boolean {
    return this.indexed
  }

  get titleCounts(): Readonly<Record<string, number>> {
    return this.counts
  }

  /**
   * The operations that keep counts and indexes in step with `changes`. `listed` holds the stored titles of each
   * Cognate key among the changed titles' (TitleStore.spellings); it is updated in place.
   */
  update(changes: readonly TitleChange[], ops: Op[], listed: ReadonlyMap<string, string[]>): void {
    const relisted = new Set<string>()
    const touched = new Set<string>()
    const p = this.partition
    if (this.flagIndex) {
      ops.push({ type: 'put', key: keys.indexed(p), value: '1' })
      this.flagIndex = false
    }
    for (const { title, pages, before } of changes) {
      const was = realPages(before)
      const is = realPages(pages)
      if (was !== is) {
        if (was.includes(',')) ops.push({ type: 'del', key: keys.presence(p, was.split(',').length, title) })
        if (is.includes(',')) ops.push({ type: 'put', key: keys.presence(p, is.split(',').length, title), value: is })
      }
      if (hasSpellings(title)) {
        const had = Object.keys(before).length > 0
        const has = Object.keys(pages).length > 0
        if (had !== has) {
          const key = cognateKey(title)
          const titles = listed.get(key)
          if (titles === undefined) throw new Error(`the titles of Cognate key ${JSON.stringify(key)} were not read before its title changed`)
          const at = titles.indexOf(title)
          if (has && at < 0) titles.push(title)
          if (!has && at >= 0) titles.splice(at, 1)
          relisted.add(key)
        }
      }
      for (const w in pages) {
        const page = pages[w]!
        if (!(w in before)) {
          this.counts[w] = (this.counts[w] ?? 0) + 1
          touched.add(w)
        } else if (page === before[w]) continue
        // The entry carries what a sweep asks of the page, so a sweep reads only the records of pages it may remove.
        if (this.indexed) ops.push({ type: 'put', key: keys.wikiTitle(p, w, title), stamp: page })
      }
      for (const w in before) {
        if (w in pages) continue
        this.counts[w] = Math.max(0, (this.counts[w] ?? 0) - 1)
        touched.add(w)
        if (this.indexed) ops.push({ type: 'del', key: keys.wikiTitle(p, w, title) })
      }
    }
    for (const w of touched) ops.push({ type: 'put', key: keys.count(p, w), value: String(this.counts[w] ?? 0) })
    for (const key of relisted) {
      const titles = listed.get(key)!
      ops.push(titles.length > 0 ? { type: 'put', key: keys.spelling(p, key), value: titles.join('\0') } : { type: 'del', key: keys.spelling(p, key) })
    }
  }
}

/** The wikis where the title is a real page (not a redirect, not blank), sorted, comma-separated. */
function realPages(pages: TitlePages): string {
  let out = ''
  for (const w of Object.keys(pages).sort()) {
    const page = pages[w]!
    if (!page.redirect && page.blank !== true) out = out === '' ? w : `${out},${w}`
  }
  return out
}
