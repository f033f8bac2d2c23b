/**
 * `pnpm bench [--quick]`: starts its own meshes of `fst start` processes on 127.0.0.1, measures, and prints
 * progress on stderr and, as the last line of stdout, one JSON object with every figure and its baseline.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg as osLoadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { ROOT } from '../utils/mesh.js'
import { crowdsecBouncerRssMb, sshguardRssMb } from './anchors.js'
import { fail2banClientRate } from './fail2ban-baseline.js'
import { nftApplySeconds } from './nft-apply.js'
import { writePropagationPlot, writeSeriesPlot } from './plot.js'
import { scale } from './scale.js'
import { catchUp, hookTime, propagation, throughput } from './scenarios.js'
import { packageSizes } from './package-size.js'
import { scriptStartMs } from './script-start.js'
import { soak } from './soak.js'
import { progress, round } from './stats.js'

const quick = process.argv.includes('--quick')
const scaleMode = process.argv.includes('--scale')
const soakMode = process.argv.includes('--soak')
const plan = quick
  ? { hookRuns: 15, scriptRuns: 20, sizes: [3, 5, 10], propSeconds: 3, slowRate: null, atRest: false, tputRate: 10_000, headroomRate: 12_000, tputSeconds: 2, baseRate: 2000, baseSeconds: 1, catchup: 10_000, f2b: 20 }
  : { hookRuns: 60, scriptRuns: 60, sizes: [3, 5, 10, 20, 30], propSeconds: 15, slowRate: 3, atRest: true, tputRate: 10_000, headroomRate: 12_000, tputSeconds: 30, baseRate: 10_000, baseSeconds: 5, catchup: 100_000, f2b: 100 }

async function run () {
  const started = performance.now()
  progress(`mode ${quick ? 'quick' : 'full'}`)
  progress(`hook: ${plan.hookRuns} runs each of fst-action (--socket and --config) and node -e 0`)
  const hook = await hookTime(plan.hookRuns)
  progress(`  hook ${hook.hook_ms_median} ms (config ${hook.hook_config_ms_median} ms), node -e 0 ${hook.node_e0_ms_median} ms`)

  progress(`script start: ${plan.scriptRuns} runs each through the fork server and through spawn(), one every 100 ms`)
  const scriptStart = await scriptStartMs(plan.scriptRuns)
  progress(`  launch request → the script's first statement: fork server ${scriptStart.forkServer} ms, spawn() ${scriptStart.spawn} ms`)

  const curve = []
  for (const nodes of plan.sizes) {
    progress(`propagation: ${nodes} nodes, 10 bans/s for ${plan.propSeconds} s`)
    const p = await propagation(nodes, 10, plan.propSeconds, {}, { atRest: plan.atRest })
    progress(`  p50 ${p.p50} ms, p99 ${p.p99} ms, lost ${p.lost}, subscriptions known ${p.subscribed * 100} %, receiver RSS ${p.restRssMb === null ? '' : `${p.restRssMb} MB at rest (its fork server ${p.restForkServerRssMb} MB), `}${p.rssMb} MB after, machine CPU per ban ${p.cpuMsPerBan} ms (origin ${p.originCpuMs}, one receiver ${p.receiverCpuMs}, its fork server and scripts ${p.launcherCpuMs})`)
    curve.push(p)
  }
  const ten = curve.find(p => p.nodes === 10)!
  const thirty = curve.find(p => p.nodes === 30)
  // 30 nodes at 10 bans/s need more than two cores (~225 ms of CPU per ban): the largest mesh again at a rate
  // the machine carries, so its figure shows propagation rather than a CPU queue
  let largeSlow = null
  if (plan.slowRate !== null) {
    const nodes = plan.sizes.at(-1)!
    progress(`propagation: ${nodes} nodes, ${plan.slowRate} bans/s for ${plan.propSeconds} s`)
    largeSlow = await propagation(nodes, plan.slowRate, plan.propSeconds, {}, { atRest: plan.atRest })
    progress(`  p50 ${largeSlow.p50} ms, p99 ${largeSlow.p99} ms, lost ${largeSlow.lost}, machine CPU per ban ${largeSlow.cpuMsPerBan} ms`)
  }

  progress(`throughput: 5 nodes, ${plan.tputRate}/s for ${plan.tputSeconds} s through one control connection`)
  const tput = await throughput(5, plan.tputRate, plan.tputSeconds)
  progress(`  achieved ${tput.achieved_per_s}/s, lost ${tput.lost}, refused ${tput.refused}, p99 ${tput.p99} ms, max RSS ${tput.maxRssMb} MB`)

  progress(`headroom: the same at ${plan.headroomRate}/s`)
  const head = await throughput(5, plan.headroomRate, plan.tputSeconds)
  progress(`  achieved ${head.achieved_per_s}/s, lost ${head.lost}, refused ${head.refused}, p99 ${head.p99} ms`)

  progress(`baseline: batching off (one event per message), ${plan.baseRate}/s for ${plan.baseSeconds} s`)
  const base = await throughput(5, plan.baseRate, plan.baseSeconds, { batch: { maxDelayMs: 0, maxEvents: 1 } })
  progress(`  achieved ${base.achieved_per_s}/s, lost ${base.lost}, p99 ${base.p99} ms`)

  progress(`burst and catch-up: ${plan.catchup} bans at once into 4 of 5 nodes, then the fifth rejoins`)
  const cu = await catchUp(5, plan.catchup)
  progress(`  burst applied in ${cu.burst_applied_s} s, catch-up ${cu.catchup_s} s, RSS with ${cu.bans} active ${cu.rss_active_mb} MB (${cu.rss_burst_mb} MB right after the wave)`)

  progress(`fail2ban-client baseline: ${plan.f2b} sequential banip calls`)
  const f2b = await fail2banClientRate(plan.f2b)
  progress(`  ${f2b === null ? 'fail2ban not installed' : `${round(f2b.bansPerS)} bans/s, fail2ban-server RSS ${f2b.serverRssMb} MB`}`)
  const sshguardRss = await sshguardRssMb()
  progress(`  sshguard RSS (its four processes, idle): ${sshguardRss === null ? 'not installed' : `${sshguardRss} MB`}`)
  const bouncerRss = await crowdsecBouncerRssMb()
  progress(`  crowdsec-firewall-bouncer RSS (nftables mode, after two polls): ${bouncerRss === null ? 'not installed or not root' : `${bouncerRss} MB`}`)

  progress('applying: 10,000 received bans through the nftables batch action, in a namespace')
  const nft = nftApplySeconds(10_000)
  progress(`  ${nft === null ? 'skipped (needs root and nft)' : `${round(nft, 3)} s`}`)

  // building the packages takes minutes: the full run only
  const packages = quick ? null : packageSizes()
  if (packages !== null) progress(`packages: fst ${packages.deb_mb} MB (${packages.deb_installed_mb} MB installed), fst-geoip ${packages.geoip_deb_mb} MB (${packages.geoip_installed_mb} MB installed), x86-64 .debs, xz`)

  const outDir = quick ? join(ROOT, 'test-output') : join(ROOT, 'docs')
  mkdirSync(outDir, { recursive: true })
  const plotFile = join(outDir, 'benchmarks-propagation.svg')
  writePropagationPlot(plotFile, curve, 'FST propagation latency, loopback, 10 bans/s')
  progress(`plot written to ${plotFile}; total ${round((performance.now() - started) / 1000)} s`)

  const result = {
    mode: quick ? 'quick' : 'full',
    hook_ms_median: hook.hook_ms_median,
    hook_config_ms_median: hook.hook_config_ms_median,
    node_e0_ms_median: hook.node_e0_ms_median,
    hook_ratio: round(hook.hook_ms_median / hook.node_e0_ms_median, 2),
    // what starting one bash script costs on a quiet machine, part of every receiver's share of a ban
    script_start_ms_median: scriptStart.forkServer,
    script_start_spawn_ms_median: scriptStart.spawn,
    propagation_p50_ms: ten.p50,
    propagation_p99_ms: ten.p99,
    propagation_30_p99_ms: thirty?.p99 ?? null,
    propagation_largest_slow: largeSlow === null ? null : { rate: plan.slowRate, ...largeSlow },
    propagation_curve: curve,
    throughput_bans_per_s: tput.achieved_per_s,
    throughput_offered: tput.offered,
    throughput_p99_ms: tput.p99,
    lost: tput.lost,
    headroom_offered_per_s: plan.headroomRate,
    headroom_bans_per_s: head.achieved_per_s,
    headroom_lost: head.lost,
    headroom_p99_ms: head.p99,
    baseline_unbatched_bans_per_s: base.achieved_per_s,
    baseline_unbatched_lost: base.lost,
    baseline_unbatched_p99_ms: base.p99,
    burst_bans: cu.bans,
    burst_applied_s: cu.burst_applied_s,
    catchup_s: cu.catchup_s,
    // an idle node: a receiver of the smallest mesh at rest, with its fork server (issue 25 counts both);
    // and one of the 10-node mesh after its run
    rss_idle_mb: curve[0]!.restRssMb === null ? curve[0]!.rssMb : round(curve[0]!.restRssMb + (curve[0]!.restForkServerRssMb ?? 0)),
    rss_idle_node_mb: curve[0]!.restRssMb,
    rss_idle_fork_server_mb: curve[0]!.restForkServerRssMb,
    rss_10_nodes_idle_mb: ten.restRssMb,
    rss_10_nodes_after_run_mb: ten.rssMb,
    rss_active_mb: cu.rss_active_mb,
    rss_burst_mb: cu.rss_burst_mb,
    nft_apply_10k_s: nft === null ? null : round(nft, 3),
    fail2ban_client_bans_per_s: f2b === null ? null : round(f2b.bansPerS),
    throughput_vs_fail2ban: f2b === null ? null : round(tput.achieved_per_s / f2b.bansPerS, 0),
    // what FST runs beside (issue 25's anchors), on the same machine in the same run
    anchor_fail2ban_server_rss_mb: f2b?.serverRssMb ?? null,
    anchor_sshguard_rss_mb: sshguardRss,
    anchor_crowdsec_bouncer_rss_mb: bouncerRss,
    package_deb_mb: packages?.deb_mb ?? null,
    package_deb_installed_mb: packages?.deb_installed_mb ?? null,
    package_geoip_deb_mb: packages?.geoip_deb_mb ?? null,
    package_geoip_installed_mb: packages?.geoip_installed_mb ?? null
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

(soakMode ? runSoak() : scaleMode ? runScale() : run()).catch(err => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})

/**
 * `pnpm bench --scale [--nodes N] [--max-peers K] [--seconds S] [--no-delay] [--only-delay]`: a partially
 * connected fleet of N real nodes (default 100, connectivity.maxPeers 20) at 1 ban/s, then 20 % of them
 * killed at once; the same again with a WAN-like delay on every link (userspace proxy, log-normal one-way
 * delay, median 20 ms). Writes docs/benchmarks-scale.json, which test/bench/simulate.ts calibrates against.
 */
async function runScale () {
  const arg = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name)
    return at === -1 ? fallback : Number(process.argv[at + 1])
  }
  const nodes = arg('--nodes', 100)
  const maxPeers = arg('--max-peers', 20)
  const seconds = arg('--seconds', 60)
  const base = { nodes, maxPeers, rate: 1, seconds, killShare: 0.2 }
  const outAt = process.argv.indexOf('--out')
  const file = outAt === -1 ? join(ROOT, nodes === 100 ? 'docs/benchmarks-scale.json' : 'test-output/benchmarks-scale.json') : resolve(process.argv[outAt + 1]!)
  mkdirSync(join(file, '..'), { recursive: true })
  // `--out` an existing file: this run's parts are added to (or replace) those it holds
  const previous = outAt !== -1 && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> : {}
  const now = { loadavg: loadavg(), started: new Date().toISOString() }
  const out: Record<string, unknown> = { mode: 'scale', ...previous, ...(process.argv.includes('--only-delay') ? { delayedStart: now } : now) }
  // after each part, so a run stopped in the second keeps the first
  const save = () => {
    writeFileSync(file, `${JSON.stringify(out, null, 1)}\n`)
    progress(`written to ${file}`)
  }
  if (!process.argv.includes('--only-delay')) {
    progress(`scale: ${nodes} nodes, maxPeers ${maxPeers}, 1 ban/s for ${seconds} s, then ${base.killShare * 100} % killed`)
    out.loopback = await scale({ ...base, delay: null })
    out.loadavgAfterLoopback = loadavg()
    save()
  }
  if (!process.argv.includes('--no-delay')) {
    const delay = { medianMs: 20, sigma: 0.5 }
    progress(`scale with delay: one-way ${delay.medianMs} ms median per link (log-normal, sigma ${delay.sigma})`)
    out.delayed = await scale({ ...base, delay })
    out.loadavgAfterDelayed = loadavg()
    save()
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

function loadavg (): number[] {
  return osLoadavg().map(l => round(l, 2))
}

/**
 * `pnpm bench --soak [minutes] [--out DIR]` (default 30 minutes, test-output/): see soak.ts. Writes
 * benchmarks-soak.json and benchmarks-soak.svg (RSS per node against time) and prints the summary.
 */
async function runSoak () {
  const at = process.argv.indexOf('--soak')
  const given = process.argv[at + 1]
  const minutes = given !== undefined && /^\d+(\.\d+)?$/.test(given) ? Number(given) : 30
  const outAt = process.argv.indexOf('--out')
  const outDir = outAt === -1 ? join(ROOT, 'test-output') : resolve(process.argv[outAt + 1]!)
  mkdirSync(outDir, { recursive: true })
  const result = await soak({ minutes, rate: 50, seed: 24, debugDir: join(outDir, 'soak-debug') })
  const file = join(outDir, 'benchmarks-soak.json')
  writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`)
  const colors = ['#1c7ed6', '#2b8a3e', '#e67700', '#c92a2a', '#7048e8']
  const series = result.perNode.map(n => {
    const points: Array<{ x: number, y: number }> = []
    let life = -1
    for (const s of result.samples.filter(x => x.node === n.node)) {
      // a restart breaks the line
      if (life !== -1 && s.life !== life) points.push({ x: s.minute, y: Number.NaN })
      life = s.life
      points.push({ x: s.minute, y: s.rssMb ?? Number.NaN })
    }
    return { label: `node ${n.node}${n.witness ? ' (never killed)' : ''}`, color: colors[n.node % colors.length]!, points }
  })
  const plot = join(outDir, 'benchmarks-soak.svg')
  writeSeriesPlot(plot, series, { title: `FST soak: RSS per node, ${minutes} min, 5 nodes, 50 bans/s, a kill a minute`, x: 'minutes', y: 'RSS (MB)' })
  progress(`soak: lost ${result.lost}, duplicated ${result.duplicated}, ledger missing ${result.ledger.missing} wrong ${result.ledger.wrong}; witness RSS slope ${result.perNode[0]!.rssSlopeMbPerHour} MB/h (by part: ${JSON.stringify(result.perNode[0]!.rssPartSlopesMbPerHour)}); written to ${file} and ${plot}`)
  const { samples: _samples, lives: _lives, ...summary } = result
  process.stdout.write(`${JSON.stringify(summary)}\n`)
}
