import { describe, expect, it } from 'vitest'
import type { PageVerdict } from '../../src/domain/link-rules.js'
import type { PageState } from '../../src/domain/page-state.js'
import { commandId } from '../../src/projections/edit-commands.js'
import { planEdits, type EditPlanInput } from '../../src/projections/edit-planner.js'
import { keys } from '../../src/projections/title-store.js'

// What a verdict means for a title's edit commands, given the pending ones and the answers, as given/when/then.
describe('planEdits (unit)', () => {
  const NOW = 1_000_000_000
  const page = (changedAt: number, revision = 7): PageState => ({ redirect: false, blank: false, revision, pageId: 1, links: [], writtenLinks: [], createdAt: 0, byBot: false, observedAt: changedAt, source: 'snapshot', snapshotId: null, changedAt })
  const verdict = (wiki: string, add: string[]): PageVerdict => ({ wiki, mode: 'manual', participates: true, editable: true, shouldCarry: add, add, remove: [], reports: [] })
  const given = (over: Partial<EditPlanInput>): EditPlanInput => ({ partition: 3, title: 'chat', pages: { en: page(NOW - 3_600_000), fr: page(NOW - 3_600_000) }, actionable: [verdict('en', ['fr'])], answers: [], pending: {}, now: NOW, settleMs: 60_000, emitCommands: true, ...over })

  it('a settled page gets a command, recorded as pending', () => {
    const { ops, commands } = planEdits(given({}))
    expect(commands).toHaveLength(1)
    expect(commands[0]).toMatchObject({ wiki: 'en', title: 'chat', add: ['fr'], remove: [], read: ['en', 'fr'] })
    expect(ops).toEqual([{ type: 'put', key: keys.pending(3, 'chat'), value: JSON.stringify({ en: { commandId: commands[0]!.commandId, add: ['fr'], remove: [], priority: commands[0]!.priority, requestedAt: NOW, reason: 'missing' } }) }])
  })

  it('a page still settling waits: a deferred entry at its due time, no command', () => {
    const { ops, commands } = planEdits(given({ pages: { en: page(NOW - 10_000), fr: page(NOW) } }))
    expect(commands).toEqual([])
    expect(ops).toEqual([{ type: 'put', key: keys.deferred(3, NOW - 10_000 + 60_000, 'chat'), value: '' }])
  })

  it('the same command already pending is not sent again, and nothing is written', () => {
    const id = commandId('en', 'chat', 7, ['fr'], [])
    const pending = { en: { commandId: id, add: ['fr'], remove: [], priority: 1, requestedAt: NOW - 5, reason: 'missing' } }
    expect(planEdits(given({ pending }))).toEqual({ ops: [], commands: [] })
  })

  it('an answered command is dropped; a pending one the verdict no longer wants is dropped too', () => {
    const pending = { en: { commandId: 'old', add: ['de'], remove: [], priority: 1, requestedAt: 0, reason: 'missing' }, fr: { commandId: 'x', add: ['en'], remove: [], priority: 1, requestedAt: 0, reason: 'missing' } }
    const { ops, commands } = planEdits(given({ pending, actionable: [], answers: [{ title: 'chat', wiki: 'en', commandId: 'old', done: true }] }))
    expect(commands).toEqual([])
    expect(ops).toEqual([{ type: 'del', key: keys.pending(3, 'chat') }])
  })

  it('without sending (mbwa rebuild): no commands and no deferred entries here (the applier keeps the schedule)', () => {
    expect(planEdits(given({ emitCommands: false, pages: { en: page(NOW), fr: page(NOW) } }))).toEqual({ ops: [], commands: [] })
  })
})
