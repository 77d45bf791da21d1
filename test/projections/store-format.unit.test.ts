import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { PageState } from '../../src/domain/page-state.js'
import { guardStore } from '../../src/projections/store-check.js'
import { StringTable } from '../../src/projections/string-table.js'
import { decodeTitleRecord as decode, encodeTitleRecord as encode } from '../../src/projections/title-record-codec.js'
import { keys, STORE_FORMAT, TitleStore, type TitleRecord } from '../../src/projections/title-store.js'

// Title records are stored in Avro (title-record-codec.ts): any record comes back as it went in, and a store of
// the JSON format an older mbwa wrote is never read as if it were this one: `mbwa run` moves it aside and
// rebuilds from the log, other commands stop with MBWA_STORE_FORMAT.

const text = fc.string({ unit: 'grapheme', maxLength: 40 })
// Titles of the record's own (stored without them), others, and the empty title a link may carry.
const TITLE = 'Ζ́ωή 𝔘'
const link = fc.record({ code: fc.stringMatching(/^[a-z]{2,3}(-[a-z]+)?$/), title: fc.oneof(fc.constant(TITLE), fc.constant(''), fc.constant(TITLE.normalize('NFC')), text) })
const page: fc.Arbitrary<PageState> = fc.record({
  redirect: fc.boolean(),
  blank: fc.option(fc.boolean(), { nil: null }),
  revision: fc.option(fc.nat(), { nil: null }),
  // Ids as events carry them (Avro long; avsc refuses 2^53 - 1 itself, and no wiki has ids near it).
  pageId: fc.option(fc.nat({ max: 2 ** 52 }), { nil: null }),
  links: fc.option(fc.array(link, { maxLength: 5 }), { nil: null }),
  writtenLinks: fc.option(fc.array(link, { maxLength: 5 }), { nil: null }),
  createdAt: fc.option(fc.nat(), { nil: null }),
  byBot: fc.option(fc.boolean(), { nil: null }),
  observedAt: fc.nat(),
  source: fc.oneof(fc.constantFrom('snapshot', 'eventstreams', 'recentchanges', 'sink'), text),
  snapshotId: fc.option(fc.oneof(fc.uuid(), text), { nil: null }),
  changedAt: fc.nat(),
})

// Records as the store writes them: with one string table and one code table, each encoding's numbers collected as its batch does.
const tables = { strings: new StringTable(), codes: new StringTable() }
const uses = () => ({ strings: new Set<number>(), codes: new Set<number>() })
const encodeTitleRecord = (record: TitleRecord, title: string): Buffer => encode(record, title, tables, uses())
const decodeTitleRecord = (bytes: Buffer, title: string): TitleRecord => decode(bytes, title, tables)

describe('title records in Avro', () => {
  it('come back exactly as they went in, whatever the titles, links and wikis', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/), page, { maxKeys: 6 }), fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 4 }), (pages, disc) => {
        const record: TitleRecord = disc.length > 0 ? { pages, disc } : { pages }
        expect(JSON.parse(JSON.stringify(decodeTitleRecord(encodeTitleRecord(record, TITLE), TITLE)))).toEqual(record)
      }),
      { numRuns: 300 },
    )
  })

  it('a state that lacks a field now kept is written with null there', () => {
    const old = { redirect: false, revision: 3, observedAt: 1, source: 'snapshot', changedAt: 1 } as unknown as PageState
    expect(decodeTitleRecord(encodeTitleRecord({ pages: { en: old } }, 'x'), 'x').pages.en).toMatchObject({ revision: 3, blank: null, links: null, writtenLinks: null })
  })

  it('are much smaller than the JSON they replace', () => {
    const p: PageState = { redirect: false, blank: false, revision: 123456, pageId: 98765, links: [{ code: 'fr', title: 'chat' }, { code: 'de', title: 'chat' }], writtenLinks: null, createdAt: null, byBot: null, observedAt: 1796112160914, source: 'snapshot', snapshotId: '0c4a4c1e-7b43-4d3c-9d53-8f0e5a5e2f11', changedAt: 1796112160914 }
    const record = { pages: { en: p, fr: p, de: p } }
    expect(encodeTitleRecord(record, 'chat').length).toBeLessThan(Buffer.byteLength(JSON.stringify(record)) / 2)
  })

  it('keep a link to the record\'s own title as its code\'s number, and every other title whole', () => {
    const p = (links: { code: string; title: string }[]): PageState => ({ redirect: false, blank: false, revision: 1, pageId: 1, links, writtenLinks: links, createdAt: null, byBot: null, observedAt: 1, source: 'snapshot', snapshotId: null, changedAt: 1 })
    // In code order, as the rules keep links (sortLinks).
    const own = Array.from({ length: 50 }, (_, i) => ({ code: `l${String(i).padStart(2, '0')}`, title: 'ἀγάπη' }))
    const other = own.map((l) => ({ ...l, title: 'ἀγάπα' }))
    // Tables of its own: the first 64 codes have one-byte numbers.
    const own64 = { strings: new StringTable(), codes: new StringTable() }
    const size = (links: { code: string; title: string }[], title = 'ἀγάπη') => encode({ pages: { en: p(links) } }, title, own64, uses()).length
    // A same-title link is one byte (its code's number in the code table, and the list's count once); another
    // title is written whole beside its code's number: its 11 bytes and their length, in both lists (links and
    // written links).
    expect(size(own) - size([])).toBe(2 * (50 + 1))
    expect(size(other) - size(own)).toBe(2 * 50 * 12)
    // The same bytes read as another title's record give that title: the title is the key's, not the value's.
    expect(decodeTitleRecord(encodeTitleRecord({ pages: { en: p(own) } }, 'ἀγάπη'), 'ἀγάπη').pages.en!.links).toEqual(own)
    expect(decodeTitleRecord(encodeTitleRecord({ pages: { en: p([{ code: 'fr', title: '' }]) } }, 'ἀγάπη'), 'ἀγάπη').pages.en!.links).toEqual([{ code: 'fr', title: '' }])
    // Own-title and other-title links of one code come back in code and title order, as they went in.
    const mixed = [{ code: 'de', title: 'ἀγάπα' }, { code: 'de', title: 'ἀγάπη' }, { code: 'de', title: 'ἀγάπω' }, { code: 'en', title: 'ἀγάπη' }, { code: 'fr', title: 'a' }]
    expect(decodeTitleRecord(encodeTitleRecord({ pages: { en: p(mixed) } }, 'ἀγάπη'), 'ἀγάπη').pages.en!.links).toEqual(mixed)
    // A list out of that order (no rule makes one) is kept exactly as it is.
    const unsorted = [{ code: 'fr', title: 'ἀγάπη' }, { code: 'de', title: 'x' }, { code: 'de', title: 'ἀγάπη' }]
    expect(decodeTitleRecord(encodeTitleRecord({ pages: { en: p(unsorted) } }, 'ἀγάπη'), 'ἀγάπη').pages.en!.links).toEqual(unsorted)
  })

  it('scale with Cognate: a title on every Wiktionary costs one or two bytes a link, whatever its codes', () => {
    // 170 codes, long ones among them, each page linking the title on every other wiki (as Cognate makes them).
    const codes = Array.from({ length: 170 }, (_, i) => (i % 10 === 0 ? `zh-min-nan${i}` : `w${i.toString(36)}`)).sort()
    const title = 'water'
    const table = { strings: new StringTable(), codes: new StringTable() }
    const pages: Record<string, PageState> = {}
    for (const w of codes) pages[w] = { redirect: false, blank: false, revision: 123456, pageId: 654321, links: codes.filter((c) => c !== w).map((code) => ({ code, title })), writtenLinks: null, createdAt: null, byBot: null, observedAt: 1796112160914, source: 'dump', snapshotId: 'x:2026-12-01', changedAt: 1796112160914 }
    const bytes = encode({ pages }, title, table, uses())
    const links = 170 * 169
    // The first 64 codes take one byte, the others two: 1.6 bytes a link; the page's other fields ~30 bytes.
    expect(bytes.length / links).toBeLessThan(1.85)
    expect(decode(bytes, title, table)).toEqual({ pages })
  })

  it('store changedAt as its distance from observedAt, so the common case (equal) is one byte', () => {
    const base: PageState = { redirect: false, blank: null, revision: 1, pageId: 1, links: [], writtenLinks: null, createdAt: null, byBot: null, observedAt: 1796112160914, source: 'dump', snapshotId: null, changedAt: 1796112160914 }
    const size = (page: PageState) => encodeTitleRecord({ pages: { en: page } }, 't').length
    expect(size({ ...base, changedAt: 1 }) - size(base)).toBe(5)
    // Later than the observation (a clock moved back) is kept too.
    expect(decodeTitleRecord(encodeTitleRecord({ pages: { en: { ...base, changedAt: base.observedAt + 5 } } }, 't'), 't').pages.en!.changedAt).toBe(base.observedAt + 5)
  })
})

describe('the string table', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-string-table-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))
  const page = (source: string, snapshotId: string | null): PageState => ({ redirect: false, blank: false, revision: 1, pageId: 1, links: [], writtenLinks: null, createdAt: null, byBot: null, observedAt: 1, source, snapshotId, changedAt: 1 })

  it('stores sources and snapshot ids once, as numbers: the size of a record does not grow with them', () => {
    const id = 'en:2026-12-02T07:27:23.001Z:97876a26'
    const table = { strings: new StringTable(), codes: new StringTable() }
    const used = uses()
    const record = { pages: { en: page('snapshot', id) } }
    const bytes = encode(record, 'chat', table, used)
    expect([...used.strings].map((n) => table.strings.string(n)).sort()).toEqual([id, 'snapshot'])
    expect(decode(bytes, 'chat', table)).toEqual(record)
    // Strings of any length take the bytes of their number (one, for the first 63), not their own.
    expect(encode({ pages: { en: page('recentchanges'.repeat(20), id.repeat(10)) } }, 'chat', table, uses()).length).toBe(bytes.length)
    expect(bytes.length).toBeLessThan(Buffer.byteLength(id))
  })

  it('writes its entries in every batch of records that uses them, and a reopened store reads those records back', async () => {
    const dir = join(work, 'store')
    const store = await TitleStore.open(dir)
    const ids = ['en:2026-12-01T00:00:00.000Z:aaaa0001', 'fr:2026-12-01T00:00:00.000Z:bbbb0002', 'Ελληνικά:𝔘']
    await store.write([{ type: 'put', key: keys.title(0, 'chat'), record: { pages: { en: page('snapshot', ids[0]!), fr: page('eventstreams', ids[1]!) } } }])
    await store.write([{ type: 'put', key: keys.title(3, 'ἀγάπη'), record: { pages: { el: page('import', ids[2]!) } } }])
    // A second batch using strings an earlier one numbered stores them again: either batch may be the one a crash keeps.
    await store.write([{ type: 'put', key: keys.title(1, 'dog'), record: { pages: { en: page('snapshot', ids[0]!), de: page('snapshot', null) } } }])
    await store.close()
    const again = await TitleStore.open(dir)
    expect((await again.title(0, 'chat'))!.fr!.snapshotId).toBe(ids[1])
    expect((await again.title(3, 'ἀγάπη'))!.el).toMatchObject({ source: 'import', snapshotId: ids[2] })
    expect((await again.title(1, 'dog'))!.de!.snapshotId).toBeNull()
    // New strings get numbers the stored ones do not have.
    await again.write([{ type: 'put', key: keys.title(2, 'cat'), record: { pages: { en: page('sink', 'new') } } }])
    expect((await again.title(0, 'chat'))!.en).toMatchObject({ source: 'snapshot', snapshotId: ids[0] })
    expect((await again.title(2, 'cat'))!.en).toMatchObject({ source: 'sink', snapshotId: 'new' })
    await again.close()
  })

  it('keeps sweep stamps\' snapshot ids as numbers too, stored with the batch that writes the index entry', async () => {
    const dir = join(work, 'stamps')
    const store = await TitleStore.open(dir)
    const id = 'de:2026-12-02T08:00:00.000Z:cccc0003'
    // A batch with index entries and no record (a page whose stamp alone changed) still carries its strings.
    await store.write([{ type: 'put', key: keys.wikiTitle(5, 'de', 'Hund'), stamp: { observedAt: 1796112160914, snapshotId: id } }, { type: 'put', key: keys.wikiTitle(5, 'de', 'Katze'), stamp: { observedAt: 7, snapshotId: null } }])
    expect((await store.db.get(keys.wikiTitle(5, 'de', 'Hund')))!.length).toBeLessThan(12)
    await store.close()
    const again = await TitleStore.open(dir)
    const got: unknown[] = []
    for await (const run of again.wikiTitles(5, 'de')) got.push(...run)
    expect(got).toEqual([['Hund', { observedAt: 1796112160914, snapshotId: id }], ['Katze', { observedAt: 7, snapshotId: null }]])
    await again.close()
  })

  it('a record naming a string the table lacks is damage, said so by name', () => {
    const bytes = encode({ pages: { en: page('snapshot', 'x') } }, 'chat', { strings: new StringTable(), codes: new StringTable() }, uses())
    expect(() => decode(bytes, 'chat', { strings: new StringTable(), codes: new StringTable() })).toThrow(expect.objectContaining({ code: 'MBWA_STORE_DAMAGED' }))
  })
})

describe('the store format', () => {
  const work = mkdtempSync(join(tmpdir(), 'mbwa-store-format-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  async function jsonStore(dir: string): Promise<void> {
    // What an older mbwa left: JSON title records and no format key.
    const db = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8' })
    await db.put(keys.title(0, 'chat'), JSON.stringify({ pages: { en: { redirect: false } } }))
    await db.put(keys.offset(0), '1')
    await db.close()
  }

  it('a new store is marked with the format; reopening it is fine', async () => {
    const dir = join(work, 'new')
    const store = await TitleStore.open(dir)
    expect(await store.db.get(keys.format)).toBe(STORE_FORMAT)
    await store.close()
    await (await TitleStore.open(dir)).close()
  })

  it('an older JSON store is refused by name, and guarded stores are moved aside to be rebuilt', async () => {
    const dir = join(work, 'old')
    await jsonStore(dir)
    await expect(TitleStore.open(dir)).rejects.toMatchObject({ code: 'MBWA_STORE_FORMAT' })
    const aside = await guardStore(dir)
    expect(aside).toMatch(/\.old-format-/)
    expect(existsSync(dir)).toBe(false)
    expect(readdirSync(aside!).length).toBeGreaterThan(0)
    const fresh = await TitleStore.open(dir)
    expect(await fresh.offset(0)).toBe(0)
    await fresh.close()
    // A store of this format passes the guard as it is.
    expect(await guardStore(dir)).toBeUndefined()
  })
})
