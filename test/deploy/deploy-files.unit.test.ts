import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import type { Command, Option } from 'commander'
import { buildProgram } from '../../src/cli/program.js'
import { ConfigObject } from '../../src/config/schema.js'
import { defaultSearchPaths, loadConfig } from '../../src/config/load.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { missingNodeFlags, NODE_FLAGS } from '../../src/node-flags.js'
import { QueryServer } from '../../src/projections/http/query-server.js'
import { TitleStore } from '../../src/projections/title-store.js'
import type { Projector } from '../../src/projections/projector.js'

// The deployment files in infra/deploy cannot be run here (no container engine, no cluster, no systemd, no
// Toolforge), so they are checked against mbwa itself: they parse; every MBWA_* variable is a configuration key
// whose value loads; every mbwa command and flag exists; every path exists in the repository or the image;
// every port is the endpoint's; the probes answer on a real query server; and memory is at least what
// BENCHMARKS.md measured.

const DEPLOY = join(PACKAGE_ROOT, 'infra/deploy')
const text = (f: string) => readFileSync(join(DEPLOY, f), 'utf8')
const yaml = (f: string) => parse(text(f), { merge: true }) as Record<string, unknown>
const HTTP_PORT = 8642

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML, checked field by field

const compose = yaml('compose.yaml') as Json
const k8s = parseAllDocuments(text('kubernetes/mbwa.yaml')).map((d) => d.toJSON() as Json)
const jobs = yaml('toolforge/jobs.yaml') as unknown as Json[]
const unit = text('systemd/mbwa.service')
const dockerfile = text('Dockerfile')
const entrypoint = text('entrypoint.sh')
const kind = (k: string) => k8s.filter((d) => d.kind === k)
const statefulSet = kind('StatefulSet')[0]!
const container = statefulSet.spec.template.spec.containers[0]

/** Placeholders a deployment fills in at run time, given sample values. */
function fill(value: string): string {
  return value
    .replace(/\$\(([A-Z_]+)\)/g, 'sample') // Kubernetes $(VAR)
    .replace(/\$\{([A-Z_]+)(:[?-][^}]*)?\}/g, 'sample') // compose ${VAR:-…}
}

/** Every environment variable a deployment file sets: [where, name, value]. */
function environments(): [string, string, string][] {
  const out: [string, string, string][] = []
  for (const [name, svc] of Object.entries(compose.services as Json)) {
    for (const [k, v] of Object.entries((svc.environment ?? {}) as Json)) out.push([`compose ${name}`, k, String(v)])
  }
  for (const e of container.env as Json[]) out.push(['kubernetes', e.name, e.value ?? '(from a reference)'])
  for (const m of unit.matchAll(/^Environment=([A-Z_0-9]+)=(.*)$/gm)) out.push(['systemd', m[1]!, m[2]!])
  for (const m of dockerfile.matchAll(/(?:ENV|\\)\s*\n?\s*(MBWA_[A-Z_0-9]+)=(\S+)/g)) out.push(['Dockerfile', m[1]!, m[2]!])
  for (const m of entrypoint.matchAll(/export (MBWA_[A-Z_0-9]+)=(\S+)/g)) out.push(['entrypoint.sh', m[1]!, m[2]!])
  return out
}

/** The mbwa arguments of every command a deployment file runs. */
function commands(): [string, string[]][] {
  const out: [string, string[]][] = []
  const after = (argv: string[], marker: RegExp) => argv.slice(argv.findIndex((a) => marker.test(a)) + 1)
  for (const [name, svc] of Object.entries(compose.services as Json)) if (svc.image === 'mbwa:latest') out.push([`compose ${name}`, svc.command])
  out.push(['kubernetes', container.args])
  out.push(['Dockerfile CMD', JSON.parse(/^CMD (.*)$/m.exec(dockerfile)![1]!)])
  const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(/\s+/)
  out.push(['systemd', after(exec, /^mbwa$/)])
  for (const job of jobs) out.push([`toolforge ${job.name}`, after(String(job.command).split(/\s+/), /main\.js$/)])
  return out
}

/** Checks an argv against mbwa's own command tree: the subcommands exist, every flag is one they take. */
function checkArgv(argv: string[]): string[] {
  const problems: string[] = []
  let cmd: Command = buildProgram()
  const known: Option[] = [...cmd.options]
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a.startsWith('-')) {
      const [flag] = a.split('=')
      const opt = known.find((o) => o.long === flag || o.short === flag || o.long === flag!.replace(/^--no-/, '--'))
      if (!opt) problems.push(`${cmd.name()}: no option ${flag}`)
      else if ((opt.required || opt.optional) && !a.includes('=')) i++ // its value
      continue
    }
    const sub = cmd.commands.find((c) => c.name() === a)
    if (sub) {
      cmd = sub
      known.push(...sub.options)
    } else if (cmd.registeredArguments.length === 0) problems.push(`${cmd.name()}: no command ${a}`)
  }
  // A command with subcommands needs one, unless it has a default (as `sink` has `status`).
  if (cmd.commands.length > 0 && !(cmd as unknown as { _defaultCommandName?: string })._defaultCommandName) problems.push(`${cmd.name()}: no subcommand given`)
  return problems
}

function mebibytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|M|G|K)?$/.exec(v.trim())!
  const n = Number(m[1])
  return { Ki: n / 1024, K: n / 1024, Mi: n, M: n, Gi: n * 1024, G: n * 1024 }[m[2] ?? 'Mi'] ?? n / 2 ** 20
}

describe('deployment files (infra/deploy)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbwa-deploy-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('parse, and the configuration they carry loads (the ConfigMap holds the same configuration as mbwa.yaml)', () => {
    expect(() => loadConfig({ file: join(DEPLOY, 'mbwa.yaml'), env: {} })).not.toThrow()
    const cm = kind('ConfigMap')[0]!
    expect(parse(cm.data['mbwa.yaml'])).toEqual(parse(text('mbwa.yaml')))
    expect(jobs.map((j) => j.name)).toEqual(['mbwa'])
    expect(kind('StatefulSet')).toHaveLength(1)
  })

  it('set only MBWA_* variables that are configuration keys, with values mbwa accepts', () => {
    const top = new Set(Object.keys(ConfigObject.shape))
    const envs = environments()
    expect(envs.length).toBeGreaterThan(20)
    const problems: string[] = []
    for (const [where, name, value] of envs) {
      if (!name.startsWith('MBWA_')) continue
      if (name === 'MBWA_STATEFULSET') {
        if (!entrypoint.includes('MBWA_STATEFULSET')) problems.push(`${where}: ${name} is read by nothing`)
        continue
      }
      const path = name.slice(5).split('__').map((s) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
      if (!top.has(path[0]!)) {
        problems.push(`${where}: ${name} names no configuration key (${path.join('.')})`)
        continue
      }
      if (value === '(from a reference)') continue
      try {
        loadConfig({ file: join(DEPLOY, 'mbwa.yaml'), env: { [name]: fill(value), HTTP_TOKEN: 'x' } })
      } catch (err) {
        problems.push(`${where}: ${name}=${value}: ${(err as Error).message}`)
      }
    }
    expect(problems).toEqual([])
    // A secret reference names a variable the same deployment sets.
    for (const [where, name, value] of envs) {
      const ref = /\{env: ([A-Z_]+)\}/.exec(value)?.[1]
      if (ref) expect([where, name, envs.some(([w, n]) => n === ref && (w === where || where.startsWith('compose')))]).toEqual([where, name, true])
    }
  })

  it('run only mbwa commands and flags that exist', () => {
    const all = commands()
    expect(all.length).toBeGreaterThanOrEqual(7)
    for (const [where, argv] of all) expect([where, argv.join(' '), checkArgv(argv)]).toEqual([where, argv.join(' '), []])
    // Toolforge's one job runs the main job and its dumps (dumps.worker): on the embedded log a second process
    // would need a log of its own, and the main job's /dumps page would never see its dumps.
    const main = String(jobs.find((j) => j.continuous)!.command)
    expect(main).toMatch(/ run$/)
    const env = Object.fromEntries([...main.matchAll(/\b(MBWA_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]))
    expect(loadConfig({ file: join(DEPLOY, 'mbwa.yaml'), env: { ...env, HTTP_TOKEN: 'x' } }).config.dumps.worker).toBe(true)
  })

  it('name paths that exist in the repository and in the image', () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) expect([src, existsSync(join(PACKAGE_ROOT, src))]).toEqual([src, true])
    }
    // Paths inside the image: what the Dockerfile copies to /app, built from the repository's dist/.
    const inImage = (p: string) => {
      const rel = p.replace(/^\/app\//, '')
      return existsSync(join(PACKAGE_ROOT, rel)) && (rel.startsWith('dist/') ? /COPY --from=build \/app\/dist/.test(dockerfile) : dockerfile.includes(rel))
    }
    expect(inImage(container.command[0])).toBe(true)
    expect(inImage(/exec node (?:--\S+ )*(\S+)/.exec(entrypoint)![1]!)).toBe(true)
    expect(JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1]!)[0]).toBe(container.command[0])
    // The configuration where mbwa looks by itself (Dockerfile, systemd); Toolforge runs the built CLI of a clone.
    expect(defaultSearchPaths()).toContain('/etc/mbwa/mbwa.yaml')
    expect(dockerfile).toMatch(/COPY infra\/deploy\/mbwa\.yaml \/etc\/mbwa\/mbwa\.yaml/)
    expect(container.volumeMounts.find((v: Json) => v.name === 'config').mountPath).toBe('/etc/mbwa')
    for (const job of jobs) expect(existsSync(join(PACKAGE_ROOT, /mbwa\/(dist\/\S+)/.exec(job.command)![1]!))).toBe(true)
  })

  it('use the endpoint\'s port, and probe routes that answer on a real query server', async () => {
    expect(dockerfile).toContain(`EXPOSE ${HTTP_PORT}`)
    expect(container.ports[0].containerPort).toBe(HTTP_PORT)
    expect(container.env.find((e: Json) => e.name === 'MBWA_HTTP__PORT').value).toBe(String(HTTP_PORT))
    for (const [name, svc] of Object.entries(compose.services as Json)) {
      if (svc.image !== 'mbwa:latest') continue
      expect([name, svc.ports[0].split(':').at(-1)]).toEqual([name, String(HTTP_PORT)])
      expect(svc.environment.MBWA_HTTP__ADVERTISED_URL).toBe(`http://${name}:${HTTP_PORT}`)
      expect(svc.healthcheck.test.join(' ')).toContain(`127.0.0.1:${HTTP_PORT}/healthz`)
    }
    expect(jobs.find((j) => j.continuous)!.port).toBe(HTTP_PORT)

    const store = await TitleStore.open(join(dir, 'store'))
    const projector = { owned: new Map(), status: () => [], eventsApplied: 0, commandsSent: 0 } as unknown as Projector
    const server = new QueryServer({ store, projector, rules: new Map(), partitions: 1 })
    try {
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect(probe.httpGet.port).toBe('http')
        const res = await server.app.inject({ method: 'GET', url: probe.httpGet.path })
        expect([probe.httpGet.path, [200, 503].includes(res.statusCode)]).toEqual([probe.httpGet.path, true]) // a probe route, never a 404
      }
      expect((await server.app.inject({ method: 'GET', url: container.livenessProbe.httpGet.path })).statusCode).toBe(200)
      expect(container.readinessProbe.httpGet.path).toBe('/readyz')
    } finally {
      await server.close()
      await store.close()
    }
  })

  it('hold together: services, volumes, ConfigMap and Secret names, selectors; one member reads the wikis', () => {
    const headless = kind('Service').find((s) => s.metadata.name === statefulSet.spec.serviceName)!
    expect(headless.spec.clusterIP).toBe('None')
    const labels = statefulSet.spec.template.metadata.labels
    for (const svc of kind('Service')) {
      expect(svc.spec.selector).toEqual(labels)
      for (const p of svc.spec.ports) expect(container.ports.map((c: Json) => c.name)).toContain(p.targetPort)
    }
    const volumes = [...statefulSet.spec.template.spec.volumes.map((v: Json) => v.name), ...statefulSet.spec.volumeClaimTemplates.map((v: Json) => v.metadata.name)]
    for (const m of container.volumeMounts) expect(volumes).toContain(m.name)
    expect(statefulSet.spec.template.spec.volumes.find((v: Json) => v.configMap).configMap.name).toBe(kind('ConfigMap')[0]!.metadata.name)
    const secret = kind('Secret')[0]!
    for (const e of container.env.filter((x: Json) => x.valueFrom?.secretKeyRef)) {
      expect(e.valueFrom.secretKeyRef.name).toBe(secret.metadata.name)
      expect(Object.keys(secret.stringData)).toContain(e.valueFrom.secretKeyRef.key)
    }
    // compose: a volume per member, declared; the broker the members name exists; one reader and writer.
    const members = Object.entries(compose.services as Json).filter(([, s]) => s.image === 'mbwa:latest')
    expect(members).toHaveLength(3)
    const vols = members.map(([, s]) => s.volumes[0].split(':')[0])
    expect(new Set(vols).size).toBe(3)
    for (const v of vols) expect(Object.keys(compose.volumes)).toContain(v)
    for (const [, s] of members) expect(Object.keys(compose.services)).toContain(s.environment.MBWA_LOG__BROKERS.split(':')[0])
    const readers = members.filter(([, s]) => s.environment.MBWA_SOURCES__SNAPSHOT__ENABLED !== 'false')
    expect(readers.map(([n]) => n)).toEqual(['mbwa-1'])
    expect(members.filter(([, s]) => s.environment.MBWA_SINK__ENABLED !== 'false').map(([n]) => n)).toEqual(['mbwa-1'])
    for (const v of ['MBWA_SOURCES__EVENT_STREAMS__ENABLED', 'MBWA_SOURCES__RECENT_CHANGES__ENABLED', 'MBWA_SOURCES__SNAPSHOT__ENABLED', 'MBWA_SINK__ENABLED']) expect(entrypoint).toContain(`export ${v}=false`)
  })

  it('start node with the flags mbwa is measured with, wherever a file starts it', () => {
    // The node flags of a command line: the words before the script.
    const flagsOf = (line: string) => {
      const words = line.split(/\s+/)
      return missingNodeFlags(words.slice(0, words.findIndex((a) => /main\.js$/.test(a))), '')
    }
    expect(flagsOf(/exec (node .*)$/m.exec(entrypoint)![1]!)).toEqual([])
    for (const job of jobs) expect([job.name, flagsOf(String(job.command))]).toEqual([job.name, []])
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(flagsOf(pkg.scripts.start!)).toEqual([])
    // The `mbwa` command (systemd's ExecStart, npm's bin link) passes them in its shebang.
    const shebang = readFileSync(join(PACKAGE_ROOT, 'src/cli/main.ts'), 'utf8').split('\n')[0]!
    expect(shebang).toMatch(/^#!\/usr\/bin\/env -S node /)
    expect(missingNodeFlags(shebang.split(/\s+/).slice(2), '')).toEqual([])
    expect(NODE_FLAGS.length).toBeGreaterThan(0)
  })

  it('give every process at least 1.25 × the peak memory BENCHMARKS.md measured for it', () => {
    const bench = readFileSync(join(PACKAGE_ROOT, 'BENCHMARKS.md'), 'utf8')
    const row = (what: RegExp) => Number(new RegExp(`\\| ${what.source}[^|]*\\| ([\\d,]+) \\|`).exec(bench)![1]!.replace(/,/g, ''))
    const run = row(/mbwa run, replay/)
    const dump = row(/mbwa dump run/)
    expect(run).toBeGreaterThan(0)
    expect(mebibytes(jobs.find((j) => j.continuous)!.mem)).toBeGreaterThanOrEqual(1.25 * run)
    expect(mebibytes(jobs.find((j) => j.continuous)!.mem)).toBeGreaterThanOrEqual(1.25 * (run + dump)) // Toolforge: both in one job
    expect(mebibytes(container.resources.limits.memory)).toBeGreaterThanOrEqual(1.25 * run)
    expect(mebibytes(/^MemoryMax=(.*)$/m.exec(unit)![1]!)).toBeGreaterThanOrEqual(1.25 * run)
  })
})
