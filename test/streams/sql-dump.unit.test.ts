import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SqlDumpError, SqlDumpParser, sqlDumpRows, type SqlValue } from '../../src/streams/wikimedia-dumps/sql-dump.js'
import { mysqlString, sqlDumpText, TABLES, type Cell } from '../setup/wikimedia-dump-files.js'

// The mysqldump reader, property-tested: any rows (strings of any Unicode, with every character mysqldump escapes,
// numbers, NULL), written as mysqldump writes them, cut into chunks at any byte (inside a string, an escape, a UTF-8
// sequence), read back equal. Also the other spellings MySQL allows (doubled quotes, introducers, hex literals), the
// column order taken from CREATE TABLE, and truncated or malformed dumps refused with the byte offset.

function parseAll(bytes: Buffer, cuts: number[]): { rows: SqlValue[][]; parser: SqlDumpParser } {
  const parser = new SqlDumpParser()
  const rows: SqlValue[][] = []
  let at = 0
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c <= at || c >= bytes.length) continue
    rows.push(...parser.push(bytes.subarray(at, c)))
    at = c
  }
  rows.push(...parser.push(bytes.subarray(at)))
  rows.push(...parser.end())
  return { rows, parser }
}

const special = fc.constantFrom('\0', '\n', '\r', '\\', "'", '"', '\x1a', '\b', '\t', '%', '_', '\\%', "''", '),(', ');', '*/', '--', '`')
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('a', 'é', 'ж', '中', '😀', 'ﷺ', '\u200f', ' '), maxLength: 8 }),
  fc.array(fc.oneof(special, fc.string({ unit: 'grapheme', maxLength: 3 })), { maxLength: 6 }).map((p) => p.join('')),
)
const langlinksRow = fc.tuple(fc.nat({ max: 2 ** 31 }), text, text)
const pageRowArb = fc.tuple(
  fc.nat({ max: 2 ** 31 }),
  fc.integer({ min: -2, max: 3000 }),
  text,
  fc.constantFrom(0, 1),
  fc.constantFrom(0, 1),
  fc.double({ min: 0, max: 1, noNaN: true }),
  fc.constant('20261201000000'),
  fc.oneof(fc.constant(null), fc.constant('20261130120000')),
  fc.nat({ max: 2 ** 31 }),
  fc.nat({ max: 2 ** 31 }),
  fc.oneof(fc.constant(null), fc.constant('wikitext')),
  fc.oneof(fc.constant(null), text),
)

describe('sql dump reader', () => {
  it('reads back any langlinks rows, cut into chunks anywhere', () => {
    fc.assert(
      fc.property(fc.array(langlinksRow, { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), fc.array(fc.nat(), { maxLength: 30 }), (rows, per, cuts) => {
        const bytes = Buffer.from([...sqlDumpText(rows, { db: 'xwiktionary', table: 'langlinks', rowsPerInsert: per })].join(''))
        const { rows: got, parser } = parseAll(bytes, cuts.map((c) => c % (bytes.length + 1)))
        expect(got).toEqual(rows)
        expect(parser.columns).toEqual(['ll_from', 'll_lang', 'll_title'])
        expect(parser.completed).toBe(true)
      }),
      { numRuns: 400 },
    )
  })

  it('reads back page rows (numbers, doubles, NULLs), cut into single bytes', () => {
    fc.assert(
      fc.property(fc.array(pageRowArb, { maxLength: 6 }), (rows) => {
        const bytes = Buffer.from([...sqlDumpText(rows as Cell[][], { db: 'x', table: 'page', rowsPerInsert: 4 })].join(''))
        const { rows: got } = parseAll(bytes, Array.from({ length: bytes.length }, (_, i) => i))
        expect(got).toEqual(rows)
      }),
      { numRuns: 60 },
    )
  })

  it('takes the column order from CREATE TABLE, not from the schema file', () => {
    const moved: [string, string][] = [TABLES.langlinks!.columns[2]!, TABLES.langlinks!.columns[0]!, TABLES.langlinks!.columns[1]!]
    const bytes = Buffer.from([...sqlDumpText([['chat', 7, 'fr']], { db: 'x', table: 'langlinks', columns: moved })].join(''))
    const { rows, parser } = parseAll(bytes, [])
    expect(parser.columns).toEqual(['ll_title', 'll_from', 'll_lang'])
    expect(rows).toEqual([['chat', 7, 'fr']])
  })

  it('reads the spellings MySQL allows besides mysqldump\'s own', () => {
    const head = [...sqlDumpText([], { db: 'x', table: 'langlinks' })].join('').split('/*!40000 ALTER TABLE `langlinks` ENABLE KEYS')[0]!
    const body = "INSERT INTO `langlinks` VALUES (1,_binary 'fr','l''eau'),( 2 , X'6465' , 0x636861c3ae6e65 ),(3,'en',_utf8mb4'a\\%b\\_c\\qd'),(-4,'ja','\\\\n'),(5e2,'x',NULL);\n-- Dump completed on 2026-12-01\n"
    const { rows } = parseAll(Buffer.from(head + body), [head.length + 17, head.length + 18])
    expect(rows).toEqual([
      [1, 'fr', "l'eau"],
      [2, 'de', 'chaîne'],
      [3, 'en', 'a\\%b\\_cqd'],
      [-4, 'ja', '\\n'],
      [500, 'x', null],
    ])
  })

  it('escapes as mysql_real_escape_string does', () => {
    expect(mysqlString("a'b\\c\n\0\x1a\"")).toBe("'a\\'b\\\\c\\n\\0\\Z\\\"'")
  })

  it('refuses a cut dump: inside a row, between statements, or without its closing line', async () => {
    const full = Buffer.from([...sqlDumpText([[1, 'fr', 'chat'], [2, 'de', 'Katze']], { db: 'x', table: 'langlinks' })].join(''))
    const insideRow = full.subarray(0, full.indexOf("'Katze") + 3)
    expect(() => parseAll(insideRow, [])).toThrow(/ends inside an INSERT statement/)
    const noTrailer = Buffer.from([...sqlDumpText([[1, 'fr', 'chat']], { db: 'x', table: 'langlinks', truncated: true })].join(''))
    await expect(collect(noTrailer)).rejects.toThrow(/no closing "-- Dump completed" line/)
    await expect(collect(full)).resolves.toEqual([[1, 'fr', 'chat'], [2, 'de', 'Katze']])
  })

  it('names the byte where a dump is malformed', () => {
    const head = [...sqlDumpText([], { db: 'x', table: 'langlinks' })].join('').split('/*!40000 ALTER TABLE `langlinks` ENABLE KEYS')[0]!
    const bad = (body: string) => () => parseAll(Buffer.from(head + body), [])
    expect(bad("INSERT INTO `langlinks` VALUES (1,'fr');")).toThrow(/a row of 2 values in table `langlinks` of 3 columns/)
    expect(bad("INSERT INTO `langlinks` VALUES (1,'fr',oops);")).toThrow(SqlDumpError)
    expect(bad("INSERT INTO `langlinks` VALUES (1,'fr','x') (2,'de','y');")).toThrow(new RegExp(`expected "," or ";" after a row, found "\\(" at byte ${Buffer.byteLength(head) + 44}`))
    expect(bad("INSERT INTO `other` VALUES (1);")).toThrow(/rows of table `other` before its CREATE TABLE/)
  })
})

async function collect(bytes: Buffer): Promise<SqlValue[][]> {
  const out: SqlValue[][] = []
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += 100) yield bytes.subarray(i, i + 100)
  }
  for await (const b of sqlDumpRows(chunks())) out.push(...b.rows)
  return out
}
