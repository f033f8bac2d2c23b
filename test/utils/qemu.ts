import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { NodeBins } from './mesh.js'

/**
 * Running the arm64 packages' program on this x86-64 machine: qemu's user-mode emulator (Debian's
 * qemu-user-static) on the package's own aarch64 Node runtime, with Debian's arm64 cross libraries
 * (libc6-arm64-cross, libstdc++6-arm64-cross) as the dynamic linker's root. qemu is called by name, not through
 * binfmt_misc, which a container often lacks; the programs the node starts (perl, the action scripts) are
 * this machine's and run natively.
 */

export const QEMU = '/usr/bin/qemu-aarch64-static'
/** Where the cross packages install arm64's /lib: qemu's -L. */
export const ARM64_SYSROOT = '/usr/aarch64-linux-gnu'

/** Throws, naming the Debian packages, where the emulator or the arm64 libraries are missing. */
export function requireQemu (): void {
  const missing = [QEMU, join(ARM64_SYSROOT, 'lib/ld-linux-aarch64.so.1'), join(ARM64_SYSROOT, 'lib/libstdc++.so.6')].filter(f => !existsSync(f))
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')}: apt-get install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross (.ci/run does)`)
  }
}

/**
 * The payload's launcher `bin/<name>` (of an unpacked arm64 tarball at `top`) as a script in `dir` that runs
 * the same command under qemu: the shipped launcher's text, its `lib=` set to `top` and its `exec` line
 * prefixed by the emulator, so the Node flags and the entry point are the package's own.
 */
function qemuLauncher (top: string, name: 'fst' | 'fst-action', dir: string): string {
  const shipped = readFileSync(join(top, 'bin', name), 'utf8')
  const wrapped = shipped
    .replace(/^lib=.*$/m, `lib='${top}'`)
    .replace(/^exec "\$lib\/node" /m, `exec ${QEMU} -L ${ARM64_SYSROOT} "$lib/node" `)
  if (wrapped.split('\n').filter((l, i) => l !== shipped.split('\n')[i]).length !== 2) {
    throw new Error(`${join(top, 'bin', name)}: not the launcher test/utils/qemu.ts knows:\n${shipped}`)
  }
  const file = join(dir, name)
  writeFileSync(file, wrapped, { mode: 0o755 })
  return file
}

/** Mesh bins (test/utils/mesh.ts) for an unpacked arm64 tarball at `top`, the wrappers written into `dir`. */
export function qemuBins (top: string, dir: string): NodeBins {
  return { fst: qemuLauncher(top, 'fst', dir), fstAction: qemuLauncher(top, 'fst-action', dir) }
}

/** The ELF machine of a binary: 62 x86-64, 183 aarch64 (e_machine, little-endian at offset 18). */
export function elfMachine (file: string): number {
  const header = Buffer.alloc(20)
  const fd = openSync(file, 'r')
  try { readSync(fd, header, 0, 20, 0) } finally { closeSync(fd) }
  return header.readUInt16LE(18)
}
