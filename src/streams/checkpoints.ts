import { mkdirSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import { prefixEnd } from '../key-range.js'

// Where sources keep their positions (rccontinue, Last-Event-ID, snapshot continuation, schedules): a small
// LevelDB next to the log. A source writes its position only after the events it covers were appended (append
// resolves once they are durable), so a crash repeats events at worst; every event carries a deterministic id
// and facts are idempotent, so a repeat is harmless.
export class CheckpointStore {
  private constructor(private readonly db: ClassicLevel<string, string>) {}

  static async open(path: string): Promise<CheckpointStore> {
    mkdirSync(path, { recursive: true })
    const db = new ClassicLevel<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await db.open()
    return new CheckpointStore(db)
  }

  async get<T>(key: string): Promise<T | undefined> {
    const v = await this.db.get(key)
    return v === undefined ? undefined : (JSON.parse(v) as T)
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.db.put(key, JSON.stringify(value), { sync: true })
  }

  /** Several keys in one durable write (a source's position and the counts that go with it). */
  async putAll(entries: [string, unknown][]): Promise<void> {
    await this.db.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value: JSON.stringify(value) })), { sync: true })
  }

  async delete(key: string): Promise<void> {
    await this.db.del(key, { sync: true })
  }

  async entries<T>(prefix: string): Promise<[string, T][]> {
    const out: [string, T][] = []
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) })) out.push([k, JSON.parse(v) as T])
    return out
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}
