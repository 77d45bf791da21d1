import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { checkContact, checkSecrets, isWikimediaHost } from '../../src/app/preflight.js'

// Wikimedia's User-Agent policy at start: a warning when its wikis are read without a contact, a refusal to edit.
describe('the User-Agent contact on Wikimedia (unit)', () => {
  const config = (flags: Record<string, unknown>) => loadConfig({ env: {}, searchPaths: [], flags }).config

  it('knows Wikimedia hosts', () => {
    expect(isWikimediaHost('https://en.wiktionary.org/w/api.php')).toBe(true)
    expect(isWikimediaHost('https://fr.wikipedia.org/w/api.php')).toBe(true)
    expect(isWikimediaHost('http://127.0.0.1:18081/api.php')).toBe(false)
    expect(isWikimediaHost('https://wiktionary.org.example.com/w/api.php')).toBe(false)
  })

  it('warns loudly when Wikimedia is read without a contact, refuses to edit it, and says nothing elsewhere', () => {
    const warnings: string[] = []
    checkContact(config({}), (m) => warnings.push(m)) // the defaults: every Wiktionary, read only
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/WARNING: userAgent.contact is empty.*User-Agent policy/)
    expect(() => checkContact(config({ sink: { apply: true }, wikis: { en: { edit: true } } }), () => undefined)).toThrow(/config key userAgent.contact/)
    const quiet: string[] = []
    checkContact(config({ userAgent: { contact: 'me@example.org' }, sink: { apply: true }, wikis: { en: { edit: true } } }), (m) => quiet.push(m))
    checkContact(config({ wikis: { en: { api: 'http://127.0.0.1:18081/api.php' } }, sink: { apply: true } }), (m) => quiet.push(m))
    expect(quiet).toEqual([])
  })
})

// A report page is an edit: it needs the account, and on Wikimedia the contact.
describe('report pages at start (unit)', () => {
  const config = (flags: Record<string, unknown>) => loadConfig({ env: {}, searchPaths: [], flags }).config

  it('a wiki with a report page needs credentials to apply, even when its articles are not edited', () => {
    const page = { reportPage: 'User:Bot/Reports' }
    expect(() => checkSecrets(config({ sink: { apply: true }, wikis: { en: page } }))).toThrow(/config key wikis\.en\.credentials/)
    expect(() => checkSecrets(config({ sink: { apply: true }, wikiDefaults: page, wikis: { en: {} } }))).toThrow(/config key wikis\.en\.credentials/)
    expect(() => checkSecrets(config({ wikis: { en: page } }))).not.toThrow() // a dry run shows the diff
    expect(() => checkContact(config({ sink: { apply: true }, wikis: { en: page } }), () => undefined)).toThrow(/config key userAgent.contact/)
  })
})
