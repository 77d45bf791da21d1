import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { isMbwaError } from '../../src/errors/errors.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import { crc64Avro } from '../../src/events/fingerprint.js'
import { SCHEMAS_DIR } from '../../src/paths.js'
import { SAMPLES } from './samples.js'

const registry = SchemaRegistry.load()

describe('event schemas (unit)', () => {
  it('has one .avsc per event type, and a sample of each', () => {
    const files = readdirSync(SCHEMAS_DIR).filter((f) => f.endsWith('.avsc'))
    expect(files.length).toBe(19)
    expect(registry.eventTypes()).toEqual(Object.keys(SAMPLES).sort())
  })

  it.each(Object.entries(SAMPLES))('%s round-trips through single-object encoding', (type, value) => {
    const buf = registry.encode(type, value)
    expect(buf[0]).toBe(0xc3)
    expect(buf[1]).toBe(0x01)
    const canonical = JSON.stringify(registry.typeOf(type).schema())
    expect(buf.readBigUInt64LE(2)).toBe(crc64Avro(Buffer.from(canonical)))
    expect(registry.decode(buf)).toEqual({ type, value })
  })

  it('every event carries its source and the time observed', () => {
    for (const type of registry.eventTypes()) {
      const fields = (registry.typeOf(type).schema() as { fields: { name: string }[] }).fields.map((f) => f.name)
      expect(fields).toEqual(expect.arrayContaining(['id', 'source', 'observedAt']))
    }
  })

  it('fingerprints the Parsing Canonical Form: docs and logical types do not change it', () => {
    const plain = { type: 'record', name: 'X', namespace: 'n', fields: [{ name: 'a', type: 'long' }] }
    const decorated = {
      ...plain,
      doc: 'a doc',
      fields: [{ name: 'a', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'field doc' }],
    }
    const a = new SchemaRegistry([plain]).encode('X', { a: 1 })
    const b = new SchemaRegistry([decorated]).encode('X', { a: 1 })
    expect(a.subarray(0, 10)).toEqual(b.subarray(0, 10))
  })

  it('refuses to encode a value that does not match, naming the field', () => {
    const bad = { ...SAMPLES.PageObserved, exists: 'yes' }
    let err: unknown
    try {
      registry.encode('PageObserved', bad)
    } catch (e) {
      err = e
    }
    expect(isMbwaError(err, 'MBWA_EVENT_INVALID')).toBe(true)
    expect((err as Error).message).toContain('exists')
  })

  it('rejects bytes that are not single-object encoded, with a reason', () => {
    const cases: [Buffer, string][] = [
      [Buffer.from('{"json": true}'), 'bad-marker'],
      [Buffer.from([0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0]), 'unknown-schema'],
      [registry.encode('PageObserved', SAMPLES.PageObserved).subarray(0, 16), 'bad-body'],
    ]
    for (const [buf, reason] of cases) {
      let err: unknown
      try {
        registry.decode(buf)
      } catch (e) {
        err = e
      }
      expect(isMbwaError(err, 'MBWA_DECODE_FAILED')).toBe(true)
      expect((err as { details: { reason: string } }).details.reason).toBe(reason)
    }
  })
})

describe('schema evolution (unit)', () => {
  const v1 = {
    type: 'record',
    name: 'PageObserved',
    namespace: 'org.mbwa.events',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'title', type: 'string' },
    ],
  }
  const v2 = {
    ...v1,
    fields: [...v1.fields, { name: 'lang', type: ['null', 'string'], default: null }],
  }

  it('reads an event written with an older schema with the newer one that added an optional field', () => {
    const oldWriter = new SchemaRegistry([v1])
    const written = oldWriter.encode('PageObserved', { id: 'a', title: 'chat' })
    // The newer deployment knows v2 as current and keeps v1 in its archive.
    const newReader = new SchemaRegistry([v2], [v1])
    expect(newReader.decode(written)).toEqual({ type: 'PageObserved', value: { id: 'a', title: 'chat', lang: null } })
    // and its own writes carry the new fingerprint
    const fresh = newReader.encode('PageObserved', { id: 'b', title: 'chien', lang: 'fr' })
    expect(fresh.subarray(2, 10)).not.toEqual(written.subarray(2, 10))
    expect(newReader.decode(fresh).value).toEqual({ id: 'b', title: 'chien', lang: 'fr' })
  })

  it('a reader that does not know the older schema sends it to the dead-letter path, not a crash', () => {
    const written = new SchemaRegistry([v1]).encode('PageObserved', { id: 'a', title: 'chat' })
    expect(() => new SchemaRegistry([v2]).decode(written)).toThrow(/unknown writer schema fingerprint/)
  })
})
