import { addressGuard, NAME_PATTERN, RejectReason, validateInput } from '@fst/protocol'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FST_ACTION, Mesh, runBin } from '../utils/mesh.js'

/** Words an attacker (or a broken fail2ban config) would try in any position. */
const NASTY = [
  '../../bin', '..', '.', '/etc/passwd', 'a/b', 'ban;id', '$(id)', '`id`', '$' + '{IFS}', 'a\nb', 'a\rb', 'a\tb', ' ban', 'ban ',
  '-rf', '--config=/etc/passwd', '--help', '*', '?', '~root', '|id', '&&id', '>x', "'", '"', '\\', '%00', '\u202eban',
  'ｂａｎ', 'ban\u0085', 'b\u00e4n', '🔥', 'x'.repeat(65), 'x'.repeat(100_000), '', 'tcp,udp,', ',', '22,', '0:65536', '65535:1',
  'ssh;id', 'http,https,' + 'a,'.repeat(40)
]
/** Addresses that look like addresses: shorthands, scopes, overlong prefixes, mapped forms. */
const ODD_IPS = [
  '127.1', '0x7f.0.0.1', '0177.0.0.1', '010.0.0.1', '1.2.3.4/33', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/08', '1.2.3.4 ',
  '[::1]', 'fe80::1%eth0', '::ffff:127.0.0.1', '::ffff:203.0.113.9', '256.1.1.1', '1.2.3', '1.2.3.4.5', '0.0.0.0/0', '::/0',
  '2001:db8::/129', '2001:db8::/32', '2001:db8::1', '203.0.113.0/24', '203.0.113.0/8', '::', '0.0.0.0', '255.255.255.255',
  '224.0.0.1', '169.254.1.1', '1.2.3.4\n5.6.7.8', '1.2.3.4;id', '١٢٧.0.0.1'
]
const VALID_WORDS = ['ban', 'unban', 'sshd', 'nginx-http-auth', 'recidive', 'block.v2']

const field = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY), weight: 3 },
  { arbitrary: fc.constantFrom(...VALID_WORDS), weight: 3 },
  { arbitrary: fc.string({ maxLength: 80 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,70}$/), weight: 2 }
)
const protocol = fc.oneof(fc.constantFrom('tcp', 'udp', 'tcp,udp', 'all', 'TCP', 'tcp;', 'icmp'), field)
const port = fc.oneof(fc.constantFrom('22', 'http,https', '1000:2000', '0:65535', 'ssh', '99999', '1-2-3'), fc.integer({ min: -5, max: 70_000 }).map(String), field)
const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.constantFrom(...ODD_IPS), field,
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 40 })).map(([a, p]) => `${a}/${p}`))
const duration = fc.option(fc.oneof(fc.constantFrom('-1', '0', '600', '99999999999', '1e3', '-5', ' 60'), fc.nat().map(String)), { nil: undefined })
const hookArgs = fc.tuple(field, field, protocol, port, ip, duration)

/** Values a hostile control client could put in JSON, where the hook would have sent strings. */
const jsonValue = fc.oneof(field, fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), fc.constant({ toString: 'x' }))

/** A shell metacharacter, whitespace or a path separator; with no leading dot this rules out traversal. */
const SHELL_OR_PATH = /[\s;&|`$<>\\'"(){}*?!~#/]|^\./

describe('property: adversarial hook input', () => {
  it('validateInput never throws; everything it accepts is inert, everything else has a reason and one line', () => {
    const reasons = new Set<string>(Object.values(RejectReason))
    fc.assert(fc.property(fc.record({ action: jsonValue, name: jsonValue, protocol: jsonValue, port: jsonValue, ip: jsonValue, duration: fc.oneof(fc.constant(undefined), jsonValue) }), input => {
      const checked = validateInput(input)
      if (checked.valid) {
        const v = checked.value
        expect(NAME_PATTERN.test(v.action) && NAME_PATTERN.test(v.name)).toBe(true)
        for (const text of [v.action, v.name, v.protocol, v.port]) expect(SHELL_OR_PATH.test(text)).toBe(false)
        expect(v.ip).toMatch(/^[0-9a-f.:]+(\/\d{1,3})?$/)
      } else {
        expect(reasons.has(checked.reason)).toBe(true)
        expect(checked.error).not.toMatch(/\n/)
        expect(checked.error.length).toBeLessThan(300)
      }
    }), { numRuns: 5000 })
  })

  it('validateInput refuses every nasty word in every field', () => {
    const base = { action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: '203.0.113.9' }
    for (const word of NASTY) {
      for (const key of ['action', 'name', 'protocol', 'port', 'ip'] as const) {
        if ((key === 'port' && /^(?:\d+|22,)$/.test(word)) || (key === 'protocol' && word === 'tcp,udp,')) continue
        const checked = validateInput({ ...base, [key]: word })
        expect(checked.valid, `${key}=${JSON.stringify(word.slice(0, 40))}`).toBe(false)
      }
    }
  })
})

describe('property: adversarial arguments through the real fst-action', () => {
  let mesh: Mesh

  beforeAll(async () => { mesh = await Mesh.create({ nodes: 2 }) })
  afterAll(async () => { await mesh?.stop() })

  it('exits 0, 1 or 2 with one stderr line, and only valid input runs a script', async () => {
    const guard = addressGuard({ protect: ['127.0.0.1'] })
    const samples = fc.sample(hookArgs.filter(a => a.every(f => f === undefined || !f.includes('\0'))), { numRuns: 80, seed: 3 })
    const allowed = new Set<string>()
    for (const [action, name, proto, portText, address, dur] of samples) {
      const args = [action, name, proto, portText, address, ...(dur === undefined ? [] : [dur])]
      const out = await runBin(FST_ACTION, ['--config', mesh.nodes[0]!.configFile, '--', ...args])
      expect([0, 1, 2], `${JSON.stringify(args).slice(0, 200)}\n${out.stderr}`).toContain(out.code)
      const durationOk = dur === undefined || dur === '-1' || /^\d{1,10}$/.test(dur)
      const checked = validateInput({ action, name, protocol: proto, port: portText, ip: address, duration: durationOk && dur !== undefined && dur !== '-1' ? Number(dur) : 0 })
      const accepted = durationOk && checked.valid && (actionRemoves(action) || guard.check(checked.value.ip).valid)
      if (!accepted) {
        expect(out.code, JSON.stringify(args).slice(0, 200)).not.toBe(0)
        expect(out.stderr).toMatch(/^fst-action: /)
        expect(out.stderr.trim().split('\n'), out.stderr).toHaveLength(1)
      } else if (checked.valid) {
        // a repeat of an earlier valid event is accepted too (echo suppression), so 0 is all we can ask
        expect(out.code, out.stderr).toBe(0)
        allowed.add(`${checked.value.action} ${checked.value.name} ${checked.value.protocol} ${checked.value.port} ${checked.value.ip}`)
      }
    }
    // the sample mixes both kinds, so both branches above were exercised
    expect(allowed.size).toBeGreaterThan(0)
    expect(allowed.size).toBeLessThan(samples.length)
    const barrier = await runBin(FST_ACTION, ['--config', mesh.nodes[0]!.configFile, 'ban', 'barrier', 'tcp', '22', '203.0.113.200'])
    expect(barrier.code).toBe(0)
    await mesh.waitForRuns(1, 1)
    await pWaitForLine(mesh, 'ban barrier tcp 22 203.0.113.200')
    const ran = mesh.runs(1).filter(l => l !== 'ban barrier tcp 22 203.0.113.200')
    // every script run on the receiver belongs to an input that was valid; nothing else ran
    expect(ran.filter(l => !allowed.has(l))).toEqual([])
    // 80 hook processes one after another: ~10 s on a quiet machine, several times that beside busy cores
  }, 240_000)
})

function actionRemoves (action: string): boolean {
  return action.length > 2 && action.startsWith('un')
}

async function pWaitForLine (mesh: Mesh, line: string): Promise<void> {
  const { default: pWaitFor } = await import('p-wait-for')
  await pWaitFor(() => mesh.runs(1).includes(line), { interval: 20, timeout: 10_000 })
}
