import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { waitFor } from '../log/helpers.js'

// `mbwa` as users run it: the built CLI in a child process, with a clean environment (no MBWA_* from the caller).

export const CLI = join(PACKAGE_ROOT, 'dist/src/cli/main.js')

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MBWA_'))), ...extra }
}

export interface MbwaProcess {
  child: ChildProcess
  stderr(): string
  exited: Promise<number | null>
  /** Waits for the query endpoint and returns its URL. */
  url(timeoutMs?: number): Promise<string>
}

export function startMbwa(args: string[], options: { cwd: string; env?: Record<string, string> }): MbwaProcess {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: cleanEnv(options.env) })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    stderr: () => stderr,
    exited,
    async url(timeoutMs = 30_000) {
      const re = /queries at (http:\S+);/
      await waitFor(() => re.test(stderr), timeoutMs, 'the query endpoint')
      return re.exec(stderr)![1]!
    },
  }
}
