import { mkdirSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import type { EditRequested } from '../events/types.js'

// The sink's own store (dataDir/sink): commands taken from the edits topic wait here per wiki, by priority, until
// they have an outcome; the topic offsets are written in the same batch as the commands they brought, and the ids
// of commands with a recorded outcome are kept, so a replay of the topic never runs a command twice.
//
//   q wiki priority commandId → EditRequested     waiting
//   d commandId               → outcome           done
//   o partition               → next offset       of the edits topic
//   c wiki title              → time              last edit of the page (cool-down)
//   l wiki                    → time              last edit on the wiki (the throttle's memory across restarts)
//   b wiki                    → reason            wiki stopped (blocked, read-only)

const S = '\x00'
const pri = (n: number) => n.toString(16).padStart(8, '0')

export class EditQueue {
  private constructor(readonly db: ClassicLevel<string, string>) {}

  static async open(path: string): Promise<EditQueue> {
    mkdirSync(path, { recursive: true })
    const db = new ClassicLevel<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await db.open()
    return new EditQueue(db)
  }

  close(): Promise<void> {
    return this.db.close()
  }

  async offset(partition: number): Promise<number> {
    const v = await this.db.get(`o${S}${partition}`)
    return v === undefined ? 0 : Number(v)
  }

  /** Queues the commands not yet done, and moves the partition's offset, in one batch. */
  async enqueue(commands: EditRequested[], partition: number, nextOffset: number): Promise<number> {
    const done = await this.db.getMany(commands.map((c) => `d${S}${c.commandId}`))
    const batch = this.db.batch()
    let queued = 0
    commands.forEach((c, i) => {
      if (done[i] !== undefined) return
      batch.put(`q${S}${c.wiki}${S}${pri(c.priority)}${S}${c.commandId}`, JSON.stringify(c))
      queued++
    })
    batch.put(`o${S}${partition}`, String(nextOffset))
    await batch.write({ sync: true })
    return queued
  }

  /** Wikis with waiting commands, and how many each. */
  async backlog(): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    for await (const k of this.db.keys({ gte: `q${S}`, lt: `q\x01` })) {
      const wiki = k.slice(2, k.indexOf(S, 2))
      out.set(wiki, (out.get(wiki) ?? 0) + 1)
    }
    return out
  }

  /** The first waiting command of a wiki (lowest priority number first). */
  async next(wiki: string): Promise<{ key: string; command: EditRequested } | undefined> {
    const prefix = `q${S}${wiki}${S}`
    const [entry] = await this.db.iterator({ gte: prefix, lt: `q${S}${wiki}\x01`, limit: 1 }).all()
    return entry && { key: entry[0], command: JSON.parse(entry[1]) as EditRequested }
  }

  /** A wiki's waiting commands, first to run first. */
  async *waiting(wiki: string): AsyncGenerator<{ key: string; command: EditRequested }> {
    for await (const [key, value] of this.db.iterator({ gte: `q${S}${wiki}${S}`, lt: `q${S}${wiki}\x01` })) {
      yield { key, command: JSON.parse(value) as EditRequested }
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
  }

  /** Puts a command back at the end of its wiki's line (after a retriable failure). */
  async requeue(key: string, command: EditRequested): Promise<void> {
    const c = { ...command, priority: command.priority + 1 }
    await this.db.batch().del(key).put(`q${S}${c.wiki}${S}${pri(c.priority)}${S}${c.commandId}`, JSON.stringify(c)).write({ sync: true })
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
  async noteEdit(wiki: string, at: number): Promise<void> {
    await this.db.put(`l${S}${wiki}`, String(at), { sync: true })
  }

  async stopWiki(wiki: string, reason: string): Promise<void> {
    await this.db.put(`b${S}${wiki}`, reason, { sync: true })
  }

  async stoppedWikis(): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for await (const [k, v] of this.db.iterator({ gte: `b${S}`, lt: `b\x01` })) out.set(k.slice(2), v)
    return out
  }
}
