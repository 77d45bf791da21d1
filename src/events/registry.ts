import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import avro from 'avsc'
import { MbwaError } from '../errors/errors.js'
import { avroBytes } from '../avro-bytes.js'
import { SCHEMAS_DIR } from '../paths.js'
import { fingerprintBytes } from './fingerprint.js'
import type { EventMap, EventType, MbwaEvent } from './types.js'

// Avro single-object encoding: C3 01, the writer schema's CRC-64-AVRO fingerprint (8 bytes, little-endian),
// then the body. A reader looks the writer schema up by fingerprint and resolves it against its own (newest)
// schema of that name, so an old message stays readable after a schema gains a field with a default.
const MARKER_0 = 0xc3
const MARKER_1 = 0x01
const HEADER = 10

interface WriterSchema {
  readonly name: string
  readonly type: avro.Type
  readonly fingerprint: Buffer
}

interface ReaderSchema extends WriterSchema {
  readonly shortName: string
  /** What every message written with it begins with: the marker and the fingerprint. */
  readonly header: Buffer
}

export interface RegistryOptions {
  /** Validate values before encoding (a wrong value would otherwise write garbage silently). Default true. */
  validate?: boolean
}

export class SchemaRegistry {
  private readonly current = new Map<string, ReaderSchema>()
  private readonly byFingerprint = new Map<bigint, WriterSchema>()
  private readonly resolvers = new Map<bigint, avro.Resolver>()
  private readonly validate: boolean

  /**
   * @param schemas the current schema of each event type (the one written with)
   * @param archived earlier versions still found in old messages (read only)
   */
  constructor(schemas: readonly object[], archived: readonly object[] = [], options: RegistryOptions = {}) {
    this.validate = options.validate ?? true
    for (const schema of schemas) {
      const writer = compile(schema)
      const shortName = writer.name.slice(writer.name.lastIndexOf('.') + 1)
      this.current.set(shortName, { ...writer, shortName, header: Buffer.concat([Buffer.from([MARKER_0, MARKER_1]), writer.fingerprint]) })
      this.byFingerprint.set(writer.fingerprint.readBigUInt64LE(), writer)
    }
    for (const schema of archived) {
      const writer = compile(schema)
      this.byFingerprint.set(writer.fingerprint.readBigUInt64LE(), writer)
    }
  }

  /** The registry of schemas/*.avsc, with schemas/archive/*.avsc as older readable versions. */
  static load(dir: string = SCHEMAS_DIR, options: RegistryOptions = {}): SchemaRegistry {
    const archive = join(dir, 'archive')
    return new SchemaRegistry(readSchemas(dir), existsSync(archive) ? readSchemas(archive) : [], options)
  }

  eventTypes(): string[] {
    return [...this.current.keys()].sort()
  }

  /** The Avro type of an event type's current schema. */
  typeOf(name: string): avro.Type {
    return this.reader(name).type
  }

  encode<K extends EventType>(name: K, value: EventMap[K]): Buffer
  encode(name: string, value: unknown): Buffer
  encode(name: string, value: unknown): Buffer {
    const { type, header } = this.reader(name)
    // Checked without a hook first: with one, avsc builds a path for every field it visits.
    if (this.validate && !type.isValid(value)) {
      const problems: string[] = []
      type.isValid(value, {
        errorHook: (path: string[], v: unknown) => problems.push(`${path.join('.') || '(value)'}=${preview(v)}`),
      })
      throw new MbwaError('MBWA_EVENT_INVALID', `${name} does not match its schema: ${problems.join(', ') || '(value)'}`, {
        eventType: name,
      })
    }
    return avroBytes(type, value, header)
  }

  /** Decodes a single-object-encoded message, or throws MBWA_DECODE_FAILED saying why. */
  decode(buf: Uint8Array): MbwaEvent {
    if (buf.length < HEADER || buf[0] !== MARKER_0 || buf[1] !== MARKER_1) {
      throw new MbwaError('MBWA_DECODE_FAILED', 'not Avro single-object encoding (no C3 01 marker)', {
        reason: 'bad-marker',
      })
    }
    const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
    const fp = view.readBigUInt64LE(2)
    const writer = this.byFingerprint.get(fp)
    if (!writer) {
      throw new MbwaError('MBWA_DECODE_FAILED', `unknown writer schema fingerprint ${fp.toString(16)}`, {
        reason: 'unknown-schema',
      })
    }
    const shortName = writer.name.slice(writer.name.lastIndexOf('.') + 1)
    const reader = this.current.get(shortName)
    if (!reader) {
      throw new MbwaError('MBWA_DECODE_FAILED', `no current schema for ${writer.name}`, { reason: 'unknown-type' })
    }
    try {
      const body = view.subarray(HEADER)
      const value: unknown =
        reader.type === writer.type ? reader.type.fromBuffer(body) : reader.type.fromBuffer(body, this.resolver(fp, reader, writer))
      return { type: shortName, value } as MbwaEvent
    } catch (err) {
      throw new MbwaError('MBWA_DECODE_FAILED', `${writer.name} body does not decode: ${(err as Error).message}`, {
        reason: 'bad-body',
      })
    }
  }

  private reader(name: string): ReaderSchema {
    const reader = this.current.get(name)
    if (!reader) throw new MbwaError('MBWA_UNKNOWN_EVENT_TYPE', `no schema for event type ${name}`, { eventType: name })
    return reader
  }

  private resolver(fp: bigint, reader: ReaderSchema, writer: WriterSchema): avro.Resolver {
    let resolver = this.resolvers.get(fp)
    if (!resolver) {
      try {
        resolver = reader.type.createResolver(writer.type)
      } catch (err) {
        throw new MbwaError('MBWA_DECODE_FAILED', `${writer.name}: writer schema cannot be read by the current one`, {
          reason: 'incompatible-schema',
        }, { cause: err })
      }
      this.resolvers.set(fp, resolver)
    }
    return resolver
  }
}

function compile(schema: object): WriterSchema {
  let type: avro.Type
  try {
    type = avro.Type.forSchema(schema as avro.Schema)
  } catch (err) {
    throw new MbwaError('MBWA_SCHEMA_INVALID', `schema does not parse: ${(err as Error).message}`, {}, { cause: err })
  }
  const name = type.name
  if (!name) throw new MbwaError('MBWA_SCHEMA_INVALID', 'an event schema must be a named record')
  // avsc's schema() is the Parsing Canonical Form the spec fingerprints.
  return { name, type, fingerprint: fingerprintBytes(JSON.stringify(type.schema())) }
}

function readSchemas(dir: string): object[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()
    .map((f) => {
      try {
        return JSON.parse(readFileSync(join(dir, f), 'utf8')) as object
      } catch (err) {
        throw new MbwaError('MBWA_SCHEMA_INVALID', `${f}: ${(err as Error).message}`, { file: f }, { cause: err })
      }
    })
}

function preview(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v)
  return s.length > 40 ? s.slice(0, 37) + '...' : s
}
