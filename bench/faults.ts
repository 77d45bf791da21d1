import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PACKAGE_ROOT } from '../src/paths.js'
import { machine } from './report.js'

// The long forms of the fault suite: the same tests as in CI, with more faults (kill -9 twenty times on each
// log, the endpoint under load for 60 s), run through vitest; their figures go to RELIABILITY.md.
//
//   npm run bench:faults -- [--kills N] [--load-seconds S] [--write]

const { values: args } = parseArgs({ options: { kills: { type: 'string', default: '20' }, 'load-seconds': { type: 'string', default: '60' }, write: { type: 'boolean', default: false } } })
const FILES = ['test/cli/crash-recovery.int.test.ts', 'test/cli/crash-kafka.int.test.ts', 'test/projections/http-load.int.test.ts', 'test/projections/store-damage.int.test.ts', 'test/fuzz/hostile-input.unit.test.ts', 'test/streams/eventstreams.unit.test.ts', 'test/streams/eventstreams-supervision.unit.test.ts', 'test/log/broker-fault.int.test.ts', 'test/sinks/wiki-faults.int.test.ts', 'test/sinks/edit-sink.e2e.int.test.ts']

const started = Date.now()
const run = spawnSync('npx', ['vitest', 'run', ...FILES, '--reporter=verbose'], {
  cwd: PACKAGE_ROOT,
  encoding: 'utf8',
  env: { ...process.env, MBWA_CRASH_KILLS: args.kills, MBWA_LOAD_SECONDS: args['load-seconds'], MBWA_WIKI_FAULTS_HANG: '1', MBWA_BROKER_OUTAGES: process.env.MBWA_BROKER_OUTAGES ?? '3' },
  maxBuffer: 64 * 1024 * 1024,
})
// eslint-disable-next-line no-control-regex -- terminal colours are exactly what is stripped
const COLOURS = /\x1b\[[0-9;]*m/g
const out = ((run.stdout ?? '') + (run.stderr ?? '')).replace(COLOURS, '')
const line = (re: RegExp) => out.split('\n').find((l) => re.test(l))?.trim() ?? '(not reported)'
const passed = (name: RegExp) => new RegExp(`✓[^\\n]*${name.source}`).test(out)
const verdict = (name: RegExp) => (passed(name) ? 'passed' : 'FAILED')
const minutes = ((Date.now() - started) / 60_000).toFixed(1)
const failures = (out.match(/^\s*×/gm) ?? []).length
const crashes = /mbwa restarted (\d+) time/.exec(out)?.[1] ?? '?'
const summary =
  failures === 0 && run.status === 0
    ? `Across every fault injected below: **events lost 0, applied twice 0** (each end state equals a clean replay's digest; the broker fault counts events by id and key), **pages edited twice 0** (the wikis' own revisions), **mbwa crashes 0** beyond the kills injected (mbwa stopped and was restarted ${crashes} time(s) during the broker outage).`
    : `**${failures} test(s) failed in this run**: see the outcomes below.`

const body = `# Reliability

Figures as measured, with the command that produced them. Command: \`npm run bench:faults -- --kills ${args.kills} --load-seconds ${args['load-seconds']} --write\`
(\`bench/faults.ts\`: the fault tests of the suite run through vitest with more faults than CI runs). Machine: ${machine()}.
Run: ${new Date().toISOString().slice(0, 10)}, ${minutes} min, vitest exit ${run.status}.

${summary}

| fault | injected | outcome |
| --- | --- | --- |
| \`kill -9\` of \`mbwa run\` mid-replay, embedded log (test/cli/crash-recovery.int.test.ts) | ${args.kills} kills, each shown mid-replay by the offsets kept | ${verdict(/ends in the same state after kill -9/)}: end state = the rebuild's digest; ${line(/embedded crash recovery:/)} |
| \`kill -9\` of a member mid-replay, Kafka (test/cli/crash-kafka.int.test.ts) | ${args.kills} kills | ${verdict(/ends in the state of a clean replay after/)}: end state = the rebuild's digest; ${line(/kafka crash recovery:/)} |
| SIGTERM mid-replay, embedded log | 1 | ${verdict(/stops within 10 s on SIGTERM mid-stream/)}: nothing lost, nothing applied twice (the next run applies exactly the rest) |
| query endpoint under 100 connections while events arrive live (Kafka) (test/projections/http-load.int.test.ts) | ${args['load-seconds']} s | ${verdict(/answers 100 connections/)}: 0 errors required; ${line(/^.*load: /)} |
| projection store damaged while stopped (test/projections/store-damage.int.test.ts) | 5 kinds of damage, a deleted store, a missing seal | ${verdict(/is found at start, moved aside and rebuilt/)}: each found before serving, rebuilt to the clean digest |
| hostile input (test/fuzz/hostile-input.unit.test.ts) | fast-check: 400 byte strings to the decoder, 2,000 stream events, 400 pages × link sets to the rewriter, 300 HTTP requests and a 10 MB body, 400 configuration files, 20,000-deep nesting, a 10 MB file | ${['refuses any bytes', 'keeps to configured wikis', 'never writes wikitext syntax', 'never a 5xx', 'naming the key'].map((n) => `${n}: ${verdict(new RegExp(n))}`).join('; ')} |
| EventStreams feed faults (test/streams/eventstreams.unit.test.ts, eventstreams-supervision.unit.test.ts) | connections dropped mid-frame, a silent server, refusals, garbage, repeats, a restart; the log failing under the source | ${['appends every event once across connections dropped', 'resumes after a process restart', 'reconnects when the server falls silent', 'stops reading while the log is behind', 'is started again after an append fails'].map((n) => `${n}: ${verdict(new RegExp(n))}`).join('; ')} |
| the Kafka broker stopped for 8 s, ${process.env.MBWA_BROKER_OUTAGES ?? 3} times in a row, while EventStreams events arrive and the projector consumes, then started (test/log/broker-fault.int.test.ts, a broker of its own; CI runs one outage) | ${process.env.MBWA_BROKER_OUTAGES ?? 3} outages, 3,000 feed events | ${verdict(/loses no event and stores none twice/)}: ${line(/broker fault:/)} |
| wikis misbehaving behind a proxy (test/sinks/wiki-faults.int.test.ts, a farm of its own) | on each of 4 wikis the first 6 edits: maxlag (Retry-After 1), an edit made and its answer dropped, ratelimited, editconflict, 503, reset; every 11th read a 503, every 17th a reset, one read per wiki never answered (the client's 60 s timeout) | ${verdict(/ends with every page right, each edited once/)}: every page right, each page edited once (the wikis' own revisions), maxlag waited ≥ 1 s, ≥ 1 s between edits on a wiki; ${line(/wiki faults:/)} |
| \`kill -9\` of \`mbwa run --apply\` mid-edit (test/sinks/edit-sink.e2e.int.test.ts) | 1 | ${verdict(/through a kill -9/)}: every page right, once per command, at the configured pace |
`
process.stdout.write(body)
if (args.write) writeFileSync(join(PACKAGE_ROOT, 'RELIABILITY.md'), body)
process.exitCode = run.status ?? 1
