import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { MbwaError, type ErrorCode } from '../../errors/errors.js'
import { safeWikiCode } from '../../domain/wiki-code.js'

// What every route of the query endpoint uses: errors as MbwaErrors (the error handler answers them with their
// status and JSON), times in ISO 8601, the limits of titles and kinds.

/** A time as the API gives every time: ISO 8601 in UTC. */
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString()
}

/** A title's pages as JSON shows them: the same fields, their times (observedAt, changedAt, createdAt) in ISO 8601. */
export function withIsoTimes(pages: Record<string, { observedAt: number; changedAt: number; createdAt: number | null }>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [w, p] of Object.entries(pages)) out[w] = { ...p, observedAt: iso(p.observedAt), changedAt: iso(p.changedAt), createdAt: iso(p.createdAt) }
  return out
}

/** The path of a public dump file of `wiki` in `dir`, when the name is one the dump worker makes and it is there. */
export function localDumpFile(dir: string, wiki: string, name: string): string | undefined {
  if (!/^[a-z0-9-]{1,40}$/.test(wiki) || !/^[a-z0-9-]{1,40}-[0-9TZ-]+\.mbwa\.gz$/.test(name) || !name.startsWith(`${wiki}-`)) return undefined
  const path = join(dir, 'public', safeWikiCode(wiki), name)
  try {
    return statSync(path).isFile() ? path : undefined
  } catch {
    return undefined
  }
}

export const MAX_TITLE_BYTES = 255
export const KINDS = ['missing', 'remove', 'stale-missing', 'stale-other-title', 'redundant', 'invalid-code', 'langlinks-outdated'] as const
export const FORWARDED = 'x-mbwa-forwarded'

/** Bytes of the files in a directory (a LevelDB store: a flat folder). */
export function directoryBytes(dir: string): number {
  let total = 0
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) total += statSync(join(dir, entry.name), { throwIfNoEntry: false })?.size ?? 0
    }
  } catch {
    return 0
  }
  return total
}

export function fail(code: ErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new MbwaError(code, message, details)
}
