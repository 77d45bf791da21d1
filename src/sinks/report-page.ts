import { createHash } from 'node:crypto'
import { linkTarget as target, nowiki, REPORT_KINDS, type ReportRow } from '../projections/report-rows.js'

// A wiki's report page, as report bots keep theirs (SDZeroBot's database reports, ListeriaBot): mbwa writes only
// between its two markers and leaves the rest of the page alone. The section ends with a digest of what mbwa wrote
// (times left out), which tells three things apart without any memory of earlier runs: the section is mbwa's and
// unchanged (compare digests: edit only when the content changed), it is empty (mbwa may write), or a person edited
// it (the digest no longer matches: mbwa keeps their edit and writes again only once it is undone or emptied).

export const MARK_START = '<!-- mbwa:reports:start -->'
export const MARK_END = '<!-- mbwa:reports:end -->'
const DIGEST = /<!-- mbwa:reports:digest ([0-9a-f]{40}) -->\n?$/
/** The times in a section (data as of …): shown, but no part of what "changed" means. */
const AS_OF = /<span class="mbwa-as-of">[^<]*<\/span>/g

export interface ReportPagesInput {
  wiki: string
  /** The first page's title (subpages are TITLE/2, TITLE/3 …). */
  title: string
  rows: readonly ReportRow[]
  rowsPerPage: number
  maxPages: number
  /** When the reports were read (ms), and when the wiki's last complete reading ended (ms, if any). */
  readAt: number
  lastSnapshot: number | undefined
  /** The HTML reports of this instance (reports.publicUrl), linked from the footer. */
  publicUrl?: string
}

export function pageTitle(first: string, index: number): string {
  return index === 0 ? first : `${first}/${index + 1}`
}


function isoMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/**
 * The sections of the report pages (the text between the markers), one per page: a sortable table per kind, the
 * counts of every kind, the data's as-of time, links between the pages and to the HTML reports. Rows past the last
 * page are left out, and the footer says how many.
 */
export function reportSections(input: ReportPagesInput): string[] {
  const { rows, rowsPerPage, maxPages } = input
  const shown = rows.slice(0, rowsPerPage * maxPages)
  const pages = Math.max(1, Math.ceil(shown.length / rowsPerPage))
  const counts = new Map<string, { rows: number; pages: Set<string> }>()
  for (const r of rows) {
    const c = counts.get(r.kind) ?? { rows: 0, pages: new Set<string>() }
    c.rows++
    c.pages.add(r.title)
    counts.set(r.kind, c)
  }
  const out: string[] = []
  for (let i = 0; i < pages; i++) out.push(section(input, shown.slice(i * rowsPerPage, (i + 1) * rowsPerPage), i, pages, counts, rows.length - shown.length))
  return out
}

/** The section of a subpage that no longer has rows (the report became shorter). */
export function emptySection(input: ReportPagesInput, index: number, pages: number): string {
  return section(input, [], index, pages, new Map(), 0, `No reports on this page now; the report has ${pages} page(s): [[${target(input.title)}]].`)
}

function section(input: ReportPagesInput, rows: readonly ReportRow[], index: number, pages: number, counts: Map<string, { rows: number; pages: Set<string> }>, left: number, note?: string): string {
  const lines: string[] = []
  lines.push(`<!-- Written by mbwa. Edit the page outside the markers; an edit between them is kept, and mbwa writes here again once it is undone or the section is emptied. -->`)
  if (note) lines.push(note, '')
  if (rows.length === 0 && !note) lines.push(`No reports for ${nowiki(input.wiki)}.`, '')
  const kinds = [...REPORT_KINDS, ...new Set(rows.map((r) => r.kind).filter((k) => !(REPORT_KINDS as readonly string[]).includes(k)))]
  for (const kind of kinds) {
    const of = rows.filter((r) => r.kind === kind)
    if (of.length === 0) continue
    lines.push(`=== ${kind} ===`, '{| class="wikitable sortable"', '! Page !! Link !! Evidence !! Since')
    for (const r of of) {
      lines.push('|-', `| [[:${target(r.title)}|${nowiki(r.title)}]] || [[:${r.code}:${target(r.target)}|${nowiki(`${r.code}:${r.target}`)}]] || ${nowiki(r.evidence)} || ${r.since?.slice(0, 10) ?? ''}`)
    }
    lines.push('|}', '')
  }
  // Footer: counts of the whole report (every page), as of when, where else to look.
  const total = [...counts.values()].reduce((n, c) => n + c.rows, 0)
  if (counts.size > 0) {
    const order = (k: string) => ((REPORT_KINDS as readonly string[]).indexOf(k) + REPORT_KINDS.length + 1) % (REPORT_KINDS.length + 1)
    lines.push(`'''Reports''': ${[...counts].sort(([a], [b]) => order(a) - order(b) || (a < b ? -1 : 1)).map(([kind, c]) => `${kind} ${c.rows} (${c.pages.size} pages)`).join(' · ')}; ${total} in all.`)
  }
  if (left > 0) lines.push(`${left} more rows are not on these pages (at most ${input.maxPages} pages of ${input.rowsPerPage}).`)
  const snapshot = input.lastSnapshot !== undefined ? `, from mbwa's reading of every page completed ${isoMinute(input.lastSnapshot)} and the changes since` : ''
  lines.push(`Data as of <span class="mbwa-as-of">${isoMinute(input.readAt)}${snapshot}</span>.`)
  if (pages > 1) lines.push(`Page ${index + 1} of ${pages}: ${Array.from({ length: pages }, (_, j) => (j === index ? `${j + 1}` : `[[${target(pageTitle(input.title, j))}|${j + 1}]]`)).join(' · ')}.`)
  if (input.publicUrl) {
    const url = `${input.publicUrl.replace(/\/$/, '')}/reports/${encodeURIComponent(input.wiki)}`
    lines.push(`Every report, and a CSV of them: [${url} ${nowiki(url)}].`)
  }
  const body = lines.join('\n') + '\n'
  return `${body}<!-- mbwa:reports:digest ${digestOf(body)} -->\n`
}

function digestOf(body: string): string {
  return createHash('sha1').update(body.replace(AS_OF, '<span class="mbwa-as-of"></span>')).digest('hex')
}

/** A section's digest, as written at its end (undefined when it has none). */
export function sectionDigest(section: string): string | undefined {
  return DIGEST.exec(section)?.[1]
}

export type SectionState =
  /** No markers on the page (or no page): the section is added at the end. */
  | { kind: 'none' }
  /** Markers with nothing between them but blanks. */
  | { kind: 'empty'; start: number; end: number }
  /** What mbwa wrote, unchanged since. */
  | { kind: 'ours'; start: number; end: number; digest: string }
  /** A person changed what is between the markers (or wrote there first). */
  | { kind: 'edited'; start: number; end: number }
  /** A marker without its pair, or more than one pair: mbwa does not guess. */
  | { kind: 'broken'; why: string }

/** Where mbwa's section is on a page, and whose it is. */
export function findSection(text: string): SectionState {
  const starts = occurrences(text, MARK_START)
  const ends = occurrences(text, MARK_END)
  if (starts.length === 0 && ends.length === 0) return { kind: 'none' }
  if (starts.length !== 1 || ends.length !== 1) return { kind: 'broken', why: `${starts.length} start and ${ends.length} end markers` }
  const start = starts[0]! + MARK_START.length
  const end = ends[0]!
  if (end < start) return { kind: 'broken', why: 'the end marker comes before the start marker' }
  const inner = text.slice(start, end).replace(/^\n/, '')
  if (inner.trim() === '') return { kind: 'empty', start, end }
  const digest = sectionDigest(inner)
  const body = digest === undefined ? undefined : inner.slice(0, inner.lastIndexOf('<!-- mbwa:reports:digest'))
  if (digest !== undefined && body !== undefined && digestOf(body) === digest) return { kind: 'ours', start, end, digest }
  return { kind: 'edited', start, end }
}

function occurrences(text: string, s: string): number[] {
  const out: number[] = []
  for (let i = text.indexOf(s); i >= 0; i = text.indexOf(s, i + s.length)) out.push(i)
  return out
}

/** The page's text with `section` between the markers (added at the end where there are none). */
export function withSection(text: string, state: SectionState, section: string): string {
  if (state.kind === 'broken' || state.kind === 'edited') throw new Error(`the report section is ${state.kind}: not written`)
  if (state.kind === 'none') return `${text.trimEnd()}${text.trim() === '' ? '' : '\n\n'}${MARK_START}\n${section}${MARK_END}\n`
  return `${text.slice(0, state.start)}\n${section}${text.slice(state.end)}`
}
