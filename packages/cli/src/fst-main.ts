// Entry of the bundled `fst` (dist/bundle/fst-main.mjs): one minified file instead of ~2,000 modules keeps an
// idle node ~15 MB smaller (V8 keeps every module's source text and records). lmdb (native) and
// @fst/metrics (serves files beside its code) stay outside the bundle.
import { cli } from './cli.js'
import { main } from './main.js'

main(() => cli(process.argv), 'fst')
