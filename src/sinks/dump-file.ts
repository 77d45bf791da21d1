import { createHash } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
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

function member(text: string, level = 6): Buffer {
  return gzipSync(Buffer.from(text, 'utf8'), { level })
}

/** Writes a dump of `records` (sorted here by title) to `path`, through a temporary file renamed at the end. */
export function writeDump(path: string, header: Omit<DumpHeader, 'format' | 'version'>, records: Iterable<DumpRecord>): WrittenDump {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  const sorted = [...records].sort((a, b) => (a.title < b.title ? -1 : a.title > b.title ? 1 : 0))
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
  const file = readFileSync(path)
  let header: DumpHeader
  try {
    const firstEnd = index[0]?.[1] ?? t.indexOffset
    header = JSON.parse(gunzipSync(file.subarray(0, firstEnd)).toString('utf8')) as DumpHeader
  } catch {
    throw corrupt(path, 'the header does not read')
  }
  if (header.format !== 'mbwa-dump') throw corrupt(path, 'not an mbwa dump')
  const sha = createHash('sha256')
  let count = 0
  let previous = ''
  for (const [first, offset, length, n] of index) {
    let text: string
    try {
      text = gunzipSync(file.subarray(offset, offset + length)).toString('utf8')
    } catch {
      throw corrupt(path, `the block at ${offset} does not decompress (altered?)`)
    }
    sha.update(text)
    const lines = text.split('\n').filter(Boolean)
    if (lines.length !== n) throw corrupt(path, `the block at ${offset} has ${lines.length} records, the index says ${n}`)
    const firstTitle = (JSON.parse(lines[0]!) as { t: string }).t
    if (firstTitle !== first || firstTitle < previous) throw corrupt(path, `the block at ${offset} is out of order`)
    previous = (JSON.parse(lines[lines.length - 1]!) as { t: string }).t
    count += n
  }
  const digest = sha.digest('hex')
  if (count !== t.count) throw corrupt(path, `${count} records, the trailer says ${t.count}`)
  if (digest !== t.sha256) throw corrupt(path, 'checksum mismatch (altered)')
  return { header, count, sha256: digest, blocks: index.length }
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
    if (index[mid]![0] <= title) {
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
