import { parseDocument, isMap, isScalar } from 'yaml'
import type { z } from 'zod'

// Helping a person fix a configuration: the keys that exist where an unknown one was written ("did you mean
// linkMode?") and the line of the file where a key is. Read from the schema itself, so they never fall behind it.

type Schema = z.ZodType

/** The object (or record) schema under wrappers: defaults, optionals, prefaults, the transform on the whole. */
function unwrap(s: Schema | undefined): Schema | undefined {
  let cur = s
  for (let i = 0; i < 16 && cur; i++) {
    const d = (cur as unknown as { _zod: { def: Record<string, unknown> } })._zod?.def
    if (!d || d.type === 'object' || d.type === 'record') return cur
    if (d.innerType) cur = d.innerType as Schema
    else if (d.type === 'pipe') cur = ((d.out as { _zod?: { def?: { type?: string } } })._zod?.def?.type === 'transform' ? d.in : d.out) as Schema
    else return cur
  }
  return cur
}

/** The keys an object at `path` may have (a record's entries: any key, their own keys below). */
export function keysAt(root: Schema, path: readonly PropertyKey[]): string[] {
  let s = unwrap(root)
  for (const part of path) {
    const d = (s as unknown as { _zod: { def: Record<string, unknown> } } | undefined)?._zod?.def
    if (!d) return []
    if (d.type === 'record') s = unwrap(d.valueType as Schema)
    else if (d.type === 'object') s = unwrap((d.shape as Record<string, Schema>)[String(part)])
    else return []
  }
  const d = (s as unknown as { _zod: { def: Record<string, unknown> } } | undefined)?._zod?.def
  return d?.type === 'object' ? Object.keys(d.shape as object) : []
}

function distance(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j)
  for (let i = 1; i <= x.length; i++) {
    const row = [i]
    for (let j = 1; j <= y.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1)))
    prev = row
  }
  return prev[y.length]!
}

/** The known key closest to an unknown one, when it is close (a typo, another case, a missing letter). */
export function didYouMean(unknown: string, known: readonly string[]): string | undefined {
  let best: { key: string; d: number } | undefined
  for (const key of known) {
    const d = distance(unknown, key)
    if (!best || d < best.d) best = { key, d }
  }
  return best && best.d <= Math.max(2, Math.floor(unknown.length / 4)) ? best.key : undefined
}

/** Line numbers (1-based) of the keys of a YAML text, by dotted path. */
export function keyLines(text: string): (path: string) => number | undefined {
  const doc = parseDocument(text)
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length
  return (path: string) => {
    let node: unknown = doc.contents
    let line: number | undefined
    for (const part of path.split('.')) {
      if (!isMap(node)) return line
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === part)
      if (!pair) return line
      const range = (pair.key as { range?: [number, number, number] }).range
      if (range) line = lineOf(range[0])
      node = pair.value
    }
    return line
  }
}
