#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4
// MALLOC_ARENA_MAX=2: glibc gives each thread that allocates at once an arena of its own (up to 8 per core),
// and each keeps its peak: libuv's pool, V8's compiler threads and lmdb all malloc. Two took ~60 MB off
// a 100,000-ban receiver (docs/benchmarks.md, Footprint).
// --max-semi-space-size=4 (MB; Node 20's default grows to 16): V8 never gives a grown young generation back,
// so a node kept ~15 MB more RSS at rest for nothing. Throughput at 10,000-12,000 bans/s unchanged
// (docs/benchmarks.md). `env -S` needs coreutils 8.30 (Debian 10) or later.
// One esbuild bundle (src/fst-main.ts), like fst-action: less memory per node than loading every module.
import '../dist/bundle/fst-main.mjs'
