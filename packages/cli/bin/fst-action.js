#!/usr/bin/env node
// The hook: kept to the control-socket client so fail2ban waits milliseconds, not libp2p's start-up.
import { hook } from '../dist/hook.js'
import { main } from '../dist/main.js'

main(() => hook(process.argv.slice(2)), 'fst-action')
