import { silentLogger, type Logger } from '../logging.js'
import type { Projector } from './projector.js'

// Which member serves which partition of the events topic: read from the consumer group (each member shares its
// HTTP address in its membership metadata), refreshed when this member's assignment changes and when a forward
// finds the map stale.

export class PartitionRouter {
  private owners = new Map<number, string>()
  private refreshing: Promise<void> | undefined
  private readonly logger: Logger

  constructor(
    private readonly projector: Projector,
    private readonly topic: string,
    logger?: Logger,
  ) {
    this.logger = logger ?? silentLogger
    projector.onChange(() => void this.refresh())
  }

  ownerOf(partition: number): string | undefined {
    return this.owners.get(partition)
  }

  addresses(): string[] {
    return [...new Set(this.owners.values())]
  }

  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const members = await this.projector.members()
        const owners = new Map<number, string>()
        for (const m of members) {
          if (!m.data) continue
          for (const tp of m.assignment) if (tp.topic === this.topic) owners.set(tp.partition, m.data)
        }
        this.owners = owners
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'router: group membership unreadable')
      } finally {
        this.refreshing = undefined
      }
    })()
    return this.refreshing
  }
}
