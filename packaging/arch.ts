/**
 * The CPU architectures `pnpm package` builds for, with each one's name in every format that names it: Node's
 * (`process.arch`, the npm `cpu` field, the node-linux-<arch> runtime package, the tarball), Debian's, RPM's,
 * and the binutils that strip its ELF files on an x86-64 build machine.
 */
export interface Arch {
  /** Node's name (`process.arch`), also the npm `cpu` and the tarball's: `fst-<v>-linux-<node>.tar.gz`. */
  node: 'x64' | 'arm64'
  /** Debian's: `fst_<v>_<deb>.deb`. */
  deb: 'amd64' | 'arm64'
  /** RPM's (`rpmbuild --target`): `fst-<v>-1.<rpm>.rpm`. */
  rpm: 'x86_64' | 'aarch64'
  /** `strip` for its ELF files: the native one, or the cross one (Debian's binutils-aarch64-linux-gnu). */
  strip: string
}

export const ARCHES: readonly Arch[] = [
  { node: 'x64', deb: 'amd64', rpm: 'x86_64', strip: 'strip' },
  { node: 'arm64', deb: 'arm64', rpm: 'aarch64', strip: 'aarch64-linux-gnu-strip' }
]

/** An architecture by Node's name; throws for one not built. */
export function archNamed (node: string): Arch {
  const arch = ARCHES.find(a => a.node === node)
  if (arch === undefined) throw new Error(`no packages for ${node}: ${ARCHES.map(a => a.node).join(', ')}`)
  return arch
}
