/** What the bundler (bundle.mjs) writes in at build time; absent when the sources run unbundled (tests, tsx). */
declare const FST_BUILD: { version: string, commit: string | null } | undefined

/** Version and git commit of this build: `{ version: 'dev', commit: null }` when not built by bundle.mjs. */
export const build: { version: string, commit: string | null } = typeof FST_BUILD === 'undefined' ? { version: 'dev', commit: null } : FST_BUILD

/** `fst 0.2.0 (git 1a2b3c4d5e6f, Node v24.11.0)`: what `--version` prints. */
export function versionText (program: string): string {
  const from = build.commit === null ? '' : `git ${build.commit}, `
  return `${program} ${build.version} (${from}Node ${process.version})`
}
