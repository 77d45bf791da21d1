import { createServer } from 'node:net'
import type { Config } from '../config/schema.js'
import { readSecret } from '../config/secrets.js'
import { MbwaError } from '../errors/errors.js'
import { wikiRules } from '../domain/wiki-rules.js'

// What `mbwa run` checks before anything starts: everything that can fail at once and would otherwise fail after
// the sources had begun reading the wikis (a half-started process that systemd still sees as active). The
// configuration itself was validated when it was loaded.

/** The editable wikis' credentials and every secret a run reads, read now (values are not kept). */
export function checkSecrets(config: Config): void {
  if (config.http.token) readSecret(config.http.token, 'http.token')
  if (!config.sink.enabled || !config.sink.apply) return
  const rules = wikiRules(config)
  for (const [code, w] of Object.entries(config.wikis)) {
    const r = rules.get(code)!
    if (r.closed || r.locked || (!r.edit && !r.refreshLinks && !(w.reportPage ?? config.wikiDefaults.reportPage))) continue
    const cred = w.credentials
    if (cred?.oauthToken) {
      readSecret(cred.oauthToken, `wikis.${code}.credentials.oauthToken`)
      continue
    }
    if (!(cred?.username && cred.password)) {
      throw new MbwaError('MBWA_CONFIG_INVALID', `config key wikis.${code}.credentials: an editable wiki (or one with a reportPage) needs username and password, or oauthToken`, { wiki: code, key: `wikis.${code}.credentials` })
    }
    readSecret(cred.password, `wikis.${code}.credentials.password`)
  }
}

/** The query endpoint's address can be bound (nothing else listens there). */
export async function checkPort(host: string, port: number): Promise<void> {
  if (port === 0) return
  await new Promise<void>((resolve, reject) => {
    const probe = createServer()
    probe.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is in use (another mbwa, or another program)' : err.code === 'EACCES' ? 'may not be bound by this user' : `cannot be bound (${err.code ?? err.message})`
      reject(new MbwaError('MBWA_PORT_UNAVAILABLE', `config key http.port: ${host}:${port} ${why}`, { key: 'http.port' }))
    })
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()))
  })
}

const WIKIMEDIA = /(^|\.)(wikipedia|wiktionary|wikibooks|wikinews|wikiquote|wikisource|wikiversity|wikivoyage|wikimedia|wikidata|mediawiki|wikifunctions)\.org$/

/** Whether an API URL is one of Wikimedia's wikis (their User-Agent policy applies). */
export function isWikimediaHost(api: string): boolean {
  try {
    return WIKIMEDIA.test(new URL(api).hostname)
  } catch {
    return false
  }
}

/**
 * Wikimedia's User-Agent policy asks every bot for a way to reach its operator. Without one (userAgent.contact)
 * mbwa refuses to edit Wikimedia's wikis, and says loudly that it reads them without.
 */
export function checkContact(config: Config, warn: (msg: string) => void): void {
  if (config.userAgent.contact.trim() !== '') return
  const wikimedia = Object.entries(config.wikis).filter(([, w]) => w.api !== undefined && isWikimediaHost(w.api))
  const discovering = config.discovery.sitematrix.enabled && isWikimediaHost(config.discovery.sitematrix.api)
  if (wikimedia.length === 0 && !discovering) return
  const rules = wikiRules(config)
  const editing = config.sink.enabled && config.sink.apply && wikimedia.some(([code, w]) => rules.get(code)!.edit || rules.get(code)!.refreshLinks || (w.reportPage ?? config.wikiDefaults.reportPage) !== undefined)
  const why = "Wikimedia's User-Agent policy asks for a contact (https://meta.wikimedia.org/wiki/User-Agent_policy)"
  if (editing) throw new MbwaError('MBWA_CONFIG_INVALID', `config key userAgent.contact: empty, and mbwa would edit Wikimedia's wikis: ${why}; set it to a URL or e-mail address where you can be reached`, { key: 'userAgent.contact' })
  const what = discovering ? "Wikimedia's wikis (the sitematrix's)" : `${wikimedia.length} Wikimedia wiki(s)`
  warn(`mbwa: WARNING: userAgent.contact is empty: mbwa reads ${what} as "no contact configured"; ${why} (MBWA_USER_AGENT__CONTACT=you@example.org, or userAgent.contact in the configuration)`)
}

/** The checks, in the order a user fixes them. */
export async function preflight(config: Config, warn: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<void> {
  checkSecrets(config)
  checkContact(config, warn)
  await checkPort(config.http.host, config.http.port)
}
