import { readFileSync } from 'node:fs'
import { MbwaError } from '../errors/errors.js'
import type { SecretRef } from './schema.js'

// Reads a secret named in the configuration. Errors name the configuration key and where the secret was to come
// from, never its value.
export function readSecret(ref: SecretRef, key: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const value = env[ref.env]
    if (value === undefined || value === '') {
      throw new MbwaError('MBWA_SECRET_UNAVAILABLE', `config key ${key}: environment variable ${ref.env} is not set`, { key })
    }
    return value
  }
  let value: string
  try {
    value = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '')
  } catch (err) {
    throw new MbwaError('MBWA_SECRET_UNAVAILABLE', `config key ${key}: cannot read ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { key })
  }
  if (value === '') throw new MbwaError('MBWA_SECRET_UNAVAILABLE', `config key ${key}: ${ref.file} is empty`, { key })
  return value
}
