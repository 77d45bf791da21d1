import { afterAll } from 'vitest'
import { endChildren } from './mbwa-process.js'

// Setup file of every project: after each test file, whatever its outcome, no child process it started lives on.
afterAll(endChildren)
