import { UsageError } from './errors.js'

/** Runs a bin entry: prints its output, turns user errors into one stderr line and an exit code. */
export function main (run: () => Promise<string | undefined | undefined>, prefix: string): void {
  run().then(out => {
    if (typeof out === 'string' && out !== '') process.stdout.write(out.endsWith('\n') ? out : `${out}\n`)
  }, (err: unknown) => {
    const known = err instanceof UsageError || (err as Error)?.name === 'ConfigError' || (err as Error)?.name === 'PeersFileError'
    process.stderr.write(`${prefix}: ${known ? (err as Error).message : (err as Error)?.stack ?? String(err)}\n`)
    process.exitCode = err instanceof UsageError ? err.exitCode : known ? 2 : 70
  })
}
