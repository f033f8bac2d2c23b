/**
 * @packageDocumentation
 * The FST wire: what an event is, how a batch of events is encoded, and the rules every node applies
 * to input it did not produce. Pure functions, no I/O, so the hook can load it in milliseconds.
 */
export * from './address.js'
export * from './control.js'
export * from './embedded.js'
export * from './errors.js'
export * from './event.js'
export * from './ledger.js'
export * from './message.js'
export * from './policy.js'
export * from './proof.js'
export * from './spool.js'
