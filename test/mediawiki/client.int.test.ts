import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MediaWikiApiError, MediaWikiClient } from '../../src/mediawiki/client.js'
import { farmWiki, readFarm } from '../setup/farm.js'

// Against the real farm: login with a bot password, maxlag from the farm's fake-lag switch, read-only.
describe('MediaWiki client (int, real MediaWiki)', () => {
  const nl = farmWiki('nl')
  const clients: MediaWikiClient[] = []
  afterAll(async () => {
    rmSync(join(nl.dir, 'fake-lag'), { force: true })
    rmSync(join(nl.dir, 'readonly'), { force: true })
    await Promise.allSettled(clients.map((c) => c.close()))
  })
  const client = (opts: Partial<ConstructorParameters<typeof MediaWikiClient>[0]> = {}) => {
    const c = new MediaWikiClient({ api: nl.api, contact: 'mbwa tests', ...opts })
    clients.push(c)
    return c
  }

  it('logs in with a bot password and passes assert=bot; a wrong password fails without echoing it', async () => {
    const { bot } = readFarm()
    const c = client()
    await c.login(bot.botPasswordUser, bot.botPassword)
    const res = await c.get({ action: 'query', meta: 'userinfo', assert: 'bot' })
    expect((res.query as { userinfo: { name: string } }).userinfo.name).toBe(bot.user)
    const err = await client().login(bot.botPasswordUser, 'wrong-password-wrong-password-00').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MediaWikiApiError)
    expect((err as Error).message).not.toContain('wrong-password')
  })

  it('reports maxlag with the wiki\'s Retry-After, and waits it out when allowed to', async () => {
    writeFileSync(join(nl.dir, 'fake-lag'), '12')
    const impatient = client({ retry: { lagRetries: 0 } })
    const err = await impatient.get({ action: 'query', meta: 'siteinfo' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ apiCode: 'maxlag', retryAfterMs: 5000 })

    const patient = client({ retry: { lagRetries: 5, maxRetryAfterMs: 200 } })
    setTimeout(() => rmSync(join(nl.dir, 'fake-lag'), { force: true }), 300)
    const before = patient.requests
    await patient.get({ action: 'query', meta: 'siteinfo' })
    expect(patient.requests - before).toBeGreaterThan(1)
  })

  it('surfaces a read-only wiki as a typed error on write', async () => {
    const { bot } = readFarm()
    const c = client()
    await c.login(bot.botPasswordUser, bot.botPassword)
    const token = await c.csrfToken()
    writeFileSync(join(nl.dir, 'readonly'), 'maintenance by the test')
    const err = await c.post({ action: 'edit', title: 'readonly test', text: 'x', token }).catch((e: unknown) => e)
    rmSync(join(nl.dir, 'readonly'), { force: true })
    expect(err).toMatchObject({ apiCode: 'readonly' })
  })
})
