import { MbwaError } from '../errors/errors.js'

// A wiki code as it may appear in a path (dumps/public/CODE/…, sink-control/CODE): lowercase letters, digits, -
// and _, starting with a letter. Anything else (../x, a/b, an empty string) is refused before a path is built.
export const WIKI_CODE = /^[a-z][a-z0-9_-]{0,63}$/

export function safeWikiCode(code: string): string {
  if (!WIKI_CODE.test(code)) throw new MbwaError('MBWA_WIKI_NOT_CONFIGURED', `not a wiki code: ${JSON.stringify(code)}`, { wiki: code })
  return code
}
