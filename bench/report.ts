import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { missingNodeFlags } from '../src/node-flags.js'
import { PACKAGE_ROOT } from '../src/paths.js'

// Writes one benchmark's section into BENCHMARKS.md between its markers, leaving the other sections alone.
export function writeSection(name: string, body: string): void {
  const file = join(PACKAGE_ROOT, 'BENCHMARKS.md')
  const start = `<!-- bench:${name}:start -->`
  const end = `<!-- bench:${name}:end -->`
  const section = `${start}\n${body.trim()}\n${end}`
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nFigures as measured; every section says the command that produced it.\n'
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  text = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + end.length) : `${text.trimEnd()}\n\n${section}\n`
  writeFileSync(file, text)
}

export function machine(): string {
  const cpu = cpus()
  return `${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
}

export function rate(count: number, ms: number): number {
  return Math.round((count * 1000) / ms)
}

export function fmt(n: number): string {
  return n.toLocaleString('en-US')
}

/**
 * Runs this bench again, with the Node flags `mbwa` runs with (NODE_FLAGS), when it was started without them: a
 * bench that runs mbwa's code in its own process then measures it as `mbwa rebuild` and `mbwa run` run it.
 * Returns only in a process that has the flags.
 */
export function withMbwaNodeFlags(): void {
  const missing = missingNodeFlags()
  if (missing.length === 0) return
  const child = spawnSync(process.execPath, [...missing, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(child.status ?? 1)
}
