// HTML for people, shared by the query server's pages: everything shown is escaped here, once, and every page has
// the same plain frame (no script, no outside resource: the pages work offline and show no one's data elsewhere).

/** Text for HTML element content and attribute values (quoted). */
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

/** A link whose address came from data: only http(s) addresses become links; anything else is shown as text. */
export function link(href: string | undefined, text: string, attrs = ''): string {
  if (href === undefined || !/^(https?:\/\/|\/)/.test(href)) return esc(text)
  return `<a href="${esc(href)}"${attrs}>${esc(text)}</a>`
}

const STYLE = 'body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}th,td{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}td.n{text-align:right}nav a{margin-right:1em}.muted{color:#666}'

/** A whole page: `body` is HTML already escaped by the caller (through esc and link). */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(title)}</title>
<style>${STYLE}</style></head><body>
<nav><a href="/">mbwa</a><a href="/reports">reports</a><a href="/dumps">dumps</a><a href="/v1/stats">stats (JSON)</a></nav>
<h1>${esc(title)}</h1>
${body}
</body></html>
`
}
