import type { EventToAppend } from '../events/event-log.js'
import { titleKey } from '../events/titles.js'
import type { EditRequested } from '../events/types.js'

// The events that record how a command ended (EditSkipped, EditFailed, EditApplied), built in one place. Their ids
// are the command's, so a repeat after a crash is the same fact; a failure's id carries the try and the code (one
// event per try).

export function skippedEvent(c: EditRequested, reason: string, at: number): EventToAppend {
  return { type: 'EditSkipped', key: titleKey(c.title), value: { id: `${c.commandId}:skipped`, source: 'sink', observedAt: at, wiki: c.wiki, title: c.title, commandId: c.commandId, reason } }
}

/** A try that failed: `code` is MediaWiki's error code (or mbwa's), `retriable` whether the command is tried again. */
export function failedEvent(c: EditRequested & { attempts?: number }, failure: { code: string; message: string; retriable: boolean }, at: number): EventToAppend {
  const { code, message, retriable } = failure
  return { type: 'EditFailed', key: titleKey(c.title), value: { id: `${c.commandId}:failed:${c.attempts ?? 0}:${code}`, source: 'sink', observedAt: at, wiki: c.wiki, title: c.title, commandId: c.commandId, code, message, retriable } }
}

/** A saved edit at `revision` (a purge is one that adds and removes nothing, at the page's revision). */
export function appliedEvent(c: EditRequested, change: { revision: number; added: string[]; removed: string[] }, at: number): EventToAppend {
  return { type: 'EditApplied', key: titleKey(c.title), value: { id: `${c.commandId}:applied`, source: 'sink', observedAt: at, wiki: c.wiki, title: c.title, commandId: c.commandId, ...change } }
}
