import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ERRORS, exitCodeOf, type ErrorCode } from '../../src/errors/errors.js'
import { PACKAGE_ROOT } from '../../src/paths.js'

// The README's error table is the catalogue's reference page: the same codes, each with the same retriable, exit
// status and HTTP status (as fastify tests its error catalogue against its reference).
describe('the error catalogue and the README agree', () => {
  const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Errors'), readme.indexOf('\n## Operations'))
  const rows = section.split('\n').filter((l) => l.startsWith('| `'))
  const documented = new Map<string, { retriable: string; exit: string; status?: number }>()
  for (const row of rows) {
    const [codes, retriable, exit] = row.slice(2).split(' | ')
    for (const m of codes!.matchAll(/`(MBWA_[A-Z_]+)`(?: \((\d{3})\))?/g)) documented.set(m[1]!, { retriable: retriable!, exit: exit!, status: m[2] ? Number(m[2]) : undefined })
  }

  it('lists every code of the catalogue, and no other', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERRORS).sort())
  })

  it('says of each code what the catalogue says', () => {
    for (const [code, doc] of documented) {
      const spec: { retriable: boolean; status?: number } = ERRORS[code as ErrorCode]
      if (!doc.retriable.startsWith('by ')) expect(doc.retriable, code).toBe(spec.retriable ? 'yes' : 'no')
      expect(Number(doc.exit), code).toBe(exitCodeOf(code as ErrorCode))
      expect(doc.status, code).toBe(spec.status)
    }
  })

  it('gives configuration errors exit 2, as the help says', () => {
    expect((Object.keys(ERRORS) as ErrorCode[]).filter((c) => exitCodeOf(c) === 2).sort()).toEqual(['MBWA_CONFIG_INVALID', 'MBWA_CONFIG_UNREADABLE', 'MBWA_SECRET_UNAVAILABLE'])
  })
})
