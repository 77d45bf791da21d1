import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { isMbwaError } from '../../src/errors/errors.js'
import type { PageState } from '../../src/domain/page-state.js'
import { BLOCK, compareTitles, DumpWriter, lookupDump, mergeParts, readDump, verifyDump, verifyDumpAsync, writeDump, type DumpRecord } from '../../src/sinks/dump-file.js'

const dir = mkdtempSync(join(tmpdir(), 'mbwa-dump-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function page(i: number): PageState {
  return { redirect: i % 17 === 0, blank: i % 13 === 0 ? null : false, revision: 1000 + i, pageId: i, links: [{ code: 'fr', title: `mot ${i}` }], writtenLinks: null, createdAt: null, byBot: null, observedAt: 1_700_000_000_000, source: 'snapshot', snapshotId: 's', changedAt: 1_700_000_000_000 }
}
const records: DumpRecord[] = Array.from({ length: 2_500 }, (_, i) => ({ title: i % 2 ? `word ${i}` : `Ελλάδα ${i}`, page: page(i) }))

function invalid(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (isMbwaError(err, 'MBWA_DUMP_INVALID')) return err.message
    throw err
  }
  throw new Error('expected MBWA_DUMP_INVALID')
}

describe('dump files (unit)', () => {
  const path = join(dir, 'en/en.mbwa.gz')
  const written = writeDump(path, { wiki: 'en', createdAt: '2026-11-23T00:00:00Z', source: 'test' }, records)

  it('writes a complete, checkable dump that plain zcat can read', () => {
    expect(readdirSync(join(dir, 'en'))).toEqual(['en.mbwa.gz']) // no temporary left
    const v = verifyDump(path)
    expect(v).toMatchObject({ count: 2500, sha256: written.sha256, blocks: Math.ceil(2500 / BLOCK) })
    expect(v.header).toMatchObject({ format: 'mbwa-dump', version: 1, wiki: 'en' })
    const lines = gunzipSync(readFileSync(path)).toString('utf8').trim().split('\n')
    expect(lines.length).toBe(1 + 2500 + 1 + 1) // header, records, index, trailer
    const titles = [...readDump(path)].map((r) => r.title)
    expect(titles).toEqual([...titles].sort())
  })

  it('finds titles through the index; an absent title is absent', () => {
    for (const r of [records[0]!, records[1]!, records[1234]!, records[2499]!]) expect(lookupDump(path, r.title)).toEqual(r.page)
    expect(lookupDump(path, 'word 99999')).toBeUndefined()
    expect(lookupDump(path, 'AAA before everything')).toBeUndefined()
  })

  it('detects truncation anywhere', () => {
    const size = readFileSync(path).length
    for (const cut of [10, Math.floor(size / 2), size - 1]) {
      const copy = join(dir, `cut-${cut}.mbwa.gz`)
      writeFileSync(copy, readFileSync(path))
      truncateSync(copy, cut)
      expect(invalid(() => verifyDump(copy))).toMatch(/truncated|too short|trailer/)
    }
  })

  it('detects an altered byte', () => {
    const bytes = readFileSync(path)
    for (const at of [Math.floor(bytes.length / 3), Math.floor(bytes.length / 2)]) {
      const copy = Buffer.from(bytes)
      copy[at] = copy[at]! ^ 0x5a
      const altered = join(dir, `altered-${at}.mbwa.gz`)
      writeFileSync(altered, copy)
      expect(invalid(() => verifyDump(altered))).toMatch(/altered|does not|checksum|out of order|records/)
    }
  })

  it('never leaves a half-written dump under the final name (nor a temporary)', () => {
    const target = join(dir, 'broken/en.mbwa.gz')
    function* failing(): Generator<DumpRecord> {
      yield records[0]!
      throw new Error('disk on fire')
    }
    expect(() => writeDump(target, { wiki: 'en', createdAt: 'x', source: 'test' }, failing())).toThrow('disk on fire')
    expect(existsSync(target)).toBe(false)
    expect(existsSync(join(dir, 'broken')) ? readdirSync(join(dir, 'broken')) : []).toEqual([])
  })
})

describe('streamed dumps (unit)', () => {
  // Titles in many scripts, with characters on both sides of the UTF-16/code-point divide (U+E000.. vs astral).
  const titles = ['a', 'ab', 'Z', 'é', 'Ελλάδα', '中文', '\u{FF21}', '\u{FFFD}x', '\u{1F600}', '\u{10400}', '\u{E000}', 'ǅ', 'İ', '𝒜b']
  const byCodePoint = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))

  it('orders titles by code point (the order LevelDB keeps keys in), unlike JavaScript\'s <', () => {
    const sorted = [...titles].sort(compareTitles)
    expect(sorted).toEqual([...titles].sort(byCodePoint))
    expect(compareTitles('\u{E000}', '\u{1F600}')).toBeLessThan(0)
    expect('\u{E000}' < '\u{1F600}').toBe(false) // what a UTF-16 comparison would have done
  })

  it('merges sorted parts into one sorted stream, and the writer refuses a record out of order', async () => {
    const all = Array.from({ length: 5000 }, (_, i) => `${titles[i % titles.length]} ${i}`).sort(byCodePoint)
    const parts = [0, 1, 2, 3, 4].map((k) => ({
      async *[Symbol.asyncIterator]() {
        for (let i = k; i < all.length; i += 5) yield { title: all[i]!, page: page(i) }
      },
    }))
    const path = join(dir, 'stream/en.mbwa.gz')
    const w = await DumpWriter.open(path, { wiki: 'en', createdAt: '2026-12-01T00:00:00Z', source: 'test' })
    for await (const r of mergeParts(parts)) await w.add(r)
    const done = await w.finish()
    expect(existsSync(path)).toBe(false) // not under its name before commit
    await w.commit()
    expect(done.count).toBe(5000)
    const v = await verifyDumpAsync(path)
    expect(v).toMatchObject({ count: 5000, sha256: done.sha256 })
    expect(verifyDump(path).sha256).toBe(done.sha256)
    expect([...readDump(path)].map((r) => r.title)).toEqual(all)
    for (const t of [all[0]!, all[2345]!, all[4999]!]) expect(lookupDump(path, t)).toBeDefined()

    const bad = await DumpWriter.open(join(dir, 'stream/bad.mbwa.gz'), { wiki: 'en', createdAt: '2026-12-01T00:00:00Z', source: 'test' })
    await bad.add({ title: 'b', page: page(1) })
    await expect(bad.add({ title: 'a', page: page(2) })).rejects.toThrow(/out of order/)
    await bad.abort()
    expect(readdirSync(join(dir, 'stream'))).toEqual(['en.mbwa.gz'])
  })

  it('verifying block by block finds an altered byte and a truncation', async () => {
    const path = join(dir, 'stream/en.mbwa.gz')
    const copy = join(dir, 'stream-altered.mbwa.gz')
    const bytes = readFileSync(path)
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff
    writeFileSync(copy, bytes)
    await expect(verifyDumpAsync(copy)).rejects.toThrow(/MBWA|decompress|checksum|order|records/)
    writeFileSync(copy, readFileSync(path).subarray(0, 1000))
    await expect(verifyDumpAsync(copy)).rejects.toThrow(/truncated|too short|trailer/)
  })
})
