import { describe, expect, it } from 'vitest'
import { pageUrl } from '../../src/domain/page-url.js'
import { reportRows, toCsv, toTable, toWikitext } from '../../src/projections/report-rows.js'

// Reports as rows and their formats: page URLs by the wiki's kind, CSV a spreadsheet opens safely, wikitext.
describe('report rows (unit)', () => {
  const apis: Record<string, string> = { en: 'https://en.wiktionary.org/w/api.php', fr: 'http://127.0.0.1:18082/w/api.php' }
  const rows = reportRows(
    'en',
    [
      { kind: 'stale-missing', title: 'rock and roll', codes: ['fr'], links: [{ code: 'fr', title: 'rock and roll' }], at: Date.UTC(2026, 11, 7) },
      { kind: 'langlinks-outdated', title: '=SUM(A1)', codes: ['fr'], links: [{ code: 'fr', title: '=SUM(A1)', outdated: 'stale' }] },
      { kind: 'missing', title: 'not a report', codes: ['fr'] },
    ],
    (w) => apis[w],
  )

  it('links each page where a person reads it: /wiki/ on Wikimedia, index.php elsewhere', () => {
    expect(pageUrl(apis.en, 'and/or')).toBe('https://en.wiktionary.org/wiki/and/or')
    expect(pageUrl(apis.en, 'a b?c#d')).toBe('https://en.wiktionary.org/wiki/a_b%3Fc%23d')
    expect(pageUrl(apis.fr, 'l’eau')).toBe('http://127.0.0.1:18082/w/index.php?title=l%E2%80%99eau')
    expect(pageUrl(undefined, 'x')).toBeUndefined()
    expect(rows.map((r) => [r.kind, r.url, r.targetUrl])).toEqual([
      ['stale-missing', 'https://en.wiktionary.org/wiki/rock_and_roll', 'http://127.0.0.1:18082/w/index.php?title=rock_and_roll'],
      ['langlinks-outdated', 'https://en.wiktionary.org/wiki/%3DSUM(A1)', 'http://127.0.0.1:18082/w/index.php?title=%3DSUM(A1)'],
    ])
    expect(rows[0]!.since).toBe('2026-12-07T00:00:00.000Z')
    expect(rows[1]!.evidence).toMatch(/no longer adds/)
  })

  it('writes CSV that quotes what needs it and never starts a cell with a formula', () => {
    const csv = toCsv(rows).split('\r\n')
    expect(csv[0]).toBe('wiki,title,url,kind,code,target,targetUrl,evidence,since')
    expect(csv[2]).toContain(`,"'=SUM(A1)",`)
    expect(csv).toHaveLength(4) // header, two rows, the final line break
  })

  it('writes a sortable wikitable, and a table for a terminal', () => {
    const wt = toWikitext(rows)
    expect(wt.startsWith('{| class="wikitable sortable"')).toBe(true)
    expect(wt).toContain('| [[:rock and roll]] || stale-missing || [[:fr:rock and roll|fr:<nowiki>rock and roll</nowiki>]]')
    expect(wt.trimEnd().endsWith('|}')).toBe(true)
    expect(toTable(rows).split('\n')[0]).toMatch(/^page\s+kind\s+link\s+since\s+url$/)
    expect(toTable([])).toBe('no reports\n')
  })
})
