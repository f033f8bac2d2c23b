/**
 * Action scripts that record when they started, in microseconds, without forking: bash's EPOCHREALTIME.
 * Lines are `<ip> <start-µs>` in `<node>/lat.log`.
 */
export const LATENCY_SCRIPT = `#!/bin/bash
t=\${EPOCHREALTIME/./}
echo "$4 $t" >> ../../lat.log
`

/** The batch twin: one start time for every line of the batch. */
export const LATENCY_BATCH_SCRIPT = `#!/bin/bash
t=\${EPOCHREALTIME/./}
awk -v t="$t" '{ print $4, t }' >> ../../lat.log
`
