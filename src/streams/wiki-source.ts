import type { MediaWikiClient } from '../mediawiki/client.js'

/** A wiki as the sources see it: its code (as in the configuration) and a client for its API. */
export interface WikiSource {
  code: string
  client: MediaWikiClient
  /** Its database name (`frwiktionary`), which names its Wikimedia dumps. */
  dbname?: string
}
