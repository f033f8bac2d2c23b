import { describe, expect, it } from 'vitest'
import { defaultConfig } from '../src/config/config.js'
import { ConfigError } from '../src/errors.js'
import { gossipTuning, LARGE_FLEET, SMALL_FLEET } from '../src/mesh/fleet-params.js'

describe('gossipsub parameters by fleet size', () => {
  const gossip = defaultConfig.gossip

  it('keeps the small-fleet set below largeFleetAt and switches at it', () => {
    expect(gossipTuning(30, gossip)).toEqual(SMALL_FLEET)
    expect(gossipTuning(gossip.largeFleetAt - 1, gossip)).toEqual(SMALL_FLEET)
    expect(gossipTuning(gossip.largeFleetAt, gossip)).toEqual(LARGE_FLEET)
    expect(gossipTuning(1000, gossip).floodPublish).toBe(false)
  })

  it('applies every non-null override on top of the chosen set', () => {
    const tuned = gossipTuning(100, { ...gossip, floodPublish: true, D: 6, Dlo: 4, gossipFactor: 0.05 })
    expect(tuned).toMatchObject({ floodPublish: true, D: 6, Dlo: 4, Dhi: 12, Dout: 3, Dscore: 4, gossipFactor: 0.05 })
    // Dscore never above D
    expect(gossipTuning(10, { ...gossip, D: 1, Dlo: 1, Dout: 0 }).Dscore).toBe(1)
  })

  it('refuses overrides that break gossipsub rules, naming the key', () => {
    const bad = (over: Partial<typeof gossip>, size = 100) => () => gossipTuning(size, { ...gossip, ...over })
    expect(bad({ D: 5 })).toThrow(ConfigError)
    expect(bad({ D: 5 })).toThrow(/gossip\.Dlo/)
    expect(bad({ Dhi: 7 })).toThrow(/gossip\.D /)
    expect(bad({ Dout: 6 })).toThrow(/gossip\.Dout/)
  })
})
