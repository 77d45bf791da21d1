/**
 * The wait before try number `attempt + 1` after `attempt` failures in a row: `baseMs`, doubling with each failure,
 * at most `maxMs` (the exponent is capped, so a long run of failures never overflows).
 */
export function doublingDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30))
}

/** The wait after `lastMs` where a loop keeps its backoff as the last wait (stored, or carried across reconnects). */
export function doubled(lastMs: number, maxMs: number): number {
  return Math.min(maxMs, lastMs * 2)
}
