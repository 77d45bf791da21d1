import type { StoredMessage } from './types.js'

// How the embedded log stores one message in LevelDB: timestamp (f64), key (u32 length, 0xffffffff for null),
// headers (u32 length, JSON), then the value bytes. Kept apart from the log so it can be tested on its own.

const NULL_KEY = 0xffffffff

export function encodeStored(key: string | null, value: Buffer, headers: Record<string, string> | undefined, timestamp: number): Buffer {
  const keyBytes = key === null ? null : Buffer.from(key, 'utf8')
  const headerBytes = headers && Object.keys(headers).length > 0 ? Buffer.from(JSON.stringify(headers), 'utf8') : null
  const size = 8 + 4 + (keyBytes?.length ?? 0) + 4 + (headerBytes?.length ?? 0) + value.length
  const out = Buffer.allocUnsafe(size)
  let pos = out.writeDoubleLE(timestamp, 0)
  pos = out.writeUInt32LE(keyBytes ? keyBytes.length : NULL_KEY, pos)
  if (keyBytes) pos += keyBytes.copy(out, pos)
  pos = out.writeUInt32LE(headerBytes?.length ?? 0, pos)
  if (headerBytes) pos += headerBytes.copy(out, pos)
  value.copy(out, pos)
  return out
}

export function decodeStored(topic: string, partition: number, offset: number, buf: Buffer): StoredMessage {
  const timestamp = buf.readDoubleLE(0)
  const keyLength = buf.readUInt32LE(8)
  let pos = 12
  let key: string | null = null
  if (keyLength !== NULL_KEY) {
    key = buf.toString('utf8', pos, pos + keyLength)
    pos += keyLength
  }
  const headerLength = buf.readUInt32LE(pos)
  pos += 4
  const headers = headerLength > 0 ? (JSON.parse(buf.toString('utf8', pos, pos + headerLength)) as Record<string, string>) : {}
  pos += headerLength
  return { topic, partition, offset, key, value: buf.subarray(pos), headers, timestamp }
}
