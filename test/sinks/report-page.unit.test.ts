import { describe, expect, it } from 'vitest'
import type { ReportRow } from '../../src/projections/report-rows.js'
import { emptySection, findSection, MARK_END, MARK_START, pageTitle, reportSections, sectionDigest, withSection, type ReportPagesInput } from '../../src/sinks/report-page.js'
import { ConfigSchema } from '../../src/config/schema.js'

// The report page's section on its own: what is written between the markers, whose a section is, and that the
// rest of the page is never touched. The farm test (report-pages.int.test.ts) judges the same text with MediaWiki.

function row(title: string, kind = 'stale-missing', code = 'fr', target = title): ReportRow {
  return { wiki: 'en', title, url: undefined, kind, code, target, targetUrl: undefined, evidence: 'written in the text; no such page on the target wiki', since: '2026-12-01T10:00:00.000Z' }
}

function input(rows: ReportRow[], over: Partial<ReportPagesInput> = {}): ReportPagesInput {
  return { wiki: 'en', title: 'User:Bot/Reports', rows, rowsPerPage: 500, maxPages: 20, readAt: Date.UTC(2026, 11, 7, 12), lastSnapshot: Date.UTC(2026, 11, 6), ...over }
}

describe('report page section (unit)', () => {
  it('a sortable table per kind, in the kinds\' order, with the counts, the as-of time and the public link', () => {
    const [s] = reportSections(input([row('b', 'redundant'), row('a'), row('c', 'stale-other-title', 'de', 'C')], { publicUrl: 'https://mbwa.example.org/' }))
    expect(s!.indexOf('=== stale-missing ===')).toBeLessThan(s!.indexOf('=== stale-other-title ==='))
    expect(s!.indexOf('=== stale-other-title ===')).toBeLessThan(s!.indexOf('=== redundant ==='))
    expect(s!.match(/\{\| class="wikitable sortable"/g)).toHaveLength(3)
    expect(s).toContain('[[:de:C|<nowiki>de:C</nowiki>]]')
    expect(s).toContain("'''Reports''': stale-missing 1 (1 pages) · stale-other-title 1 (1 pages) · redundant 1 (1 pages); 3 in all.")
    expect(s).toContain('2026-12-07 12:00 UTC')
    expect(s).toContain('[https://mbwa.example.org/reports/en <nowiki>https://mbwa.example.org/reports/en</nowiki>]')
    expect(sectionDigest(s!)).toMatch(/^[0-9a-f]{40}$/)
  })

  it('titles are shown as they are: no signature, no markup, no template, no closing nowiki', () => {
    const hostile = ['~~~~ sig', "It''s", 'a</nowiki>{{x}}', '!! x', 'שלום']
    const [s] = reportSections(input(hostile.map((t) => row(t))))
    // Tildes outside nowiki would become a signature on save.
    expect(s!.replace(/<nowiki>[^]*?<\/nowiki>/g, '')).not.toContain('~~~')
    expect(s).toContain('[[:&#126;&#126;&#126;&#126; sig|<nowiki>~~~~ sig</nowiki>]]')
    expect(s).toContain("<nowiki>It''s</nowiki>")
    expect(s).toContain('<nowiki>a&lt;/nowiki>{{x}}</nowiki>')
  })

  it('splits at rowsPerPage, at most maxPages, and says how many rows are left out', () => {
    const rows = Array.from({ length: 11 }, (_, i) => row(`t${String(i).padStart(2, '0')}`))
    const pages = reportSections(input(rows, { rowsPerPage: 3, maxPages: 3 }))
    expect(pages).toHaveLength(3)
    expect(pages.map((p) => p.match(/^\|-$/gm)?.length)).toEqual([3, 3, 3])
    expect(pages[2]).toContain('2 more rows are not on these pages')
    expect(pages[0]).toContain('Page 1 of 3: 1 · [[User:Bot/Reports/2|2]] · [[User:Bot/Reports/3|3]].')
    expect(pages[1]).toContain("'''Reports''': stale-missing 11 (11 pages); 11 in all.")
    expect(pageTitle('User:Bot/Reports', 2)).toBe('User:Bot/Reports/3')
    expect(reportSections(input([]))).toHaveLength(1)
    expect(reportSections(input([]))[0]).toContain('No reports for <nowiki>en</nowiki>.')
  })

  it('the digest ignores the as-of times and nothing else', () => {
    const a = reportSections(input([row('a')]))[0]!
    const later = reportSections(input([row('a')], { readAt: Date.UTC(2027, 0, 1), lastSnapshot: Date.UTC(2026, 11, 30) }))[0]!
    expect(later).not.toBe(a)
    expect(sectionDigest(later)).toBe(sectionDigest(a))
    expect(sectionDigest(reportSections(input([row('b')]))[0]!)).not.toBe(sectionDigest(a))
  })

  it('writes only between the markers, and adds them at the end where there are none', () => {
    const section = reportSections(input([row('a')]))[0]!
    const page = `Intro ~~~~ {{tpl}}\n${MARK_START}\nold\n${MARK_END}\nOutro [[x]]\n`
    const found = findSection(page)
    expect(found.kind).toBe('edited') // "old" is nobody's section of mbwa's
    const empty = `Intro\n${MARK_START}\n\n${MARK_END}\nOutro`
    const written = withSection(empty, findSection(empty), section)
    expect(written.startsWith(`Intro\n${MARK_START}\n`)).toBe(true)
    expect(written.endsWith(`${MARK_END}\nOutro`)).toBe(true)
    expect(findSection(written)).toMatchObject({ kind: 'ours', digest: sectionDigest(section) })
    // Written again: the same page.
    expect(withSection(written, findSection(written), section)).toBe(written)
    expect(withSection('', findSection(''), section)).toBe(`${MARK_START}\n${section}${MARK_END}\n`)
    expect(withSection('Some words.\n', { kind: 'none' }, section)).toBe(`Some words.\n\n${MARK_START}\n${section}${MARK_END}\n`)
  })

  it('tells a section a person edited from mbwa\'s own, and refuses broken markers', () => {
    const section = reportSections(input([row('a')]))[0]!
    const page = withSection('', { kind: 'none' }, section)
    expect(findSection(page.replace('[[:a|', '[[:a (fixed)|')).kind).toBe('edited')
    expect(findSection(page.replace('<!-- mbwa:reports:digest', 'x <!-- mbwa:reports:digest')).kind).toBe('edited')
    expect(findSection(`${MARK_START} x`).kind).toBe('broken')
    expect(findSection(`${MARK_END} ${MARK_START}`).kind).toBe('broken')
    expect(findSection(`${page}${page}`).kind).toBe('broken')
    expect(() => withSection(page, { kind: 'edited', start: 0, end: 0 }, section)).toThrow()
  })

  it('an emptied subpage points to the first page', () => {
    const s = emptySection(input([]), 2, 1)
    expect(s).toContain('No reports on this page now; the report has 1 page(s): [[User:Bot/Reports]].')
    expect(sectionDigest(s)).toMatch(/^[0-9a-f]{40}$/)
  })

  it('config: a report page must be outside the main namespace', () => {
    const parse = (reportPage: string) => ConfigSchema.safeParse({ wikis: { en: { reportPage } } })
    expect(parse('User:Bot/Reports').success).toBe(true)
    expect(parse('Wiktionary:Interlanguage links').success).toBe(true)
    for (const bad of ['Reports', ':Reports', 'Reports of today', ' ']) {
      const r = parse(bad)
      expect(r.success, bad).toBe(false)
      expect(JSON.stringify(r.error?.issues)).toContain('reportPage')
    }
  })
})
