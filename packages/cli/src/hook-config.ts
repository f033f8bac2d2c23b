// Entry of dist/hook/config-file.cjs: the hook's config path (`--config`, $FST_CONFIG, /etc/fst/config.yml),
// bundled apart because it brings the YAML parser, 171 of the hook's 214 kB: a hook called with --socket
// (fail2ban's action) never loads it.
export * from '@fst/node/config-file'
