// Builds the two bundles the bins load: dist/bundle/fst-main.mjs (`fst`) and dist/hook/fst-action.cjs
// (`fst-action`, with dist/hook/config-file.cjs beside it). The package version and, in a git checkout, the commit are written into both
// (`fst --version`); a build outside git says nothing about a commit instead of failing.
import { execFileSync } from 'node:child_process'
import { cpSync, readFileSync, rmSync } from 'node:fs'
import { build } from 'esbuild'

const here = import.meta.dirname
const { version } = JSON.parse(readFileSync(`${here}/package.json`, 'utf8'))

function gitCommit () {
  try {
    const git = args => execFileSync('git', args, { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const commit = git(['rev-parse', '--short=12', 'HEAD'])
    // uncommitted changes in the tree: the build is not exactly that commit
    return git(['status', '--porcelain', '--untracked-files=no']) === '' ? commit : `${commit}-dirty`
  } catch {
    return null
  }
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: true,
  logLevel: 'warning',
  absWorkingDir: here,
  define: { FST_BUILD: JSON.stringify({ version, commit: gitCommit() }) }
}

/**
 * The hook's config reader (and the YAML parser it needs) is a file of its own beside the hook, loaded only
 * when no socket is given: parsing it made every hook call ~5 ms slower (docs/benchmarks.md, the hook).
 */
const configFileApart = {
  name: 'config-file-apart',
  setup (b) {
    b.onResolve({ filter: /^@fst\/node\/config-file$/ }, () => ({ path: './config-file.cjs', external: true }))
  }
}

// esbuild leaves the chunks of earlier builds in the output folders: start empty
for (const dir of ['dist/bundle', 'dist/hook', 'dist/public']) rmSync(`${here}/${dir}`, { recursive: true, force: true })
// the dashboard's files, where @fst/metrics looks for them from its bundled code: ../public/ of dist/bundle/
cpSync(`${here}/../metrics/public`, `${here}/dist/public`, { recursive: true })

await Promise.all([
  // everything but lmdb (a native addon) is in the bundle, so the package ships no node_modules tree beside it
  // (the GeoIP databases are data files @fst/metrics resolves at run time, from the fst-geoip package)
  build({
    ...common,
    entryPoints: ['src/fst-main.ts'],
    external: ['lmdb'],
    splitting: true,
    format: 'esm',
    outdir: 'dist/bundle',
    outExtension: { '.js': '.mjs' },
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" }
  }),
  build({ ...common, entryPoints: ['src/hook-main.ts'], format: 'cjs', outfile: 'dist/hook/fst-action.cjs', plugins: [configFileApart] }),
  build({ ...common, entryPoints: ['src/hook-config.ts'], format: 'cjs', outfile: 'dist/hook/config-file.cjs' })
])
