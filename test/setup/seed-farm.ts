import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { readFarm } from './farm.js'

// A farm seeded as real wikis are: titles in many scripts shared by some wikis, pages with prose, short pages,
// pages with nothing but links (blank), redirects, a few {{nobots}}; links complete on some pages, partial on
// others, some pointing at wikis that lack the title. The plan is deterministic (a seed), and knows what every
// page should carry once mbwa is done: the budget test and bench/sink check the farm against it.

export type PageKind = 'prose' | 'short' | 'blank' | 'redirect' | 'nobots'

export interface SeededPage {
  kind: PageKind
  /** Codes the page links to, as seeded. */
  links: string[]
}

export interface SeededTitle {
  title: string
  pages: Record<string, SeededPage>
}

function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const STEMS = ['wörd', 'кот', '猫', 'ǅemal', 'İstanbul', 'straße', 'חתול', 'قط', 'ｎeko', 'e\u0301cole', '𝔘nicode', 'naïve café']

export function seedPlan(n: number, langs: readonly string[], seed = 1, stem = ''): SeededTitle[] {
  const rnd = random(seed)
  const out: SeededTitle[] = []
  for (let i = 0; i < n; i++) {
    const title = `${stem}${STEMS[i % STEMS.length]} ${i}`
    const present = langs.filter(() => rnd() < 0.8)
    if (present.length < 2) present.splice(0, present.length, ...langs.slice(0, 2))
    const pages: Record<string, SeededPage> = {}
    for (const l of present) {
      const r = rnd()
      const kind: PageKind = r < 0.7 ? 'prose' : r < 0.82 ? 'short' : r < 0.88 ? 'blank' : r < 0.94 ? 'redirect' : 'nobots'
      pages[l] = { kind, links: [] }
    }
    const members = present.filter((l) => takesPart(pages[l]!.kind))
    for (const l of present) {
      const p = pages[l]!
      if (p.kind === 'redirect') continue
      const others = members.filter((m) => m !== l)
      p.links = rnd() < 0.55 ? others : others.filter(() => rnd() < 0.5)
      // A link to a wiki that lacks the title, or whose page takes no part: to be removed.
      if (rnd() < 0.15) {
        const wrong = langs.filter((x) => x !== l && !members.includes(x))
        if (wrong.length > 0) p.links.push(wrong[Math.floor(rnd() * wrong.length)]!)
      }
      if (p.kind === 'blank' && p.links.length === 0) p.links = langs.filter((x) => x !== l).slice(0, 1)
      p.links.sort()
    }
    out.push({ title, pages })
  }
  return out
}

function takesPart(kind: PageKind): boolean {
  return kind === 'prose' || kind === 'short' || kind === 'nobots'
}

export function pageText(t: SeededTitle, lang: string): string {
  const p = t.pages[lang]!
  const links = p.links.map((c) => `[[${c}:${t.title}]]`).join('\n')
  switch (p.kind) {
    case 'redirect':
      return `#REDIRECT [[${t.title} (target)]]`
    case 'blank':
      return `\n${links}\n`
    case 'short':
      return `Kurz.\n${links}`
    case 'nobots':
      return `{{nobots}}\nA page its editors keep to themselves, about ${t.title}.\n\n${links}`
    default:
      return `'''${t.title}''' is a word with a long enough entry to be surely not blank.\n\n[[Category:Words]]\n${links}`
  }
}

/** What each page should carry when mbwa is done (codes), and the pages it must leave alone. */
export function expectedLinks(plan: readonly SeededTitle[]): { should: Map<string, string[]>; untouched: Set<string> } {
  const should = new Map<string, string[]>()
  const untouched = new Set<string>()
  for (const t of plan) {
    const members = Object.keys(t.pages).filter((l) => takesPart(t.pages[l]!.kind))
    const redirects = Object.keys(t.pages).filter((l) => t.pages[l]!.kind === 'redirect')
    for (const [l, p] of Object.entries(t.pages)) {
      // A link to a redirect is tolerated (no wiki of the farm links to redirects, none removes a link to one).
      if (p.kind === 'prose' || p.kind === 'short') should.set(`${l}:${t.title}`, [...new Set([...members.filter((m) => m !== l), ...p.links.filter((c) => redirects.includes(c))])].sort())
      else untouched.add(`${l}:${t.title}`)
    }
  }
  return { should, untouched }
}

/** Pages whose links must change (edits an exact bot makes). */
export function editsNeeded(plan: readonly SeededTitle[]): number {
  const { should } = expectedLinks(plan)
  let n = 0
  for (const t of plan) {
    for (const [l, p] of Object.entries(t.pages)) {
      const want = should.get(`${l}:${t.title}`)
      if (want && want.join('|') !== p.links.join('|')) n++
    }
  }
  return n
}

/** Writes the plan's pages, as the farm's Admin, the wikis in parallel and each wiki's pages in series. */
export async function seedFarm(plan: readonly SeededTitle[], farmJson?: string): Promise<number> {
  const farm = readFarm(farmJson)
  let written = 0
  await Promise.all(
    farm.wikis.map(async (w) => {
      const client = new MediaWikiClient({ api: w.api, contact: 'mbwa tests', maxlag: 0 })
      try {
        await client.login(farm.admin.botPasswordUser, farm.admin.botPassword)
        const token = await client.csrfToken()
        for (const t of plan) {
          if (!t.pages[w.lang]) continue
          await client.post({ action: 'edit', title: t.title, text: pageText(t, w.lang), token, summary: 'seed' })
          written++
        }
      } finally {
        await client.close()
      }
    }),
  )
  return written
}

/** The language links each page of the plan carries now, by `lang:title` (read in batches of 50). */
export async function readLinks(plan: readonly SeededTitle[], farmJson?: string): Promise<Map<string, string[]>> {
  const farm = readFarm(farmJson)
  const out = new Map<string, string[]>()
  for (const w of farm.wikis) {
    const client = new MediaWikiClient({ api: w.api, contact: 'mbwa tests', maxlag: 0 })
    try {
      const titles = plan.filter((t) => t.pages[w.lang]).map((t) => t.title)
      for (let i = 0; i < titles.length; i += 50) {
        const chunk = titles.slice(i, i + 50)
        const byTitle = new Map<string, string[]>()
        const renamed = new Map<string, string>()
        for await (const res of client.continued({ action: 'query', titles: chunk, prop: 'langlinks', lllimit: 'max' })) {
          const q = res.query as { pages: { title: string; langlinks?: { lang: string }[] }[]; normalized?: { from: string; to: string }[] }
          for (const p of q.pages) byTitle.set(p.title, [...(byTitle.get(p.title) ?? []), ...(p.langlinks ?? []).map((l) => l.lang)])
          for (const n of q.normalized ?? []) renamed.set(n.from, n.to)
        }
        // MediaWiki takes every input in NFC before the API sees it: no `normalized` entry tells of that.
        for (const t of chunk) out.set(`${w.lang}:${t}`, [...(byTitle.get(renamed.get(t) ?? t) ?? byTitle.get(t.normalize('NFC')) ?? [])].sort())
      }
    } finally {
      await client.close()
    }
  }
  return out
}
