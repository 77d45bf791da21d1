import { connectTestKafka } from '../setup/kafka.js'
import { deadLetterSuite } from './dead-letter.suite.js'

deadLetterSuite('Kafka (real broker)', () => connectTestKafka())
