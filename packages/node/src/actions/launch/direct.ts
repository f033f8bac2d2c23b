import { spawn } from 'node:child_process'
import { formatOutput, killGroup, type Launch, type Launcher, type LaunchRequest, MAX_SCRIPT_OUTPUT, notStarted, PIPE_GRACE_MS, type ScriptExit } from './launcher.js'

/** Spawns each script from the daemon process itself (Windows, or POSIX without perl). */
export class DirectLauncher implements Launcher {
  launch (request: LaunchRequest): Launch {
    // POSIX: its own process group, so a kill also reaches what the script started (a `sleep` in sh
    // survives its shell and would hold the output pipes open)
    const group = process.platform !== 'win32'
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(request.command, request.args, {
        cwd: request.cwd,
        env: request.env,
        stdio: [request.input === null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        shell: false,
        detached: group,
        windowsHide: true
      })
    } catch (err) {
      // invalid arguments (a NUL byte) throw instead of emitting 'error'
      return { signal: () => {}, exited: Promise.resolve(notStarted((err as Error).message)) }
    }
    const signal = (sig: NodeJS.Signals) => {
      if (group && child.pid !== undefined) killGroup(child.pid, sig)
      else child.kill(sig)
    }
    const exited = new Promise<ScriptExit>(resolve => {
      const stdout = capture(child.stdout)
      const stderr = capture(child.stderr)
      if (request.input !== null) {
        child.stdin?.on('error', () => {}) // a script that exits without reading is its own business
        child.stdin?.end(request.input)
      }
      let settled = false
      let graceTimer: NodeJS.Timeout | undefined
      const finish = (code: number | null, error?: string) => {
        if (settled) return
        settled = true
        clearTimeout(graceTimer)
        resolve({ code, stdout: stdout(), stderr: stderr(), ...(error === undefined ? {} : { error }) })
      }
      child.on('error', err => finish(null, err.message))
      child.on('close', code => finish(code))
      // a process that escaped the group (setsid) may keep the pipes open: do not wait for it past the grace
      child.on('exit', code => {
        graceTimer = setTimeout(() => {
          child.stdout?.destroy()
          child.stderr?.destroy()
          finish(code)
        }, PIPE_GRACE_MS)
      })
    })
    return { signal, exited }
  }

  close (): void {}
}

function capture (stream: NodeJS.ReadableStream | null) {
  let text = ''
  let dropped = 0
  stream?.setEncoding('utf8')
  stream?.on('data', (chunk: string) => {
    const room = MAX_SCRIPT_OUTPUT - text.length
    if (room > 0) text += chunk.slice(0, room)
    dropped += Math.max(0, chunk.length - Math.max(room, 0))
  })
  return () => formatOutput(text, dropped)
}
