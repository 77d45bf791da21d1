import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FakeEventStreams } from '../setup/fake-eventstreams.js'
import { farmWiki, readFarm } from '../setup/farm.js'
import { testBrokers } from '../setup/kafka.js'
import { runMbwa } from '../setup/mbwa-process.js'

// `mbwa config --check` as an operator runs it before the first start: each endpoint contacted once, what it
// said, and a failure named per endpoint, without starting anything.
describe('mbwa config --check (int, real MediaWiki, real broker)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-check-'))
  const stream = new FakeEventStreams([])
  afterAll(async () => {
    await stream.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('prints site name, case, main page and the bot account\'s rights per wiki, and fails naming what is wrong', { timeout: 120_000 }, async () => {
    const farm = readFarm()
    const streamUrl = await stream.listen()
    const config = join(dir, 'mbwa.yaml')
    writeFileSync(
      config,
      `dataDir: ${join(dir, 'data')}
userAgent: {contact: "mbwa tests"}
log: {brokers: [${testBrokers().join(', ')}], topicPrefix: checknone}
sources: {eventStreams: {enabled: true, url: "${streamUrl}"}}
wikis:
  en: {api: "${farmWiki('en').api}", edit: true, credentials: {username: "${farm.bot.botPasswordUser}", password: {env: MBWA_TEST_BOT_PASSWORD}}}
  fr: {api: "${farmWiki('fr').api}"}
  nl: {api: "${farmWiki('nl').api}", edit: true}
  xx: {api: "http://127.0.0.1:9/api.php"}
`,
    )
    const r = await runMbwa(['--config', config, 'config', '--check'], { cwd: dir, env: { MBWA_TEST_BOT_PASSWORD: farm.bot.botPassword } })
    const line = (what: string) => r.stdout.split('\n').find((l) => l.startsWith(what.padEnd(12))) ?? `(no line for ${what} in:\n${r.stdout})`
    expect(line('en')).toMatch(/^en +ok +.+ \(en, MediaWiki 1\.\d+.*\); case case-sensitive; main page "[^"]+"; [\d,]+ content pages; account InterwikiBot: edit, bot/)
    expect(line('fr')).toMatch(/^fr +ok +.+; anonymous \(no credentials\)/)
    // A dry run edits nothing: the missing account is said, and is no failure.
    expect(line('nl')).toMatch(/^nl +ok +.+edit is on but no account logged in \(a dry run: nothing is edited; --apply would need it\)/)
    expect(line('xx')).toMatch(/^xx +FAILED +http:\/\/127\.0\.0\.1:9\/api\.php: /)
    expect(line('eventstreams')).toMatch(/^eventstreams +ok +http:\/\/127\.0\.0\.1:\d+\/v2\/stream\/mediawiki\.recentchange,.*: HTTP 200 text\/event-stream/)
    expect(line('kafka')).toMatch(/^kafka +ok +127\.0\.0\.1:\d+: reachable; checknone\.events does not exist yet/)
    expect(r.stderr).toContain('1 of 6 checks failed')
    expect(r.status).toBe(1)
    expect(r.stdout + r.stderr).not.toContain(farm.bot.botPassword)

    // With --apply in the configuration (sink.apply), the same is a failure.
    const applying = await runMbwa(['--config', config, 'config', '--check'], { cwd: dir, env: { MBWA_TEST_BOT_PASSWORD: farm.bot.botPassword, MBWA_SINK__APPLY: 'true' } })
    expect(applying.stdout.split('\n').find((l) => l.startsWith('nl'))).toMatch(/^nl +FAILED +.+edit is on but no account logged in$/)
    expect(applying.stderr).toContain('2 of 6 checks failed')

    // A missing secret is that wiki's failure, named by its key, never the secret.
    const again = await runMbwa(['--config', config, 'config', '--check'], { cwd: dir })
    expect(again.stdout).toMatch(/en +FAILED +.*wikis\.en\.credentials\.password/)
  })
})
