// CRC-64-AVRO (the Rabin fingerprint of the Avro spec) over a schema's Parsing Canonical Form. avsc offers
// md5/sha256 fingerprints only; single-object encoding needs this one.

const EMPTY = 0xc15d213aa4d7a795n
const MASK = 0xffffffffffffffffn

const TABLE: bigint[] = Array.from({ length: 256 }, (_, i) => {
  let fp = BigInt(i)
  for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK)
  return fp
})

/** The 64-bit fingerprint of `bytes` as an unsigned bigint. */
export function crc64Avro(bytes: Uint8Array): bigint {
  let fp = EMPTY
  for (const b of bytes) fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(b)) & 0xffn)]!
  return fp
}

/** The fingerprint as the 8 little-endian bytes that single-object encoding writes after its marker. */
export function fingerprintBytes(canonicalSchema: string): Buffer {
  const out = Buffer.alloc(8)
  out.writeBigUInt64LE(crc64Avro(Buffer.from(canonicalSchema, 'utf8')))
  return out
}
