import type { EventStore } from '../events/event-log.js'
import { titleKey } from '../events/titles.js'
import type { PageObserved } from '../events/types.js'
import type { Logger } from '../logging.js'
import type { TopicNames } from '../log/topics.js'
import type { MediaWikiClient } from '../mediawiki/client.js'
import { doublingDelay } from '../backoff.js'
import type { TitleStore } from '../projections/title-store.js'
import { observation, readTitles } from '../sinks/verify.js'

// Cognate mode's reports say a link is written only when the page's text says so (notes/cognate-behaviour.md:
// through the API a stale Cognate row looks like a written link). The projection lists the pages whose langlinks
// hold such candidates and whose text it has not read at their revision (q entries); this reader reads those
// texts, many titles a request (50: no account is needed, and none is used), one request at a time per wiki, and
// appends what it read as readings (PageObserved, source `text`), so the projection, and any rebuild from the
// log, decides from the same texts. A page is read again only when its revision changes (its entry comes back).
// Batches fill before they go: a wiki's request waits until it has a full batch or its list stopped growing.

export interface TextReaderOptions {
  store: TitleStore
  events: EventStore
  topics: TopicNames
  /** The partitions this member holds (their entries are this member's to read). */
  partitions: () => Iterable<number>
  /** A reader for a wiki (undefined: mbwa cannot reach it; its entries wait). */
  client: (wiki: string) => Promise<MediaWikiClient | undefined>
  codes: () => ReadonlySet<string>
  /** Titles a request (50 without apihighlimits). */
  perRequest?: number
  /** How often the lists are looked at. */
  intervalMs?: number
  /** How long a wiki's short list must stay the same before it is read anyway. */
  lingerMs?: number
  now?: () => number
  logger?: Logger
}

interface WikiState {
  busy: boolean
  /** The titles listed at the last look, and since when the list is that. */
  listed: string
  since: number
  failures: number
  retryAt: number
}

export class TextReader {
  private readonly wikis = new Map<string, WikiState>()
  /** wiki \0 title → the revision it was listed with when it was read (not read again at that revision). */
  private readonly asked = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = false
  readonly stats = { requests: 0, pages: 0, failures: 0 }

  constructor(private readonly o: TextReaderOptions) {}

  start(): void {
    this.stopped = false
    const tick = () => {
      if (this.stopped) return
      this.running = this.look()
        .catch((err: unknown) => this.o.logger?.warn({ err: (err as Error).message }, 'text reads: a look at the lists failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.o.intervalMs ?? 1000)
        })
    }
    this.timer = setTimeout(tick, 0)
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await this.running
    // Reads in flight finish (their readings are appended) before the log closes.
    while ([...this.wikis.values()].some((w) => w.busy)) await new Promise((r) => setTimeout(r, 20))
  }

  /** One look: each wiki with pages waiting and no request in flight gets its next batch read. */
  private async look(): Promise<void> {
    const per = this.o.perRequest ?? 50
    const now = (this.o.now ?? Date.now)()
    const partitions = [...this.o.partitions()].sort((a, b) => a - b)
    const wikis = new Set<string>()
    for (const p of partitions) for (const w of await this.o.store.textWantedWikis(p)) wikis.add(w)
    for (const wiki of [...wikis].sort()) {
      const state = this.wikis.get(wiki) ?? { busy: false, listed: '', since: now, failures: 0, retryAt: 0 }
      this.wikis.set(wiki, state)
      if (state.busy || now < state.retryAt) continue
      const client = await this.o.client(wiki)
      if (!client) continue
      const batch: { title: string; revision: string }[] = []
      for (const p of partitions) {
        if (batch.length >= per) break
        // Entries already read at their revision are skipped (their readings are on the way).
        for (const e of await this.o.store.textWanted(p, wiki, per * 4)) {
          if (this.asked.get(`${wiki}\0${e.title}`) === e.revision) continue
          batch.push(e)
          if (batch.length >= per) break
        }
      }
      if (batch.length === 0) continue
      const listed = batch.map((e) => e.title).join('\0')
      if (listed !== state.listed) {
        state.listed = listed
        state.since = now
      }
      if (batch.length < per && now - state.since < (this.o.lingerMs ?? 2000)) continue // the list may still grow
      state.busy = true
      void this.read(wiki, client, batch, state).finally(() => {
        state.busy = false
      })
    }
  }

  private async read(wiki: string, client: MediaWikiClient, batch: { title: string; revision: string }[], state: WikiState): Promise<void> {
    const now = this.o.now ?? Date.now
    try {
      // Texts only: the langlinks are the projection's already, and with them a batch's answer would come in parts
      // (a Wiktionary page has a row per other wiki holding the word: continuation, several requests a batch).
      const pages = await readTitles(client, wiki, batch.map((e) => e.title), { text: true, langlinks: false, perRequest: batch.length, codes: this.o.codes() })
      const readings: { type: 'PageObserved'; key: string; value: PageObserved }[] = []
      for (const [title, page] of pages) {
        const value = observation(page, title, now())
        readings.push({ type: 'PageObserved', key: titleKey(value.title), value: { ...value, source: 'text', id: value.id.replace(':verify:', ':text:') } })
      }
      await this.o.events.append(this.o.topics.events, readings)
      for (const e of batch) this.asked.set(`${wiki}\0${e.title}`, e.revision)
      // Bounded: the oldest answers go first (an entry still listed after its reading is read again, once).
      for (const k of this.asked.keys()) {
        if (this.asked.size <= 100_000) break
        this.asked.delete(k)
      }
      this.stats.requests++
      this.stats.pages += readings.length
      state.failures = 0
      state.listed = ''
      this.o.logger?.debug?.({ wiki, pages: readings.length }, 'text reads: texts read')
    } catch (err) {
      state.failures++
      this.stats.failures++
      state.retryAt = now() + doublingDelay(state.failures, 5_000, 300_000)
      this.o.logger?.warn({ wiki, err: (err as Error).message, failures: state.failures }, 'text reads: a read failed; tried again later')
    }
  }
}
