import { MediaWikiApiError, type MediaWikiClient } from '../mediawiki/client.js'

// Writing to one wiki: a logged-in session (bot password through action=login, or an OAuth 2 owner-only token
// sent as a bearer token by the client), a CSRF token fetched once and again on badtoken, and action=edit with
// everything that keeps a bot safe: bot, assert, basetimestamp/starttimestamp (conflicts are detected, not
// overwritten), nocreate (a page deleted meanwhile is not recreated), maxlag (the client adds it).

export interface EditResult {
  /** The new revision, or null when MediaWiki saw nothing to change. */
  revision: number | null
  /** The new revision's timestamp. */
  timestamp: string | undefined
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

  /** The account's rights, how the wiki compares titles and its main page (logs in first; one request). */
  async facts(): Promise<{ rights: string[]; titleCase: string | undefined; mainPage: string | undefined; userName: string | undefined }> {
    await this.session()
    const res = await this.client.get({ action: 'query', meta: 'userinfo|siteinfo', uiprop: 'rights', siprop: 'general' })
    const q = res.query as { userinfo: { name?: string; anon?: boolean; rights?: string[] }; general?: { case?: string; mainpage?: string } }
    // The account's name as the wiki knows it (an OAuth token or a bot password names no account in the config).
    return { rights: q.userinfo.rights ?? [], titleCase: q.general?.case, mainPage: q.general?.mainpage, userName: q.userinfo.anon ? undefined : q.userinfo.name }
  }

  /**
   * Whether the wiki can be written now: not read-only, the account not blocked, and a bot where edits assert
   * it. Starts a fresh session (rights and blocks may have changed since the last one).
   */
  async writable(): Promise<{ ok: true } | { ok: false; reason: string }> {
    this.token = undefined
    this.loggedIn = false
    try {
      await this.session()
      const res = await this.client.get({ action: 'query', meta: 'siteinfo|userinfo', siprop: 'general', uiprop: 'blockinfo|rights' })
      const q = res.query as { general: { readonly?: boolean; readonlyreason?: string }; userinfo: { blockid?: number; blockreason?: string; rights?: string[] } }
      if (q.general.readonly) return { ok: false, reason: `readonly: ${q.general.readonlyreason ?? ''}` }
      if (q.userinfo.blockid !== undefined) return { ok: false, reason: `blocked: ${q.userinfo.blockreason ?? ''}` }
      const rights = q.userinfo.rights ?? []
      if (this.assert === 'bot' && !rights.includes('bot')) return { ok: false, reason: 'the account has no bot right' }
      if (!rights.includes('edit')) return { ok: false, reason: 'the account has no edit right' }
      return { ok: true }
    } catch (err) {
      return { ok: false, reason: (err as Error).message }
    }
  }

  /**
   * A purge with a links update (refreshLinks): the page's langlinks are stored again from a fresh parse, its text
   * untouched. A POST, as MediaWiki requires.
   */
  async purge(title: string): Promise<void> {
    await this.session()
    const res = await this.client.post({ action: 'purge', titles: title, forcelinkupdate: true })
    const page = (res.purge as { title: string; purged?: boolean; missing?: boolean; invalid?: boolean }[] | undefined)?.[0]
    if (!page || page.missing || page.invalid) throw new MediaWikiApiError('missingtitle', `purge of ${title}: the page is missing`, this.wiki)
    if (!page.purged) throw new MediaWikiApiError('purge-failed', `purge of ${title}: not purged`, this.wiki)
  }

  /**
   * `create`: the page may be created, but only if it still does not exist (createonly: a page created meanwhile
   * is an error, never overwritten); otherwise a page deleted meanwhile is not recreated (nocreate).
   */
  async edit(args: { title: string; text: string; summary: string; basetimestamp?: string; baserevid?: number | null; starttimestamp?: string; create?: boolean }): Promise<EditResult> {
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
          nocreate: !args.create,
          createonly: args.create === true,
          basetimestamp: args.basetimestamp,
          // The revision read, as well as its time: two revisions within one second share a basetimestamp.
          baserevid: args.baserevid ?? undefined,
          starttimestamp: args.starttimestamp,
        })
        const edit = res.edit as { result: string; newrevid?: number; newtimestamp?: string; nochange?: boolean }
        if (edit.result !== 'Success') throw new MediaWikiApiError(edit.result.toLowerCase(), `edit result ${edit.result}`, this.wiki)
        return { revision: edit.nochange ? null : (edit.newrevid ?? null), timestamp: edit.newtimestamp }
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
