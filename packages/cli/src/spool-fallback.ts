import { ControlClient } from './control-client.js'
import { NodeUnavailableError } from './errors.js'

/**
 * `fst ban`/`unban`/`publish`: a connection to the node, or, when no node runs there, the report queued in
 * the spool (the QUEUED line emitted) and null.
 */
export async function connectOrQueue (path: string, opts: { config?: string, socket?: string }, request: Record<string, unknown>, emit: (text: string) => void): Promise<ControlClient | null> {
  const time = Date.now()
  try {
    return await ControlClient.connect(path)
  } catch (err) {
    if (!(err instanceof NodeUnavailableError)) throw err
    const { queueReport } = await import('./spool.js')
    emit(await queueReport(opts, request, time, err))
    return null
  }
}
