import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { doublingDelay } from '../../backoff.js'
import { MbwaError } from '../../errors/errors.js'
import { userAgent } from '../../mediawiki/client.js'

// Wikimedia's dumps site (https://dumps.wikimedia.org), or a local folder with its layout (a mirror, or the NFS
// share Toolforge mounts at /public/dumps/public): which runs a database has, which of them is complete for the
// tables mbwa reads, and the files of a run, downloaded in series with a User-Agent, resumed with Range after a
// cut, and checked against dumpstatus.json's sha1 (or md5) while they stream. A run folder's `latest/` links are
// never read: they are replaced one file at a time while a run goes on, so they mix two dates.

/** The jobs whose tables mbwa reads: a run is usable when all of them are `done`. */
export const TABLE_JOBS = { page: 'pagetable', langlinks: 'langlinkstable', redirect: 'redirecttable' } as const
export type DumpTable = keyof typeof TABLE_JOBS

export interface DumpFile {
  name: string
  /** Path on the site (`/<db>/<date>/<name>`). */
  url: string
  size: number | null
  sha1: string | null
  md5: string | null
}

export interface CompleteRun {
  db: string
  /** The run's date, YYYYMMDD. */
  date: string
  /** The run's date as a time (00:00 UTC): no table of the run is older. */
  startedAt: number
  files: Record<DumpTable, DumpFile>
  /** When each table's job last changed status (its end), ms; null when not given. */
  finishedAt: Record<DumpTable, number | null>
}

interface StatusJson {
  jobs?: Record<string, { status?: string; updated?: string; files?: Record<string, { size?: number; url?: string; sha1?: string; md5?: string }> }>
}

export interface DumpsSiteOptions {
  /** The site's base URL, or a local folder with the same layout. */
  base: string
  contact?: string
  /** Tries of one file after a failure (a cut connection resumes where it was). Default 5. */
  retries?: number
  retryBaseMs?: number
  timeoutMs?: number
}

export class DumpsSite {
  readonly local: string | undefined
  private readonly base: URL | undefined
  private readonly headers: Record<string, string>

  constructor(private readonly options: DumpsSiteOptions) {
    if (/^https?:\/\//i.test(options.base)) {
      this.base = new URL(options.base.endsWith('/') ? options.base : `${options.base}/`)
    } else this.local = resolve(options.base.replace(/^file:\/\//, ''))
    this.headers = { 'user-agent': userAgent(options.contact) }
  }

  /** Where the site is, for messages. */
  get where(): string {
    return this.local ?? this.base!.href
  }

  /** The dated runs of a database, newest first. */
  async runs(db: string): Promise<string[]> {
    let names: string[]
    if (this.local) {
      const dir = join(this.local, db)
      names = existsSync(dir) ? readdirSync(dir) : []
    } else {
      const res = await this.get(`${db}/`)
      if (res.statusCode === 404) {
        await res.body.dump()
        return []
      }
      if (res.statusCode !== 200) throw await this.httpError(res, `${db}/`)
      const html = await res.body.text()
      names = [...html.matchAll(/href="(\d{8})\/?"/g)].map((m) => m[1]!)
    }
    return [...new Set(names.filter((n) => /^\d{8}$/.test(n)))].sort().reverse()
  }

  /** A run's dumpstatus.json, or undefined when the run has none (yet). */
  async status(db: string, date: string): Promise<StatusJson | undefined> {
    const path = `${db}/${date}/dumpstatus.json`
    let text: string
    if (this.local) {
      const file = join(this.local, path)
      if (!existsSync(file)) return undefined
      text = readFileSync(file, 'utf8')
    } else {
      const res = await this.get(path)
      if (res.statusCode === 404) {
        await res.body.dump()
        return undefined
      }
      if (res.statusCode !== 200) throw await this.httpError(res, path)
      text = await res.body.text()
    }
    try {
      return JSON.parse(text) as StatusJson
    } catch {
      // A status file being rewritten reads as a run not yet usable.
      return undefined
    }
  }

  /**
   * The newest run whose page, langlinks and redirect jobs are done (a run in progress, failed, or without a
   * status gives way to the one before), optionally only runs after `after` (YYYYMMDD).
   */
  async latestComplete(db: string, after?: string): Promise<CompleteRun | undefined> {
    for (const date of await this.runs(db)) {
      if (after !== undefined && date <= after) return undefined
      const st = await this.status(db, date)
      const run = st && completeRun(db, date, st)
      if (run) return run
    }
    return undefined
  }

  /**
   * A run's file as a local path, whole and checked: a local site's own file (read once to check it), or a
   * download into `cacheDir` (kept there, so a second import or a restart does not fetch it again).
   */
  async fetch(file: DumpFile, cacheDir: string, onBytes?: (bytes: number, total: number | null) => void): Promise<string> {
    if (this.local) {
      const path = join(this.local, file.url.replace(/^\/+/, ''))
      if (!existsSync(path)) throw new MbwaError('MBWA_WIKIMEDIA_DUMP_INVALID', `${path} is listed in dumpstatus.json but not there`, { file: file.name })
      await check(path, file, onBytes)
      return path
    }
    mkdirSync(cacheDir, { recursive: true })
    const final = join(cacheDir, file.name)
    if (existsSync(final)) {
      try {
        await check(final, file)
        onBytes?.(statSync(final).size, file.size)
        return final
      } catch {
        rmSync(final, { force: true })
      }
    }
    const part = `${final}.part`
    let failures = 0
    for (;;) {
      try {
        await this.download(file, part, onBytes)
        break
      } catch (err) {
        if (err instanceof MbwaError && !err.retriable) {
          rmSync(part, { force: true })
          throw err
        }
        failures++
        if (failures > (this.options.retries ?? 5)) {
          throw new MbwaError('MBWA_WIKIMEDIA_DUMPS_UNREACHABLE', `could not download ${file.url} from ${this.where} (${failures} tries): ${(err as Error).message}`, { file: file.name }, { cause: err })
        }
        await sleep(doublingDelay(failures, this.options.retryBaseMs ?? 2000, 120_000))
      }
    }
    try {
      await check(part, file)
    } catch (err) {
      rmSync(part, { force: true })
      throw err
    }
    renameSync(part, final)
    return final
  }

  /** Appends the rest of the file to `part`, from where it ends (Range), hashing nothing: check() reads it whole. */
  private async download(file: DumpFile, part: string, onBytes?: (bytes: number, total: number | null) => void): Promise<void> {
    const have = existsSync(part) ? statSync(part).size : 0
    if (file.size !== null && have === file.size) return
    if (file.size !== null && have > file.size) rmSync(part)
    const from = file.size !== null && have > file.size ? 0 : have
    const res = await this.get(file.url.replace(/^\/+/, ''), from > 0 ? { range: `bytes=${from}-` } : {})
    if (res.statusCode === 416 && file.size === null) {
      await res.body.dump()
      return
    }
    if (res.statusCode === 404) {
      await res.body.dump()
      throw new MbwaError('MBWA_WIKIMEDIA_DUMP_INVALID', `${file.url} is listed in dumpstatus.json but the site has no such file`, { file: file.name })
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) throw await this.httpError(res, file.url)
    // A server that ignores Range sends the whole file again: start the part anew.
    const append = res.statusCode === 206 && from > 0
    const out = createWriteStream(part, { flags: append ? 'a' : 'w' })
    let bytes = append ? from : 0
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        bytes += chunk.length
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', r))
        onBytes?.(bytes, file.size)
      }
    } finally {
      await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())))
    }
    if (file.size !== null && bytes < file.size) throw new Error(`the connection ended after ${bytes} of ${file.size} bytes`)
  }

  private get(path: string, headers: Record<string, string> = {}): ReturnType<typeof request> {
    const url = new URL(path, this.base)
    const timeout = this.options.timeoutMs ?? 60_000
    return request(url, { headers: { ...this.headers, ...headers }, headersTimeout: timeout, bodyTimeout: timeout }).catch((err: unknown) => {
      throw new MbwaError('MBWA_WIKIMEDIA_DUMPS_UNREACHABLE', `the dumps site ${this.where} could not be reached: ${(err as Error).message}`, { url: url.href }, { cause: err })
    })
  }

  private async httpError(res: Awaited<ReturnType<typeof request>>, path: string): Promise<MbwaError> {
    await res.body.dump()
    return new MbwaError('MBWA_WIKIMEDIA_DUMPS_UNREACHABLE', `the dumps site answered HTTP ${res.statusCode} for ${path}`, { status: res.statusCode, path })
  }
}

/** The run described by a dumpstatus.json when its table jobs are all done and list their files. */
export function completeRun(db: string, date: string, st: StatusJson): CompleteRun | undefined {
  const files = {} as Record<DumpTable, DumpFile>
  const finishedAt = {} as Record<DumpTable, number | null>
  for (const [table, job] of Object.entries(TABLE_JOBS) as [DumpTable, string][]) {
    const j = st.jobs?.[job]
    if (j?.status !== 'done') return undefined
    const suffix = `-${table}.sql.gz`
    const entry = Object.entries(j.files ?? {}).find(([name]) => name.endsWith(suffix))
    if (!entry) return undefined
    const [name, f] = entry
    files[table] = { name, url: f.url ?? `/${db}/${date}/${name}`, size: typeof f.size === 'number' ? f.size : null, sha1: f.sha1 ?? null, md5: f.md5 ?? null }
    const updated = j.updated ? Date.parse(`${j.updated.replace(' ', 'T')}Z`) : NaN
    finishedAt[table] = Number.isFinite(updated) ? updated : null
  }
  const startedAt = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T00:00:00Z`)
  if (!Number.isFinite(startedAt)) return undefined
  return { db, date, startedAt, files, finishedAt }
}

/** Reads `path` whole and compares it with the size and checksum dumpstatus.json gives. */
async function check(path: string, file: DumpFile, onBytes?: (bytes: number, total: number | null) => void): Promise<void> {
  const size = statSync(path).size
  if (file.size !== null && size !== file.size) {
    throw new MbwaError('MBWA_WIKIMEDIA_DUMP_INVALID', `${file.name} is ${size} bytes; dumpstatus.json says ${file.size} (cut or altered)`, { file: file.name })
  }
  const algorithm = file.sha1 ? 'sha1' : file.md5 ? 'md5' : null
  if (!algorithm) return
  const hash = createHash(algorithm)
  let bytes = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk)
    bytes += chunk.length
    onBytes?.(bytes, size)
  }
  const got = hash.digest('hex')
  const want = (algorithm === 'sha1' ? file.sha1 : file.md5)!.toLowerCase()
  if (got !== want) throw new MbwaError('MBWA_WIKIMEDIA_DUMP_INVALID', `${file.name} does not match its ${algorithm} in dumpstatus.json (${got} ≠ ${want}): altered or cut`, { file: file.name })
}
