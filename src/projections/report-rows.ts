import type { DiscrepancyItem } from './title-store.js'
import { pageUrl } from '../domain/page-url.js'

// Reports as rows a person (or a tool) reads: one row per link a report is about, with the page and the target as
// links, what the evidence is, and since when. The same rows feed `mbwa report` (table, CSV, JSON, wikitext) and
// the query server's HTML pages and CSV downloads.

/** The report kinds, in the order they are shown. */
export const REPORT_KINDS = ['stale-missing', 'stale-other-title', 'redundant', 'invalid-code', 'langlinks-outdated'] as const

export interface ReportRow {
  wiki: string
  title: string
  url: string | undefined
  kind: string
  code: string
  target: string
  targetUrl: string | undefined
  /** What says so: the text (written links), or the stored langlinks. */
  evidence: string
  /** When the page was last observed (ISO), if known. */
  since: string | undefined
}

function evidence(kind: string, outdated: string | undefined): string {
  if (kind === 'langlinks-outdated') return outdated === 'missing' ? 'langlinks lack a link Cognate adds now (the target was created since)' : 'langlinks hold a row Cognate no longer adds (the target was deleted or moved)'
  if (kind === 'stale-missing') return 'written in the text; no such page on the target wiki'
  if (kind === 'stale-other-title') return 'written in the text; the target wiki has this title, which Cognate would link'
  if (kind === 'redundant') return 'written in the text; Cognate adds this very link'
  if (kind === 'invalid-code') return 'the code is no longer valid'
  return kind
}

/** The rows of discrepancy index items (reports only; `missing`/`remove` are the manual mode's edits, not reports). */
export function reportRows(wiki: string, items: readonly DiscrepancyItem[], apiOf: (wiki: string) => string | undefined): ReportRow[] {
  const rows: ReportRow[] = []
  for (const item of items) {
    if (!(REPORT_KINDS as readonly string[]).includes(item.kind)) continue
    const links = item.links ?? item.codes.map((code) => ({ code, title: item.title }))
    for (const l of links) {
      rows.push({
        wiki,
        title: item.title,
        url: pageUrl(apiOf(wiki), item.title),
        kind: item.kind,
        code: l.code,
        target: l.title,
        targetUrl: pageUrl(apiOf(l.code), l.title),
        evidence: evidence(item.kind, (l as { outdated?: string }).outdated),
        since: item.at !== undefined ? new Date(item.at).toISOString() : undefined,
      })
    }
  }
  return rows
}

const CSV_COLUMNS = ['wiki', 'title', 'url', 'kind', 'code', 'target', 'targetUrl', 'evidence', 'since'] as const

/** RFC 4180: every field quoted where it has a quote, comma or line break; a leading =+-@ is prefixed (no formulas). */
function csvField(v: string | undefined): string {
  let s = v ?? ''
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) || s !== (v ?? '') ? `"${s.replace(/"/g, '""')}"` : s
}

export function toCsv(rows: readonly ReportRow[]): string {
  return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvField(r[c])).join(','))].join('\r\n') + '\r\n'
}

/** Text in wikitext shown as it is: no markup, no signature tildes, no template, no closing nowiki of its own. */
export function nowiki(s: string): string {
  return `<nowiki>${s.replace(/<\/?nowiki\s*\/?>/gi, (m) => m.replace('<', '&lt;'))}</nowiki>`
}

/** A title as a link target, with nothing the pre-save transform would expand (~~~ becomes a signature even there). */
export function linkTarget(title: string): string {
  return title.replace(/~/g, '&#126;')
}

/** A sortable wikitable, for pasting on a wiki: page and target as wiki links, the evidence as plain text. */
export function toWikitext(rows: readonly ReportRow[]): string {
  const out = ['{| class="wikitable sortable"', '! Page !! Kind !! Link !! Evidence !! Since']
  for (const r of rows) out.push('|-', `| [[:${linkTarget(r.title)}]] || ${r.kind} || [[:${r.code}:${linkTarget(r.target)}|${r.code}:${nowiki(r.target)}]] || ${nowiki(r.evidence)} || ${r.since?.slice(0, 10) ?? ''}`)
  out.push('|}')
  return out.join('\n') + '\n'
}

/** Columns padded for a terminal. */
export function toTable(rows: readonly ReportRow[]): string {
  if (rows.length === 0) return 'no reports\n'
  const cells = rows.map((r) => [r.title, r.kind, `${r.code}:${r.target}`, r.since?.slice(0, 16).replace('T', ' ') ?? '', r.url ?? ''])
  const head = ['page', 'kind', 'link', 'since', 'url']
  const width = head.map((h, i) => Math.min(40, Math.max(h.length, ...cells.map((c) => [...c[i]!].length))))
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(width[i]!))).join('  ').trimEnd()
  return [line(head), ...cells.map(line)].join('\n') + '\n'
}
