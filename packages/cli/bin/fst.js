#!/usr/bin/env -S node --max-semi-space-size=4
// --max-semi-space-size=4 (MB; Node 20's default grows to 16): V8 never gives a grown young generation back,
// so a node kept ~15 MB more RSS at rest for nothing. Throughput at 10,000-12,000 bans/s unchanged
// (docs/benchmarks.md). `env -S` needs coreutils 8.30 (Debian 10) or later.
// One esbuild bundle (src/fst-main.ts), like fst-action: less memory per node than loading every module.
import '../dist/bundle/fst-main.mjs'
