import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pWaitFor from 'p-wait-for'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLauncher, DirectLauncher, ForkServer, type Launcher, type LaunchRequest, MAX_SCRIPT_OUTPUT } from '../src/actions/launch/index.js'

const PERL = '/usr/bin/perl'
let root: string
const launchers: Launcher[] = []

beforeAll(() => {
  // Debian's perl-base is essential, so the fork server is what a Debian node runs; fail, do not skip, without it
  expect(existsSync(PERL)).toBe(true)
  root = mkdtempSync(join(tmpdir(), 'fst-fork-server-'))
})
afterAll(() => {
  for (const l of launchers) l.close()
  rmSync(root, { recursive: true, force: true })
})

function forkServer (logLines: Array<Record<string, unknown>> = []) {
  const stream = new Writable({ write (chunk, _enc, done) { logLines.push(JSON.parse(String(chunk))); done() } })
  const server = new ForkServer(PERL, new DirectLauncher(), pino({ level: 'debug' }, stream))
  launchers.push(server)
  return server
}

let scripts = 0
function script (body: string): string {
  const file = join(root, `script-${++scripts}`)
  writeFileSync(file, body)
  chmodSync(file, 0o755)
  return file
}

const request = (command: string, extra: Partial<LaunchRequest> = {}): LaunchRequest =>
  ({ command, args: [], cwd: root, env: { PATH: '/usr/bin:/bin' }, input: null, ...extra })

describe('ForkServer', () => {
  it('forks scripts from the helper, not from the daemon, and passes argv literally, never through a shell', async () => {
    const server = forkServer()
    const marker = join(root, 'injected')
    const out = await server.launch(request(script('#!/bin/sh\necho "$PPID"\nprintf "%s|" "$@"\n'), { args: [`$(touch ${marker})`, 'a b', ';', ''] })).exited
    const [ppid, args] = out.stdout.split('\n')
    expect(Number(ppid)).not.toBe(process.pid)
    expect(Number(ppid)).toBe(server.helperPid)
    // what an administrator sees in ps instead of the whole program
    expect(readFileSync(`/proc/${server.helperPid}/cmdline`, 'utf8').replace(/\0+$/, '')).toBe('fst fork server')
    expect(args).toBe(`$(touch ${marker})|a b|;||`)
    expect(existsSync(marker)).toBe(false)
    expect(out.code).toBe(0)
  })

  it('gives the script exactly the environment asked for, default signal handling and its own session', async () => {
    const server = forkServer()
    const body = '#!/bin/bash\nenv | sort\ngrep -E "^SigIgn" /proc/$$/status\nps -o sid= -p $$ | tr -d " "\necho "pid $$"\n'
    const out = await server.launch(request(script(body), { env: { PATH: '/usr/bin:/bin', FST_IP: '203.0.113.7' } })).exited
    const lines = out.stdout.split('\n')
    expect(lines.filter(l => l.includes('=') && !l.startsWith('_=') && !l.startsWith('PWD=') && !l.startsWith('SHLVL='))).toEqual(['FST_IP=203.0.113.7', 'PATH=/usr/bin:/bin'])
    // the helper ignores SIGPIPE (and perl SIGFPE) for itself; a script must see what a spawned one sees
    const spawned = await new DirectLauncher().launch(request(script(body))).exited
    const ignored = (text: string) => text.split('\n').find(l => l.startsWith('SigIgn'))
    expect(ignored(out.stdout)).toBeDefined()
    expect(ignored(out.stdout)).toBe(ignored(spawned.stdout))
    const pid = lines.find(l => l.startsWith('pid '))!.slice(4)
    expect(lines).toContain(pid) // session id == its pid: setsid, so a kill of the group reaches what it started
  })

  it('writes a large stdin while the script writes more output than is kept, without deadlock', async () => {
    const server = forkServer()
    const input = 'sshd tcp 22 203.0.113.7 600\n'.repeat(40_000) // ~1.1 MB, far beyond a pipe buffer
    // echo every line back on stdout and count on stderr: output and input flow at the same time
    const out = await server.launch(request(script('#!/bin/sh\ncat\nwc -l < /dev/null >&2\necho lines-done >&2\n'), { input })).exited
    expect(out.code).toBe(0)
    expect(out.stdout.startsWith('sshd tcp 22 203.0.113.7 600\nsshd')).toBe(true)
    expect(out.stdout).toMatch(new RegExp(`…\\[${input.length - MAX_SCRIPT_OUTPUT} bytes dropped\\]$`))
    expect(out.stderr).toBe('0\nlines-done')
  })

  it('reports a script that cannot be exec\'d as an error, and keeps serving', async () => {
    const server = forkServer()
    const missing = await server.launch(request(join(root, 'does-not-exist'))).exited
    expect(missing.error).toMatch(/cannot run .*does-not-exist: No such file/)
    const broken = await server.launch(request(script('#!/nonexistent/interpreter\n'))).exited
    expect(broken.error).toMatch(/No such file/)
    expect((await server.launch(request(script('#!/bin/sh\nexit 4\n'))).exited).code).toBe(4)
  })

  it('does not wait past the grace for something the script left holding its pipes', async () => {
    const server = forkServer()
    const started = performance.now()
    const out = await server.launch(request(script('#!/bin/sh\nsetsid sleep 30 &\necho left\n'))).exited
    expect(out).toMatchObject({ code: 0, stdout: 'left' })
    expect(performance.now() - started).toBeLessThan(5000)
  })

  it('signals the whole process group of a running script', async () => {
    const server = forkServer()
    const pidFile = join(root, 'grandchild.pid')
    const launch = server.launch(request(script(`#!/bin/sh\nsleep 30 &\necho $! > '${pidFile}'\nwait\n`)))
    await pWaitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), { interval: 10, timeout: 5000 })
    const grandchild = Number(readFileSync(pidFile, 'utf8'))
    launch.signal('SIGTERM')
    const out = await launch.exited
    expect(out.code).toBeNull()
    await pWaitFor(() => !existsSync(`/proc/${grandchild}`) || readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(' ')[2] === 'Z', { interval: 10, timeout: 5000 })
  })

  it('fails the running script when the helper dies, logs it, and starts a new helper for the next', async () => {
    const logLines: Array<Record<string, unknown>> = []
    const server = forkServer(logLines)
    const launch = server.launch(request(script('#!/bin/sh\nsleep 30\n')))
    const first = server.helperPid!
    process.kill(first, 'SIGKILL')
    const out = await launch.exited
    expect(out.error).toMatch(/fork server exited/)
    expect(logLines.find(l => l.msg === 'fork server exited; starting another for the next script')).toBeDefined()
    const next = await server.launch(request(script('#!/bin/sh\necho again\n'))).exited
    expect(next).toMatchObject({ code: 0, stdout: 'again' })
    expect(server.helperPid).toBeDefined()
    expect(server.helperPid).not.toBe(first)
  })

  it('runs the script through the fallback when perl cannot be started, and every later one too', async () => {
    const logLines: Array<Record<string, unknown>> = []
    const stream = new Writable({ write (chunk, _enc, done) { logLines.push(JSON.parse(String(chunk))); done() } })
    const server = new ForkServer(join(root, 'no-such-perl'), new DirectLauncher(), pino({ level: 'debug' }, stream))
    launchers.push(server)
    const body = '#!/bin/sh\necho "$PPID"\n'
    const first = await server.launch(request(script(body))).exited
    expect(first.code).toBe(0)
    expect(Number(first.stdout)).toBe(process.pid) // spawned by the daemon itself
    expect(logLines.find(l => l.msg === 'fork server did not start; the daemon forks scripts itself')).toBeDefined()
    expect((await server.launch(request(script(body))).exited).stdout).toBe(String(process.pid))
    expect(server.helperPid).toBeUndefined()
  })

  it('refuses a NUL byte in an argument instead of truncating it', async () => {
    const server = forkServer()
    const out = await server.launch(request(script('#!/bin/sh\necho ran\n'), { args: ['a\0b'] })).exited
    expect(out.error).toMatch(/NUL/)
    expect(out.stdout).toBe('')
  })
})

describe('createLauncher', () => {
  it('uses the fork server where perl exists, and spawn when asked or on Windows', () => {
    const log = pino({ level: 'silent' })
    const auto = createLauncher(log, 'auto')
    launchers.push(auto)
    expect(auto).toBeInstanceOf(ForkServer)
    expect(createLauncher(log, 'spawn')).toBeInstanceOf(DirectLauncher)
    expect(createLauncher(log, 'auto', 'win32')).toBeInstanceOf(DirectLauncher)
  })
})
