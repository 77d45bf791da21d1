import { mkdirSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import type { EditRequested } from '../events/types.js'
import type { KnownWiki } from '../domain/wiki-rules.js'

// The sink's own store (dataDir/sink): commands taken from the edits topic wait here per wiki, by priority, until
// they have an outcome; the topic offsets are written in the same batch as the commands they brought, and the ids
// of commands with a recorded outcome are kept, so a replay of the topic never runs a command twice.
//
//   q wiki priority commandId → QueuedCommand     waiting (retries sort after every first try, by due time)
//   d commandId               → outcome           done
//   o partition               → next offset       of the edits topic
//   c wiki title              → time              last edit of the page (cool-down)
//   l wiki                    → time              last edit on the wiki (the throttle's memory across restarts)
//   b wiki                    → PauseInfo         wiki paused (read-only, blocked, rights lost)
//   w                         → DiscoveredList    the wiki list the edits topic last announced (WikisDiscovered)
//   r wiki                    → ReportPageState   the wiki's report page: when it is due, how its last run ended
//
// How many commands wait per wiki is counted once at open and kept up to date, so choosing the next command never
// scans the queue.

const S = '\x00'
const pri = (n: number) => n.toString(16).padStart(8, '0')
/** Priorities of retries: above every first try (those stay below 2^31), ordered by when they are due. */
const RETRY_BAND = 2 ** 31
const EPOCH_2001_S = Date.UTC(2001, 0, 1) / 1000

export interface QueuedCommand extends EditRequested {
  /** Failed tries so far. */
  attempts?: number
  /** Not to be run before this time (ms), after a failure or while the page cools down. */
  notBefore?: number
}

export interface Waiting {
  key: string
  command: QueuedCommand
}

export interface DiscoveredList {
  observedAt: number
  wikis: KnownWiki[]
}

export interface PauseInfo {
  reason: string
  since: number
  /** When the sink checks again whether the wiki can be written. */
  checkAt: number
  /** The wait before the check after that one (doubles each time the wiki is still not writable). */
  backoffMs: number
}

/** A wiki's report page, as the sink last left it. */
export interface ReportPageState {
  /** When the last run that wrote (or found nothing to change) ended (ms). */
  lastRunAt?: number
  /** When the page is looked at next (ms). */
  nextAt: number
  /** How the last attempt ended: written, unchanged, shut-off, edit-conflict, kept-edit, refused, failed:CODE, waiting … */
  outcome: string
  message?: string
  /** Failed tries in a row (backoff). */
  failures?: number
}

export class EditQueue {
  private readonly counts = new Map<string, number>()
  private readonly paused = new Map<string, PauseInfo>()
  /** Dry run: the commands whose diff was shown (key v), so a restart does not show them again. */
  private readonly shownIds = new Set<string>()

  private constructor(readonly db: ClassicLevel<string, string>) {}

  static async open(path: string): Promise<EditQueue> {
    mkdirSync(path, { recursive: true })
    const db = new ClassicLevel<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await db.open()
    const queue = new EditQueue(db)
    for await (const k of db.keys({ gte: `q${S}`, lt: `q\x01` })) {
      const wiki = k.slice(2, k.indexOf(S, 2))
      queue.counts.set(wiki, (queue.counts.get(wiki) ?? 0) + 1)
    }
    for await (const [k, v] of db.iterator({ gte: `b${S}`, lt: `b\x01` })) queue.paused.set(k.slice(2), parsePause(v))
    for await (const k of db.keys({ gte: `v${S}`, lt: `v\x01` })) queue.shownIds.add(k.slice(2))
    return queue
  }

  /** Dry run: the command's diff was shown (a command's id changes with the page's revision: a new one is shown). */
  async noteShown(commandId: string): Promise<void> {
    this.shownIds.add(commandId)
    await this.db.put(`v${S}${commandId}`, String(Date.now()))
  }

  wasShown(commandId: string): boolean {
    return this.shownIds.has(commandId)
  }

  close(): Promise<void> {
    return this.db.close()
  }

  async offset(partition: number): Promise<number> {
    const v = await this.db.get(`o${S}${partition}`)
    return v === undefined ? 0 : Number(v)
  }

  /** Queues the commands not yet done, and moves the partition's offset, in one batch. */
  /** The discovered wiki list, as the edits topic last announced it (none before any announcement). */
  async discovered(): Promise<DiscoveredList | undefined> {
    const v = await this.db.get(`w${S}`)
    return v === undefined ? undefined : (JSON.parse(v) as DiscoveredList)
  }

  /**
   * Stores a batch's commands with the partition's next offset; and, when the batch announced one, the discovered
   * wiki list in the same write (the sink's rules and its position in the topic agree after a crash).
   */
  async enqueue(commands: EditRequested[], partition: number, nextOffset: number, discovered?: DiscoveredList): Promise<number> {
    const keys = commands.map((c) => waitingKey(c.wiki, c.priority, c.commandId))
    const [done, present] = await Promise.all([this.db.getMany(commands.map((c) => `d${S}${c.commandId}`)), this.db.getMany(keys)])
    const batch = this.db.batch()
    const added = new Map<string, number>()
    const fresh = new Set<string>()
    commands.forEach((c, i) => {
      if (done[i] !== undefined || present[i] !== undefined || fresh.has(keys[i]!)) return
      fresh.add(keys[i]!)
      batch.put(keys[i]!, JSON.stringify(c))
      added.set(c.wiki, (added.get(c.wiki) ?? 0) + 1)
    })
    batch.put(`o${S}${partition}`, String(nextOffset))
    if (discovered) batch.put(`w${S}`, JSON.stringify(discovered))
    await batch.write({ sync: true })
    for (const [wiki, n] of added) this.counts.set(wiki, (this.counts.get(wiki) ?? 0) + n)
    return fresh.size
  }

  /** Wikis with waiting commands, and how many each (paused wikis included). */
  backlog(): Map<string, number> {
    return new Map([...this.counts].filter(([, n]) => n > 0))
  }

  /** A wiki's first `limit` waiting commands, first to run first. */
  async take(wiki: string, limit: number): Promise<Waiting[]> {
    const entries = await this.db.iterator({ gte: `q${S}${wiki}${S}`, lt: `q${S}${wiki}\x01`, limit }).all()
    return entries.map(([key, value]) => ({ key, command: JSON.parse(value) as QueuedCommand }))
  }

  /** The first waiting command of a wiki (lowest priority number first). */
  async next(wiki: string): Promise<Waiting | undefined> {
    return (await this.take(wiki, 1))[0]
  }

  /** A wiki's waiting commands, first to run first. */
  async *waiting(wiki: string): AsyncGenerator<Waiting> {
    for await (const [key, value] of this.db.iterator({ gte: `q${S}${wiki}${S}`, lt: `q${S}${wiki}\x01` })) {
      yield { key, command: JSON.parse(value) as QueuedCommand }
    }
  }

  async isDone(commandId: string): Promise<boolean> {
    return (await this.db.get(`d${S}${commandId}`)) !== undefined
  }

  /** Records the outcome (after its event was appended) and takes the command off the queue. */
  async finish(key: string, commandId: string, outcome: string, edited?: { wiki: string; title: string; at: number }): Promise<void> {
    const batch = this.db.batch().del(key).put(`d${S}${commandId}`, outcome)
    if (edited) batch.put(`c${S}${edited.wiki}${S}${edited.title}`, String(edited.at)).put(`l${S}${edited.wiki}`, String(edited.at))
    await batch.write({ sync: true })
    const wiki = key.slice(2, key.indexOf(S, 2))
    this.counts.set(wiki, Math.max(0, (this.counts.get(wiki) ?? 0) - 1))
  }

  /**
   * Puts a command at the end of its wiki's line, not to run before `notBefore`; `failed` counts it as a failed
   * try (a page cooling down is not one).
   */
  async later(key: string, command: QueuedCommand, notBefore: number, failed: boolean): Promise<QueuedCommand> {
    const c: QueuedCommand = { ...command, notBefore, attempts: (command.attempts ?? 0) + (failed ? 1 : 0) }
    const priority = RETRY_BAND + Math.max(0, Math.min(RETRY_BAND - 1, Math.ceil(notBefore / 1000 - EPOCH_2001_S)))
    await this.db.batch().del(key).put(waitingKey(c.wiki, priority, c.commandId), JSON.stringify(c)).write({ sync: true })
    return c
  }

  async lastEdit(wiki: string, title: string): Promise<number | undefined> {
    const v = await this.db.get(`c${S}${wiki}${S}${title}`)
    return v === undefined ? undefined : Number(v)
  }

  /** When each wiki was last edited (so a restart keeps the pace). */
  async lastEdits(): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    for await (const [k, v] of this.db.iterator({ gte: `l${S}`, lt: `l\x01` })) out.set(k.slice(2), Number(v))
    return out
  }

  /** Notes an edit on a wiki whatever its outcome record says (an edit whose answer came back as nochange). */
  async noteEdit(wiki: string, at: number, title?: string): Promise<void> {
    const batch = this.db.batch().put(`l${S}${wiki}`, String(at))
    if (title !== undefined) batch.put(`c${S}${wiki}${S}${title}`, String(at))
    await batch.write({ sync: true })
  }

  /** Puts a page's cool-down back as it was (an edit the wiki refused wrote nothing). */
  async restoreCooldown(wiki: string, title: string, at: number | undefined): Promise<void> {
    if (at === undefined) await this.db.del(`c${S}${wiki}${S}${title}`, { sync: true })
    else await this.db.put(`c${S}${wiki}${S}${title}`, String(at), { sync: true })
  }

  /** Pauses writing to a wiki (its commands stay queued) until a check finds it writable again. */
  async pause(wiki: string, info: PauseInfo): Promise<void> {
    await this.db.put(`b${S}${wiki}`, JSON.stringify(info), { sync: true })
    this.paused.set(wiki, info)
  }

  async resume(wiki: string): Promise<boolean> {
    const was = this.paused.delete(wiki)
    await this.db.del(`b${S}${wiki}`, { sync: true })
    return was
  }

  pausedWikis(): Map<string, PauseInfo> {
    return new Map(this.paused)
  }

  async reportState(wiki: string): Promise<ReportPageState | undefined> {
    const v = await this.db.get(`r${S}${wiki}`)
    return v === undefined ? undefined : (JSON.parse(v) as ReportPageState)
  }

  async setReportState(wiki: string, state: ReportPageState): Promise<void> {
    await this.db.put(`r${S}${wiki}`, JSON.stringify(state), { sync: true })
  }
}

function waitingKey(wiki: string, priority: number, commandId: string): string {
  return `q${S}${wiki}${S}${pri(priority)}${S}${commandId}`
}

function parsePause(v: string): PauseInfo {
  try {
    return JSON.parse(v) as PauseInfo
  } catch {
    // Stores of earlier versions kept the reason only.
    return { reason: v, since: 0, checkAt: 0, backoffMs: 60_000 }
  }
}
