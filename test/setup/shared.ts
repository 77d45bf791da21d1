import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'

// The project's shared folder (published fixtures), beside the checkout as CI lays it out, or where
// MBWA_SHARED_DIR says.
export function sharedDir(): string {
  const dir = process.env.MBWA_SHARED_DIR ?? join(PACKAGE_ROOT, '..', 'shared')
  if (!existsSync(join(dir, 'fixtures'))) throw new Error(`the shared fixtures are not at ${dir}/fixtures (set MBWA_SHARED_DIR)`)
  return dir
}
