import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { EventStore } from '../../src/events/event-log.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { topicNames, topicSpecs } from '../../src/log/topics.js'
import { cleanEnv, mbwaArgs, track } from '../setup/mbwa-process.js'
import { observed } from '../projections/fixtures.js'

// mbwa on a real terminal (a pseudo-terminal from util-linux's script(1)): log lines are readable (ISO times, no
// JSON), and a progress bar never swallows one: each line begins on a line of its own, the bar drawn again below it.
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

function onTerminal(args: string[], cwd: string): Promise<{ status: number | null; out: string }> {
  const command = [process.execPath, ...mbwaArgs(args)].map(quote).join(' ')
  const child = track(spawn('script', ['-qefc', command, '/dev/null'], { cwd, env: cleanEnv({ COLUMNS: '120', LINES: '40', TERM: 'xterm' }) }))
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stdin!.end()
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (status) => resolve({ status, out }))
  })
}

describe('mbwa on a terminal (int, a pseudo-terminal)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-tty-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('writes readable log lines above a live progress bar', { timeout: 120_000 }, async () => {
    const log = await EmbeddedLog.open({ path: join(work, 'data/log') })
    await log.ensureTopics(topicSpecs(topicNames(), { events: 12, edits: 4, dumps: 1, deadLetter: 1 }))
    await new EventStore(log, SchemaRegistry.load()).append('mbwa.events', Array.from({ length: 20_000 }, (_, i) => observed(['en', 'fr'][i % 2]!, `word ${i % 9000}`, [], { revision: i + 1 })))
    await log.close()

    const { status, out } = await onTerminal(['rebuild'], work)
    expect(status, out).toBe(0)
    // The bar was drawn (with its rate), and the projection's twelve "partition restored" lines were written.
    expect(out).toMatch(/rebuild .*events/)
    const lines = out.split('\n').filter((l) => l.includes('partition restored'))
    expect(lines.length, out).toBe(12)
    for (const line of lines) {
      // Readable: an ISO time in brackets, a level, the message; not JSON.
      expect(line).toMatch(/\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]/)
      expect(line).not.toContain('"level":')
      // Nothing of a bar before it on its line: it starts the line, or follows the bar's line being cleared.
      const before = line.slice(0, line.search(/\[\d{4}-/))
      expect(before === '' || before.endsWith('\r\x1b[2K'), JSON.stringify(line)).toBe(true)
    }

    // A one-shot command on a terminal says what it was asked, and no log chatter before it.
    const offsets = await onTerminal(['offsets'], work)
    expect(offsets.status, offsets.out).toBe(0)
    expect(offsets.out).toMatch(/^\s*(topic|group|partition)/i)
    expect(offsets.out).not.toContain('log: embedded')
    expect(offsets.out).not.toContain('"msg"')
  })
})
