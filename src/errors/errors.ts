// One catalogue of mbwa's errors. Codes are API (the README lists them, and a test holds the two the same); messages
// may change. Each code says whether retrying can help, the exit status of a command it stops (1 unless it says),
// and, where one applies, the HTTP status it maps to.

export interface ErrorSpec {
  readonly status?: number
  readonly retriable: boolean
  /** The exit status of a command that stops on it (default 1; 2 for what the configuration must fix). */
  readonly exitCode?: 1 | 2
  readonly summary: string
}

export const ERRORS = {
  MBWA_CONFIG_INVALID: { retriable: false, exitCode: 2, summary: 'A configuration key has a bad value or is unknown' },
  MBWA_CONFIG_UNREADABLE: { retriable: false, exitCode: 2, summary: 'A configuration file could not be read or parsed' },
  MBWA_SECRET_UNAVAILABLE: { retriable: false, exitCode: 2, summary: 'A secret named in the configuration could not be read' },
  MBWA_SCHEMA_INVALID: { retriable: false, summary: 'An Avro schema in schemas/ does not parse' },
  MBWA_EVENT_INVALID: { retriable: false, summary: 'An event does not match its schema (nothing was written)' },
  MBWA_DECODE_FAILED: { retriable: false, summary: 'A message does not decode; it goes to the dead-letter topic' },
  MBWA_UNKNOWN_EVENT_TYPE: { retriable: false, summary: 'No schema of that event type is known' },
  MBWA_LOG_CLOSED: { retriable: false, summary: 'The log was used after close()' },
  MBWA_LOG_LOCKED: { retriable: false, summary: 'The embedded log is open in another process' },
  MBWA_TOPIC_UNKNOWN: { retriable: false, summary: 'The topic does not exist (ensureTopics first)' },
  MBWA_PARTITION_INVALID: { retriable: false, summary: 'The partition is outside the topic' },
  MBWA_TOPIC_RETENTION: { retriable: false, summary: 'A topic that must keep every message deletes old ones (rebuilds would be partial)' },
  MBWA_LOG_PLACEMENT: { retriable: false, summary: "The events topic's messages are not where this mbwa places their keys (an older mbwa's log, or partitions changed)" },
  MBWA_LOG_TRUNCATED: { retriable: false, summary: 'Messages a store still needs were deleted from the log (below its start offset)' },
  MBWA_STORE_DAMAGED: { retriable: false, summary: 'A title record of the projection store does not read back (damage LevelDB did not catch); the store is rebuilt from the log' },
  MBWA_STORE_FORMAT: { retriable: false, summary: 'The projection store was written in another format (an older mbwa); it is rebuilt from the log' },
  MBWA_GROUP_MEMBER_EXISTS: {
    retriable: false,
    summary: 'The embedded log has one consumer per group; a second one joined',
  },
  MBWA_PORT_UNAVAILABLE: { retriable: false, summary: "The query endpoint's address (http.host, http.port) cannot be bound: mbwa run starts nothing" },
  MBWA_KAFKA_UNAVAILABLE: { retriable: true, summary: 'The Kafka brokers could not be reached' },
  MBWA_SOURCE_FAILED: { retriable: false, summary: 'A source failed again and again after restarts; mbwa run stops' },
  MBWA_MEDIAWIKI_API: { retriable: false, summary: "A wiki's Action API answered with an error (apiCode, info)" },
  MBWA_MEDIAWIKI_HTTP: { retriable: true, summary: 'A wiki answered with an HTTP error or a body that is not JSON' },
  MBWA_MEDIAWIKI_UNREACHABLE: { retriable: true, summary: 'A wiki could not be reached (network error, timeout)' },
  MBWA_UNREACHABLE: { retriable: true, summary: "A running mbwa's endpoint did not answer (mbwa status, sink status)" },
  MBWA_BAD_TITLE: { retriable: false, summary: 'A title that cannot be a MediaWiki title (it would write wikitext outside its link)' },
  MBWA_UNSAFE_TEXT: { retriable: false, summary: "A page's text would hide or alter links written at its end (an unclosed comment or tag): it is not edited" },
  MBWA_DUMP_INVALID: { retriable: false, summary: 'A dump file is truncated, altered or not a dump' },
  MBWA_WIKIMEDIA_DUMP_INVALID: { retriable: true, summary: "A Wikimedia table dump is cut, altered or malformed (size, checksum, SQL): nothing of it is applied, the wiki's bootstrap is tried again later" },
  MBWA_WIKIMEDIA_DUMPS_UNREACHABLE: { retriable: true, summary: 'The Wikimedia dumps site (sources.wikimediaDumps.url) could not be read' },
  MBWA_WIKI_NOT_CONFIGURED: { retriable: false, summary: 'The wiki is not in the configuration' },
  MBWA_NO_STORE: { retriable: false, summary: 'A command that only reads found no log or store where the configuration says (dataDir): it creates none' },
  MBWA_BAD_REQUEST: { status: 400, retriable: false, summary: 'The HTTP request is malformed' },
  MBWA_NOT_FOUND: { status: 404, retriable: false, summary: 'No such resource' },
  MBWA_UNAUTHORIZED: { status: 401, retriable: false, summary: 'The endpoint needs its bearer token (http.token)' },
  MBWA_METHOD_NOT_ALLOWED: { status: 405, retriable: false, summary: 'The HTTP endpoint is read-only' },
  MBWA_RESTORING: { status: 503, retriable: true, summary: 'The partition is being restored or changing owner; ask again shortly' },
  MBWA_INTERNAL: { status: 500, retriable: false, summary: "A fault of mbwa's own while answering an HTTP request (logged; the answer says no more)" },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

export class MbwaError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly status: number | undefined
  /** Structured context safe to log (never secrets). */
  readonly details: Record<string, unknown>

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions & { retriable?: boolean },
  ) {
    super(message, options)
    const spec: ErrorSpec = ERRORS[code]
    this.name = 'MbwaError'
    this.code = code
    this.retriable = options?.retriable ?? spec.retriable
    this.status = spec.status
    this.details = details
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details }
  }
}

/** The exit status of a command stopped by `code`. */
export function exitCodeOf(code: ErrorCode): number {
  const spec: ErrorSpec = ERRORS[code]
  return spec.exitCode ?? 1
}

export function isMbwaError(err: unknown, code?: ErrorCode): err is MbwaError {
  return err instanceof MbwaError && (code === undefined || err.code === code)
}
