import { MediaWikiApiError } from '../mediawiki/client.js'

// What a failed edit (or purge) means, decided in one place from the error alone: the sink reads the class and
// acts (edit-sink.ts), and the table of codes is tested as a table (test/sinks/edit-failure.unit.test.ts).

/** Refusals that concern one page: the command ends, the wiki goes on. */
const PAGE_REFUSALS = new Set([
  'protectedpage',
  'cascadeprotected',
  'protectedtitle',
  'permissiondenied',
  'abusefilter-disallowed',
  'abusefilter-warning',
  'spamblacklist',
  'titleblacklist-forbidden',
  'contenttoobig',
  'noedit-anon',
])

/** States of the wiki or the account: writing there pauses until a check finds it writable again. */
const WIKI_PAUSES = new Set(['readonly', 'blocked', 'autoblocked', 'assertbotfailed', 'assertuserfailed', 'login-failed', 'noedit', 'writeapidenied'])

export type EditFailure =
  /** Someone edited the page meanwhile: read it again and judge again. */
  | { kind: 'conflict'; code: string }
  /** The page is gone (deleted meanwhile): the command ends, skipped. */
  | { kind: 'missing'; code: string }
  /** The wiki refuses this page (protection, abuse filter, spam blacklist …): the command ends, skipped. */
  | { kind: 'page-refused'; code: string }
  /** The wiki or the account cannot be written now: the wiki is paused, the command stays. */
  | { kind: 'pause-wiki'; code: string; message: string }
  /** An error that will not pass by trying again: a final EditFailed. */
  | { kind: 'final'; code: string; message: string }
  /** An error that may pass: tried again later, with backoff. */
  | { kind: 'retry'; code: string; message: string }
  /** No answer from the wiki: the edit may or may not have happened; never resent blindly (the next verify tells). */
  | { kind: 'outcome-unknown'; code: string; message: string }

export function classifyEditFailure(err: unknown): EditFailure {
  if (!(err instanceof MediaWikiApiError)) return { kind: 'outcome-unknown', code: 'MBWA_MEDIAWIKI_UNREACHABLE', message: (err as Error)?.message ?? String(err) }
  const code = err.apiCode
  if (code === 'editconflict') return { kind: 'conflict', code }
  if (code === 'pagedeleted' || code === 'missingtitle') return { kind: 'missing', code }
  if (PAGE_REFUSALS.has(code) || code.startsWith('abusefilter-')) return { kind: 'page-refused', code }
  if (WIKI_PAUSES.has(code)) return { kind: 'pause-wiki', code, message: err.info }
  if (!err.retriable) return { kind: 'final', code, message: err.info }
  return { kind: 'retry', code, message: err.info }
}
