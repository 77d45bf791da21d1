// The V8 flags mbwa's processes run with (package.json's start script, the `mbwa` command's shebang, the deployment
// files). A bootstrap allocates fast, and most of what it allocates lives for one batch: a few milliseconds that
// span LevelDB's waits. With V8's default 16 MB semi-spaces those objects are promoted, then freed by full
// mark-compacts; with 32 MB most die young. What is still promoted is mostly garbage too (a mark-compact finds
// ~30 MB alive in a heap of 150–200 MB): letting the old generation grow to twice what survived, not the up to
// four times V8 allows itself, keeps ~100 MB less heap for a few more, short, mark-compacts. Measured in
// bench/bootstrap (BENCHMARKS.md): 5 M pages consistent in 222.6 and 223.4 s (252.9 s in a slow hour) against
// 264.1 s with Node's defaults, peak RSS 411–458 MB against 489 MB.
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32', '--heap-growing-percent=100']

/** The flags of NODE_FLAGS this process was not started with (on the command line or in NODE_OPTIONS). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map((f) => f.split('=')[0]!.replaceAll('_', '-')))
  return NODE_FLAGS.filter((f) => !given.has(f.split('=')[0]!))
}
