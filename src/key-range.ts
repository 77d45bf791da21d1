// The upper bound of a LevelDB key prefix. Keys are UTF-8, so a bound like prefix + '\xff' (U+00FF, the bytes
// C3 BF) sorts below every key whose next character is beyond U+00FF: most non-Latin titles would fall outside
// the range. The prefix with its last character raised by one bounds every key that starts with it, whatever follows.

export function prefixEnd(prefix: string): string {
  if (prefix === '') throw new Error('an empty prefix has no upper bound')
  const last = prefix.charCodeAt(prefix.length - 1)
  return prefix.slice(0, -1) + String.fromCharCode(last + 1)
}
