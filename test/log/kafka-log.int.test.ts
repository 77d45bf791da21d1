import { logContract } from './contract/index.js'
import { connectTestKafka } from '../setup/kafka.js'

logContract('Kafka (kafkajs, real broker)', {
  open: () => connectTestKafka(),
  supports: { concurrentInstances: true },
})
