import { describeError } from './errors.js'

/** Runs a bin entry: prints its output, turns user errors into one stderr line and an exit code. */
export function main (run: () => Promise<string | undefined>, prefix: string): void {
  // `fst export | head`: a reader that leaves early is no error
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
  run().then(out => {
    if (typeof out === 'string' && out !== '') process.stdout.write(out.endsWith('\n') ? out : `${out}\n`)
  }, (err: unknown) => {
    const { line, code } = describeError(err)
    process.stderr.write(`${prefix}: ${line}\n`)
    process.exitCode = code
  })
}
