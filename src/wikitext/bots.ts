// {{nobots}} and {{bots|allow=…|deny=…}} (DESIGN.md rule 6), in either case of the first letter: on a
// case-sensitive wiki {{nobots}} and {{Nobots}} are different templates and both are meant.

const NOBOTS = /\{\{\s*[nN]obots\s*(\|[^}]*)?\}\}/
const BOTS = /\{\{\s*[bB]ots\s*\|([^}]*)\}\}/g

/**
 * True when the page asks bots (or this one) to stay away. `botName` is the account's name (as the wiki's userinfo
 * says), and may be several names the bot answers to (the account and the tool, "mbwa"): a deny of any of them
 * denies, an allow of any of them allows.
 */
export function botsDenied(text: string, botName: string | readonly string[]): boolean {
  if (NOBOTS.test(text)) return true
  const mine = (typeof botName === 'string' ? [botName] : botName).map((n) => n.trim().toLowerCase())
  for (const m of text.matchAll(BOTS)) {
    for (const part of m[1]!.split('|')) {
      const eq = part.indexOf('=')
      if (eq < 0) continue
      const key = part.slice(0, eq).trim().toLowerCase()
      const names = part.slice(eq + 1).split(',').map((n) => n.trim().toLowerCase())
      if (key === 'deny' && (names.includes('all') || mine.some((me) => names.includes(me)))) return true
      if (key === 'allow' && (names.includes('none') || (!names.includes('all') && !mine.some((me) => names.includes(me))))) return true
    }
  }
  return false
}
