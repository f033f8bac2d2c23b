#!/usr/bin/env node
import { cli } from '../dist/cli.js'
import { main } from '../dist/main.js'

main(() => cli(process.argv), 'fst')
