import { fork } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ControlClient, unreachable } from '../src/control-client.js'
import { NodeUnavailableError } from '../src/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'fst-control-client-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/**
 * A control socket whose node is busy: a listen backlog of 1 and an event loop blocked for `busyMs` after
 * listening, so further connects find the backlog full (EAGAIN) until it accepts again.
 */
function busyServer (path: string, busyMs: number): Promise<() => void> {
  const script = join(dir, 'server.mjs')
  writeFileSync(script, `import { createServer } from 'node:net'
const server = createServer(s => s.end())
server.listen({ path: ${JSON.stringify(path)}, backlog: 1 }, () => {
  process.send('listening')
  const end = Date.now() + ${busyMs}
  while (Date.now() < end) {}
})
`)
  const child = fork(script)
  return new Promise(resolve => child.once('message', () => resolve(() => child.kill())))
}

describe('ControlClient.connect', () => {
  it('retries while a busy node has its backlog full (EAGAIN) instead of reporting no node', async () => {
    const path = join(dir, 'busy.sock')
    const stop = await busyServer(path, 600)
    try {
      const clients = await Promise.all(Array.from({ length: 6 }, () => ControlClient.connect(path)))
      expect(clients).toHaveLength(6)
      for (const c of clients) c.close()
    } finally {
      stop()
    }
  })

  it('still fails with exit code 3 when no node listens', async () => {
    await expect(ControlClient.connect(join(dir, 'nobody.sock'))).rejects.toMatchObject({ exitCode: 3, message: expect.stringContaining('no FST node is running') })
  })
})

describe('unreachable', () => {
  const err = (code: string) => Object.assign(new Error(`connect ${code} /x.sock`), { code })
  it('takes a node dying or stopping during the connect as unavailable, so the report is spooled', () => {
    for (const code of ['ECONNRESET', 'EPIPE', 'ECONNABORTED']) {
      expect(unreachable('/x.sock', err(code))).toMatchObject({ name: 'NodeUnavailableError', reason: 'closed', exitCode: 3 })
    }
    expect(unreachable('/x.sock', err('ENOENT'))).toMatchObject({ name: 'NodeUnavailableError', reason: 'not_running' })
    expect(unreachable('/x.sock', err('EAGAIN'))).toMatchObject({ name: 'NodeUnavailableError', reason: 'timeout' })
  })

  it('does not spool for a caller the socket refuses (permission denied)', () => {
    const e = unreachable('/x.sock', err('EACCES'))
    expect(e).not.toBeInstanceOf(NodeUnavailableError)
    expect(e).toMatchObject({ exitCode: 3, message: expect.stringContaining('permission denied') })
  })
})
