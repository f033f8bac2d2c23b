/** A mistake the user can fix: printed as one line, no stack trace, exit code 2 (1 for refused input). */
export class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
  constructor (message: string, readonly exitCode = 2) {
    super(message)
  }
}
