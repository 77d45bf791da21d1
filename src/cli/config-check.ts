import { request } from 'undici'
import type { Config } from '../config/schema.js'
import { readSecret } from '../config/secrets.js'
import { MediaWikiClient, userAgent } from '../mediawiki/client.js'
import { KafkaLog } from '../log/kafka-log.js'
import { topicNames } from '../log/topics.js'
import { sitematrixWikis } from '../streams/discovery.js'
import { silentLogger } from '../logging.js'

// `mbwa config --check`: every endpoint the configuration names, contacted once, and what it said: for a wiki its
// name, how it compares titles, its main page and size, and (with credentials) the rights of the bot account;
// the sitematrix, the EventStreams service and the Kafka brokers when they are configured. Nothing is started,
// nothing is written. A secret that cannot be read, or an answer that is an error, is a failed line.

export interface CheckLine {
  what: string
  ok: boolean
  said: string
}

interface SiteInfo {
  general?: { sitename?: string; lang?: string; case?: string; mainpage?: string; readonly?: boolean; readonlyreason?: string; generator?: string }
  statistics?: { articles?: number }
  userinfo?: { name?: string; anon?: boolean; rights?: string[]; blockid?: number; blockreason?: string }
}

// A check asks once: one retry on a network error, no long waits.
const TIMEOUTS = { timeoutMs: 15_000, retry: { retries: 1, lagRetries: 2, maxRetryAfterMs: 10_000 } }

async function checkWiki(config: Config, code: string): Promise<CheckLine> {
  const w = config.wikis[code]!
  const cred = w.credentials
  let client: MediaWikiClient | undefined
  try {
    const oauth = cred?.oauthToken ? readSecret(cred.oauthToken, `wikis.${code}.credentials.oauthToken`) : undefined
    const password = cred?.password ? readSecret(cred.password, `wikis.${code}.credentials.password`) : undefined
    client = new MediaWikiClient({ api: w.api, contact: config.userAgent.contact, bearerToken: oauth, logger: silentLogger, ...TIMEOUTS })
    if (!oauth && cred?.username && password) await client.login(cred.username, password)
    const res = await client.get({ action: 'query', meta: 'siteinfo|userinfo', siprop: 'general|statistics', uiprop: 'rights|blockinfo' })
    const q = (res.query ?? {}) as SiteInfo
    const g = q.general ?? {}
    const parts = [`${g.sitename ?? '?'} (${g.lang ?? '?'}, ${g.generator ?? 'MediaWiki'})`, `case ${g.case ?? '?'}`, `main page "${g.mainpage ?? '?'}"`]
    if (q.statistics?.articles !== undefined) parts.push(`${q.statistics.articles.toLocaleString('en-US')} content pages`)
    if (g.readonly) parts.push(`READ-ONLY: ${g.readonlyreason ?? ''}`)
    const u = q.userinfo
    const rights = u?.rights ?? []
    const shown = ['edit', 'bot', 'apihighlimits', 'noratelimit'].filter((r) => rights.includes(r))
    if (u?.anon || !u?.name) parts.push('anonymous (no credentials)')
    else parts.push(`account ${u.name}: ${shown.length > 0 ? shown.join(', ') : 'no edit rights'}${u.blockid !== undefined ? `; BLOCKED: ${u.blockreason ?? ''}` : ''}`)
    const editable = (w.edit ?? config.wikiDefaults.edit) === true
    // A wiki mbwa is to edit must be writable by the account as the sink asserts it.
    const problem = editable && !u?.anon && (u?.blockid !== undefined || !rights.includes('edit') || (config.sink.assert === 'bot' && !rights.includes('bot')))
    // In a dry run nothing is edited: what would stop an edit is said, and is no failure.
    const fatal = config.sink.apply
    const note = (why: string) => (fatal ? `; ${why}` : `; ${why} (a dry run: nothing is edited; --apply would need it)`)
    if (editable && (u?.anon || !u?.name)) return { what: code, ok: !fatal, said: `${parts.join('; ')}${note('edit is on but no account logged in')}` }
    return { what: code, ok: !(problem && fatal), said: parts.join('; ') + (problem ? note(`edit is on but the account cannot edit as ${config.sink.assert}`) : '') }
  } catch (err) {
    return { what: code, ok: false, said: `${w.api}: ${(err as Error).message}` }
  } finally {
    await client?.close()
  }
}

async function checkSitematrix(config: Config): Promise<CheckLine> {
  const sm = config.discovery.sitematrix
  const client = new MediaWikiClient({ api: sm.api, contact: config.userAgent.contact, logger: silentLogger, ...TIMEOUTS })
  try {
    const wikis = await sitematrixWikis(client, sm.family)
    return { what: 'sitematrix', ok: wikis.length > 0, said: `${sm.api}: ${wikis.length} ${sm.family} wikis (${wikis.filter((w) => w.closed).length} closed)` }
  } catch (err) {
    return { what: 'sitematrix', ok: false, said: `${sm.api}: ${(err as Error).message}` }
  } finally {
    await client.close()
  }
}

async function checkEventStreams(config: Config): Promise<CheckLine> {
  const es = config.sources.eventStreams
  const url = `${es.url}/${es.streams.join(',')}`
  try {
    const res = await request(url, { headers: { 'user-agent': userAgent(config.userAgent.contact), accept: 'text/event-stream' }, headersTimeout: 15_000 })
    // A stream never ends: the status line is the answer; the body is dropped at once.
    res.body.destroy()
    const ok = res.statusCode === 200 && String(res.headers['content-type'] ?? '').startsWith('text/event-stream')
    return { what: 'eventstreams', ok, said: `${url}: HTTP ${res.statusCode} ${String(res.headers['content-type'] ?? '')}` }
  } catch (err) {
    return { what: 'eventstreams', ok: false, said: `${url}: ${(err as Error).message}` }
  }
}

async function checkKafka(config: Config): Promise<CheckLine> {
  const brokers = config.log.brokers.join(',')
  let log: KafkaLog | undefined
  try {
    log = await KafkaLog.connect({ brokers: config.log.brokers, clientId: `${config.log.clientId}-check`, logger: silentLogger })
    const topics = topicNames(config.log.topicPrefix)
    const partitions = await log.partitionCount(topics.events).catch(() => 0)
    return { what: 'kafka', ok: true, said: `${brokers}: reachable; ${topics.events} ${partitions > 0 ? `has ${partitions} partitions` : 'does not exist yet (mbwa run creates it)'}` }
  } catch (err) {
    return { what: 'kafka', ok: false, said: `${brokers}: ${(err as Error).message}` }
  } finally {
    await log?.close().catch(() => undefined)
  }
}

/** Every endpoint the configuration names, one after the other (requests in series, as Wikimedia asks). */
export async function checkConfig(config: Config): Promise<CheckLine[]> {
  const lines: CheckLine[] = []
  for (const code of Object.keys(config.wikis).sort()) lines.push(await checkWiki(config, code))
  if (config.discovery.sitematrix.enabled) lines.push(await checkSitematrix(config))
  if (config.sources.eventStreams.enabled) lines.push(await checkEventStreams(config))
  if (config.log.brokers.length > 0) lines.push(await checkKafka(config))
  return lines
}
