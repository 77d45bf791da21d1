// {{nobots}} and {{bots|allow=…|deny=…}} (DESIGN.md rule 6), in either case of the first letter: on a
// case-sensitive wiki {{nobots}} and {{Nobots}} are different templates and both are meant.

const NOBOTS = /\{\{\s*[nN]obots\s*(\|[^}]*)?\}\}/
const BOTS = /\{\{\s*[bB]ots\s*\|([^}]*)\}\}/g

/** True when the page asks bots (or this one) to stay away. */
export function botsDenied(text: string, botName: string): boolean {
  if (NOBOTS.test(text)) return true
  const me = botName.trim().toLowerCase()
  for (const m of text.matchAll(BOTS)) {
    for (const part of m[1]!.split('|')) {
      const eq = part.indexOf('=')
      if (eq < 0) continue
      const key = part.slice(0, eq).trim().toLowerCase()
      const names = part.slice(eq + 1).split(',').map((n) => n.trim().toLowerCase())
      if (key === 'deny' && (names.includes('all') || names.includes(me))) return true
      if (key === 'allow' && (names.includes('none') || (!names.includes('all') && !names.includes(me)))) return true
    }
  }
  return false
}
