import { createHash } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { promisify } from 'node:util'
import { gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib'
import { MbwaError } from '../errors/errors.js'
import type { PageState } from '../domain/page-state.js'

// mbwa's dump format: one wiki's pages, a record per title, compressed, checkable and searchable.
//
// The file is a sequence of gzip members (so `zcat FILE` shows it all as JSON lines):
//   1. header:  {"format":"mbwa-dump","version":1,"wiki":…,"createdAt":…,"source":…}
//   2. blocks:  up to BLOCK records each, one JSON line per title {"t":title,"p":PageState}, titles sorted
//   3. index:   {"index":[[firstTitle, offset, length, count], …]} — where each block's member starts
//   4. trailer: {"trailer":true,"count":N,"sha256":…,"indexOffset":…,"indexLength":…} padded to a fixed size
//      and stored uncompressed (level 0), so it is always the last TRAILER_BYTES of the file.
// The sha256 is over the records' lines as written (uncompressed). A truncated file has no trailer; an altered
// byte breaks a gzip CRC or the checksum. The file is written under a temporary name and renamed when complete.

export const BLOCK = 1000
const TRAILER_JSON = 512
const TRAILER_BYTES = gzipSync(Buffer.alloc(TRAILER_JSON, 0x20), { level: 0 }).length

export interface DumpRecord {
  title: string
  page: PageState
}

export interface DumpHeader {
  format: 'mbwa-dump'
  version: 1
  wiki: string
  createdAt: string
  source: string
}

interface Trailer {
  trailer: true
  count: number
  sha256: string
  indexOffset: number
  indexLength: number
}

type IndexEntry = [string, number, number, number]

export interface WrittenDump {
  path: string
  bytes: number
  count: number
  sha256: string
}

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)

function member(text: string, level = 6): Buffer {
  return gzipSync(Buffer.from(text, 'utf8'), { level })
}

/**
 * The order of titles in a dump: by code point (the order of their UTF-8 bytes, which is the order LevelDB keeps
 * keys in, so the projection's parts arrive sorted). JavaScript's `<` compares UTF-16 units and differs for
 * characters from U+E000 on against those beyond U+FFFF.
 */
export function compareTitles(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    // Surrogates (astral characters) sort after every BMP unit from U+E000 on: shift them past it.
    if (x >= 0xd800) x += x <= 0xdfff ? 0x2000 : -0x800
    if (y >= 0xd800) y += y <= 0xdfff ? 0x2000 : -0x800
    return x - y
  }
  return a.length - b.length
}

/**
 * The parts of a wiki's pages (each sorted by title, as the projection's partitions are) merged into one sorted
 * stream, holding one record per part: memory is bounded by the number of parts, not the number of titles.
 */
export async function* mergeParts(parts: AsyncIterable<DumpRecord>[]): AsyncGenerator<DumpRecord> {
  const iterators = parts.map((p) => p[Symbol.asyncIterator]())
  const heads = await Promise.all(iterators.map((it) => it.next()))
  for (;;) {
    let min = -1
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]!
      if (h.done) continue
      if (min < 0 || compareTitles(h.value.title, (heads[min]!.value as DumpRecord).title) < 0) min = i
    }
    if (min < 0) return
    yield heads[min]!.value as DumpRecord
    heads[min] = await iterators[min]!.next()
  }
}

/**
 * Writes a dump as records arrive, in title order (an out-of-order record is an error, never a silently
 * unsorted dump): each block is compressed off the main thread and written asynchronously, so a worker's
 * heartbeats keep their time however large the wiki. Memory holds one block. Written under a temporary name;
 * `commit()` renames it into place, `abort()` removes it.
 */
export class DumpWriter {
  private offset = 0
  private count = 0
  private block: DumpRecord[] = []
  private readonly sha = createHash('sha256')
  private readonly index: IndexEntry[] = []
  private last: string | undefined

  private constructor(
    readonly path: string,
    readonly tmp: string,
    private readonly fh: FileHandle,
  ) {}

  /** `tag` names the temporary file (`PATH.tmp-TAG`): a dump job's id, so a leftover can be told from a live one. */
  static async open(path: string, header: Omit<DumpHeader, 'format' | 'version'>, tag = String(process.pid)): Promise<DumpWriter> {
    mkdirSync(dirname(path), { recursive: true })
    const tmp = `${path}.tmp-${tag}`
    const w = new DumpWriter(path, tmp, await open(tmp, 'w'))
    await w.write(await gzipAsync(Buffer.from(JSON.stringify({ format: 'mbwa-dump', version: 1, ...header }) + '\n', 'utf8')))
    return w
  }

  get written(): number {
    return this.count
  }

  private async write(buf: Buffer): Promise<void> {
    await this.fh.write(buf)
    this.offset += buf.length
  }

  async add(record: DumpRecord): Promise<void> {
    if (this.last !== undefined && compareTitles(record.title, this.last) <= 0) {
      throw new MbwaError('MBWA_DUMP_INVALID', `${this.path}: records out of order (${JSON.stringify(record.title)} after ${JSON.stringify(this.last)})`)
    }
    this.last = record.title
    this.block.push(record)
    this.count++
    if (this.block.length >= BLOCK) await this.flush()
  }

  private async flush(): Promise<void> {
    if (this.block.length === 0) return
    const block = this.block
    this.block = []
    const text = block.map((r) => JSON.stringify({ t: r.title, p: r.page }) + '\n').join('')
    this.sha.update(text)
    const buf = await gzipAsync(Buffer.from(text, 'utf8'), { level: 6 })
    this.index.push([block[0]!.title, this.offset, buf.length, block.length])
    await this.write(buf)
  }

  /** Writes the last block, the index and the trailer, and makes the temporary file durable. */
  async finish(): Promise<Omit<WrittenDump, 'path'>> {
    await this.flush()
    const digest = this.sha.digest('hex')
    const indexBuf = await gzipAsync(Buffer.from(JSON.stringify({ index: this.index }) + '\n', 'utf8'))
    const indexOffset = this.offset
    await this.write(indexBuf)
    const trailer: Trailer = { trailer: true, count: this.count, sha256: digest, indexOffset, indexLength: indexBuf.length }
    await this.write(member(JSON.stringify(trailer).padEnd(TRAILER_JSON - 1, ' ') + '\n', 0))
    await this.fh.sync()
    await this.fh.close()
    return { bytes: this.offset, count: this.count, sha256: digest }
  }

  async commit(): Promise<void> {
    await rename(this.tmp, this.path)
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined)
    await rm(this.tmp, { force: true })
  }
}

/** Writes a dump of `records` (sorted here by title) to `path`, through a temporary file renamed at the end. */
export function writeDump(path: string, header: Omit<DumpHeader, 'format' | 'version'>, records: Iterable<DumpRecord>): WrittenDump {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  const sorted = [...records].sort((a, b) => compareTitles(a.title, b.title))
  const fd = openSync(tmp, 'w')
  try {
    let offset = 0
    const write = (buf: Buffer): void => {
      writeSync(fd, buf)
      offset += buf.length
    }
    write(member(JSON.stringify({ format: 'mbwa-dump', version: 1, ...header }) + '\n'))
    const sha = createHash('sha256')
    const index: IndexEntry[] = []
    for (let i = 0; i < sorted.length; i += BLOCK) {
      const block = sorted.slice(i, i + BLOCK)
      const text = block.map((r) => JSON.stringify({ t: r.title, p: r.page }) + '\n').join('')
      sha.update(text)
      const buf = member(text)
      index.push([block[0]!.title, offset, buf.length, block.length])
      write(buf)
    }
    const digest = sha.digest('hex')
    const indexBuf = member(JSON.stringify({ index }) + '\n')
    const indexOffset = offset
    write(indexBuf)
    const trailer: Trailer = { trailer: true, count: sorted.length, sha256: digest, indexOffset, indexLength: indexBuf.length }
    write(member(JSON.stringify(trailer).padEnd(TRAILER_JSON - 1, ' ') + '\n', 0))
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, path)
    return { path, bytes: offset, count: sorted.length, sha256: digest }
  } catch (err) {
    try {
      closeSync(fd)
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true }) // a half-written dump never appears, under any name
    throw err
  }
}

function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r')
  try {
    const buf = Buffer.alloc(length)
    readSync(fd, buf, 0, length, offset)
    return buf
  } finally {
    closeSync(fd)
  }
}

function corrupt(path: string, why: string): MbwaError {
  return new MbwaError('MBWA_DUMP_INVALID', `${path}: ${why}`, { path })
}

function trailerOf(path: string): Trailer {
  const size = statSync(path).size
  if (size < TRAILER_BYTES) throw corrupt(path, 'too short to be a dump (truncated?)')
  let t: Trailer
  try {
    t = JSON.parse(gunzipSync(readAt(path, size - TRAILER_BYTES, TRAILER_BYTES)).toString('utf8')) as Trailer
  } catch {
    throw corrupt(path, 'no trailer at the end (truncated or not a dump)')
  }
  if (t.trailer !== true || t.indexOffset + t.indexLength + TRAILER_BYTES !== size) throw corrupt(path, 'the trailer does not match the file size')
  return t
}

function indexOf(path: string, t: Trailer): IndexEntry[] {
  try {
    return (JSON.parse(gunzipSync(readAt(path, t.indexOffset, t.indexLength)).toString('utf8')) as { index: IndexEntry[] }).index
  } catch {
    throw corrupt(path, 'the index does not read')
  }
}

export interface VerifiedDump {
  header: DumpHeader
  count: number
  sha256: string
  blocks: number
}

/** Reads the whole file and checks it: every member, the count, the checksum, the index. */
export function verifyDump(path: string): VerifiedDump {
  const t = trailerOf(path)
  const index = indexOf(path, t)
  const check = new BlockChecker(path, index)
  check.header(() => gunzipSync(readAt(path, 0, index[0]?.[1] ?? t.indexOffset)))
  for (const [, offset, length] of index) check.block(offset, () => gunzipSync(readAt(path, offset, length)))
  return check.end(t)
}

/** The same checks as verifyDump, one block at a time, decompressing off the main thread (a worker's heartbeats keep time). */
export async function verifyDumpAsync(path: string): Promise<VerifiedDump> {
  const t = trailerOf(path)
  const index = indexOf(path, t)
  const check = new BlockChecker(path, index)
  const fh = await open(path, 'r')
  try {
    const at = async (offset: number, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length)
      await fh.read(buf, 0, length, offset)
      return buf
    }
    const header = await gunzipAsync(await at(0, index[0]?.[1] ?? t.indexOffset)).catch(() => undefined)
    check.header(() => header ?? Buffer.alloc(0))
    for (const [, offset, length] of index) {
      const text = await gunzipAsync(await at(offset, length)).catch(() => undefined)
      check.block(offset, () => {
        if (!text) throw new Error('does not decompress')
        return text
      })
    }
  } finally {
    await fh.close()
  }
  return check.end(t)
}

/** What verifying a dump checks, fed block by block: order, counts, checksum. */
class BlockChecker {
  private readonly sha = createHash('sha256')
  private count = 0
  private previous: string | undefined
  private i = 0
  private head: DumpHeader | undefined

  constructor(
    private readonly path: string,
    private readonly index: IndexEntry[],
  ) {}

  header(read: () => Buffer): void {
    try {
      this.head = JSON.parse(read().toString('utf8')) as DumpHeader
    } catch {
      throw corrupt(this.path, 'the header does not read')
    }
    if (this.head.format !== 'mbwa-dump') throw corrupt(this.path, 'not an mbwa dump')
  }

  block(offset: number, read: () => Buffer): void {
    const [first, , , n] = this.index[this.i++]!
    let text: string
    try {
      text = read().toString('utf8')
    } catch {
      throw corrupt(this.path, `the block at ${offset} does not decompress (altered?)`)
    }
    this.sha.update(text)
    const lines = text.split('\n').filter(Boolean)
    if (lines.length !== n) throw corrupt(this.path, `the block at ${offset} has ${lines.length} records, the index says ${n}`)
    const firstTitle = (JSON.parse(lines[0]!) as { t: string }).t
    if (firstTitle !== first || (this.previous !== undefined && compareTitles(firstTitle, this.previous) <= 0)) throw corrupt(this.path, `the block at ${offset} is out of order`)
    this.previous = (JSON.parse(lines[lines.length - 1]!) as { t: string }).t
    this.count += n
  }

  end(t: Trailer): VerifiedDump {
    const digest = this.sha.digest('hex')
    if (this.count !== t.count) throw corrupt(this.path, `${this.count} records, the trailer says ${t.count}`)
    if (digest !== t.sha256) throw corrupt(this.path, 'checksum mismatch (altered)')
    return { header: this.head!, count: this.count, sha256: digest, blocks: this.index.length }
  }
}

/** Finds one title by the index: reads the trailer, the index, and one block. */
export function lookupDump(path: string, title: string): PageState | undefined {
  const t = trailerOf(path)
  const index = indexOf(path, t)
  let lo = 0
  let hi = index.length - 1
  let at = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (compareTitles(index[mid]![0], title) <= 0) {
      at = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  if (at < 0) return undefined
  const [, offset, length] = index[at]!
  for (const line of gunzipSync(readAt(path, offset, length)).toString('utf8').split('\n')) {
    if (!line) continue
    const r = JSON.parse(line) as { t: string; p: PageState }
    if (r.t === title) return r.p
  }
  return undefined
}

/** Every record of a verified dump, in title order. */
export function* readDump(path: string): Generator<DumpRecord> {
  const t = trailerOf(path)
  for (const [, offset, length] of indexOf(path, t)) {
    for (const line of gunzipSync(readAt(path, offset, length)).toString('utf8').split('\n')) {
      if (!line) continue
      const r = JSON.parse(line) as { t: string; p: PageState }
      yield { title: r.t, page: r.p }
    }
  }
}

export function dumpHeader(path: string): DumpHeader {
  const t = trailerOf(path)
  const index = indexOf(path, t)
  const end = index[0]?.[1] ?? t.indexOffset
  return JSON.parse(gunzipSync(readAt(path, 0, end)).toString('utf8')) as DumpHeader
}
