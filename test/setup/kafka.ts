import { KafkaLog, type KafkaLogOptions } from '../../src/log/kafka-log.js'

export function testBrokers(): string[] {
  return (process.env.MBWA_TEST_KAFKA_BROKERS ?? '127.0.0.1:19092').split(',')
}

export function connectTestKafka(options: Partial<KafkaLogOptions> = {}): Promise<KafkaLog> {
  return KafkaLog.connect({ brokers: testBrokers(), clientId: 'mbwa-test', sessionTimeoutMs: 6000, ...options })
}
