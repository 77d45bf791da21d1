import { createHash } from 'node:crypto'
import type { EditRequested } from '../events/types.js'
import type { PageState } from '../domain/page-state.js'
import type { PageVerdict } from '../domain/link-rules.js'

// Edit commands the projection asks the sink for. The id is a hash of what the command is about (wiki, title,
// the page revision it was computed from, the codes to add and remove), so the same discrepancy always gives
// the same id: replays and restarts re-send at most the same command, which the sink runs once.

export interface PendingCommand {
  commandId: string
  add: string[]
  remove: string[]
  priority: number
  requestedAt: number
  reason: string
}

/** The reason of a command that asks for a purge with a links update (refreshLinks), not an edit. */
export const REFRESH_LINKS = 'refresh-links'

export function commandId(wiki: string, title: string, revision: number | null, add: string[], remove: string[], purge = false): string {
  return createHash('sha256')
    .update(JSON.stringify([wiki, title, revision, [...add].sort(), [...remove].sort(), ...(purge ? ['purge'] : [])]))
    .digest('base64url')
    .slice(0, 24)
}

const BOT_BAND = 1 << 30
const EPOCH_2001 = Date.UTC(2001, 0, 1)

/** Lower runs first: pages made by people before pages made by bots, then the older page first. */
export function priority(page: PageState, now: number): number {
  const minutes = Math.floor(((page.createdAt ?? now) - EPOCH_2001) / 60_000)
  return (page.byBot ? BOT_BAND : 0) + Math.max(0, Math.min(BOT_BAND - 1, minutes))
}

/** A purge, not an edit: langlinks to refresh and nothing to write (an edit runs a links update itself). */
export function isPurge(v: PageVerdict): boolean {
  return v.refresh === true && v.add.length === 0 && v.remove.length === 0 && !(v.editable && v.unknown !== undefined)
}

export function reasonOf(v: PageVerdict): string {
  if (isPurge(v)) return REFRESH_LINKS
  if (v.add.length === 0 && v.remove.length === 0) return 'verify'
  if (v.mode === 'cognate') return [...new Set(v.reports.map((r) => r.kind))].sort().join(',') || 'override'
  if (v.add.length > 0 && v.remove.length > 0) return 'missing,remove'
  return v.add.length > 0 ? 'missing' : 'remove'
}

export function editRequested(title: string, page: PageState, v: PageVerdict, now: number, read: string[] = []): EditRequested {
  return {
    id: commandId(v.wiki, title, page.revision, v.add, v.remove, isPurge(v)),
    commandId: commandId(v.wiki, title, page.revision, v.add, v.remove, isPurge(v)),
    source: 'projection',
    observedAt: now,
    wiki: v.wiki,
    title,
    add: v.add,
    remove: v.remove,
    read,
    priority: priority(page, now),
    reason: reasonOf(v),
  }
}
