import { esc, link, page } from './html.js'
import { REPORT_KINDS, type ReportRow } from './report-rows.js'

// The query server's pages for people: what this instance is, the reports of every wiki, and one wiki's reports
// with a link to each page and each target, filtered by kind, paginated, with a CSV download of the same.

const n = (x: number) => x.toLocaleString('en-US')
const iso = (t: number | null | undefined) => (t === null || t === undefined ? 'never' : new Date(t).toISOString().replace('.000Z', 'Z'))

export interface InstanceInfo {
  version: string
  log: string
  partitions: number
  held: number
  eventsInStore: number
  wikis: number
  members: string[]
}

export function indexPage(info: InstanceInfo): string {
  return page(
    'mbwa',
    `<p>mbwa ${esc(info.version)} keeps interlanguage links between wikis that share a title. This member holds ${n(info.held)} of ${n(info.partitions)} partitions of the ${esc(info.log)} log, ${n(info.eventsInStore)} events applied, ${n(info.wikis)} wikis followed${info.members.length > 1 ? `, in a group of ${n(info.members.length)}` : ''}.</p>
<ul>
<li><a href="/reports">Reports</a>: per wiki, the written links that override Cognate's and the langlinks a links update would change.</li>
<li><a href="/dumps">Dumps</a>: the title-links dump files and the jobs that write them.</li>
<li>For tools (JSON): <a href="/v1/wikis">/v1/wikis</a>, <code>/v1/titles/{title}</code>, <code>/v1/wikis/{wiki}/discrepancies</code>, <a href="/v1/stats">/v1/stats</a>, <a href="/metrics">/metrics</a>, <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>.</li>
</ul>`,
  )
}

export interface WikiReportSummary {
  wiki: string
  counts: Record<string, number>
  lastSnapshot: number | null
}

export function reportsPage(wikis: readonly WikiReportSummary[], o: { eventsInStore: number; now: number; partial: boolean }): string {
  const head = REPORT_KINDS.map((k) => `<th>${esc(k)}</th>`).join('')
  const rows = wikis
    .map((w) => {
      const cells = REPORT_KINDS.map((k) => `<td class="n">${w.counts[k] ? link(`/reports/${encodeURIComponent(w.wiki)}?kind=${k}`, n(w.counts[k]!)) : '0'}</td>`).join('')
      return `<tr data-wiki="${esc(w.wiki)}"><th scope="row">${link(`/reports/${encodeURIComponent(w.wiki)}`, w.wiki)}</th>${cells}<td class="n">${n(w.counts['text-wanted'] ?? 0)}</td><td>${esc(iso(w.lastSnapshot))}</td></tr>`
    })
    .join('\n')
  return page(
    'mbwa reports',
    `<p>Pages per wiki and report kind, as of ${esc(iso(o.now))} (${n(o.eventsInStore)} events of the log applied)${o.partial ? "; this member's partitions only" : ''}. What each kind means and what to do about it: the README's <em>Cognate mode</em>.</p>
<table><thead><tr><th>wiki</th>${head}<th>text not read yet</th><th>last snapshot</th></tr></thead>
<tbody>
${rows || `<tr><td colspan="${REPORT_KINDS.length + 3}">no wikis yet</td></tr>`}
</tbody></table>`,
  )
}

export function wikiReportsPage(wiki: string, rows: readonly ReportRow[], o: { kind: string | undefined; next: string | null; now: number }): string {
  const q = (extra: Record<string, string | undefined>) => {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries({ kind: o.kind, ...extra })) if (v !== undefined) params.set(k, v)
    const s = params.toString()
    return s === '' ? '' : `?${s}`
  }
  const base = `/reports/${encodeURIComponent(wiki)}`
  const kinds = [`${o.kind === undefined ? '<strong>all</strong>' : link(base, 'all')}`, ...REPORT_KINDS.map((k) => (k === o.kind ? `<strong>${esc(k)}</strong>` : link(`${base}?kind=${k}`, k)))].join(' · ')
  const body = rows
    .map(
      (r) =>
        `<tr data-kind="${esc(r.kind)}"><td dir="auto">${link(r.url, r.title)}</td><td>${esc(r.kind)}</td><td dir="auto">${esc(r.code)}:${link(r.targetUrl, r.target)}</td><td>${esc(r.evidence)}</td><td>${esc(r.since ?? '')}</td></tr>`,
    )
    .join('\n')
  return page(
    `mbwa reports: ${wiki}`,
    `<p>Kinds: ${kinds}. As of ${esc(iso(o.now))}. ${link(`${base}/csv${q({})}`, 'Download as CSV')} (every page of this list). ${link(`${base}/diffs`, 'Dry-run diffs')}: what the sink would have edited. ${link(`${base}/missing`, 'Missing here')}: words other wikis have and this one lacks.</p>
<table><thead><tr><th>page</th><th>kind</th><th>link</th><th>evidence</th><th>page last observed</th></tr></thead>
<tbody>
${body || '<tr><td colspan="5">no reports</td></tr>'}
</tbody></table>
${o.next ? `<p>${link(`${base}${q({ cursor: o.next })}`, 'next page', ' rel="next"')}</p>` : ''}`,
  )
}

/**
 * A wiki's dry-run diffs (dataDir/diffs/WIKI.diff, as the sink wrote them): each line escaped, additions and
 * removals marked for the eye; the newest at the end, the last `shownBytes` of a long file with a link to all of it.
 */
export function diffsPage(wiki: string, text: string | undefined, o: { truncated: boolean; now: number }): string {
  const base = `/reports/${encodeURIComponent(wiki)}`
  if (text === undefined || text === '') {
    return page(`mbwa dry-run diffs: ${wiki}`, `<p>No dry-run diffs of ${esc(wiki)} here. In a dry run (no <code>--apply</code>) the sink of this deployment writes each edit it would make to <code>dataDir/diffs/${esc(wiki)}.diff</code>, once, and they are shown here. ${link(base, 'Reports')}.</p>`)
  }
  const lines = text.split('\n').map((l) => {
    const cls = l.startsWith('+++') || l.startsWith('---') ? 'h' : l.startsWith('+') ? 'a' : l.startsWith('-') ? 'r' : l.startsWith('@@') ? 'h' : l.startsWith('# ') || l.startsWith('Index: ') || l.startsWith('=') ? 'h' : ''
    return cls ? `<span class="${cls}" dir="auto">${esc(l)}</span>` : `<span dir="auto">${esc(l)}</span>`
  })
  return page(
    `mbwa dry-run diffs: ${wiki}`,
    `<p>The edits the sink would have made on ${esc(wiki)} in a dry run, each shown once, oldest first, as of ${esc(iso(o.now))}.${o.truncated ? ' This is the end of a long file:' : ''} ${link(`${base}/diffs?format=text`, 'the whole file as text')} · ${link(base, 'reports')}.</p>
<style>pre.diff span{display:block} pre.diff .a{background:#e6ffec} pre.diff .r{background:#ffebe9} pre.diff .h{color:#555;font-weight:bold}</style>
<pre class="diff">${lines.join('')}</pre>`,
  )
}

/** A wiki's "missing here" list: titles real on other wikis and absent here, most-present first, each linked where it is. */
export function missingPage(
  wiki: string,
  items: readonly { title: string; wikis: string[] }[],
  o: { minWikis: number; next: string | null; now: number; urlOf: (wiki: string, title: string) => string | undefined },
): string {
  const base = `/reports/${encodeURIComponent(wiki)}/missing`
  const rows = items
    .map((i) => {
      const where = i.wikis.map((w) => { const url = o.urlOf(w, i.title); return url ? link(url, w) : esc(w) }).join(' ')
      return `<tr><td dir="auto">${esc(i.title)}</td><td class="n">${n(i.wikis.length)}</td><td>${where}</td></tr>`
    })
    .join('\n')
  const choices = [2, 3, 5, 10, 20].map((m) => (m === o.minWikis ? `<strong>${m}</strong>` : link(`${base}?minWikis=${m}`, String(m)))).join(' · ')
  return page(
    `mbwa missing here: ${wiki}`,
    `<p>Titles that are real pages (not redirects, not blank) on at least ${n(o.minWikis)} other wikis and have no page on ${esc(wiki)}, most-present first, as of ${esc(iso(o.now))}. At least: ${choices}. JSON: <code>/v1/wikis/${esc(wiki)}/missing?minWikis=${n(o.minWikis)}</code>. ${link(`/reports/${encodeURIComponent(wiki)}`, 'Reports')}.</p>
<table><thead><tr><th>title</th><th>wikis</th><th>where</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="3">none</td></tr>'}
</tbody></table>
${o.next ? `<p>${link(`${base}?minWikis=${o.minWikis}&cursor=${encodeURIComponent(o.next)}`, 'next page', ' rel="next"')}</p>` : ''}`,
  )
}
