import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { isMbwaError } from '../../src/errors/errors.js'
import { SchemaRegistry } from '../../src/events/registry.js'
import { mapStreamEvent } from '../../src/streams/eventstreams-mapping.js'
import { findLanguageLinks, removeLanguageLinks, rewriteLanguageLinks } from '../../src/wikitext/interwiki.js'
import { wikiRules } from '../../src/domain/wiki-rules.js'
import { Projector } from '../../src/projections/projector.js'
import { QueryServer } from '../../src/projections/http/query-server.js'
import { TitleStore } from '../../src/projections/title-store.js'
import { harness, type Harness } from '../setup/events.js'

// Hostile input, drawn by fast-check: titles of every Unicode class with `]]`, `|`, newlines and NUL, invalid
// UTF-8, huge and deeply nested bodies. Nothing may crash or hang: the event decoder says why (dead-letter
// path), the EventStreams mapping keeps to configured wikis, the rewriter never touches text outside the link
// block nor writes wikitext syntax from a title, the HTTP routes answer 4xx JSON (never 5xx), and the
// configuration loader stops with a message naming the key.

const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(']]', '[[', '|', '\n', '\r\n', '\u0000', '{{', '}}', '<!--', '-->', '<nowiki>', '\uFFFD', '\uD800', '%', '%2F', '..', '/', '#', '&amp;', '[[Category:X]]', ']]\n[[Category:Spam]]\n[[fr:'),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
)
const hostileTitle = fc.array(nasty, { minLength: 1, maxLength: 6 }).map((p) => p.join(''))
const CODES = new Set(['en', 'fr', 'de', 'nl'])
const runs = { numRuns: 400 }

describe('hostile input (unit, fast-check)', () => {
  it('the event decoder refuses any bytes with MBWA_DECODE_FAILED, never another error', () => {
    const registry = SchemaRegistry.load()
    const real = registry.encode('PageCreated', { id: 'x', source: 'rc', observedAt: 1, wiki: 'en', title: 't', pageId: null, revision: null, byBot: false, createdAt: null, redirect: null })
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([real.subarray(0, 10), b])), fc.nat(real.length - 1).map((n) => real.subarray(0, n))), (bytes) => {
        try {
          registry.decode(bytes)
        } catch (err) {
          expect(isMbwaError(err, 'MBWA_DECODE_FAILED')).toBe(true)
        }
      }),
      runs,
    )
  })

  it('the EventStreams mapping keeps to configured wikis and gives only events that encode', () => {
    const registry = SchemaRegistry.load()
    const wikis = new Map([['enwiktionary', 'en'], ['frwiktionary', 'fr']])
    const streamEvent = fc.record({
      $schema: fc.constantFrom('/mediawiki/revision/create/2.0.0', '/mediawiki/recentchange/1.0.0', '/mediawiki/page/delete/1.0.0', '/mediawiki/page/move/1.0.0', 'x'),
      meta: fc.record({ id: fc.oneof(fc.uuid(), hostileTitle), domain: fc.constantFrom('en.wiktionary.org', 'canary', 'x'), stream: fc.constantFrom('mediawiki.page-create', 'mediawiki.recentchange', 'mediawiki.page-delete', 'mediawiki.page-move', 'mediawiki.page-undelete', 'nope'), dt: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), hostileTitle) }, { requiredKeys: [] }),
      database: fc.constantFrom('enwiktionary', 'frwiktionary', 'dewiktionary', '', 'enwiki'),
      wiki: fc.constantFrom('enwiktionary', 'xx'),
      page_title: hostileTitle,
      title: hostileTitle,
      page_namespace: fc.oneof(fc.constant(0), fc.integer(), fc.string()),
      namespace: fc.oneof(fc.constant(0), fc.integer()),
      type: fc.constantFrom('edit', 'new', 'log', 'categorize', 7),
      page_id: fc.oneof(fc.integer(), fc.string()),
      rev_id: fc.oneof(fc.integer(), fc.double()),
      page_is_redirect: fc.oneof(fc.boolean(), fc.string()),
      revision: fc.record({ new: fc.integer(), old: fc.integer() }),
      prior_state: fc.record({ page_title: hostileTitle, page_namespace: fc.oneof(fc.constant(0), fc.integer()) }, { requiredKeys: [] }),
      performer: fc.record({ user_text: hostileTitle, user_is_bot: fc.boolean() }, { requiredKeys: [] }),
    }, { requiredKeys: [] })
    fc.assert(
      fc.property(fc.oneof(streamEvent, fc.jsonValue()), (data) => {
        const mapped = mapStreamEvent(data, wikis, 1_700_000_000_000)
        expect(['canary', 'ignored', 'malformed', 'events']).toContain(mapped.kind)
        if (mapped.kind !== 'events') return
        for (const e of mapped.events) {
          expect(['en', 'fr']).toContain((e.value as { wiki: string }).wiki)
          expect(() => registry.encode(e.type, e.value)).not.toThrow()
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('the rewriter never writes wikitext syntax from a title, and leaves text outside the link block alone', () => {
    const page = fc.array(fc.oneof(hostileTitle, fc.constantFrom('[[fr:chat]]', '[[de:Katze]]\n', 'text ', '\n\n', '[[Category:A]]')), { maxLength: 12 }).map((p) => p.join(''))
    fc.assert(
      fc.property(page, fc.dictionary(fc.constantFrom('en', 'fr', 'de', 'nl'), hostileTitle, { maxKeys: 4 }), (text, desired) => {
        let r
        try {
          r = rewriteLanguageLinks(text, new Map(Object.entries(desired)), CODES)
        } catch (err) {
          // A title that cannot be written as a link, or a text that would swallow the links, is refused clearly.
          expect(isMbwaError(err, 'MBWA_BAD_TITLE') || isMbwaError(err, 'MBWA_UNSAFE_TEXT')).toBe(true)
          return
        }
        if (!r.changed) return
        // The new text is the old one without its language links (byte for byte, trailing space aside), then one
        // block of exactly the links asked for, one per line: nothing a title holds can escape its link.
        const body = removeLanguageLinks(text, findLanguageLinks(text, CODES)).replace(/\s+$/u, '')
        expect(r.text.startsWith(body)).toBe(true)
        const block = r.text.slice(body.length).replace(/^\s+/u, '')
        expect(block === '' ? [] : block.split('\n')).toEqual(r.after.map((l) => `[[${l.code}:${l.title}]]`))
        expect(findLanguageLinks(r.text, CODES).length).toBeGreaterThanOrEqual(r.after.length)
      }),
      runs,
    )
  })

  describe('HTTP routes', () => {
    let h: Harness | undefined
    let store: TitleStore
    let projector: Projector
    let server: QueryServer
    const dir = mkdtempSync(join(tmpdir(), 'mbwa-fuzz-'))
    beforeAll(async () => {
      h = await harness(2)
      const config = loadConfig({ env: {}, searchPaths: [], flags: { wikis: { en: { api: 'http://127.0.0.1/en/api.php' }, fr: { api: 'http://127.0.0.1/fr/api.php' } } } }).config
      store = await TitleStore.open(join(dir, 'store'))
      projector = new Projector({ store, events: h.events, topics: h.topics, groupId: 'fuzz', rules: wikiRules(config), settleMs: 0 })
      await projector.start()
      server = new QueryServer({ store, projector, rules: wikiRules(config), partitions: 2 })
    })
    afterAll(async () => {
      await server?.close()
      await projector?.stop()
      await store?.close()
      await h?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    it('answer any path, method and body with a JSON 4xx or a 200, never a 5xx', async () => {
      const encode = (t: string) => {
        try {
          return encodeURIComponent(t)
        } catch {
          return t // a lone surrogate: sent raw
        }
      }
      const segment = fc.oneof(hostileTitle.map(encode), hostileTitle, fc.constantFrom('%', '%zz', '%C3', '%00', '..', '', 'a'.repeat(5000)))
      const path = fc.oneof(
        segment.map((t) => `/v1/titles/${t}`),
        fc.tuple(segment, segment).map(([w, q]) => `/v1/wikis/${w}/discrepancies?kind=${q}&limit=${q}&after=${q}`),
        fc.tuple(segment, segment).map(([w, q]) => `/v1/wikis/${w}/pages?partition=${q}&limit=${q}`),
        segment.map((s) => `/${s}`),
        fc.constantFrom('/v1/digest?local=1', '/v1/stats', '/readyz', '/healthz', '/v1/wikis', '/dumps'),
      )
      await fc.assert(
        fc.asyncProperty(path, fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'), fc.oneof(fc.constant(undefined), fc.string({ maxLength: 3000 })), async (url, method, body) => {
          let res
          try {
            res = await server.app.inject({ method: method as 'GET', url, payload: body })
          } catch (err) {
            // light-my-request refuses some URLs before they reach the server (a client-side error).
            expect(String(err)).toMatch(/URL|url|Invalid|character/)
            return
          }
          expect([url, res.statusCode < 500 || res.statusCode === 503]).toEqual([url, true])
          if (res.statusCode >= 400 && method !== 'HEAD') expect(() => JSON.parse(res.body)).not.toThrow()
        }),
        { numRuns: 300 },
      )
      // A 10 MB body is refused as too large, not read.
      const big = await server.app.inject({ method: 'POST', url: '/v1/stats', payload: 'x'.repeat(10 * 1024 * 1024) })
      expect(big.statusCode).toBeGreaterThanOrEqual(400)
      expect(big.statusCode).toBeLessThan(500)
    })
  })

  it('the configuration loader stops with a message naming the key, or loads; deep nesting and huge files too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mbwa-fuzz-config-'))
    try {
      const file = join(dir, 'mbwa.yaml')
      const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostileTitle)
      const doc = fc.oneof(
        fc.dictionary(fc.constantFrom('dataDir', 'log', 'http', 'wikis', 'sink', 'sources', 'family', 'discovery', 'wikiDefaults', 'nope'), value),
        fc.dictionary(fc.constantFrom('wikis'), fc.dictionary(hostileTitle, fc.dictionary(fc.constantFrom('api', 'linkMode', 'credentials', 'nolink', 'edit'), value))),
      )
      fc.assert(
        fc.property(fc.oneof(doc.map((d) => stringify(d)), hostileTitle), (text) => {
          writeFileSync(file, text)
          try {
            loadConfig({ file, env: {} })
          } catch (err) {
            expect(isMbwaError(err)).toBe(true)
            expect((err as { code: string }).code).toMatch(/^MBWA_CONFIG_(INVALID|UNREADABLE)$/)
          }
        }),
        runs,
      )
      writeFileSync(file, '['.repeat(20_000) + ']'.repeat(20_000))
      expect(() => loadConfig({ file, env: {} })).toThrow(/configuration file|config key/)
      writeFileSync(file, `dataDir: "${'x'.repeat(10 * 1024 * 1024)}"\nnope: 1\n`)
      expect(() => loadConfig({ file, env: {} })).toThrow(/config key nope/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
