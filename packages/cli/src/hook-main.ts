// Entry of the bundled hook (dist/hook/fst-action.cjs): one CommonJS file to load (Node starts those ~5 ms
// faster than ES modules), no libp2p, no schema library.
import { hook } from './hook.js'
import { main } from './main.js'

main(() => hook(process.argv.slice(2)), 'fst-action')
