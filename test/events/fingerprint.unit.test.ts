import { describe, expect, it } from 'vitest'
import { crc64Avro, fingerprintBytes } from '../../src/events/fingerprint.js'

// Vectors from the Avro implementations' own tests (Java, Ruby, Go): "int" and "string".
describe('CRC-64-AVRO (unit)', () => {
  it('matches the published fingerprint of "int"', () => {
    expect(crc64Avro(Buffer.from('"int"'))).toBe(0x7275d51a3f395c8fn)
    // Ruby's single_object_encoding_header test: C3 01 then these 8 bytes.
    expect([...fingerprintBytes('"int"')]).toEqual([0x8f, 0x5c, 0x39, 0x3f, 0x1a, 0xd5, 0x75, 0x72])
  })

  it('matches the published fingerprint of "string"', () => {
    expect(crc64Avro(Buffer.from('"string"'))).toBe(0x8f014872634503c7n)
  })
})
