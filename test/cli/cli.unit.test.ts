import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../../src/paths.js'

// The built CLI (npm test builds first), run as users run it.
const CLI = join(PACKAGE_ROOT, 'dist/src/cli/main.js')
const dir = mkdtempSync(join(tmpdir(), 'mbwa-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// A clean environment: no MBWA_* from the caller leaks into these runs.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MBWA_')))

function mbwa(args: string[], env: Record<string, string> = {}, cwd = dir) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, env: { ...cleanEnv, ...env }, encoding: 'utf8', timeout: 30000 })
}

describe('mbwa CLI (unit)', () => {
  it('is built', () => {
    expect(existsSync(CLI)).toBe(true)
  })

  it('prints its version and help', () => {
    expect(mbwa(['--version']).stdout.trim()).toBe(PACKAGE_VERSION)
    const help = mbwa(['--help'])
    expect(help.status).toBe(0)
    for (const cmd of ['run', 'config', 'offsets']) expect(help.stdout).toContain(cmd)
  })

  it('stops on a bad configuration with exit code 2 and a message naming the key', () => {
    const cfg = join(dir, 'bad.yaml')
    writeFileSync(cfg, 'log:\n  partitions: {events: 0}\n')
    const res = mbwa(['--config', cfg, 'run'])
    expect(res.status).toBe(2)
    expect(res.stderr).toContain('config key log.partitions.events')
    const env = mbwa(['config'], { MBWA_HTTP__PORT: 'eighty' })
    expect(env.status).toBe(2)
    expect(env.stderr).toContain('MBWA_HTTP__PORT')
  })

  it('rejects an unknown command', () => {
    const res = mbwa(['frobnicate'])
    expect(res.status).not.toBe(0)
    expect(res.stderr).toContain("unknown command 'frobnicate'")
  })

  it('prints the effective configuration with secrets as references only', () => {
    const cfg = join(dir, 'wikis.yaml')
    writeFileSync(cfg, 'wikis:\n  en:\n    api: http://127.0.0.1:1/api.php\n    credentials: {username: Bot, password: {env: EN_PW}}\n')
    const res = mbwa(['--config', cfg, '--data-dir', '/srv/mbwa', 'config'], { EN_PW: 'the-real-secret', MBWA_HTTP__PORT: '9999' })
    expect(res.status).toBe(0)
    expect(res.stdout).toContain('dataDir: /srv/mbwa')
    expect(res.stdout).toContain('port: 9999')
    expect(res.stdout).toContain('env: EN_PW')
    expect(res.stdout + res.stderr).not.toContain('the-real-secret')
  })

  it('runs on the embedded log until SIGTERM, then exits 0 with its data kept', async () => {
    const work = mkdtempSync(join(dir, 'run-'))
    const child = spawn(process.execPath, [CLI, 'run'], { cwd: work, env: { ...cleanEnv, MBWA_HTTP__PORT: '0' } })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const deadline = Date.now() + 20000
    while (!stderr.includes('mbwa: running on the embedded log') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(stderr).toContain('mbwa: running on the embedded log')
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(stderr).toContain('mbwa stopped')
    expect(existsSync(join(work, 'data/log/CURRENT'))).toBe(true)
  })
})
