#!/usr/bin/env -S node --max-semi-space-size=1
// --max-semi-space-size=1: V8's young generation grows to 2 × 16 MB while the node starts and stays there;
// 1 MB keeps an idle node near 90 MB RSS instead of 105-115 (test/core/memory.test.ts). pnpm's bin shim keeps the flag.
import { cli } from '../dist/cli.js'
import { main } from '../dist/main.js'

main(() => cli(process.argv), 'fst')
