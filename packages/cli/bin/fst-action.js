#!/usr/bin/env node
// The hook fail2ban calls for every ban: a single esbuild bundle so start-up costs little more than Node's.
import '../dist/bundle/hook-main.mjs'
