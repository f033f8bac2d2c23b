/** The parts of an idle node's stack idle-floor.ts measures, each including the ones before it that it names. */
export const LEVELS = ['bare', 'lmdb', 'libp2p', 'gossipsub', 'gossipsub+lmdb'] as const
export type Level = typeof LEVELS[number]
