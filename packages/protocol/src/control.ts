/**
 * The control socket speaks newline-delimited JSON: one request per line, one response per line,
 * in order, so a client may pipeline thousands of requests on one connection.
 */

/** Longest request line the node reads; longer lines close the connection. */
export const MAX_CONTROL_LINE = 64 * 1024

export type ControlRequest =
  | { op: 'publish', action: string, name: string, protocol: string, port: string, ip: string, duration?: number }
  | { op: 'status' }
  | { op: 'peers' }
  | { op: 'list', action?: string, name?: string, ip?: string, all?: boolean, overlapping?: boolean }
  | { op: 'repin', peer: string }

export type ControlResponse =
  | { ok: true, [key: string]: unknown }
  | { ok: false, error: string, code: string }
