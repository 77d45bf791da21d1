import type { StoredMessage } from './types.js'

// How the embedded log stores messages in LevelDB. One append writes one chunk per partition it touches (as
// Kafka writes record batches): the chunk's key holds its first offset, its value is a u32 count then, per
// message, a u32 length and the message: timestamp (f64), key (u32 length, 0xffffffff for null), headers (u32
// length, JSON), value bytes. Few large LevelDB entries instead of many small ones is what makes appends fast.

const NULL_KEY = 0xffffffff

export interface ChunkMessage {
  key: string | null
  value: Buffer
  headers: Record<string, string> | undefined
  timestamp: number
}

export function encodeChunk(messages: ChunkMessage[]): Buffer {
  const keys: (Buffer | null)[] = new Array<Buffer | null>(messages.length)
  const headers: (Buffer | null)[] = new Array<Buffer | null>(messages.length)
  let size = 4
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!
    const k = m.key === null ? null : Buffer.from(m.key, 'utf8')
    const h = m.headers && Object.keys(m.headers).length > 0 ? Buffer.from(JSON.stringify(m.headers), 'utf8') : null
    keys[i] = k
    headers[i] = h
    size += 4 + 8 + 4 + (k?.length ?? 0) + 4 + (h?.length ?? 0) + m.value.length
  }
  const out = Buffer.allocUnsafe(size)
  let pos = out.writeUInt32LE(messages.length, 0)
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!
    const k = keys[i]!
    const h = headers[i]!
    pos = out.writeUInt32LE(8 + 4 + (k?.length ?? 0) + 4 + (h?.length ?? 0) + m.value.length, pos)
    pos = out.writeDoubleLE(m.timestamp, pos)
    pos = out.writeUInt32LE(k ? k.length : NULL_KEY, pos)
    if (k) pos += k.copy(out, pos)
    pos = out.writeUInt32LE(h?.length ?? 0, pos)
    if (h) pos += h.copy(out, pos)
    pos += m.value.copy(out, pos)
  }
  return out
}

export function chunkCount(chunk: Buffer): number {
  return chunk.readUInt32LE(0)
}

/**
 * Decodes the messages of a chunk whose first offset is `first`, keeping those with offsets in [from, to),
 * appending them to `out`.
 */
export function decodeChunk(
  topic: string,
  partition: number,
  first: number,
  chunk: Buffer,
  from: number,
  to: number,
  out: StoredMessage[],
): void {
  const count = chunk.readUInt32LE(0)
  let pos = 4
  for (let i = 0; i < count; i++) {
    const length = chunk.readUInt32LE(pos)
    pos += 4
    const offset = first + i
    if (offset >= to) return
    if (offset >= from) out.push(decodeMessage(topic, partition, offset, chunk, pos, pos + length))
    pos += length
  }
}

function decodeMessage(topic: string, partition: number, offset: number, buf: Buffer, start: number, end: number): StoredMessage {
  const timestamp = buf.readDoubleLE(start)
  const keyLength = buf.readUInt32LE(start + 8)
  let pos = start + 12
  let key: string | null = null
  if (keyLength !== NULL_KEY) {
    key = buf.toString('utf8', pos, pos + keyLength)
    pos += keyLength
  }
  const headerLength = buf.readUInt32LE(pos)
  pos += 4
  const headers = headerLength > 0 ? (JSON.parse(buf.toString('utf8', pos, pos + headerLength)) as Record<string, string>) : {}
  pos += headerLength
  return { topic, partition, offset, key, value: buf.subarray(pos, end), headers, timestamp }
}
