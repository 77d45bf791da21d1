import { z } from 'zod'

// mbwa's configuration, validated strictly: an unknown or misspelled key is an error naming it, never ignored.
// Every key has a default, so an empty file (or none) is a valid configuration. The README's configuration
// reference follows this file.

/** Secrets are never written in the file: they are named, and read from the environment or a file. */
export const SecretRef = z.union(
  [z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }).strict(),
    z.object({ file: z.string().min(1) }).strict()],
  { error: 'secrets come from the environment or a file: write {env: NAME} or {file: PATH}, not the secret itself' },
)
export type SecretRef = z.infer<typeof SecretRef>

const listOf = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(item))

const wikiCode = z.string().regex(/^[a-z][a-z0-9-]*$/, 'a wiki code: lowercase letters, digits and -')
/** A wiki code as a key or in a list: the code (roa-rup) or Wikimedia's database form (roa_rup) become the code. */
const wikiCodeIn = z.preprocess((v) => (typeof v === 'string' ? v.replace(/_/g, '-') : v), wikiCode)

const WikiSettings = z
  .object({
    /** manual: keep the written links complete; cognate: report (and optionally remove) stale and redundant ones. */
    linkMode: z.enum(['manual', 'cognate']).optional(),
    /** Link to pages on this wiki that are redirects. */
    linkRedirects: z.boolean().optional(),
    /** Codes this wiki must not link to. */
    nolink: listOf(wikiCodeIn).optional(),
    /** Closed or locked wikis are never edited and never linked to. */
    closed: z.boolean().optional(),
    locked: z.boolean().optional(),
    /** Codes no longer valid: links to them are removed. */
    invalidCodes: listOf(z.string()).optional(),
    /** The bot may edit here (its status on the wiki). */
    edit: z.boolean().optional(),
    /** On a cognate wiki: remove stale and redundant written links, not just report them. */
    removeOverrides: z.boolean().optional(),
    /**
     * On a cognate wiki: also report written same-title links Cognate would make by itself (redundant), reading the
     * texts of pages whose langlinks may hold one (default: on where removeOverrides is).
     */
    reportRedundant: z.boolean().optional(),
    /**
     * On a cognate wiki: send a purge with a links update (action=purge&forcelinkupdate=1) for pages whose langlinks
     * are outdated (langlinks-outdated), verified just before; needs the account (credentials), edits nothing.
     */
    refreshLinks: z.boolean().optional(),
    /** Order of links in the interwiki block. */
    order: z.enum(['code', 'name', 'put-first']).optional(),
    putFirst: listOf(wikiCodeIn).optional(),
    /** Minimum seconds between two edits on this wiki. */
    editIntervalSeconds: z.number().min(0).optional(),
    /** Title of the wiki's main page (never linked, never edited). */
    mainPage: z.string().min(1).optional(),
    /** Read requests the sink may have in flight at once on this wiki (1: in series, as Wikimedia asks). */
    maxConcurrentRequests: z.int().min(1).max(32).optional(),
    /** How the wiki compares titles (default: what its siteinfo says; case-sensitive until read). */
    case: z.enum(['first-letter', 'case-sensitive']).optional(),
    /**
     * A page on this wiki where mbwa keeps its reports (opt-in), e.g. `User:MyBot/Interlanguage links`: written
     * between mbwa's markers only, through the sink (needs credentials to apply). Never a main-namespace title.
     */
    reportPage: z
      .string()
      .trim()
      .min(1)
      .refine((t) => /^[^:]+:\s*\S/.test(t) && !t.startsWith(':'), 'a title outside the main namespace, with its namespace (User:MyBot/Interlanguage links): mbwa never writes reports into articles')
      .optional(),
    /** While this page (on this wiki) is not empty, mbwa does not write its report page (default: reports.shutoffPage). */
    reportShutoffPage: z.string().trim().min(1).optional(),
  })
  .strict()

const Wiki = WikiSettings.extend({
  /** The Action API endpoint, e.g. https://en.wiktionary.org/w/api.php (default: family.api with the code). */
  api: z.url({ protocol: /^https?$/ }).optional(),
  /** Database name as EventStreams names the wiki (default: the code with _ for -, + "wiktionary"). */
  dbname: z.string().regex(/^[a-z0-9_]+$/).optional(),
  credentials: z
    .object({
      username: z.string().min(1).optional(),
      password: SecretRef.optional(),
      oauthToken: SecretRef.optional(),
    })
    .strict()
    .optional(),
}).strict()

export const ConfigObject = z
  .object({
    /** Where the embedded log and the stores live. */
    dataDir: z.string().min(1).default('./data'),
    log: z
      .object({
        /** Kafka bootstrap servers; empty means the embedded log in dataDir/log. */
        brokers: listOf(z.string().regex(/^[^\s:]+:\d+$/, 'host:port')).default([]),
        clientId: z.string().min(1).default('mbwa'),
        groupId: z.string().min(1).default('mbwa'),
        topicPrefix: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ -').default('mbwa'),
        replicationFactor: z.int().min(1).default(1),
        /** How long a member that died silently keeps its partitions. */
        sessionTimeoutMs: z.int().min(1000).max(300_000).default(10_000),
        partitions: z
          .object({
            events: z.int().min(1).max(1000).default(12),
            edits: z.int().min(1).max(1000).default(4),
            dumps: z.int().min(1).max(1000).default(1),
            deadLetter: z.int().min(1).max(1000).default(1),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.int().min(0).max(65535).default(8642),
        /** The address other members forward queries to (default http://host:port). */
        advertisedUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** A bearer token every request but /healthz and /readyz must carry (for an endpoint off loopback). */
        token: SecretRef.optional(),
      })
      .strict()
      .prefault({}),
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** auto: readable lines on a terminal, JSON lines otherwise (a file, a pipe, journald, a log collector). */
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      })
      .strict()
      .prefault({}),
    userAgent: z
      .object({
        /** A URL or e-mail address where the wikis' operators can reach you (Wikimedia's User-Agent policy). */
        contact: z.string().default(''),
      })
      .strict()
      .prefault({}),
    projection: z
      .object({
        /** How long a page must be unchanged before mbwa asks to edit it. */
        settleMinutes: z.number().min(0).default(60),
        /** Send edit commands to the edits topic. */
        editCommands: z.boolean().default(true),
        /**
         * Cognate mode: read the texts of pages whose reports wait for them (50 titles a request, one request at a
         * time per wiki, no account), so a report that a link is written is made from the text.
         */
        readTexts: z.boolean().default(true),
        /**
         * Events per batch a partition applies. 1,000, not 5,000: a batch's decoded events and records outlive
         * several scavenges, so smaller batches mean shorter pauses for queries during a bootstrap (1 M-page bench:
         * query p99 73–88 → 42–45 ms, time to consistent the same; replay speed the same; BENCHMARKS.md).
         */
        maxBatchSize: z.int().min(1).max(100_000).default(1000),
      })
      .strict()
      .prefault({}),
    dumps: z
      .object({
        /** Where dumps go: public/WIKI/ for dumps, private/WIKI/ for job records (default dataDir/dumps). */
        dir: z.string().min(1).optional(),
        /** A lease lives this long after its last heartbeat; then the monitor declares it abandoned. */
        leaseSeconds: z.number().positive().default(60),
        heartbeatSeconds: z.number().positive().default(10),
        /** How often the monitor looks for silent leases. */
        checkSeconds: z.number().positive().default(5),
        /** A worker dumps a wiki again once its last good dump is this old. */
        intervalHours: z.number().min(0).default(24),
        /** Run the monitor (status page, abandoned leases) in mbwa run. */
        monitor: z.boolean().default(true),
        /**
         * Run a dump worker in mbwa run too: every wiki that is due (intervalHours) is dumped from this member's
         * own store, its leases on the same log, so the status page shows them (one machine, the embedded log:
         * Toolforge). With Kafka, `mbwa dump run --from URL` jobs do the same from anywhere.
         */
        worker: z.boolean().default(false),
        /** How many parts (partitions of the projection) a worker reads at once. */
        parallelParts: z.int().min(1).max(64).default(4),
        /** A pause after each part, to keep a dump gentle on a busy machine. */
        pauseBetweenPartsMs: z.int().min(0).default(0),
      })
      .strict()
      .prefault({}),
    sink: z
      .object({
        /** Edit for real (also `mbwa run --apply`); otherwise a dry run printing a diff per page. */
        apply: z.boolean().default(false),
        /** Run the sink at all in `mbwa run`. */
        enabled: z.boolean().default(true),
        /** Default minimum seconds between two edits on a wiki (per wiki: wikis.CODE.editIntervalSeconds). */
        editIntervalSeconds: z.number().min(0).default(10),
        /** Most edits per minute over all wikis; 0 for no overall limit. */
        maxEditsPerMinute: z.number().min(0).default(30),
        /** Below this many waiting commands the pace slows by slowdownFactor (never faster than configured). */
        smallBacklog: z.int().min(0).default(10),
        slowdownFactor: z.number().min(1).default(2),
        /** Never edit the same page twice within this many minutes. */
        cooldownMinutes: z.number().min(0).default(60),
        assert: z.enum(['bot', 'user']).default('bot'),
        /** A command whose edit failed (not a refusal of the page) is tried again after this, doubling each time. */
        retryAfterSeconds: z.number().positive().default(60),
        /** Tries of a command before its final EditFailed. */
        maxAttempts: z.int().min(1).max(100).default(5),
        /** Most purges (refreshLinks) per minute on one wiki: Wikimedia rate-limits purges. */
        maxPurgesPerMinute: z.number().min(0).default(10),
      })
      .strict()
      .prefault({}),
    /** On-wiki report pages (wikis.CODE.reportPage). */
    reports: z
      .object({
        /** A wiki's report page is written at most once in this many hours. */
        intervalHours: z.number().positive().default(168),
        /** Rows on one page; more go to subpages (/2, /3 …). */
        rowsPerPage: z.int().min(1).max(5000).default(500),
        /** Most pages of one wiki's report (the first page and its subpages); rows past them are left out and counted. */
        maxPages: z.int().min(1).max(20).default(20),
        /** The public address of this instance's query endpoint: the report pages link to its HTML pages. */
        publicUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** While this page is not empty on a wiki, mbwa does not write that wiki's report page (per wiki: wikis.CODE.reportShutoffPage). */
        shutoffPage: z.string().trim().min(1).optional(),
        /** How often mbwa looks whether a report page is due, and whether a shutoff page was emptied. */
        checkMinutes: z.number().positive().default(10),
      })
      .strict()
      .prefault({}),
    sources: z
      .object({
        recentChanges: z
          .object({
            enabled: z.boolean().default(true),
            minIntervalSeconds: z.number().positive().default(10),
            maxIntervalSeconds: z.number().positive().default(86_400),
            initialIntervalSeconds: z.number().positive().default(60),
            /** On first start, how far back to read. */
            lookbackHours: z.number().min(0).default(48),
          })
          .strict()
          .prefault({}),
        snapshot: z
          .object({
            enabled: z.boolean().default(true),
            /** Target interval between two snapshots of a wiki. */
            intervalHours: z.number().positive().default(168),
            pageSize: z.union([z.literal('max'), z.int().min(1).max(5000)]).default('max'),
          })
          .strict()
          .prefault({}),
        wikimediaDumps: z
          .object({
            /**
             * Bootstrap a wiki from Wikimedia's table dumps (page, langlinks) instead of reading all its pages over
             * the API, and take each newer complete run as its snapshot. auto: on for wikis on Wikimedia's hosts.
             */
            enabled: z.union([z.boolean(), z.literal('auto')]).default('auto'),
            /** The dumps site's base URL, or a local folder with the same layout (a mirror, Toolforge's /public/dumps/public). */
            url: z.string().min(1).default('https://dumps.wikimedia.org'),
            /** Where downloads are kept while a run is imported (default: DATA_DIR/wikimedia-dumps). */
            cacheDir: z.string().min(1).optional(),
            /** Keep the downloaded files after a run is imported (they are deleted otherwise). */
            keepDownloads: z.boolean().default(false),
            /** How often to look for a newer complete run. */
            checkHours: z.number().positive().default(12),
            /**
             * A run older than this is not used (recent changes from its date must still be there: Wikimedia keeps
             * 30 days); the wiki is read over the API instead.
             */
            maxRunAgeDays: z.number().positive().max(30).default(25),
            /** A wiki fed by dumps is read over the API when no usable run came for this long. */
            fallbackAfterDays: z.number().positive().default(30),
            /**
             * Where a run's tables are parsed and its events encoded: auto (a worker thread for a page file of 1 MB
             * or more, so the projection keeps the main thread), worker (always), main (never a worker: one core).
             */
            parseIn: z.enum(['auto', 'worker', 'main']).default('auto'),
          })
          .strict()
          .prefault({}),
        eventStreams: z
          .object({
            /** auto: on where the wikis are Wikimedia's (discovered from Wikimedia's sitematrix, or all configured ones). */
            enabled: z.union([z.boolean(), z.literal('auto')]).default('auto'),
            /** The stream route, or the service's base URL (https://stream.wikimedia.org): /v2/stream is added. */
            url: z
              .url({ protocol: /^https?$/ })
              .default('https://stream.wikimedia.org/v2/stream')
              .transform((v, ctx) => {
                const u = new URL(v)
                const path = u.pathname.replace(/\/+$/, '')
                if (path === '') u.pathname = '/v2/stream'
                else if (!/\/v2\/stream$/.test(path)) {
                  ctx.addIssue({ code: 'custom', message: `not an EventStreams route: give the service's base URL (https://stream.wikimedia.org) or its /v2/stream route, not ${u.pathname}` })
                  return z.NEVER
                }
                return u.toString().replace(/\/+$/, '')
              }),
            streams: listOf(z.string().min(1)).default([
              'mediawiki.recentchange',
              'mediawiki.page-create',
              'mediawiki.page-delete',
              'mediawiki.page-move',
              'mediawiki.page-undelete',
            ]),
            /** On first start (no stored position), read from this many hours back. */
            sinceHours: z.number().min(0).default(1),
            idleTimeoutSeconds: z.number().positive().default(120),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    discovery: z
      .object({
        sitematrix: z
          .object({
            /**
             * Take the wiki list from a Wikimedia sitematrix (configured wikis override what it says). auto: on when
             * no wikis are configured, so mbwa with no configuration follows every open Wiktionary.
             */
            enabled: z.union([z.boolean(), z.literal('auto')]).default('auto'),
            api: z.url({ protocol: /^https?$/ }).default('https://meta.wikimedia.org/w/api.php'),
            family: z.string().min(1).default('wiktionary'),
            refreshHours: z.number().positive().default(24),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /**
     * The farm the configured wikis belong to: what a wiki's API and database name are from its code, so a wiki
     * entry may be just its code. Defaults: Wikimedia's Wiktionaries.
     */
    family: z
      .object({
        /** The family's name as Wikimedia's database names end (enwiktionary, roa_rupwiktionary). */
        name: z.string().regex(/^[a-z]+$/).default('wiktionary'),
        /** The API of a wiki from its code: {code} is replaced (roa-rup). */
        api: z
          .string()
          .default('https://{code}.wiktionary.org/w/api.php')
          .refine((t) => t.includes('{code}') && URL.canParse(t.replace(/\{code\}/g, 'x')) && /^https?:/.test(t), 'a URL template with {code}, e.g. https://{code}.wiktionary.org/w/api.php'),
      })
      .strict()
      .prefault({}),
    /** Settings every wiki gets unless it says otherwise. */
    wikiDefaults: WikiSettings.prefault({}),
    /** Keys: the wiki code (roa-rup), or its database form (roa_rup, or roa_rupwiktionary with the family's name). */
    wikis: z.record(z.string(), Wiki).default({}),
  })
  .strict()

export const ConfigSchema = ConfigObject.transform((config, ctx) => {
  // Codes in whatever form they were written become codes; API and database name come from the family.
  const wikis: Record<string, z.infer<typeof Wiki> & { api: string; dbname: string }> = {}
  for (const [key, wiki] of Object.entries(config.wikis)) {
    const fromDbName = key.length > config.family.name.length && key.endsWith(config.family.name) && /_|^[a-z]+$/.test(key)
    const code = (fromDbName ? key.slice(0, -config.family.name.length) : key).replace(/_/g, '-')
    if (!/^[a-z][a-z0-9-]*$/.test(code)) {
      ctx.addIssue({ code: 'custom', path: ['wikis', key], message: 'a wiki code: lowercase letters, digits and - (or its database form with _)' })
      continue
    }
    if (wikis[code]) {
      ctx.addIssue({ code: 'custom', path: ['wikis', key], message: `the wiki ${code} is configured twice` })
      continue
    }
    wikis[code] = {
      ...wiki,
      api: wiki.api ?? config.family.api.replace(/\{code\}/g, code),
      dbname: wiki.dbname ?? `${code.replace(/-/g, '_')}${config.family.name}`,
    }
  }
  const sm = config.discovery.sitematrix
  const discover = sm.enabled === 'auto' ? Object.keys(wikis).length === 0 : sm.enabled
  const es = config.sources.eventStreams
  const onWikimedia = (discover && isWikimediaApi(sm.api)) || (Object.keys(wikis).length > 0 && Object.values(wikis).every((w) => isWikimediaApi(w.api)))
  return {
    ...config,
    wikis,
    discovery: { ...config.discovery, sitematrix: { ...sm, enabled: discover } },
    sources: { ...config.sources, eventStreams: { ...es, enabled: es.enabled === 'auto' ? onWikimedia : es.enabled } },
  }
})

/** An API on one of Wikimedia's hosts (those EventStreams covers). */
export function isWikimediaApi(api: string): boolean {
  try {
    return /(^|\.)(wikipedia|wiktionary|wikibooks|wikinews|wikiquote|wikisource|wikiversity|wikivoyage|wikimedia|wikidata|mediawiki|wikifunctions)\.org$/.test(new URL(api).hostname)
  } catch {
    return false
  }
}

export type Config = z.infer<typeof ConfigSchema>

/** A wiki's Action API: the configured one, else the family's template with its code (discovered wikis). */
export function wikiApi(config: Config, code: string): string {
  return config.wikis[code]?.api ?? config.family.api.replace(/\{code\}/g, code)
}
export type WikiConfig = Config['wikis'][string]
