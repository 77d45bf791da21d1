import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sortLinks } from '../../src/domain/page-state.js'

describe('sortLinks', () => {
  it('orders by code, then title, and never reorders the array it was given', () => {
    const link = fc.record({ code: fc.constantFrom('de', 'en', 'fr', 'zh-min-nan', 'ab'), title: fc.string({ unit: 'grapheme', maxLength: 6 }) })
    fc.assert(
      fc.property(fc.array(link, { maxLength: 12 }), (links) => {
        const given = [...links]
        const sorted = sortLinks(links)
        expect(links).toEqual(given)
        expect(sorted).toEqual([...given].sort((x, y) => (x.code < y.code ? -1 : x.code > y.code ? 1 : x.title < y.title ? -1 : x.title > y.title ? 1 : 0)))
      }),
      { numRuns: 500 },
    )
  })

  it('gives back links already in order as they are, without a copy', () => {
    const links = [{ code: 'de', title: 'b' }, { code: 'en', title: 'a' }, { code: 'en', title: 'b' }]
    expect(sortLinks(links)).toBe(links)
  })
})
