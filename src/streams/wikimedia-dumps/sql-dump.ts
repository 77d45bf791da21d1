// A streaming reader of mysqldump output, as Wikimedia publishes its table dumps (`<db>-<date>-page.sql.gz` …):
// comments and `/*!…*/;` lines, `DROP TABLE`, `CREATE TABLE` (whose column list names the columns of the rows:
// production column order has differed from MediaWiki's schema file, so positions are never assumed), then
// extended `INSERT INTO … VALUES (…),(…);` statements. No npm package reads this format.
//
// It works on bytes: a chunk may end anywhere (inside a row, a string, a UTF-8 sequence); what is not complete
// waits for the next chunk. Quotes and backslashes are ASCII, never part of a multi-byte UTF-8 sequence, so strings
// are cut at byte level and decoded whole. Strings follow MySQL's literal syntax: the escapes `\0 \b \t \n \r \Z \\
// \' \"` (and `\%`, `\_` keeping their backslash, any other `\x` meaning x), a doubled `''`, the `_binary` and other
// charset introducers, and hex literals (`0x…`, `X'…'`).

export type SqlValue = string | number | null

export class SqlDumpError extends Error {
  constructor(
    message: string,
    /** Byte offset in the (uncompressed) dump where the problem was found. */
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`)
    this.name = 'SqlDumpError'
  }
}

const QUOTE = 0x27
const BACKSLASH = 0x5c

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

function isNumberByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45
}

function isWordByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f
}

/** What a backslash followed by byte `c` stands for in a MySQL string literal. */
function unescaped(c: number): string {
  switch (c) {
    case 0x30:
      return '\0'
    case 0x62:
      return '\b'
    case 0x6e:
      return '\n'
    case 0x72:
      return '\r'
    case 0x74:
      return '\t'
    case 0x5a:
      return '\x1a'
    case 0x25:
      return '\\%'
    case 0x5f:
      return '\\_'
    default:
      return String.fromCharCode(c)
  }
}

/** Needs more bytes to go on. */
const MORE = Symbol('more')

export class SqlDumpParser {
  /** The table whose rows come next (from `CREATE TABLE` or the `INSERT`). */
  table: string | undefined
  /** Its columns, in the order of the rows' values. */
  columns: string[] | undefined
  /** The dump's last line (`-- Dump completed on …`) was read: the file is whole. */
  completed = false
  /** Rows read so far. */
  rowCount = 0
  private buf: Buffer = Buffer.alloc(0)
  /** Bytes dropped from the front of `buf` so far: offsets in errors are the dump's own. */
  private base = 0
  private inValues = false
  /** Within an INSERT, a row was read: a "," or the ";" comes next. */
  private afterRow = false
  private readonly tableColumns = new Map<string, string[]>()

  /** Takes the next bytes of the dump; returns the rows completed by them. */
  push(chunk: Buffer): SqlValue[][] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    return this.parse(false)
  }

  /** The dump ended: the rows still held, or an error when it ended inside a statement. */
  end(): SqlValue[][] {
    return this.parse(true)
  }

  private parse(last: boolean): SqlValue[][] {
    const buf = this.buf
    const n = buf.length
    const rows: SqlValue[][] = []
    let pos = 0
    for (;;) {
      let i = pos
      while (i < n && isSpace(buf[i]!)) i++
      if (i >= n) {
        pos = i
        break
      }
      if (this.inValues) {
        const c = buf[i]!
        if (this.afterRow) {
          if (c === 0x3b) {
            this.inValues = false
            pos = i + 1
            continue
          }
          if (c !== 0x2c) throw new SqlDumpError(`expected "," or ";" after a row, found ${describe(c)}`, this.base + i)
          i++
          while (i < n && isSpace(buf[i]!)) i++
          if (i >= n) break
        }
        if (buf[i] !== 0x28) throw new SqlDumpError(`expected "(" to begin a row, found ${describe(buf[i]!)}`, this.base + i)
        const r = this.tuple(buf, i)
        if (r === MORE) break
        if (r[0].length !== this.columns!.length) throw new SqlDumpError(`a row of ${r[0].length} values in table \`${this.table}\` of ${this.columns!.length} columns`, this.base + i)
        rows.push(r[0])
        this.afterRow = true
        pos = r[1]
        continue
      }
      const r = this.statement(buf, i)
      if (r === MORE) break
      pos = r
    }
    this.rowCount += rows.length
    if (last) {
      let i = pos
      while (i < n && isSpace(buf[i]!)) i++
      if (i < n || this.inValues) throw new SqlDumpError(this.inValues ? 'the dump ends inside an INSERT statement (truncated?)' : 'the dump ends inside a statement (truncated?)', this.base + n)
    }
    this.base += pos
    this.buf = pos >= n ? Buffer.alloc(0) : buf.subarray(pos)
    return rows
  }

  /** One top-level piece at `i`: a comment, an empty statement, or a statement. The position after it. */
  private statement(buf: Buffer, i: number): number | typeof MORE {
    const n = buf.length
    const c = buf[i]!
    if (c === 0x2d && buf[i + 1] === 0x2d) {
      const nl = buf.indexOf(0x0a, i)
      if (nl === -1) return MORE
      if (buf.toString('latin1', i, Math.min(nl, i + 20)).startsWith('-- Dump completed')) this.completed = true
      return nl + 1
    }
    if (i + 1 >= n) return MORE
    if (c === 0x2f && buf[i + 1] === 0x2a) {
      const close = buf.indexOf('*/', i + 2, 'latin1')
      return close === -1 ? MORE : close + 2
    }
    if (c === 0x3b) return i + 1
    const word = buf.toString('latin1', i, Math.min(n, i + 12)).toUpperCase()
    if (word.startsWith('INSERT')) {
      const values = indexOfWord(buf, 'VALUES', i)
      if (values === -1) {
        if (n - i > 1_000_000) throw new SqlDumpError('an INSERT statement without VALUES', this.base + i)
        return MORE
      }
      const head = buf.toString('utf8', i, values)
      const m = /^INSERT\s+(?:IGNORE\s+)?INTO\s+`((?:[^`]|``)+)`\s*(?:\(([^)]*)\))?\s*$/i.exec(head)
      if (!m) throw new SqlDumpError(`an INSERT statement not of the form INSERT INTO \`table\` VALUES: ${JSON.stringify(head.slice(0, 80))}`, this.base + i)
      const table = m[1]!.replace(/``/g, '`')
      const columns = m[2] !== undefined ? [...m[2].matchAll(/`((?:[^`]|``)+)`/g)].map((x) => x[1]!.replace(/``/g, '`')) : this.tableColumns.get(table)
      if (!columns) throw new SqlDumpError(`rows of table \`${table}\` before its CREATE TABLE`, this.base + i)
      this.table = table
      this.columns = columns
      this.inValues = true
      this.afterRow = false
      return values + 6
    }
    const end = statementEnd(buf, i)
    if (end === -1) {
      if (n - i > 16_000_000) throw new SqlDumpError('a statement longer than 16 MB without its ";"', this.base + i)
      return MORE
    }
    if (word.startsWith('CREATE TABLE')) {
      const text = buf.toString('utf8', i, end)
      const name = /^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`((?:[^`]|``)+)`/i.exec(text)
      if (!name) throw new SqlDumpError('a CREATE TABLE statement without a table name', this.base + i)
      const table = name[1]!.replace(/``/g, '`')
      const columns = createTableColumns(text)
      if (columns.length === 0) throw new SqlDumpError(`CREATE TABLE \`${table}\` names no columns`, this.base + i)
      this.tableColumns.set(table, columns)
      this.table = table
      this.columns = columns
    }
    return end + 1
  }

  /** The row at `i` (its "("): its values and the position after its ")". */
  private tuple(buf: Buffer, start: number): [SqlValue[], number] | typeof MORE {
    const n = buf.length
    const row: SqlValue[] = []
    let i = start + 1
    for (;;) {
      while (i < n && isSpace(buf[i]!)) i++
      if (i >= n) return MORE
      const c = buf[i]!
      if (c === QUOTE) {
        const s = this.string(buf, i)
        if (s === MORE) return MORE
        row.push(s[0])
        i = s[1]
      } else if (c === 0x4e || c === 0x6e) {
        if (i + 4 > n) return MORE
        if (buf.toString('latin1', i, i + 4).toUpperCase() !== 'NULL') throw new SqlDumpError(`unexpected ${describe(c)} in a row`, this.base + i)
        row.push(null)
        i += 4
      } else if (c === 0x30 && (buf[i + 1] === 0x78 || buf[i + 1] === 0x58)) {
        let j = i + 2
        while (j < n && isHex(buf[j]!)) j++
        if (j >= n) return MORE
        row.push(hexString(buf.toString('latin1', i + 2, j), this.base + i))
        i = j
      } else if ((c === 0x58 || c === 0x78) && buf[i + 1] === QUOTE) {
        const close = buf.indexOf(QUOTE, i + 2)
        if (close === -1) return MORE
        row.push(hexString(buf.toString('latin1', i + 2, close), this.base + i))
        i = close + 1
      } else if (c === 0x5f) {
        // A charset introducer (_binary, _utf8mb4) before a string: the string is the value.
        let j = i + 1
        while (j < n && isWordByte(buf[j]!)) j++
        while (j < n && isSpace(buf[j]!)) j++
        if (j >= n) return MORE
        if (buf[j] !== QUOTE) throw new SqlDumpError('a charset introducer not followed by a string', this.base + i)
        i = j
        continue
      } else if (isNumberByte(c)) {
        // Integers (nearly every number in these tables) are summed as they are read; others go through Number().
        let j = c === 0x2d ? i + 1 : i
        let v = 0
        let d: number
        while (j < n && (d = buf[j]! - 0x30) >= 0 && d <= 9) {
          v = v * 10 + d
          j++
        }
        if (j >= n) return MORE
        if (isNumberByte(buf[j]!) || j === i || (c === 0x2d && j === i + 1)) {
          while (j < n && isNumberByte(buf[j]!)) j++
          if (j >= n) return MORE
          const text = buf.toString('latin1', i, j)
          v = Number(text)
          if (!Number.isFinite(v)) throw new SqlDumpError(`not a number: ${JSON.stringify(text)}`, this.base + i)
        } else if (c === 0x2d) v = -v
        row.push(v)
        i = j
      } else throw new SqlDumpError(`unexpected ${describe(c)} in a row`, this.base + i)
      while (i < n && isSpace(buf[i]!)) i++
      if (i >= n) return MORE
      const sep = buf[i]!
      if (sep === 0x2c) i++
      else if (sep === 0x29) return [row, i + 1]
      else throw new SqlDumpError(`expected "," or ")" after a value, found ${describe(sep)}`, this.base + i)
    }
  }

  /** The string literal at `i` (its opening quote): its text and the position after its closing quote. */
  private string(buf: Buffer, i: number): [string, number] | typeof MORE {
    const n = buf.length
    let out = ''
    let seg = i + 1
    for (let j = i + 1; j < n; j++) {
      const c = buf[j]!
      if (c === BACKSLASH) {
        if (j + 1 >= n) return MORE
        const e = buf[j + 1]!
        if (seg < j) out += buf.toString('utf8', seg, j)
        if (e >= 0x80) {
          seg = j + 1 // a backslash before a non-ASCII byte stands for that byte: keep the sequence whole
          continue
        }
        out += unescaped(e)
        j++
        seg = j + 1
      } else if (c === QUOTE) {
        if (j + 1 >= n) return MORE // a doubled '' is a quote: the next byte decides
        if (seg < j) out += buf.toString('utf8', seg, j)
        if (buf[j + 1] === QUOTE) {
          out += "'"
          j++
          seg = j + 1
          continue
        }
        return [out, j + 1]
      }
    }
    return MORE
  }
}

/** The column names of a CREATE TABLE statement, in order (key and constraint lines are not columns). */
export function createTableColumns(text: string): string[] {
  const open = text.indexOf('(')
  if (open === -1) return []
  const out: string[] = []
  for (const line of text.slice(open + 1).split('\n')) {
    const m = /^\s*`((?:[^`]|``)+)`\s/.exec(line)
    if (m) out.push(m[1]!.replace(/``/g, '`'))
  }
  return out
}

/** The index of the `;` that ends the statement at `i`, outside quotes, backticks and comments; -1 if not here. */
function statementEnd(buf: Buffer, i: number): number {
  const n = buf.length
  let quote = 0
  for (let j = i; j < n; j++) {
    const c = buf[j]!
    if (quote !== 0) {
      if (c === BACKSLASH && quote !== 0x60) j++
      else if (c === quote) quote = 0
    } else if (c === QUOTE || c === 0x22 || c === 0x60) quote = c
    else if (c === 0x3b) return j
  }
  return -1
}

function indexOfWord(buf: Buffer, word: string, from: number): number {
  let at = from
  for (;;) {
    const j = buf.indexOf(word, at, 'latin1')
    if (j === -1) return -1
    if (!isWordByte(buf[j - 1] ?? 0x20) && !isWordByte(buf[j + word.length] ?? 0x20)) return j
    at = j + 1
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

function hexString(hex: string, offset: number): string {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new SqlDumpError('a malformed hex literal', offset)
  return Buffer.from(hex, 'hex').toString('utf8')
}

function describe(c: number): string {
  return c >= 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : `byte 0x${c.toString(16).padStart(2, '0')}`
}

/**
 * Rows of a dump read from a byte stream (a gunzip's output, say), in batches as they complete, each with the
 * table and columns they belong to. Throws a SqlDumpError on malformed input and when the dump is cut short:
 * a file without mysqldump's closing `-- Dump completed` line is not whole.
 */
export async function* sqlDumpRows(bytes: AsyncIterable<Buffer>, options: { requireComplete?: boolean } = {}): AsyncGenerator<{ table: string; columns: string[]; rows: SqlValue[][] }> {
  const parser = new SqlDumpParser()
  for await (const chunk of bytes) {
    const rows = parser.push(chunk)
    if (rows.length > 0) yield { table: parser.table!, columns: parser.columns!, rows }
  }
  const rows = parser.end()
  if (rows.length > 0) yield { table: parser.table!, columns: parser.columns!, rows }
  if (options.requireComplete !== false && !parser.completed) throw new SqlDumpError('the dump has no closing "-- Dump completed" line (truncated?)', 0)
}
