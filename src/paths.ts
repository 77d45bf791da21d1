import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The package root, found by walking up from this file: the same code runs from src/ (tests, tsx) and from
// dist/src/ (the built CLI), and both need schemas/ and infra/.
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mbwa') return dir
    const up = dirname(dir)
    if (up === dir) throw new Error('mbwa: package root not found above ' + fileURLToPath(import.meta.url))
    dir = up
  }
}

export const PACKAGE_ROOT = findRoot()
export const SCHEMAS_DIR = join(PACKAGE_ROOT, 'schemas')
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version
