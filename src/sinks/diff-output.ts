import { appendFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createTwoFilesPatch } from 'diff'
import { safeWikiCode } from '../domain/wiki-code.js'

// Where a dry run's diffs go: the sink's output (coloured on a terminal) and a file per wiki in the diffs folder
// (dataDir/diffs/WIKI.diff), which a person reviews and the query endpoint shows (/reports/{wiki}/diffs).

export class DiffOutput {
  constructor(
    private readonly out: NodeJS.WritableStream | undefined,
    private readonly dir: string | undefined,
  ) {}

  async write(wiki: string, text: string): Promise<void> {
    const out = this.out as (NodeJS.WritableStream & { isTTY?: boolean }) | undefined
    out?.write(out.isTTY ? colourDiff(text) : text)
    if (this.dir) {
      await mkdir(this.dir, { recursive: true })
      await appendFile(join(this.dir, `${safeWikiCode(wiki)}.diff`), text)
    }
  }
}

/**
 * A page's change as a unified diff a person reviews: both sides end with a line break, so no hunk ends with
 * "\\ No newline at end of file".
 */
export function unifiedDiff(name: string, before: string, after: string, beforeHeader: string, afterHeader: string): string {
  const nl = (t: string) => (t === '' || t.endsWith('\n') ? t : `${t}\n`)
  return createTwoFilesPatch(name, name, nl(before), nl(after), beforeHeader, afterHeader)
}

/** A unified diff with additions green and removals red (ANSI), for a terminal. */
export function colourDiff(text: string): string {
  return text
    .split('\n')
    .map((l) => (l.startsWith('+') && !l.startsWith('+++') ? `\x1b[32m${l}\x1b[0m` : l.startsWith('-') && !l.startsWith('---') ? `\x1b[31m${l}\x1b[0m` : l.startsWith('@@') ? `\x1b[36m${l}\x1b[0m` : l))
    .join('\n')
}
