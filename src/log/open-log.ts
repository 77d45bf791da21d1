import { join, resolve } from 'node:path'
import type { Config } from '../config/schema.js'
import type { Logger } from '../logging.js'
import { EmbeddedLog } from './embedded-log.js'
import { KafkaLog } from './kafka-log.js'
import { topicNames, topicSpecs, type TopicNames } from './topics.js'
import type { EventLog } from './types.js'

export interface OpenedLog {
  log: EventLog
  topics: TopicNames
}

/** The log the configuration asks for (Kafka when brokers are set, else embedded), with mbwa's topics created. */
export async function openLog(config: Config, logger: Logger): Promise<OpenedLog> {
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
    logger.info({ brokers: config.log.brokers }, 'log: Kafka')
  } else {
    const path = join(resolve(config.dataDir), 'log')
    log = await EmbeddedLog.open({ path })
    logger.info({ path }, 'log: embedded')
  }
  try {
    await log.ensureTopics(topicSpecs(topics, config.log.partitions))
  } catch (err) {
    await log.close()
    throw err
  }
  return { log, topics }
}
