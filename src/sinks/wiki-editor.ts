import { MediaWikiApiError, type MediaWikiClient } from '../mediawiki/client.js'

// Writing to one wiki: a logged-in session (bot password through action=login, or an OAuth 2 owner-only token
// sent as a bearer token by the client), a CSRF token fetched once and again on badtoken, and action=edit with
// everything that keeps a bot safe: bot, assert, basetimestamp/starttimestamp (conflicts are detected, not
// overwritten), nocreate (a page deleted meanwhile is not recreated), maxlag (the client adds it).

export interface EditResult {
  /** The new revision, or null when MediaWiki saw nothing to change. */
  revision: number | null
}

export class WikiEditor {
  private token: string | undefined
  private loggedIn = false

  constructor(
    readonly wiki: string,
    readonly client: MediaWikiClient,
    private readonly login: { username: string; password: string } | undefined,
    private readonly assert: 'bot' | 'user',
  ) {}

  private async session(): Promise<void> {
    if (!this.loggedIn && this.login) await this.client.login(this.login.username, this.login.password)
    this.loggedIn = true
    this.token ??= await this.client.csrfToken()
  }

  async edit(args: { title: string; text: string; summary: string; basetimestamp?: string; starttimestamp?: string }): Promise<EditResult> {
    await this.session()
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.client.post({
          action: 'edit',
          title: args.title,
          text: args.text,
          summary: args.summary,
          token: this.token,
          bot: true,
          assert: this.assert,
          nocreate: true,
          basetimestamp: args.basetimestamp,
          starttimestamp: args.starttimestamp,
        })
        const edit = res.edit as { result: string; newrevid?: number; nochange?: boolean }
        if (edit.result !== 'Success') throw new MediaWikiApiError(edit.result.toLowerCase(), `edit result ${edit.result}`, this.wiki)
        return { revision: edit.nochange ? null : (edit.newrevid ?? null) }
      } catch (err) {
        // A stale token (session expired): fetch a new one and log in again, once.
        if (attempt === 0 && err instanceof MediaWikiApiError && (err.apiCode === 'badtoken' || err.apiCode === 'assertbotfailed' || err.apiCode === 'assertuserfailed')) {
          this.token = undefined
          this.loggedIn = false
          await this.session()
          continue
        }
        throw err
      }
    }
  }
}
