import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { MediaWikiClient } from '../../src/mediawiki/client.js'
import { PACKAGE_ROOT } from '../../src/paths.js'

// The MediaWiki farm the integration tests use (infra/mediawiki/farm.sh, started by the global setup), and
// helpers that act on it as a person would: as Admin (who may delete and move) through the Action API.

export interface FarmWiki {
  lang: string
  dbname: string
  port: number
  api: string
  dir: string
}

export interface Farm {
  wikis: FarmWiki[]
  bot: { user: string; botPasswordUser: string; botPassword: string }
  admin: { user: string; botPasswordUser: string; botPassword: string }
}

export function readFarm(path?: string): Farm {
  const file = path ?? process.env.MBWA_TEST_FARM_JSON ?? execFileSync('bash', [join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh'), 'path'], { encoding: 'utf8' }).trim()
  return JSON.parse(readFileSync(file, 'utf8')) as Farm
}

export function farmWiki(lang: string, farmJson?: string): FarmWiki {
  const w = readFarm(farmJson).wikis.find((x) => x.lang === lang)
  if (!w) throw new Error(`no ${lang} wiki in the farm`)
  return w
}

/** A title no other test uses. */
export function uniqueTitle(stem: string): string {
  return `${stem} ${randomUUID().slice(0, 8)}`
}

/** Acts on one wiki as its Admin (logged in with a bot password), to make the changes sources must see. */
export class FarmEditor {
  private token: string | undefined
  readonly client: MediaWikiClient

  private constructor(readonly wiki: FarmWiki) {
    this.client = new MediaWikiClient({ api: wiki.api, contact: 'mbwa tests', maxlag: 0 })
  }

  static async open(lang: string, farmJson?: string): Promise<FarmEditor> {
    const editor = new FarmEditor(farmWiki(lang, farmJson))
    const { admin } = readFarm(farmJson)
    await editor.client.login(admin.botPasswordUser, admin.botPassword)
    editor.token = await editor.client.csrfToken()
    return editor
  }

  async edit(title: string, text: string): Promise<{ pageid: number; newrevid: number }> {
    const res = await this.client.post({ action: 'edit', title, text, token: this.token, summary: 'test' })
    return res.edit as { pageid: number; newrevid: number }
  }

  async move(from: string, to: string, leaveRedirect = true): Promise<void> {
    await this.client.post({ action: 'move', from, to, token: this.token, noredirect: !leaveRedirect, reason: 'test' })
  }

  async delete(title: string): Promise<void> {
    await this.client.post({ action: 'delete', title, token: this.token, reason: 'test' })
  }

  async undelete(title: string): Promise<void> {
    await this.client.post({ action: 'undelete', title, token: this.token, reason: 'test' })
  }

  async close(): Promise<void> {
    await this.client.close()
  }
}

/**
 * A farm of a test's own (its own directory and ports), for tests that change many pages or inject faults
 * without disturbing the shared one: `start()` before, `reset()` after.
 */
export function ownFarm(work: string, port: number): { farmJson: string; start(): void; reset(): void } {
  const env = { ...process.env, MBWA_FARM_DIR: join(work, 'farm'), MBWA_FARM_PORT: String(port) }
  const farmSh = join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh')
  return {
    farmJson: join(work, 'farm/farm.json'),
    start: () => execFileSync('bash', [farmSh, 'start'], { env, stdio: ['ignore', 'inherit', 'inherit'] }),
    reset: () => execFileSync('bash', [farmSh, 'reset'], { env, stdio: 'ignore' }),
  }
}
