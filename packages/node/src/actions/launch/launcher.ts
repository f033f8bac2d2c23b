/** One script run: what to start, where, with which environment and stdin. */
export interface LaunchRequest {
  command: string
  args: string[]
  cwd: string
  /** The whole environment; nothing is inherited. */
  env: NodeJS.ProcessEnv
  /** Written to stdin, which is then closed; `null` gives the script /dev/null. */
  input: string | null
}

/** How a script ended. `error` means it never ran (not found, not executable, fork failed). */
export interface ScriptExit {
  /** Exit code; `null` when a signal ended it. */
  code: number | null
  stdout: string
  stderr: string
  error?: string
}

/** A started script. */
export interface Launch {
  /** Signals the script's process group (what it started, too). */
  signal: (sig: NodeJS.Signals) => void
  exited: Promise<ScriptExit>
}

/** Starts scripts in their own process group with bounded output capture; never through a shell. */
export interface Launcher {
  launch: (request: LaunchRequest) => Launch
  /** Stops the launcher's helper process, if any; running scripts are not waited for. */
  close: () => void
}

/** Bytes of a script's stdout and of its stderr kept for the log. */
export const MAX_SCRIPT_OUTPUT = 4096
/** How long pipes may stay open after the script exited (something it started escaped the group). */
export const PIPE_GRACE_MS = 1000

/** A captured stream as the log shows it: trimmed, with a note of what did not fit. */
export function formatOutput (text: string, dropped: number): string {
  return (dropped > 0 ? `${text}…[${dropped} bytes dropped]` : text).trim()
}

/** The exit of a script that never ran. */
export function notStarted (error: string): ScriptExit {
  return { code: null, stdout: '', stderr: '', error }
}

/** Signals a script's whole process group (its pid leads one: it was started with setsid). */
export function killGroup (pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig)
  } catch {} // already gone
}
