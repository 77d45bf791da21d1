import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { MbwaError } from '../errors/errors.js'
import type { Config } from '../config/schema.js'
import type { Logger } from '../logging.js'
import { EmbeddedLog } from './embedded-log.js'
import { KafkaLog } from './kafka-log.js'
import { topicNames, topicSpecs, type TopicNames } from './topics.js'
import type { EventLog } from './types.js'
import { checkPlacement } from './placement-check.js'

export interface OpenedLog {
  log: EventLog
  topics: TopicNames
}

/**
 * The log the configuration asks for (Kafka when brokers are set, else embedded), with mbwa's topics created and
 * the events topic's placement checked (checkPlacement).
 * `existing`: a command that only reads: an embedded log that is not there is an error (MBWA_NO_STORE), not made.
 */
export async function openLog(config: Config, logger: Logger, o: { existing?: boolean } = {}): Promise<OpenedLog> {
  const topics = topicNames(config.log.topicPrefix)
  let log: EventLog
  if (config.log.brokers.length > 0) {
    log = await KafkaLog.connect({
      brokers: config.log.brokers,
      clientId: config.log.clientId,
      replicationFactor: config.log.replicationFactor,
      sessionTimeoutMs: config.log.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(300, Math.floor(config.log.sessionTimeoutMs / 10)),
      logger,
    })
    logger.debug({ brokers: config.log.brokers }, 'log: Kafka')
  } else {
    const path = join(resolve(config.dataDir), 'log')
    if (o.existing && !existsSync(path)) throw new MbwaError('MBWA_NO_STORE', `no log at ${path}: nothing was ever written there (is dataDir, or --data-dir, right?)`, { path })
    log = await EmbeddedLog.open({ path })
    logger.debug({ path }, 'log: embedded') // mbwa run says which log it runs on in its own start line
  }
  try {
    await log.ensureTopics(topicSpecs(topics, config.log.partitions))
    await checkPlacement(log, topics.events)
  } catch (err) {
    await log.close()
    throw err
  }
  return { log, topics }
}
