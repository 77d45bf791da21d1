import type { EventMap } from '../../src/events/types.js'

// One valid value of every event type, for round-trip and log tests.
const base = { id: 'fact-1', source: 'rc', observedAt: 1_700_000_000_000 }
const page = { ...base, wiki: 'en', title: 'chat' }

export const SAMPLES: { [K in keyof EventMap]: EventMap[K] } = {
  PageCreated: { ...page, pageId: 12, revision: 345, byBot: false, createdAt: 1_699_999_000_000, redirect: false },
  PageEdited: { ...page, pageId: 12, revision: 346, byBot: true },
  PageObserved: {
    ...page,
    source: 'snapshot',
    pageId: 12,
    exists: true,
    redirect: false,
    blank: false,
    revision: 346,
    links: [
      { code: 'fr', title: 'chat' },
      { code: 'de', title: 'Chat' },
    ],
    writtenLinks: [{ code: 'fr', title: 'chat' }],
    snapshotId: 'snap-en-1',
  },
  PageDeleted: { ...page, pageId: 12, logId: 99 },
  PageMoved: { ...base, wiki: 'en', fromTitle: 'chatt', toTitle: 'chat', redirectLeft: false, pageId: 12, revision: 347, logId: 100, redirect: false },
  SnapshotStarted: { ...base, source: 'snapshot', wiki: 'en', snapshotId: 'snap-en-1' },
  WikisDiscovered: { ...base, source: 'discovery', partition: 2, family: 'wiktionary', wikis: [{ code: 'roa-rup', dbname: 'roa_rupwiktionary', api: 'https://roa-rup.wiktionary.org/w/api.php', closed: false }, { code: 'aa', dbname: 'aawiktionary', api: 'https://aa.wiktionary.org/w/api.php', closed: true }] },
  SnapshotCompleted: { ...base, source: 'snapshot', wiki: 'en', snapshotId: 'snap-en-1', partition: 3, startedAt: 1_699_000_000_000, pages: 1234, titleCase: 'case-sensitive', mainPage: 'Wiktionary:Main Page' },
  SnapshotFailed: { ...base, source: 'snapshot', wiki: 'en', snapshotId: 'snap-en-2', partition: 3, failures: 2, reason: 'HTTP 503' },
  EditRequested: { ...page, source: 'projection', commandId: 'cmd-1', add: ['fr'], remove: ['xx'], read: ['en', 'fr'], priority: 10, reason: 'missing' },
  EditApplied: { ...page, source: 'sink', commandId: 'cmd-1', revision: 400, added: ['fr'], removed: [] },
  EditSkipped: { ...page, source: 'sink', commandId: 'cmd-1', reason: 'already-correct' },
  EditFailed: { ...page, source: 'sink', commandId: 'cmd-1', code: 'maxlag', message: 'lagged', retriable: true },
  DumpRequested: { ...base, source: 'cli', wiki: 'en', jobId: 'job-1', requestedBy: 'schedule' },
  DumpStarted: { ...base, source: 'dump', wiki: 'en', jobId: 'job-1', host: 'h1', pid: 4242, leaseMs: 60_000 },
  DumpHeartbeat: { ...base, source: 'dump', wiki: 'en', jobId: 'job-1', host: 'h1', pid: 4242, titlesWritten: 10, titlesTotal: 100 },
  DumpCompleted: { ...base, source: 'dump', wiki: 'en', jobId: 'job-1', path: '/d/en.mbwa.gz', bytes: 1000, count: 100, sha256: 'ab'.repeat(32) },
  DumpFailed: { ...base, source: 'dump', wiki: 'en', jobId: 'job-1', error: 'disk full' },
  DumpAbandoned: { ...base, source: 'dump', wiki: 'en', jobId: 'job-1', lastHeartbeatAt: 1_699_999_999_000, declaredBy: 'h2' },
}
