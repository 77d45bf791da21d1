import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { MbwaError } from '../errors/errors.js'
import { ConfigObject, ConfigSchema, type Config } from './schema.js'

// Layers, later ones win: defaults < one YAML file < environment (MBWA_*) < command-line flags.
// The file is the first found of: --config / MBWA_CONFIG, ./mbwa.yaml, /etc/mbwa/mbwa.yaml,
// ~/.config/mbwa/mbwa.yaml. First found wins (no merging of files: what runs is what one file says).
// Environment overrides: MBWA_ + the key path in upper snake case with __ between levels, e.g.
// MBWA_DATA_DIR, MBWA_LOG__BROKERS=a:9092,b:9092, MBWA_HTTP__PORT=9000, MBWA_WIKIS__EN__EDIT=true. Values are
// read as YAML scalars. Other MBWA_* variables (secrets, infra scripts) are left alone.

export interface LoadOptions {
  /** An explicit file (--config); it must exist. */
  file?: string
  /** Overrides from command-line flags, as a partial configuration object. */
  flags?: Record<string, unknown>
  env?: NodeJS.ProcessEnv
  cwd?: string
  home?: string
  /** The list of files to search; defaults to the three above. */
  searchPaths?: string[]
}

export interface LoadedConfig {
  config: Config
  /** The file read, if any. */
  file: string | undefined
}

const TOP_LEVEL = new Set(Object.keys(ConfigObject.shape))

export function defaultSearchPaths(cwd = process.cwd(), home = homedir()): string[] {
  return [join(cwd, 'mbwa.yaml'), '/etc/mbwa/mbwa.yaml', join(home, '.config/mbwa/mbwa.yaml')]
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env
  const explicit = options.file ?? env.MBWA_CONFIG
  let file: string | undefined
  if (explicit) {
    file = resolve(options.cwd ?? process.cwd(), explicit)
    if (!existsSync(file)) throw new MbwaError('MBWA_CONFIG_UNREADABLE', `configuration file ${file} does not exist`, { file })
  } else {
    file = (options.searchPaths ?? defaultSearchPaths(options.cwd, options.home)).find((p) => existsSync(p))
  }

  let raw: Record<string, unknown> = {}
  if (file) {
    let parsed: unknown
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'))
    } catch (err) {
      throw new MbwaError('MBWA_CONFIG_UNREADABLE', `configuration file ${file}: ${(err as Error).message}`, { file }, { cause: err })
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new MbwaError('MBWA_CONFIG_INVALID', `configuration file ${file}: the top level must be a mapping`, { file })
      }
      raw = parsed as Record<string, unknown>
    }
  }

  // Where each overridden path came from, to name it in errors.
  const origins = new Map<string, string>()
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('MBWA_') || value === undefined) continue
    const path = name.slice(5).split('__').map(camel)
    if (!TOP_LEVEL.has(path[0]!)) continue
    setPath(raw, path, parseScalar(value))
    origins.set(path.join('.'), `environment variable ${name}`)
  }
  for (const [path, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue
    setPath(raw, path.split('.'), value)
    origins.set(path, 'a command-line flag')
  }

  const result = ConfigSchema.safeParse(raw)
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const keys = 'keys' in issue && Array.isArray(issue.keys) ? (issue.keys as string[]) : []
      const paths = keys.length > 0 ? keys.map((k) => [...issue.path, k].join('.')) : [issue.path.join('.')]
      return paths
        .map((key) => {
          const origin = [...origins.keys()].find((o) => key === o || key.startsWith(o + '.'))
          const from = origin ? origins.get(origin) : file ? file : 'defaults'
          return `config key ${key || '(top level)'} (from ${from}): ${issue.message}`
        })
        .join('\n')
    })
    throw new MbwaError('MBWA_CONFIG_INVALID', problems.join('\n'), { file })
  }
  return { config: result.data, file }
}

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function parseScalar(value: string): unknown {
  try {
    const v: unknown = parseYaml(value)
    return v === null ? value : v
  } catch {
    return value
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    const next = node[key]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[path[path.length - 1]!] = value
}
