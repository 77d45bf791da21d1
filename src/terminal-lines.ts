// Lines written to a terminal while a progress bar is drawn on it: each goes above the bar (the bar's line cleared
// first, the bar drawn again after), so a log line never lands in the middle of a bar and a bar never hides one.

interface LiveBar {
  /** Draws the bar again on the current line. */
  redraw(): void
}

const live = new Set<LiveBar>()

export function barStarted(bar: LiveBar): void {
  live.add(bar)
}

export function barStopped(bar: LiveBar): void {
  live.delete(bar)
}

/** Writes `text` (whole lines) to stderr, above any live bar. */
export function writeAboveBars(text: string): void {
  if (live.size === 0) {
    process.stderr.write(text)
    return
  }
  process.stderr.write(`\r\x1b[2K${text}`)
  for (const bar of live) bar.redraw()
}
