import type { QueryServer } from './query-server.js'
import { basename } from 'node:path'
import { createReadStream, statSync } from 'node:fs'
import { dumpStatusPage } from '../dump-monitor.js'
import { fail, localDumpFile } from './http-util.js'

// mbwa's own dump jobs: their status as JSON and as a page, and the public dump files this member holds.

export function registerDumpRoutes(s: QueryServer): void {
  const app = s.app
  app.get('/v1/dumps', async () => {
    const monitor = s.options.dumps
    if (!monitor) fail('MBWA_NOT_FOUND', 'no dump monitor runs here')
    return { wikis: monitor.status() }
  })

  app.get<{ Querystring: { refresh?: string } }>('/dumps', async (req, reply) => {
    const monitor = s.options.dumps
    if (!monitor) fail('MBWA_NOT_FOUND', 'no dump monitor runs here')
    const refresh = req.query.refresh === undefined ? undefined : Number(req.query.refresh)
    if (refresh !== undefined && !(Number.isFinite(refresh) && refresh >= 1 && refresh <= 3600)) fail('MBWA_BAD_REQUEST', 'refresh is seconds, 1 to 3600')
    const dumpsDir = s.options.dumpsDir
    const fileUrl = dumpsDir ? (wiki: string, path: string) => (localDumpFile(dumpsDir, wiki, basename(path)) ? `/dumps/files/${encodeURIComponent(wiki)}/${encodeURIComponent(basename(path))}` : undefined) : undefined
    const page = dumpStatusPage(monitor.status(), Date.now(), { intervalMs: s.options.dumpIntervalMs, refreshSeconds: refresh, fileUrl })
    return reply.header('content-type', 'text/html; charset=utf-8').send(page)
  })
  // A dump file this member's dump folder holds (dumps.dir/public/WIKI/NAME), for download: names as the dump
  // worker makes them, nothing outside that folder.
  app.get<{ Params: { wiki: string; name: string } }>('/dumps/files/:wiki/:name', async (req, reply) => {
    const { wiki, name } = req.params
    const path = s.options.dumpsDir ? localDumpFile(s.options.dumpsDir, wiki, name) : undefined
    if (!path) fail('MBWA_NOT_FOUND', 'no such dump file here', { wiki, name })
    return reply
      .header('content-type', 'application/gzip')
      .header('content-length', String(statSync(path).size))
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(createReadStream(path))
  })

}
