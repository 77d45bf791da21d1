import { describe, expect, it } from 'vitest'
import { MediaWikiApiError } from '../../src/mediawiki/client.js'
import { classifyEditFailure } from '../../src/sinks/edit-failure.js'

// What each failure of an edit means for the command and the wiki, as a table.
describe('classifyEditFailure (unit)', () => {
  const api = (code: string) => new MediaWikiApiError(code, `the wiki says ${code}`, 'en')
  it.each([
    ['editconflict', 'conflict'],
    ['pagedeleted', 'missing'],
    ['missingtitle', 'missing'],
    ['protectedpage', 'page-refused'],
    ['cascadeprotected', 'page-refused'],
    ['protectedtitle', 'page-refused'],
    ['permissiondenied', 'page-refused'],
    ['abusefilter-disallowed', 'page-refused'],
    ['abusefilter-warning', 'page-refused'],
    ['abusefilter-blocked-display', 'page-refused'],
    ['spamblacklist', 'page-refused'],
    ['titleblacklist-forbidden', 'page-refused'],
    ['contenttoobig', 'page-refused'],
    ['noedit-anon', 'page-refused'],
    ['readonly', 'pause-wiki'],
    ['blocked', 'pause-wiki'],
    ['autoblocked', 'pause-wiki'],
    ['assertbotfailed', 'pause-wiki'],
    ['assertuserfailed', 'pause-wiki'],
    ['login-failed', 'pause-wiki'],
    ['noedit', 'pause-wiki'],
    ['writeapidenied', 'pause-wiki'],
    ['maxlag', 'retry'],
    ['ratelimited', 'retry'],
    ['internal_api_error_DBQueryError', 'retry'],
    ['badtoken', 'final'],
    ['invalidtitle', 'final'],
    ['some-new-code', 'final'],
  ])('%s → %s', (code, kind) => {
    const c = classifyEditFailure(api(code))
    expect(c.kind).toBe(kind)
    expect(c.code).toBe(code)
  })

  it('no answer at all: the outcome is unknown (never resent blindly)', () => {
    expect(classifyEditFailure(new Error('socket hang up'))).toEqual({ kind: 'outcome-unknown', code: 'MBWA_MEDIAWIKI_UNREACHABLE', message: 'socket hang up' })
  })
})
