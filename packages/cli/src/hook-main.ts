// Entry of the bundled hook (dist/bundle/hook-main.mjs): one file to load, no libp2p, no schema library.
import { hook } from './hook.js'
import { main } from './main.js'

main(() => hook(process.argv.slice(2)), 'fst-action')
