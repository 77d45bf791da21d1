#!/usr/bin/env -S node --max-semi-space-size=32 --heap-growing-percent=100
import { main } from './program.js'

main(process.argv).then(
  (code) => {
    process.exitCode = code
  },
  () => {
    process.exitCode = 1
  },
)
