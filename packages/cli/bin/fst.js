#!/usr/bin/env node
// One esbuild bundle (src/fst-main.ts), like fst-action: less memory per node than loading every module.
import '../dist/bundle/fst-main.mjs'
