/** Synchronous teardowns still owed: run if the test process ends without its afterAll (a crash, a signal). */
const owed = new Set<() => void>()
let hooked = false

/**
 * Registers the last-resort teardown of something a test created (namespaces, processes, folders). The
 * returned function takes it off again: call it from the normal teardown.
 */
export function atLastResort (teardown: () => void): () => void {
  if (!hooked) {
    hooked = true
    const sweep = () => { for (const t of [...owed]) t() }
    process.once('exit', sweep)
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => { sweep(); process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1)) })
    }
  }
  owed.add(teardown)
  return () => { owed.delete(teardown) }
}
