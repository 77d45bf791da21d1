import type avro from 'avsc'

// avsc's toBuffer gives each value a Buffer of its own (Buffer.alloc: a new ArrayBuffer every time), and the event
// encoder then copied it once more behind its header. Here a value is encoded into one scratch buffer and its
// bytes copied out with Buffer.allocUnsafe, which slices small sizes from Node's shared pool: one small allocation
// per value instead of two ArrayBuffers. A bootstrap encodes an event and a title record per page, and every
// ArrayBuffer is work for the garbage collector (which took a quarter of the process's CPU; BENCHMARKS.md).

let scratch = Buffer.allocUnsafe(64 * 1024)

/** `header` followed by the Avro binary encoding of `value` (which must be valid for `type`). */
export function avroBytes(type: avro.Type, value: unknown, header?: Uint8Array): Buffer {
  const start = header?.length ?? 0
  for (;;) {
    const end = type.encode(value, scratch, start)
    if (end >= start) {
      const out = Buffer.allocUnsafe(end)
      if (header) out.set(header, 0)
      scratch.copy(out, start, start, end)
      return out
    }
    // A negative end is the number of bytes the scratch buffer lacked.
    scratch = Buffer.allocUnsafe(Math.max(2 * scratch.length, scratch.length - end))
  }
}
