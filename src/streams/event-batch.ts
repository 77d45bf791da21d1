import type { EventToAppend } from '../events/event-log.js'
import { titleKey } from '../events/titles.js'
import type { EventMap } from '../events/types.js'

// Builds the events sources append: keyed by normalised title, so all facts about a title share a partition.
// A move is appended under both titles' keys, since each side's partition owns one of them.

type TitleEvent = Exclude<keyof EventMap, 'PageMoved' | 'SnapshotStarted' | 'SnapshotCompleted' | 'SnapshotFailed' | `Dump${string}` | `Edit${string}`>

export function titleEvent<K extends TitleEvent>(type: K, value: EventMap[K]): EventToAppend {
  return { type, value, key: titleKey((value as { title: string }).title) } as EventToAppend
}

export function moveEvents(value: EventMap['PageMoved']): EventToAppend[] {
  const from = titleKey(value.fromTitle)
  const to = titleKey(value.toTitle)
  const out: EventToAppend[] = [{ type: 'PageMoved', value, key: from }]
  if (to !== from) out.push({ type: 'PageMoved', value, key: to })
  return out
}

/** A bot by flag, or by a user name ending in "bot" (as the old bot treated unflagged bots). */
export function isBot(flagged: boolean | undefined, user: string | undefined): boolean {
  return flagged === true || (user !== undefined && /bot$/i.test(user.trim()))
}
