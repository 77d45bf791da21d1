import { logContract } from './contract.js'
import { connectTestKafka } from '../setup/kafka.js'

logContract('Kafka (kafkajs, real broker)', {
  open: () => connectTestKafka(),
  supports: { concurrentInstances: true },
})
