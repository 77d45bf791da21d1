import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { MbwaError } from '../errors/errors.js'
import { ConfigObject, ConfigSchema, type Config } from './schema.js'
import { didYouMean, keyLines, keysAt } from './key-hints.js'

// Layers, later ones win: defaults < one YAML file < environment (MBWA_*) < command-line flags.
// The file is the first found of: --config / MBWA_CONFIG, ./mbwa.yaml, the user's ($XDG_CONFIG_HOME, default
// ~/.config, /mbwa/mbwa.yaml), then the system's (/etc/mbwa/mbwa.yaml); each also as .yml. The user's comes before
// the system's, as the XDG convention has it. First found wins (no merging of files: what runs is what one file says).
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

export function defaultSearchPaths(cwd = process.cwd(), home = homedir(), env: NodeJS.ProcessEnv = process.env): string[] {
  const user = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(home, '.config')
  return [join(cwd, 'mbwa'), join(user, 'mbwa/mbwa'), '/etc/mbwa/mbwa'].flatMap((base) => [`${base}.yaml`, `${base}.yml`])
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env
  const explicit = options.file ?? env.MBWA_CONFIG
  let file: string | undefined
  if (explicit) {
    file = resolve(options.cwd ?? process.cwd(), explicit)
    if (!existsSync(file)) throw new MbwaError('MBWA_CONFIG_UNREADABLE', `configuration file ${file} does not exist`, { file })
  } else {
    file = (options.searchPaths ?? defaultSearchPaths(options.cwd, options.home, env)).find((p) => existsSync(p))
  }

  let raw: Record<string, unknown> = {}
  let text: string | undefined
  if (file) {
    let parsed: unknown
    try {
      text = readFileSync(file, 'utf8')
      parsed = parseYaml(text)
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
    const lines = text !== undefined ? keyLines(text) : undefined
    const problems = result.error.issues.map((issue) => {
      const keys = 'keys' in issue && Array.isArray(issue.keys) ? (issue.keys as string[]) : []
      const paths = keys.length > 0 ? keys.map((k) => [...issue.path, k].join('.')) : [issue.path.join('.')]
      return paths
        .map((key, i) => {
          const origin = [...origins.keys()].find((o) => key === o || key.startsWith(o + '.'))
          const line = !origin && lines ? lines(key) : undefined
          const from = origin ? origins.get(origin) : file ? `${file}${line !== undefined ? `, line ${line}` : ''}` : 'defaults'
          // An unknown key: the known one it most likely meant.
          const meant = keys.length > 0 ? didYouMean(keys[i]!, keysAt(ConfigObject, issue.path)) : undefined
          return `config key ${key || '(top level)'} (from ${from}): ${issue.message}${meant ? ` (did you mean ${[...issue.path, meant].join('.')}?)` : ''}`
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
