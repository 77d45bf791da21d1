// Where a person reads a page: the wiki's article path. Wikimedia's wikis serve /wiki/Title; another MediaWiki is
// reached through index.php?title= beside its api.php, which every installation has (whatever its $wgArticlePath).

/** A title as MediaWiki writes it in URLs: spaces as underscores, the rest percent-encoded (slashes and colons kept). */
function urlTitle(title: string): string {
  return encodeURIComponent(title.replace(/ /g, '_')).replace(/%2F/g, '/').replace(/%3A/g, ':')
}

export function pageUrl(api: string | undefined, title: string): string | undefined {
  if (api === undefined) return undefined
  let u: URL
  try {
    u = new URL(api)
  } catch {
    return undefined
  }
  if (/(^|\.)(wiktionary|wikipedia|wikimedia|wikibooks|wikiquote|wikisource|wikiversity|wikivoyage|wikinews)\.org$/.test(u.hostname)) return `${u.origin}/wiki/${urlTitle(title)}`
  const base = u.pathname.replace(/api\.php$/, 'index.php')
  return `${u.origin}${base}?title=${urlTitle(title)}`
}
