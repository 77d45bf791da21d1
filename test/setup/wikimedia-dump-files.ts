import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { dirname, join, normalize } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { createGzip } from 'node:zlib'

// Wikimedia's table dumps as mysqldump writes them (`mysqldump --opt --quick --skip-add-locks --skip-lock-tables
// <db> <table> | gzip`), a run folder with its dumpstatus.json, and a loopback dumps site serving such folders
// with Range and a cap on connections per address, as dumps.wikimedia.org does. For tests and the bench: mbwa
// itself only reads these.

export type Cell = string | number | null

/** mysql_real_escape_string: what mysqldump escapes in a string. */
export function mysqlString(s: string): string {
  // eslint-disable-next-line no-control-regex -- NUL and ^Z are what mysqldump escapes
  return `'${s.replace(/[\0\n\r\\'"\x1a]/g, (c) => ({ '\0': '\\0', '\n': '\\n', '\r': '\\r', '\\': '\\\\', "'": "\\'", '"': '\\"', '\x1a': '\\Z' })[c]!)}'`
}

export function mysqlValue(v: Cell): string {
  return v === null ? 'NULL' : typeof v === 'number' ? String(v) : mysqlString(v)
}

/** Production column definitions, in production order (MediaWiki 1.39–1.45). */
export const TABLES: Record<string, { columns: [string, string][]; keys: string[] }> = {
  page: {
    columns: [
      ['page_id', 'int(10) unsigned NOT NULL AUTO_INCREMENT'],
      ['page_namespace', 'int(11) NOT NULL DEFAULT 0'],
      ['page_title', "varbinary(255) NOT NULL DEFAULT ''"],
      ['page_is_redirect', 'tinyint(3) unsigned NOT NULL DEFAULT 0'],
      ['page_is_new', 'tinyint(3) unsigned NOT NULL DEFAULT 0'],
      ['page_random', 'double unsigned NOT NULL DEFAULT 0'],
      ['page_touched', 'binary(14) NOT NULL'],
      ['page_links_updated', 'varbinary(14) DEFAULT NULL'],
      ['page_latest', 'int(10) unsigned NOT NULL DEFAULT 0'],
      ['page_len', 'int(10) unsigned NOT NULL DEFAULT 0'],
      ['page_content_model', 'varbinary(32) DEFAULT NULL'],
      ['page_lang', 'varbinary(35) DEFAULT NULL'],
    ],
    keys: ['PRIMARY KEY (`page_id`)', 'UNIQUE KEY `page_name_title` (`page_namespace`,`page_title`)', 'KEY `page_random` (`page_random`)', 'KEY `page_len` (`page_len`)', 'KEY `page_redirect_namespace_len` (`page_is_redirect`,`page_namespace`,`page_len`)'],
  },
  langlinks: {
    columns: [
      ['ll_from', 'int(10) unsigned NOT NULL DEFAULT 0'],
      ['ll_lang', "varbinary(35) NOT NULL DEFAULT ''"],
      ['ll_title', "varbinary(255) NOT NULL DEFAULT ''"],
    ],
    keys: ['PRIMARY KEY (`ll_from`,`ll_lang`)', 'KEY `ll_lang` (`ll_lang`,`ll_title`)'],
  },
  redirect: {
    columns: [
      ['rd_from', 'int(10) unsigned NOT NULL DEFAULT 0'],
      ['rd_namespace', 'int(11) NOT NULL DEFAULT 0'],
      ['rd_title', "varbinary(255) NOT NULL DEFAULT ''"],
      ['rd_interwiki', 'varbinary(32) DEFAULT NULL'],
      ['rd_fragment', 'varbinary(255) DEFAULT NULL'],
    ],
    keys: ['PRIMARY KEY (`rd_from`)', 'KEY `rd_ns_title` (`rd_namespace`,`rd_title`,`rd_from`)'],
  },
}

export interface SqlDumpTextOptions {
  db: string
  table: string
  /** Column order, when not the production one (a column moved by an ALTER). */
  columns?: [string, string][]
  /** Rows per extended INSERT (mysqldump makes statements of about 1 MB). */
  rowsPerInsert?: number
  /** Leave off the closing lines (a cut file). */
  truncated?: boolean
  completedAt?: string
}

/** The text of a mysqldump of one table, in pieces (for streaming into gzip). */
export function* sqlDumpText(rows: Iterable<Cell[]>, options: SqlDumpTextOptions): Generator<string> {
  const { db, table } = options
  const def = TABLES[table]!
  const columns = options.columns ?? def.columns
  yield `-- MySQL dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: 10.64.16.20    Database: ${db}
-- ------------------------------------------------------
-- Server version\t10.6.20-MariaDB-log

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;

--
-- Table structure for table \`${table}\`
--

DROP TABLE IF EXISTS \`${table}\`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE \`${table}\` (
${[...columns.map(([name, type]) => `  \`${name}\` ${type}`), ...def.keys.map((k) => `  ${k}`)].join(',\n')}
) ENGINE=InnoDB DEFAULT CHARSET=binary ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8 COMMENT='one; two';
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table \`${table}\`
--

/*!40000 ALTER TABLE \`${table}\` DISABLE KEYS */;
`
  const per = options.rowsPerInsert ?? 5000
  let batch: string[] = []
  for (const row of rows) {
    batch.push(`(${row.map(mysqlValue).join(',')})`)
    if (batch.length >= per) {
      yield `INSERT INTO \`${table}\` VALUES ${batch.join(',')};\n`
      batch = []
    }
  }
  if (batch.length > 0) yield `INSERT INTO \`${table}\` VALUES ${batch.join(',')};\n`
  if (options.truncated) return
  yield `/*!40000 ALTER TABLE \`${table}\` ENABLE KEYS */;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on ${options.completedAt ?? '2026-12-02 04:12:33'}
`
}

/** Writes a table dump, gzipped, to `path`; returns its size and checksums as dumpstatus.json lists them. */
export async function writeSqlDump(path: string, rows: Iterable<Cell[]>, options: SqlDumpTextOptions): Promise<FileStatus> {
  mkdirSync(dirname(path), { recursive: true })
  await pipeline(Readable.from(sqlDumpText(rows, options)), createGzip({ level: 1 }), createWriteStream(path))
  return fileStatus(path)
}

export interface FileStatus {
  size: number
  url: string
  md5: string
  sha1: string
}

export function fileStatus(path: string, url = ''): FileStatus {
  const bytes = readFileSync(path)
  return { size: statSync(path).size, url, md5: createHash('md5').update(bytes).digest('hex'), sha1: createHash('sha1').update(bytes).digest('hex') }
}

export type JobStatus = 'done' | 'in-progress' | 'waiting' | 'failed' | 'skipped'

/** A page row with production defaults for what mbwa does not read. */
export function pageRow(p: { id: number; ns?: number; title: string; redirect?: boolean; latest: number; len: number; linksUpdated?: string | null }): Cell[] {
  return [p.id, p.ns ?? 0, p.title.replace(/ /g, '_'), p.redirect ? 1 : 0, 0, ((p.id * 2654435761) % 1e9) / 1e9, '20261201000000', p.linksUpdated === undefined ? '20261130120000' : p.linksUpdated, p.latest, p.len, 'wikitext', null]
}

export interface RunFiles {
  page: Cell[][] | Iterable<Cell[]>
  langlinks: Cell[][] | Iterable<Cell[]>
  redirect?: Cell[][]
  /** Jobs' statuses (default: all done). */
  status?: Partial<Record<'pagetable' | 'langlinkstable' | 'redirecttable', JobStatus>>
  /** When each job finished ("YYYY-MM-DD HH:MM:SS"). */
  updated?: Partial<Record<'pagetable' | 'langlinkstable' | 'redirecttable', string>>
  pageOptions?: Partial<SqlDumpTextOptions>
  langlinksOptions?: Partial<SqlDumpTextOptions>
}

/** Writes one run of one database under `root` in the dumps site's layout, with its dumpstatus.json. */
export async function writeRun(root: string, db: string, date: string, files: RunFiles): Promise<void> {
  const dir = join(root, db, date)
  mkdirSync(dir, { recursive: true })
  const jobs: Record<string, unknown> = {}
  const tables: [string, string, Iterable<Cell[]>, Partial<SqlDumpTextOptions> | undefined][] = [
    ['pagetable', 'page', files.page, files.pageOptions],
    ['langlinkstable', 'langlinks', files.langlinks, files.langlinksOptions],
    ['redirecttable', 'redirect', files.redirect ?? [], undefined],
  ]
  for (const [job, table, rows, opts] of tables) {
    const status = files.status?.[job as 'pagetable'] ?? 'done'
    const updated = files.updated?.[job as 'pagetable'] ?? `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)} 06:00:00`
    if (status !== 'done') {
      jobs[job] = { status, updated }
      continue
    }
    const name = `${db}-${date}-${table}.sql.gz`
    const st = await writeSqlDump(join(dir, name), rows, { db, table, ...opts })
    jobs[job] = { status, updated, files: { [name]: { ...st, url: `/${db}/${date}/${name}` } } }
  }
  jobs['articlesdump'] = { status: 'waiting', updated: '' }
  writeFileSync(join(dir, 'dumpstatus.json'), JSON.stringify({ jobs, version: '0.8' }))
}

export interface DumpsSite {
  url: string
  /** Requests served, with their Range headers. */
  requests: { path: string; range?: string }[]
  /** Cut the next response to `path` after this many bytes (a dropped connection). */
  cutAfter(path: string, bytes: number): void
  close(): Promise<void>
}

/**
 * A static dumps site over `root`: directory listings like nginx's autoindex, files with Range (206), at most
 * `maxConnections` open connections per address (more are refused with 503, as the real site does with 429/503).
 */
export async function serveDumpsSite(root: string, options: { maxConnections?: number } = {}): Promise<DumpsSite> {
  const requests: DumpsSite['requests'] = []
  const cuts = new Map<string, number>()
  const open = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    requests.push({ path, range: req.headers.range })
    const file = normalize(join(root, path))
    if (!file.startsWith(normalize(root))) {
      res.writeHead(403).end()
      return
    }
    let st
    try {
      st = statSync(file)
    } catch {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body><h1>404 Not Found</h1></body></html>')
      return
    }
    if (st.isDirectory()) {
      if (!path.endsWith('/')) {
        res.writeHead(301, { location: `${path}/` }).end()
        return
      }
      const names = readdirNames(file)
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<html><head><title>Index of ${path}</title></head><body><h1>Index of ${path}</h1><hr><pre><a href="../">../</a>\n${names.map((n) => `<a href="${n}">${n}</a>                01-Dec-2026 06:00    -`).join('\n')}\n</pre><hr></body></html>`)
      return
    }
    let start = 0
    let end = st.size - 1
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    if (range) {
      start = Number(range[1])
      if (range[2]) end = Math.min(end, Number(range[2]))
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end()
        return
      }
    }
    res.writeHead(range ? 206 : 200, { 'content-length': end - start + 1, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', ...(range ? { 'content-range': `bytes ${start}-${end}/${st.size}` } : {}) })
    const cut = cuts.get(path)
    if (cut !== undefined) {
      cuts.delete(path)
      const stream = createReadStream(file, { start, end: Math.min(end, start + cut - 1) })
      stream.pipe(res, { end: false })
      stream.on('end', () => res.destroy())
      return
    }
    createReadStream(file, { start, end }).pipe(res)
  })
  server.on('connection', (socket) => {
    const same = [...open].filter((s) => s.remoteAddress === socket.remoteAddress).length
    if (same >= (options.maxConnections ?? 2)) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
      return
    }
    open.add(socket)
    socket.on('close', () => open.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutAfter: (path, bytes) => cuts.set(path, bytes),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy()
        server.close(() => resolve())
      }),
  }
}

function readdirNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).map((d) => (d.isDirectory() ? `${d.name}/` : d.name)).sort()
}
