/** Why an event or a message was refused. Stable strings: counters and tests use them. */
export const RejectReason = {
  badShape: 'bad_shape',
  badAction: 'bad_action',
  badName: 'bad_name',
  badProtocol: 'bad_protocol',
  badPort: 'bad_port',
  badAddress: 'bad_address',
  badTime: 'bad_time',
  badDuration: 'bad_duration',
  tooLarge: 'too_large',
  prefixTooShort: 'prefix_too_short',
  protectedAddress: 'protected_address',
  badProof: 'bad_proof',
  badSignature: 'bad_signature'
} as const

export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason]

/** A validation outcome: untrusted input never throws, it returns one of these. */
export type Result<T> = { valid: true, value: T } | { valid: false, reason: RejectReason, error: string }

export function ok<T> (value: T): Result<T> {
  return { valid: true, value }
}

export function fail<T> (reason: RejectReason, error: string): Result<T> {
  return { valid: false, reason, error }
}
