import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'

// Published fixtures the tests read, copied into the repository (test/fixtures, provenance in its SOURCES.md) so
// that a clone anywhere, with nothing beside it, runs the whole suite.
export const FIXTURES_DIR = join(PACKAGE_ROOT, 'test/fixtures')
