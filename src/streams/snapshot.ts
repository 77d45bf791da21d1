import { randomUUID } from 'node:crypto'
import type { EventStore, EventToAppend } from '../events/event-log.js'
import type { LanguageLink } from '../events/types.js'
import { silentLogger, type Logger } from '../logging.js'
import type { CheckpointStore } from './checkpoints.js'
import { titleEvent } from './event-batch.js'
import type { WikiSource } from './wiki-source.js'
import { surelyNotBlank } from '../wikitext/interwiki.js'
import { Progress } from '../progress.js'
import { TimeSlice } from '../time-slice.js'
import type { SourceMeter } from './source-meter.js'

// Reads every namespace-0 page of a wiki with generator=allpages&prop=langlinks|info, following all continuation,
// and turns each page into a PageObserved event keyed by title; then appends a SnapshotCompleted marker to every
// partition of the events topic, so each partition's projector can sweep that wiki's titles the snapshot did
// not see (deleted without an event reaching us). The position is stored after each complete generator batch,
// so a snapshot interrupted by a crash resumes where it was, with the same snapshot id.
//
// Continuation: while `llcontinue` is present the generator batch stays the same and the same pages come back
// with more of their links (and without `info`); `batchcomplete` marks the end of a batch; merge by page id.

export interface SnapshotOptions {
  events: EventStore
  topic: string
  checkpoints: CheckpointStore
  logger?: Logger
  /** gaplimit: pages per generator batch ('max' = 500, or 5000 with apihighlimits). */
  pageSize?: number | 'max'
  /** lllimit per request. */
  linkLimit?: number | 'max'
  /** Counts and progress for status and metrics, stored with the position. */
  meter?: SourceMeter
  /** A progress log line this often while a snapshot runs (default 30 s). */
  progressEveryMs?: number
  now?: () => number
}

export interface SnapshotState {
  snapshotId: string
  startedAt: number
  /** The continue object that starts the next generator batch; undefined before the first. */
  continue?: Record<string, string>
  pages: number
  batches: number
  /** The wiki's siteinfo `case`, read when the snapshot began (the link rules compare titles by it). */
  titleCase?: string | null
  /** The wiki's main page (siteinfo `mainpage`): never linked. */
  mainPage?: string | null
  /** The wiki's content pages by siteinfo statistics when the snapshot began: what `pages` grows towards. */
  expected?: number | null
}

export interface SnapshotSchedule {
  lastStartedAt: number
  lastCompletedAt: number
  lastDurationMs: number
  pages: number
}

export interface SnapshotRunOptions {
  signal?: AbortSignal
  /** Stop (as if interrupted) after this many generator batches: for tests of resuming. */
  maxBatches?: number
}

export interface SnapshotResult {
  snapshotId: string
  completed: boolean
  pages: number
  batches: number
  resumed: boolean
  requests: number
}

interface ApiPage {
  pageid?: number
  ns: number
  title: string
  missing?: boolean
  redirect?: boolean
  lastrevid?: number
  length?: number
  langlinks?: { lang: string; title: string }[]
}

export class SnapshotReader {
  private readonly logger: Logger
  private readonly now: () => number

  constructor(private readonly options: SnapshotOptions) {
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
  }

  static stateKey(wiki: string): string {
    return `snapshot:${wiki}`
  }

  static scheduleKey(wiki: string): string {
    return `snapshot-schedule:${wiki}`
  }

  async state(wiki: string): Promise<SnapshotState | undefined> {
    return this.options.checkpoints.get<SnapshotState>(SnapshotReader.stateKey(wiki))
  }

  /** A snapshot's start (its SnapshotStarted and state), or the state of one that was cut, and the wiki's siteinfo. */
  private async begin(wiki: WikiSource): Promise<{ state: SnapshotState; resumed: boolean }> {
    const { events, topic, checkpoints } = this.options
    let state = await this.state(wiki.code)
    const resumed = state !== undefined
    if (!state) {
      state = { snapshotId: `${wiki.code}:${new Date(this.now()).toISOString()}:${randomUUID().slice(0, 8)}`, startedAt: this.now(), pages: 0, batches: 0 }
      await events.append(topic, [
        {
          type: 'SnapshotStarted',
          key: `snapshot:${wiki.code}`,
          value: { id: `${wiki.code}:snapshot-started:${state.snapshotId}`, source: 'snapshot', observedAt: this.now(), wiki: wiki.code, snapshotId: state.snapshotId },
        },
      ])
      await checkpoints.put(SnapshotReader.stateKey(wiki.code), state)
    } else {
      this.logger.info({ wiki: wiki.code, snapshotId: state.snapshotId, pages: state.pages }, 'resuming snapshot')
    }
    if (state.titleCase === undefined) {
      // How the wiki compares titles, and its main page, travel with the snapshot's markers into every partition:
      // facts in the log, so a replay decides the same. One request per snapshot.
      const info = await wiki.client.get({ action: 'query', meta: 'siteinfo', siprop: 'general|statistics' })
      const query = info.query as { general?: { case?: string; mainpage?: string }; statistics?: { articles?: number } } | undefined
      const general = query?.general
      const titleCase = general?.case
      const expected = query?.statistics?.articles
      state = {
        ...state,
        titleCase: titleCase === 'first-letter' || titleCase === 'case-sensitive' ? titleCase : null,
        mainPage: general?.mainpage ?? null,
        expected: typeof expected === 'number' && expected >= 0 ? expected : null,
      }
      await checkpoints.put(SnapshotReader.stateKey(wiki.code), state)
    }
    return { state, resumed }
  }

  /** The end of a snapshot: a marker in every partition, the wiki's schedule, its state gone. */
  private async complete(wiki: WikiSource, state: SnapshotState): Promise<void> {
    const { events, checkpoints, topic } = this.options
    // One marker per partition: each projector sweeps its own titles of this wiki.
    const completedAt = this.now()
    const done = state
    await events.appendToEveryPartition(topic, 'SnapshotCompleted', (partition) => ({
      id: `${wiki.code}:snapshot-completed:${done.snapshotId}:${partition}`,
      source: 'snapshot',
      observedAt: completedAt,
      wiki: wiki.code,
      snapshotId: done.snapshotId,
      partition,
      startedAt: done.startedAt,
      pages: done.pages,
      titleCase: done.titleCase ?? null,
      mainPage: done.mainPage ?? null,
    }))
    const schedule: SnapshotSchedule = { lastStartedAt: state.startedAt, lastCompletedAt: completedAt, lastDurationMs: completedAt - state.startedAt, pages: state.pages }
    await checkpoints.put(SnapshotReader.scheduleKey(wiki.code), schedule)
    await checkpoints.delete(SnapshotReader.stateKey(wiki.code))
    this.options.meter?.snapshotEnded(wiki.code)
    this.logger.info({ wiki: wiki.code, snapshotId: state.snapshotId, pages: state.pages, ms: schedule.lastDurationMs }, 'snapshot completed')
  }

  async run(wiki: WikiSource, run: SnapshotRunOptions = {}): Promise<SnapshotResult> {
    const { events, topic, checkpoints } = this.options
    const requestsBefore = wiki.client.requests
    const begun = await this.begin(wiki)
    const resumed = begun.resumed
    let state = begun.state

    const params = {
      action: 'query',
      generator: 'allpages',
      gapnamespace: 0,
      gaplimit: this.options.pageSize ?? 'max',
      prop: 'langlinks|info',
      lllimit: this.options.linkLimit ?? 'max',
    }
    let batch = new Map<number, ApiPage>()
    let batchesThisRun = 0
    const meter = this.options.meter
    // A daemon's progress goes to its log, never a bar.
    const progress = new Progress({ label: `snapshot ${wiki.code}`, unit: 'pages', total: state.expected ?? null, logger: this.logger, bar: false, everyMs: this.options.progressEveryMs ?? 30_000, fields: { wiki: wiki.code }, now: this.now }, state.pages)
    meter?.snapshotProgress(wiki.code, state.snapshotId, state.startedAt, state.pages, state.expected ?? null)
    for await (const res of wiki.client.continued(params, state.continue)) {
      if (run.signal?.aborted) break
      const slice = new TimeSlice()
      const pages = (res.query as { pages?: ApiPage[] } | undefined)?.pages ?? []
      // The answer's pages live on in `batch`; the answer itself outlives this batch's writes (the loop holds it),
      // so it lets go of them: thousands of objects kept through a disk write survive the young generation's
      // collections and are copied, then promoted, for nothing (the garbage collector's main cost here).
      delete res.query
      for (const page of pages) {
        if (slice.over()) await slice.handOver() // an answer holds up to 5,000 pages: queries share this thread
        if (page.pageid === undefined) continue
        const seen = batch.get(page.pageid)
        // The answer's own objects are kept (no copy per page): a continued page adds its links to the first.
        if (!seen) batch.set(page.pageid, page)
        else {
          seen.langlinks = [...(seen.langlinks ?? []), ...(page.langlinks ?? [])]
          seen.redirect ??= page.redirect
          seen.lastrevid ??= page.lastrevid
          seen.length ??= page.length
        }
      }
      if (!res.batchcomplete) continue
      let observed: EventToAppend[] = []
      for (const p of batch.values()) {
        if (p.ns === 0 && !p.missing) observed.push(this.observed(wiki.code, state!, p))
        if (slice.over()) await slice.handOver()
      }
      // Only the encoded events are needed from here on (the same reason as above).
      batch = new Map()
      const count = observed.length
      const appended = count > 0 ? events.append(topic, observed) : undefined
      observed = []
      await appended
      state = { ...state, continue: res.continue, pages: state.pages + count, batches: state.batches + 1 }
      if (meter) {
        meter.appended(count, null, wiki.code)
        meter.snapshotProgress(wiki.code, state.snapshotId, state.startedAt, state.pages, state.expected ?? null)
        await checkpoints.putAll([[SnapshotReader.stateKey(wiki.code), state], meter.entry()])
      } else await checkpoints.put(SnapshotReader.stateKey(wiki.code), state)
      progress.update(state.pages)
      batchesThisRun++
      if (res.continue && run.maxBatches !== undefined && batchesThisRun >= run.maxBatches) {
        return { snapshotId: state.snapshotId, completed: false, pages: state.pages, batches: state.batches, resumed, requests: wiki.client.requests - requestsBefore }
      }
    }
    if (run.signal?.aborted || state.continue) {
      return { snapshotId: state.snapshotId, completed: false, pages: state.pages, batches: state.batches, resumed, requests: wiki.client.requests - requestsBefore }
    }

    await this.complete(wiki, state)
    return { snapshotId: state.snapshotId, completed: true, pages: state.pages, batches: state.batches, resumed, requests: wiki.client.requests - requestsBefore }
  }

  /**
   * Tells every partition that a snapshot attempt of `wiki` failed: a projector that still waits for the wiki's
   * first snapshot before judging the titles it holds stops waiting (the attempt is made again later).
   */
  async failed(wiki: string, failures: number, err: unknown): Promise<void> {
    const { events, topic } = this.options
    const state = await this.state(wiki)
    const at = this.now()
    const reason = (err instanceof Error ? err.message : String(err)).slice(0, 500)
    const snapshotId = state?.snapshotId ?? null
    await events.appendToEveryPartition(topic, 'SnapshotFailed', (partition) => ({ id: `${wiki}:snapshot-failed:${snapshotId ?? 'none'}:${failures}:${at}:${partition}`, source: 'snapshot', observedAt: at, wiki, snapshotId, partition, failures, reason }))
  }

  private observed(wiki: string, state: SnapshotState, p: ApiPage): EventToAppend {
    const links: LanguageLink[] = (p.langlinks ?? []).map((l) => ({ code: l.lang, title: l.title }))
    return titleEvent('PageObserved', {
      id: `${wiki}:snapshot:${state.snapshotId}:${p.pageid}`,
      source: 'snapshot',
      observedAt: this.now(),
      wiki,
      title: p.title,
      pageId: p.pageid ?? null,
      exists: true,
      redirect: p.redirect === true,
      blank: surelyNotBlank(p.length, links) ? false : null,
      revision: p.lastrevid ?? null,
      links,
      writtenLinks: null,
      snapshotId: state.snapshotId,
    })
  }
}
