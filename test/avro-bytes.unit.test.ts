import avro from 'avsc'
import { describe, expect, it } from 'vitest'
import { avroBytes } from '../src/avro-bytes.js'

describe('avroBytes', () => {
  const type = avro.Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 's', type: 'string' }, { name: 'n', type: 'long' }] })

  it('is the header, then what avsc would encode, for small values and for values larger than its scratch buffer', () => {
    const header = Buffer.from([0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8])
    for (const s of ['', 'ἀγάπη', 'x'.repeat(70_000), '𝔘'.repeat(100_000), 'y']) {
      const value = { s, n: s.length }
      expect(avroBytes(type, value, header).equals(Buffer.concat([header, type.toBuffer(value)]))).toBe(true)
      expect(avroBytes(type, value).equals(type.toBuffer(value))).toBe(true)
    }
  })

  it('gives each value bytes of its own: a later encoding does not change an earlier one', () => {
    const a = avroBytes(type, { s: 'first', n: 1 })
    const copy = Buffer.from(a)
    avroBytes(type, { s: 'second, longer', n: 2 })
    expect(a.equals(copy)).toBe(true)
    expect(type.fromBuffer(a)).toMatchObject({ s: 'first', n: 1 })
  })
})
