import type { EventToAppend } from '../events/event-log.js'
import { titleKey } from '../events/titles.js'
import type { EditRequested } from '../events/types.js'
import type { Logger } from '../logging.js'
import type { MediaWikiClient } from '../mediawiki/client.js'
import { appliedEvent } from './outcome-events.js'
import { PerMinute } from './throttle.js'
import { observation, readTitles } from './verify.js'
import type { WikiEditor } from './wiki-editor.js'

// refreshLinks: a purge with a links update (action=purge&forcelinkupdate=1) for a page whose langlinks are
// outdated, on a budget of its own per wiki (sink.maxPurgesPerMinute), recorded like an edit that adds and removes
// nothing, then the page read again: what the links update did is the wiki's to say.

export class LinkPurges {
  private readonly budget: PerMinute

  constructor(
    perMinute: number,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {
    this.budget = new PerMinute(perMinute, now)
  }

  /** When the wiki's budget allows its next purge (now or later). */
  nextAt(wiki: string): number {
    return this.budget.nextAt(wiki)
  }

  /**
   * Purges the command's page and reads it again: the events that record it (EditApplied at `revision`, then the
   * page as it is now, where it could be read). Throws what the purge threw.
   */
  async purge(c: EditRequested, revision: number | null, editor: WikiEditor, reader: MediaWikiClient | undefined, codes: ReadonlySet<string>): Promise<EventToAppend[]> {
    this.budget.record(c.wiki)
    await editor.purge(c.title)
    const events = [appliedEvent(c, { revision: revision ?? 0, added: [], removed: [] }, this.now())]
    if (!reader) return events
    try {
      const again = await readTitles(reader, c.wiki, [c.title], { text: true, perRequest: 1, codes })
      for (const [title, p] of again) events.push({ type: 'PageObserved', key: titleKey(p.asTitle ?? title), value: observation(p, title, this.now()) })
    } catch (err) {
      this.logger.warn({ wiki: c.wiki, title: c.title, err: (err as Error).message }, 'sink: the page could not be read again after its purge')
    }
    return events
  }
}
