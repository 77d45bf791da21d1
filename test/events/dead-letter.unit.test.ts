import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { deadLetterSuite } from './dead-letter.suite.js'

const dir = mkdtempSync(join(tmpdir(), 'mbwa-dlq-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

deadLetterSuite('embedded log', () => EmbeddedLog.open({ path: join(dir, 'log') }))
