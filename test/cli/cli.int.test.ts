import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PACKAGE_VERSION } from '../../src/paths.js'
import { waitFor } from '../log/helpers.js'
import { CLI, runMbwa, startMbwa } from '../setup/mbwa-process.js'

// The built CLI (npm test builds first), run as users run it, with a clean environment.
const dir = mkdtempSync(join(tmpdir(), 'mbwa-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function mbwa(args: string[], env: Record<string, string> = {}, cwd = dir) {
  return runMbwa(args, { cwd, env })
}

describe('mbwa CLI (processes)', () => {
  it('is built', () => {
    expect(existsSync(CLI)).toBe(true)
  })

  it('prints its version and help', async () => {
    expect((await mbwa(['--version'])).stdout.trim()).toBe(PACKAGE_VERSION)
    const help = await mbwa(['--help'])
    expect(help.status).toBe(0)
    for (const cmd of ['run', 'config', 'offsets']) expect(help.stdout).toContain(cmd)
    expect(help.stdout).toMatch(/Examples:\n {2}mbwa run /)
    expect(help.stdout).toMatch(/Exit codes: 0 done, 1 failure, 2 bad configuration, 3 /)
    expect((await mbwa(['relink', '--help'])).stdout).toMatch(/--wiki <code> .*\(required\)/)
  })

  it('stops on a bad configuration with exit code 2 and a message naming the key', async () => {
    const cfg = join(dir, 'bad.yaml')
    writeFileSync(cfg, 'log:\n  partitions: {events: 0}\n')
    const res = await mbwa(['--config', cfg, 'run'])
    expect(res.status).toBe(2)
    expect(res.stderr).toContain('config key log.partitions.events')
    const env = await mbwa(['config'], { MBWA_HTTP__PORT: 'eighty' })
    expect(env.status).toBe(2)
    expect(env.stderr).toContain('MBWA_HTTP__PORT')
  })

  it('says an ordinary error in one line (a missing file, a bad URL, a refused connection), no stack trace; a closed pipe is no error', async () => {
    const cases: [string[], RegExp][] = [
      [['import', join(dir, 'nothere.gz')], /^mbwa: ENOENT: no such file or directory/],
      [['dump', 'verify', join(dir, 'nothere.gz')], /^mbwa: ENOENT: no such file or directory/],
      [['status', '--url', 'notaurl'], /^mbwa: ERR_INVALID_URL: Invalid URL/],
      [['digest', '--url', 'http://127.0.0.1:9'], /^mbwa: ECONNREFUSED/],
    ]
    for (const [args, line] of cases) {
      const res = await mbwa(args)
      expect({ args, status: res.status }).toEqual({ args, status: 1 })
      expect(res.stderr.trim().split('\n').at(-1)).toMatch(line)
      expect(res.stderr).not.toMatch(/\n\s+at /)
    }
    const { spawnSync } = await import('node:child_process')
    const piped = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" config | head -c 1 >/dev/null`], { cwd: dir, encoding: 'utf8' })
    expect({ status: piped.status, stderr: piped.stderr }).toEqual({ status: 0, stderr: '' })
  })

  it('read-only commands create no state: sink status and offsets in an empty folder say there is no store', async () => {
    const empty = mkdtempSync(join(dir, 'empty-'))
    for (const args of [['sink', 'status'], ['offsets']]) {
      const res = await mbwa(args, {}, empty)
      expect({ args, status: res.status }).toEqual({ args, status: 1 })
      expect(res.stderr).toContain('MBWA_NO_STORE')
      expect(res.stderr).toContain(join(empty, 'data'))
    }
    expect(existsSync(join(empty, 'data'))).toBe(false)
  })

  it('logs JSON lines when stderr is not a terminal, readable lines with ISO times when asked (--log-format pretty)', async () => {
    const where = mkdtempSync(join(dir, 'logs-'))
    const json = await mbwa(['--data-dir', join(where, 'a'), 'rebuild', '--no-progress'], {}, where)
    expect(json.status).toBe(0)
    const first = json.stderr.split('\n').find((l) => l.startsWith('{'))!
    expect(JSON.parse(first)).toMatchObject({ level: 30, msg: 'projection: partitions assigned' })
    expect(json.stderr).not.toContain('log: embedded') // one-shot commands do not open with the log's name
    // A group that never committed: "none", not -1.
    const offsets = await mbwa(['--data-dir', join(where, 'a'), 'offsets', '--group', 'nobody'], {}, where)
    expect(offsets.stdout.split('\n')[2]).toBe('0\tnone\t0\t0')
    const pretty = await mbwa(['--log-format', 'pretty', '--data-dir', join(where, 'b'), 'rebuild', '--no-progress'], {}, where)
    expect(pretty.status).toBe(0)
    expect(pretty.stderr).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] INFO: projection: partitions assigned/m)
    expect(pretty.stderr).not.toMatch(/"level":/)
    const bad = await mbwa(['--log-format', 'fancy', 'config'], {}, where)
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('logging.format')
  })

  it('rejects an unknown command', async () => {
    const res = await mbwa(['frobnicate'])
    expect(res.status).not.toBe(0)
    expect(res.stderr).toContain("unknown command 'frobnicate'")
  })

  it('prints the effective configuration with secrets as references only', async () => {
    const cfg = join(dir, 'wikis.yaml')
    writeFileSync(cfg, 'wikis:\n  en:\n    api: http://127.0.0.1:1/api.php\n    credentials: {username: Bot, password: {env: EN_PW}}\n')
    const res = await mbwa(['--config', cfg, '--data-dir', '/srv/mbwa', 'config'], { EN_PW: 'the-real-secret', MBWA_HTTP__PORT: '9999' })
    expect(res.status).toBe(0)
    expect(res.stdout).toContain('dataDir: /srv/mbwa')
    expect(res.stdout).toContain('port: 9999')
    expect(res.stdout).toContain('env: EN_PW')
    expect(res.stdout + res.stderr).not.toContain('the-real-secret')
  })

  it('refuses a wiki the configuration does not name: dump run, sink resume, relink (MBWA_WIKI_NOT_CONFIGURED)', async () => {
    const work = mkdtempSync(join(dir, 'codes-'))
    const cfg = join(work, 'mbwa.yaml')
    writeFileSync(cfg, `dataDir: ${join(work, 'data')}\nwikis:\n  en: {api: "http://127.0.0.1:9/api.php"}\n`)
    for (const args of [['dump', 'run', '--wiki', 'xx'], ['sink', 'resume', 'xx'], ['relink', '--wiki', 'xx', '--links', 'fr']]) {
      const res = await runMbwa(['--config', cfg, ...args], { cwd: work, input: 'text' })
      expect({ args, status: res.status }).toEqual({ args, status: 1 })
      expect(res.stderr).toContain('MBWA_WIKI_NOT_CONFIGURED')
    }
    // No wikis at all: dump run says so, instead of "nothing is due".
    const none = join(work, 'none.yaml')
    writeFileSync(none, `dataDir: ${join(work, 'data2')}\ndiscovery: {sitematrix: {enabled: false}}\n`)
    const res = await runMbwa(['--config', none, 'dump', 'run'], { cwd: work })
    expect(res.status).toBe(1)
    expect(res.stderr).toMatch(/no wikis to dump/)
    expect(existsSync(join(work, 'data2/dumps/public'))).toBe(false)
  })

  it('refuses a wiki code that would build a path outside the dumps folder', async () => {
    const work = mkdtempSync(join(dir, 'dump-'))
    for (const args of [['dump', 'write', '--wiki', '../escape'], ['dump', 'run', '--wiki', 'a/b'], ['sink', 'resume', '../x']]) {
      const res = await mbwa(args, {}, work)
      expect(res.status, args.join(' ')).not.toBe(0)
      expect(res.stderr, args.join(' ')).toMatch(/not a wiki code/)
    }
    expect(existsSync(join(work, 'data/dumps/escape'))).toBe(false)
    expect(existsSync(join(work, 'escape'))).toBe(false)
  })

  it('runs on the embedded log until SIGTERM, then exits 0 with its data kept', async () => {
    const work = mkdtempSync(join(dir, 'run-'))
    const run = startMbwa(['run'], { cwd: work, env: { MBWA_HTTP__PORT: '0' } })
    await waitFor(() => run.stderr().includes('mbwa: running on the embedded log'), 120_000, 'mbwa run to start')
    run.child.kill('SIGTERM')
    expect(await run.exited).toBe(0)
    expect(run.stderr()).toContain('mbwa stopped')
    expect(existsSync(join(work, 'data/log/CURRENT'))).toBe(true)
  })
})
