import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { NODE_FLAGS } from '../../src/node-flags.js'
import { TitleStore } from '../../src/projections/title-store.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { waitFor } from '../log/helpers.js'

// `mbwa` as users run it: the built CLI in a child process, with the Node flags its command passes (NODE_FLAGS) and
// a clean environment (no MBWA_* from the caller).
// Every child is tracked: `endChildren` (run after every test file by test/setup/children.ts, and on exit) kills
// whatever a failed or timed-out test left running, so no run leaves processes behind.

export const CLI = join(PACKAGE_ROOT, 'dist/src/cli/main.js')

/** The arguments of `node` that run the `mbwa` command with `args`, as its shebang does. */
export const mbwaArgs = (args: string[]): string[] => [...NODE_FLAGS, CLI, ...args]

const live = new Set<ChildProcess>()

/** Starts a child and tracks it until it exits. */
export function track(child: ChildProcess): ChildProcess {
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

/** Kills every tracked child that is still running and waits for each to exit. */
export async function endChildren(): Promise<void> {
  const running = [...live].filter((c) => c.exitCode === null && c.signalCode === null)
  await Promise.all(
    running.map(
      (c) =>
        new Promise<void>((resolve) => {
          c.once('exit', () => resolve())
          c.kill('SIGKILL')
        }),
    ),
  )
  live.clear()
}

// A worker that dies without running its hooks still takes its children with it.
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL')
})

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
  const child = track(spawn(process.execPath, mbwaArgs(args), { cwd: options.cwd, env: cleanEnv(options.env) }))
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    stderr: () => stderr,
    exited,
    async url(timeoutMs = 120_000) {
      const re = /queries at (http:\S+);/
      await waitFor(() => re.test(stderr) || child.exitCode !== null, timeoutMs, 'the query endpoint')
      if (!re.test(stderr)) throw new Error(`mbwa exited with ${child.exitCode} before serving queries:\n${stderr}`)
      return re.exec(stderr)![1]!
    },
  }
}

export interface MbwaResult {
  status: number | null
  stdout: string
  stderr: string
}

/**
 * Runs one mbwa command to its end, asynchronously (a hung command cannot block the test worker, as spawnSync
 * would: the test's own timeout still fires and the child is ended after the file).
 */
export function runMbwa(args: string[], options: { cwd: string; env?: Record<string, string>; input?: string }): Promise<MbwaResult> {
  const child = track(spawn(process.execPath, mbwaArgs(args), { cwd: options.cwd, env: cleanEnv(options.env) }))
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdin!.end(options.input ?? '')
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** Offsets a stopped mbwa's projection store kept, summed over `partitions` (read while no mbwa holds the store). */
export async function storedOffsets(storeDir: string, partitions: number): Promise<number> {
  const store = await TitleStore.open(storeDir)
  try {
    let sum = 0
    for (let p = 0; p < partitions; p++) sum += await store.offset(p)
    return sum
  } finally {
    await store.close()
  }
}
