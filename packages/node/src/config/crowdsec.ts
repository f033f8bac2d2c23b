import { NAME_PATTERN, PROTOCOL_PATTERN, validatePort } from '@fst/protocol'
import * as z from 'zod'

const name = z.string().regex(NAME_PATTERN)
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits (sha256sum of the key)')

/** One bouncer allowed to pull decisions: the key is stored as its SHA-256, never in clear. */
const bouncerKey = z.strictObject({
  /** A name for logs (bounded: never a metrics label). */
  name,
  /** `printf %s KEY | sha256sum`: lowercase hex of the key's SHA-256. */
  sha256: sha256Hex,
  /**
   * The bouncer feeds a CrowdSec (e.g. a custom bouncer calling cscli): leave out the decisions this node took
   * from its own CrowdSec, so that they do not come back to where they started.
   * @default false
   */
  excludeLocalCrowdsec: z.boolean().default(false)
})

/** The CrowdSec integration: a LAPI-compatible decisions endpoint, and a local CrowdSec LAPI as a source. */
export const crowdsecSchema = z.strictObject({
  /** Decisions endpoint for CrowdSec bouncers (`GET /v1/decisions/stream`, `GET /v1/decisions`). */
  lapi: z.strictObject({
    /** `host:port`; null: off. */
    listen: z.string().min(1).nullable(),
    /** Bouncers allowed to pull, by key hash. */
    keys: z.array(bouncerKey).max(256),
    /** FST actions served as CrowdSec `ban` decisions. */
    actions: z.array(name).min(1).max(16),
    /** Most decisions (new + deleted) in one answer; a bouncer gets the rest on its next pull. */
    maxDecisions: z.number().int().min(1).max(1_000_000)
  }),
  /** A local CrowdSec LAPI polled for its decisions, which are published to the mesh. */
  source: z.strictObject({
    /** Base URL of the CrowdSec LAPI, e.g. `http://127.0.0.1:8080/`; null: off. */
    url: z.url({ protocol: /^https?$/ }).nullable(),
    /** File holding the bouncer key (`cscli bouncers add fst -o raw`); mode 0600. */
    apiKeyFile: z.string().min(1).nullable(),
    /** Seconds between polls. */
    intervalS: z.number().min(0.1).max(3600),
    /** CrowdSec decision origins published (not `CAPI`/`lists`: every CrowdSec gets those itself). */
    origins: z.array(z.string().min(1).max(64)).min(1).max(16),
    /** FST name (jail) of the published events. */
    name,
    /** Protocol and port of the published events (a CrowdSec ban covers every port). */
    protocol: z.string().regex(PROTOCOL_PATTERN),
    port: z.string().refine(p => validatePort(p).valid, 'not a valid FST port list'),
    /** Decisions whose scenario starts with this came from FST (the shipped ban.d script's reason): never republished. */
    fstScenarioPrefix: z.string().min(1).max(64),
    /** Most decisions taken from one answer; the rest are dropped and counted. */
    maxDecisions: z.number().int().min(1).max(1_000_000),
    /** Largest answer body read, in bytes. */
    maxBodyBytes: z.number().int().min(1024).max(256 * 1024 * 1024)
  })
})

export type CrowdsecConfig = z.infer<typeof crowdsecSchema>

export const defaultCrowdsecConfig: CrowdsecConfig = {
  lapi: { listen: null, keys: [], actions: ['ban'], maxDecisions: 100_000 },
  source: {
    url: null,
    apiKeyFile: null,
    intervalS: 10,
    origins: ['crowdsec', 'cscli'],
    name: 'crowdsec',
    protocol: 'all',
    port: '0:65535',
    fstScenarioPrefix: 'fst/',
    maxDecisions: 100_000,
    maxBodyBytes: 64 * 1024 * 1024
  }
}
