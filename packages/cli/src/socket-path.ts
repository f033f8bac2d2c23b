/**
 * The control socket to talk to: `--socket`, else $FST_SOCKET, else the `controlSocket` of the config file
 * (`--config`, else $FST_CONFIG, else /etc/fst/config.yml if it exists, else defaults). The config path loads
 * a YAML parser, the socket path loads nothing: fail2ban's action passes the socket so the hook starts as
 * fast as Node itself.
 */
export async function socketPath (opts: { socket?: string, config?: string }): Promise<string> {
  const direct = opts.socket ?? process.env.FST_SOCKET
  if (direct !== undefined && direct !== '') return direct
  const { configPathFrom, controlSocketOf } = await import('@fst/node/config-file')
  return controlSocketOf(configPathFrom(opts.config))
}
