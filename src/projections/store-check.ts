import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import { silentLogger, type Logger } from '../logging.js'
import { decodeTitleRecord } from './title-record-codec.js'
import { loadRecordTables, STORE_FORMAT, storeFormat, titleOfKey } from './title-store.js'

// A projection store damaged while mbwa was stopped (a table file deleted, truncated or altered, the manifest
// broken) must never be served. LevelDB notices some damage when it opens (a missing file, a broken manifest) and
// the rest only when the damaged block is read. So a clean close leaves a seal beside the store: the name, size
// and modification time of every file in it. At start, a store whose files match its seal is used as it is (a
// fast start); one without a seal (mbwa did not stop cleanly) or whose files differ is read through once, every
// key and value, before anything is served. A damaged store is moved aside (kept for inspection) and the
// projection is rebuilt from the log, which keeps every event.

export type StoreCheck = { ok: true; how: 'new' | 'sealed' | 'scanned'; keys: number } | { ok: false; reason: string; format?: true }

const sealOf = (dir: string): string => `${dir}.seal.json`

interface Seal {
  files: [string, number, number][]
}

function listing(dir: string): [string, number, number][] {
  return readdirSync(dir)
    .filter((f) => f !== 'LOCK' && f !== 'LOG' && f !== 'LOG.old')
    .sort()
    .map((f) => {
      const st = statSync(`${dir}/${f}`)
      return [f, st.size, Math.floor(st.mtimeMs)] as [string, number, number]
    })
}

/** Written after a clean close: what the store's files are. */
export function sealStore(dir: string): void {
  writeFileSync(sealOf(dir), JSON.stringify({ files: listing(dir) } satisfies Seal))
}

/** Removed when the store opens: a crash leaves no seal, so the next start reads the store through. */
export function unsealStore(dir: string): void {
  rmSync(sealOf(dir), { force: true })
}

function sealMatches(dir: string): boolean {
  if (!existsSync(sealOf(dir))) return false
  try {
    const seal = JSON.parse(readFileSync(sealOf(dir), 'utf8')) as Seal
    return JSON.stringify(seal.files) === JSON.stringify(listing(dir))
  } catch {
    return false
  }
}

/** Checks a store that is not open (see the file's comment for how). */
export async function checkStore(dir: string): Promise<StoreCheck> {
  if (!existsSync(dir) || readdirSync(dir).length === 0) return { ok: true, how: 'new', keys: 0 }
  if (!existsSync(`${dir}/CURRENT`)) return { ok: false, reason: 'its CURRENT file is missing (LevelDB would open it as an empty store)' }
  const sealed = sealMatches(dir)
  const db = new ClassicLevel<string, Buffer>(dir, { createIfMissing: false, keyEncoding: 'utf8', valueEncoding: 'buffer' })
  try {
    await db.open()
  } catch (err) {
    return { ok: false, reason: describe(err) }
  }
  try {
    // A store of another format (an older mbwa's JSON records) is rebuilt like a damaged one, and said so.
    const format = await storeFormat(db)
    if (format !== STORE_FORMAT && format !== 'empty') return { ok: false, format: true, reason: `it has format ${format}, and this mbwa reads format ${STORE_FORMAT}` }
    if (sealed) return { ok: true, how: 'sealed', keys: 0 }
    let n = 0
    const tables = await loadRecordTables(db)
    for await (const [k, v] of db.iterator()) {
      // Title records are Avro: a value that does not decode (or names a string the table lacks) is damage
      // LevelDB's own checks let through.
      if (k.charCodeAt(0) === 0x74 /* t */) decodeTitleRecord(v, titleOfKey(k), tables)
      n++
    }
    return { ok: true, how: 'scanned', keys: n }
  } catch (err) {
    return { ok: false, reason: describe(err) }
  } finally {
    await db.close().catch(() => undefined)
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { message?: string } }
  return [e.code, e.message, e.cause?.message].filter(Boolean).join(': ')
}

/**
 * Checks the store at `dir` before it is opened for serving; a damaged one is moved aside (to
 * `DIR.damaged-TIME`) so that a fresh store is rebuilt from the log. Returns where the damaged store went, if it was.
 */
export async function guardStore(dir: string, logger: Logger = silentLogger): Promise<string | undefined> {
  const started = Date.now()
  const check = await checkStore(dir)
  if (check.ok) {
    if (check.how === 'scanned') logger.info({ store: dir, keys: check.keys, ms: Date.now() - started }, 'projection store read through (no seal of a clean stop): intact')
    return undefined
  }
  const aside = `${dir}.${check.format ? 'old-format' : 'damaged'}-${new Date().toISOString().replace(/[:.]/g, '-')}`
  renameSync(dir, aside)
  unsealStore(dir)
  if (check.format) {
    logger.warn({ store: dir, reason: check.reason, movedTo: aside }, 'projection store written in an older format: moved aside; the projection is rebuilt from the log (queries answer 503 for a partition until it is restored)')
    return aside
  }
  logger.error({ store: dir, reason: check.reason, movedTo: aside }, 'projection store damaged: moved aside; the projection is rebuilt from the log (queries answer 503 for a partition until it is restored)')
  return aside
}
