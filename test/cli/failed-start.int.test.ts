import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runMbwa, startMbwa } from '../setup/mbwa-process.js'

// A start that fails, fails (issue 28): everything that can be checked is checked before any source starts, and
// `mbwa run` exits with its documented code (2 for configuration and secrets, 1 otherwise), leaving nothing
// running and nothing written. The wiki is unreachable on purpose: a source that had started would keep the
// process up, retrying it.
const dir = mkdtempSync(join(tmpdir(), 'mbwa-failed-start-'))
let taken: Server
let takenPort = 0
beforeAll(async () => {
  taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  takenPort = (taken.address() as { port: number }).port
})
afterAll(async () => {
  await new Promise<void>((resolve) => taken.close(() => resolve()))
  rmSync(dir, { recursive: true, force: true })
})

function config(name: string, yaml: string): { cfg: string; data: string } {
  const data = join(dir, name)
  const cfg = join(dir, `${name}.yaml`)
  writeFileSync(cfg, `dataDir: ${data}\nhttp: {port: 0}\nsources: {eventStreams: {enabled: false}}\nwikis:\n  en: {api: "http://127.0.0.1:9/api.php", edit: true}\n${yaml}`)
  return { cfg, data }
}

async function failedRun(cfg: string, args: string[] = [], env: Record<string, string> = {}) {
  const started = Date.now()
  const res = await runMbwa(['--config', cfg, 'run', ...args], { cwd: dir, env })
  return { ...res, ms: Date.now() - started }
}

describe('a failed start (processes)', () => {
  it('the port taken: exit 1, MBWA_PORT_UNAVAILABLE naming http.port, no source started, nothing written', async () => {
    const { cfg, data } = config('port', '')
    writeFileSync(cfg, `dataDir: ${data}\nhttp: {port: ${takenPort}}\nsources: {eventStreams: {enabled: false}}\nwikis:\n  en: {api: "http://127.0.0.1:9/api.php"}\n`)
    const res = await failedRun(cfg)
    expect(res.status, res.stderr).toBe(1)
    expect(res.stderr).toContain('MBWA_PORT_UNAVAILABLE')
    expect(res.stderr).toContain('http.port')
    expect(existsSync(join(data, 'log'))).toBe(false)
    console.log(`port taken: exited in ${res.ms} ms`)
  })

  it('an editable wiki without credentials under --apply: exit 2, MBWA_CONFIG_INVALID naming the key', async () => {
    const { cfg, data } = config('cred', '')
    const res = await failedRun(cfg, ['--apply'])
    expect(res.status, res.stderr).toBe(2)
    expect(res.stderr).toContain('MBWA_CONFIG_INVALID')
    expect(res.stderr).toContain('wikis.en.credentials')
    expect(existsSync(join(data, 'log'))).toBe(false)
  })

  it('a secret whose variable is unset: exit 2, MBWA_SECRET_UNAVAILABLE naming the key, not the value', async () => {
    const { cfg, data } = config('secret', '')
    writeFileSync(cfg, `dataDir: ${data}\nhttp: {port: 0}\nsources: {eventStreams: {enabled: false}}\nwikis:\n  en:\n    api: "http://127.0.0.1:9/api.php"\n    edit: true\n    credentials: {username: "Bot@mbwa", password: {env: MBWA_TEST_UNSET_SECRET}}\n`)
    const res = await failedRun(cfg, ['--apply'])
    expect(res.status, res.stderr).toBe(2)
    expect(res.stderr).toContain('MBWA_SECRET_UNAVAILABLE')
    expect(res.stderr).toContain('wikis.en.credentials.password')
    expect(existsSync(join(data, 'log'))).toBe(false)
    // The token of the endpoint is read before anything starts too.
    writeFileSync(cfg, `dataDir: ${data}\nhttp: {port: 0, token: {file: ${join(dir, 'no-such-token')}}}\nsources: {eventStreams: {enabled: false}}\nwikis:\n  en: {api: "http://127.0.0.1:9/api.php"}\n`)
    const token = await failedRun(cfg)
    expect(token.status, token.stderr).toBe(2)
    expect(token.stderr).toContain('http.token')
  })

  it('a store another mbwa holds: exit 1 with MBWA_LOG_LOCKED, and the first keeps running', async () => {
    const { cfg } = config('locked', '')
    const first = startMbwa(['--config', cfg, 'run'], { cwd: dir })
    await first.url()
    const second = await failedRun(cfg)
    expect(second.status, second.stderr).toBe(1)
    expect(second.stderr).toContain('MBWA_LOG_LOCKED')
    expect(first.child.exitCode).toBe(null)
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
  })
})
