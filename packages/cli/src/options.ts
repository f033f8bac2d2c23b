/** Options shared by several commands: here rather than in cli.ts, which imports the commands. */

/** `--config`, for every command that reads the node's configuration. */
export const CONFIG_FLAG = ['-c, --config <path>', 'config file (default: $FST_CONFIG, else /etc/fst/config.yml if it exists, else built-in defaults)'] as const
