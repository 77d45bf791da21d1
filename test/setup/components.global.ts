import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'

// Starts the real components the integration tests talk to. A component that cannot start fails the run:
// never a silent skip (in CI or anywhere else). Components already running (started by someone else) are reused
// and left running; those this run started are stopped when it ends, so a test run leaves no process behind.

const KAFKA = join(PACKAGE_ROOT, 'infra/kafka/kafka.sh')
const FARM = join(PACKAGE_ROOT, 'infra/mediawiki/farm.sh')

function running(script: string): boolean {
  try {
    execFileSync('bash', [script, 'status'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export default function setup(): () => void {
  const started = Date.now()
  const kafkaWasRunning = running(KAFKA)
  try {
    execFileSync('bash', [KAFKA, 'start'], { stdio: ['ignore', 'inherit', 'inherit'] })
  } catch (err) {
    throw new Error(`the Kafka broker for the integration tests did not start (infra/kafka/kafka.sh start): ${(err as Error).message}`)
  }
  process.env.MBWA_TEST_KAFKA_BROKERS ??= `127.0.0.1:${process.env.MBWA_KAFKA_PORT ?? '19092'}`
  const farmWasRunning = running(FARM)
  try {
    execFileSync('bash', [FARM, 'start'], { stdio: ['ignore', 'inherit', 'inherit'] })
  } catch (err) {
    if (!kafkaWasRunning) execFileSync('bash', [KAFKA, 'stop'], { stdio: 'ignore' })
    throw new Error(`the MediaWiki farm for the integration tests did not start (infra/mediawiki/farm.sh start): ${(err as Error).message}`)
  }
  process.env.MBWA_TEST_FARM_JSON ??= execFileSync('bash', [FARM, 'path'], { encoding: 'utf8' }).trim()
  console.log(`components ready in ${Date.now() - started} ms (Kafka at ${process.env.MBWA_TEST_KAFKA_BROKERS}${kafkaWasRunning ? ', reused' : ''}, farm ${process.env.MBWA_TEST_FARM_JSON}${farmWasRunning ? ', reused' : ''})`)
  return () => {
    // What this run started, it stops (the data stays, so the next run starts in seconds).
    if (!farmWasRunning) execFileSync('bash', [FARM, 'stop'], { stdio: 'ignore' })
    if (!kafkaWasRunning) execFileSync('bash', [KAFKA, 'stop'], { stdio: 'ignore' })
  }
}
