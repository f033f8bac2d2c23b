#!/usr/bin/env node
// The hook fail2ban calls for every ban: one CommonJS bundle, which Node loads ~5 ms faster than ES modules
// (its config reader, with the YAML parser, is a second file it loads only without --socket).
'use strict'
require('../dist/hook/fst-action.cjs')
