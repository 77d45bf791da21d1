import type { EditRequested } from '../events/types.js'
import type { PageVerdict } from '../domain/link-rules.js'
import { commandId, editRequested, isPurge, type PendingCommand } from './edit-commands.js'
import { keys, type Op, type TitlePages } from './title-store.js'

// What a title's verdict means for its edit commands, as a pure function: the pages that need an edit (or a
// purge) either wait until they have settled (a deferred entry: the settle schedule) or get a command, unless
// the same command is already pending; pending commands that were answered, or that the verdict no longer wants,
// are dropped. Returns the store operations and the commands to send; the partition writes and sends them.

/** A command's outcome, as the sink's events tell it (applied, skipped, failed for good: done). */
export interface Answer {
  title: string
  wiki: string
  commandId: string
  done: boolean
}

export interface EditPlanInput {
  partition: number
  title: string
  pages: TitlePages
  /** The pages the verdict wants edited, verified or purged. */
  actionable: readonly PageVerdict[]
  /** Answers to this title's commands that came with the batch. */
  answers: readonly Answer[]
  /** The title's pending commands, as stored. */
  pending: Readonly<Record<string, PendingCommand>>
  now: number
  settleMs: number
  /** Commands are sent (live); otherwise only the settle schedule is kept (mbwa rebuild). */
  emitCommands: boolean
}

export function planEdits(input: EditPlanInput): { ops: Op[]; commands: EditRequested[] } {
  const { partition: p, title, pages, actionable, now, settleMs } = input
  const ops: Op[] = []
  const commands: EditRequested[] = []
  const pending = { ...input.pending }
  const before = JSON.stringify(pending)
  for (const a of input.answers) if (a.done && pending[a.wiki]?.commandId === a.commandId) delete pending[a.wiki]
  const wanted = new Set(actionable.map((pv) => pv.wiki))
  for (const wiki of Object.keys(pending)) if (!wanted.has(wiki)) delete pending[wiki] // resolved by itself
  if (input.emitCommands) {
    for (const pv of actionable) {
      const page = pages[pv.wiki]!
      const due = page.changedAt + settleMs
      if (due > now) {
        ops.push({ type: 'put', key: keys.deferred(p, due, title), value: '' })
        continue
      }
      const id = commandId(pv.wiki, title, page.revision, pv.add, pv.remove, isPurge(pv))
      if (pending[pv.wiki]?.commandId === id) continue
      const cmd = editRequested(title, page, pv, now, Object.keys(pages).sort())
      commands.push(cmd)
      pending[pv.wiki] = { commandId: id, add: cmd.add, remove: cmd.remove, priority: cmd.priority, requestedAt: now, reason: cmd.reason }
    }
  }
  if (JSON.stringify(pending) !== before) {
    if (Object.keys(pending).length === 0) ops.push({ type: 'del', key: keys.pending(p, title) })
    else ops.push({ type: 'put', key: keys.pending(p, title), value: JSON.stringify(pending) })
  }
  return { ops, commands }
}
