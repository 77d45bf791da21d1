import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

// W generated wikis that share titles, behind a loopback server speaking the MediaWiki Action API (siteinfo,
// allpages with prop=langlinks|info, empty recent changes): the bootstrap bench and the scale-out test read them as
// mbwa reads a farm. Deterministic: the same options give the same wikis, and every page's expected verdict (manual
// mode, every wiki snapshotted) is known without mbwa. The first wiki has every title, the others a share falling
// from 54 % to 5 %; 10 % of links are missing, 3 % of pages carry a stale link to a wiki lacking the title, 2 % are
// redirects, 1 % blank (true byte lengths, so a snapshot can tell a short page).

const NAMES = ['en', 'fr', 'de', 'nl', 'pl', 'ru', 'es', 'it', 'sv', 'ja', 'zh', 'pt', 'fi', 'el', 'hu', 'ko']

/** A deterministic hash of a few integers (the generator's randomness). */
export function mix(...xs: number[]): number {
  let v = 0x9e3779b9
  for (const x of xs) {
    v = Math.imul(v ^ x, 0x85ebca6b)
    v ^= v >>> 13
    v = Math.imul(v, 0xc2b2ae35)
    v ^= v >>> 16
  }
  return v >>> 0
}

export interface ServedApi {
  url: string
  requests(): number
  close(): Promise<void>
}

export class GeneratedWikis {
  readonly codes: string[]
  /** Titles in all (the first wiki's pages). */
  readonly titles: number
  private readonly shares: number[]

  constructor(
    readonly wikis: number,
    pages: number,
    /** Pages per allpages answer (5,000 is what a bot account gets). */
    readonly pageSize = 5000,
  ) {
    this.codes = Array.from({ length: wikis }, (_, i) => NAMES[i] ?? `w${i}`)
    this.shares = this.codes.map((_, w) => (w === 0 ? 100 : Math.max(5, 60 - 6 * w)))
    this.titles = Math.round(pages / (this.shares.reduce((a, b) => a + b, 0) / 100))
  }

  title(t: number): string {
    return `w${t.toString(36).padStart(5, '0')}`
  }

  has(t: number, w: number): boolean {
    return w === 0 || mix(t, w) % 100 < this.shares[w]!
  }

  redirect(t: number, w: number): boolean {
    return this.has(t, w) && mix(t, w, 1) % 100 < 2
  }

  blank(t: number, w: number): boolean {
    return this.has(t, w) && !this.redirect(t, w) && mix(t, w, 2) % 100 === 0
  }

  participates(t: number, w: number): boolean {
    return this.has(t, w) && !this.redirect(t, w) && !this.blank(t, w)
  }

  /** The wikis a page links: its title on the other wikis that have it (10 % missing), and a stale one in 3 %. */
  links(t: number, w: number): number[] {
    if (this.redirect(t, w) || this.blank(t, w)) return []
    const out: number[] = []
    for (let o = 0; o < this.wikis; o++) if (o !== w && this.has(t, o) && mix(t, w, o, 3) % 10 !== 0) out.push(o)
    if (mix(t, w, 4) % 33 === 0) {
      const lacking = this.codes.findIndex((_, o) => o !== w && !this.has(t, o))
      if (lacking >= 0) out.push(lacking)
    }
    return out
  }

  pagesOf(w: number): number {
    let n = 0
    for (let t = 0; t < this.titles; t++) if (this.has(t, w)) n++
    return n
  }

  pagesTotal(): number {
    let n = 0
    for (let w = 0; w < this.wikis; w++) n += this.pagesOf(w)
    return n
  }

  /**
   * What mbwa should say of page (t, w) in manual mode once every wiki is snapshotted: the codes to add and to
   * remove. A blank page cannot be told from a short one by a snapshot (its text is not read), so it still takes
   * part until its text is read; a redirect takes no part, and a link to it stays.
   */
  expected(t: number, w: number): { add: string[]; remove: string[] } {
    const ls = new Set(this.links(t, w))
    const complete = this.codes.every((_, o) => !this.blank(t, o))
    const part = (o: number) => this.has(t, o) && !this.redirect(t, o)
    const takesPart = this.participates(t, w) || this.blank(t, w)
    const add = takesPart ? this.codes.filter((_, o) => o !== w && part(o) && !ls.has(o)).sort() : []
    // A link to a redirect is tolerated (no generated wiki links to redirects, none removes a link to one).
    const remove = takesPart && complete ? [...ls].filter((o) => !part(o) && !this.redirect(t, o)).map((o) => this.codes[o]!).sort() : []
    return { add, remove }
  }

  private apiPage(t: number, w: number) {
    const ls = this.links(t, w)
    const linkBytes = ls.reduce((n, o) => n + Buffer.byteLength(`[[${this.codes[o]}:${this.title(t)}]]\n`), 0)
    const text = this.blank(t, w) ? 10 : this.redirect(t, w) ? 30 : 200 + (mix(t, w, 5) % 500)
    return {
      pageid: t * this.wikis + w + 1,
      ns: 0,
      title: this.title(t),
      ...(this.redirect(t, w) ? { redirect: true } : {}),
      lastrevid: (mix(t, w, 6) % 1_000_000) + 1,
      length: text + linkBytes,
      langlinks: ls.map((o) => ({ lang: this.codes[o], title: this.title(t) })),
    }
  }

  /** The loopback API, one path per wiki (`/{code}/api.php`). */
  serve(): Promise<ServedApi> {
    let requests = 0
    const counts = new Map<number, number>()
    const server = createServer((req, res) => {
      requests++
      const url = new URL(req.url ?? '/', 'http://x')
      const w = this.codes.indexOf(url.pathname.split('/')[1] ?? '')
      const p = url.searchParams
      let body: unknown
      if (w < 0) body = { error: { code: 'nowiki', info: 'no such wiki' } }
      else if (p.get('meta')?.includes('siteinfo')) {
        if (!counts.has(w)) counts.set(w, this.pagesOf(w))
        body = { batchcomplete: true, query: { general: { case: 'case-sensitive', mainpage: 'Main Page', sitename: this.codes[w] }, statistics: { articles: counts.get(w) } } }
      } else if (p.get('generator') === 'allpages') {
        const from = p.get('gapcontinue')
        let t = from ? parseInt(from.slice(1), 36) : 0
        const limit = Math.min(this.pageSize, Number(p.get('gaplimit') ?? this.pageSize) || this.pageSize)
        const pages = []
        while (t < this.titles && pages.length < limit) {
          if (this.has(t, w)) pages.push(this.apiPage(t, w))
          t++
        }
        while (t < this.titles && !this.has(t, w)) t++
        body = { batchcomplete: true, ...(t < this.titles ? { continue: { gapcontinue: this.title(t), continue: 'gapcontinue||' } } : {}), query: { pages } }
      } else body = { batchcomplete: true, query: { recentchanges: [] } }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    })
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () =>
        resolve({
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          requests: () => requests,
          close: () => new Promise((r) => server.close(() => r())),
        }),
      ),
    )
  }
}
