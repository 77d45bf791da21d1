#!/usr/bin/env -S node --max-semi-space-size=32 --heap-growing-percent=100
import { main } from './program.js'

// Output piped into a reader that stopped (`mbwa config | head -1`): nothing more to say, and nothing wrong.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode === undefined ? 0 : Number(process.exitCode))
    throw err
  })
}

main(process.argv).then(
  (code) => {
    process.exitCode = code
  },
  () => {
    process.exitCode = 1
  },
)
