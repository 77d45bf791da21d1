import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'

// Starts the real components the integration tests talk to. A component that cannot start fails the run:
// never a silent skip (in CI or anywhere else). Already-running components are reused.
export default function setup(): void {
  const started = Date.now()
  try {
    execFileSync('bash', [join(PACKAGE_ROOT, 'infra/kafka/kafka.sh'), 'start'], { stdio: ['ignore', 'inherit', 'inherit'] })
  } catch (err) {
    throw new Error(`the Kafka broker for the integration tests did not start (infra/kafka/kafka.sh start): ${(err as Error).message}`)
  }
  process.env.MBWA_TEST_KAFKA_BROKERS ??= `127.0.0.1:${process.env.MBWA_KAFKA_PORT ?? '19092'}`
  try {
    execFileSync('bash', [join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh'), 'start'], { stdio: ['ignore', 'inherit', 'inherit'] })
  } catch (err) {
    throw new Error(`the MediaWiki farm for the integration tests did not start (infra/mediawiki/farm.sh start): ${(err as Error).message}`)
  }
  process.env.MBWA_TEST_FARM_JSON ??= execFileSync('bash', [join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh'), 'path'], { encoding: 'utf8' }).trim()
  console.log(`components ready in ${Date.now() - started} ms (Kafka at ${process.env.MBWA_TEST_KAFKA_BROKERS}, farm ${process.env.MBWA_TEST_FARM_JSON})`)
}
