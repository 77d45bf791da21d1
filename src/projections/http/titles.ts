import type { QueryServer } from './query-server.js'
import { partitionForKey } from '../../log/partitioner.js'
import { titleKey } from '../../events/titles.js'
import { fail, iso, withIsoTimes } from './http-util.js'
import { responseSchemas } from './responses.js'

// One title: its pages on every wiki, its link set and the verdict on each page, served by the member that holds
// its partition (forwarded there from any other).

export function registerTitleRoutes(s: QueryServer): void {
  const app = s.app
  const { store, projector } = s.options
  // The rest of the path is the title, slashes and all (`and/or`: many Wiktionary titles have one; %2F works too).
  app.get<{ Params: { '*': string } }>('/v1/titles/*', { schema: { response: responseSchemas.title } }, async (req, reply) => {
    const title = s.validTitle(req.params['*'])
    const key = titleKey(title)
    const partition = partitionForKey(key, s.options.partitions)
    if (!s.isLocal(partition)) return s.fanOut.forward(req, reply, partition)
    const owned = projector.owned.get(partition)!
    if (owned.restoring) fail('MBWA_RESTORING', `partition ${partition} is being restored`, { partition })
    const { pages, pending } = await store.titleWithPending(partition, key)
    const verdict = owned.applier.verdict(key, pages, (await owned.applier.spellingsOf([key])).get(key), (await owned.applier.firstLetterOf([key])).get(key))
    return {
      title: key,
      partition,
      wikis: withIsoTimes(pages),
      linkSet: verdict.linkSet,
      complete: verdict.complete,
      incomplete: verdict.incomplete,
      pages: verdict.pages,
      pendingEdits: Object.fromEntries(Object.entries(pending).map(([w, c]) => [w, { ...c, requestedAt: iso(c.requestedAt) }])),
    }
  })

}
