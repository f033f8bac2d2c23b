import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Logger } from 'pino'
import { formatOutput, killGroup, type Launch, type Launcher, type LaunchRequest, MAX_SCRIPT_OUTPUT, notStarted, PIPE_GRACE_MS, type ScriptExit } from './launcher.js'

/**
 * The fork server, in perl because perl-base is on every Debian system (only modules from perl-base are
 * used) and a perl process is ~7 MB, so its fork costs a fraction of the daemon's. `ps` shows it as
 * `fst fork server`.
 *
 * Requests on stdin, each field NUL-terminated: id, cwd, argc, argv…, envc, env…, input length (-1: no stdin),
 * then that many bytes of input. One script at a time; the child gets its own session, the given environment
 * only, default signal handling, and is exec'd from the argv list: never a shell.
 * Answers on stdout, one line each: `S id pid` once it exec'd; `F id hex(reason)` if it could not be
 * started; `E id code|- hex(stdout) hex(stderr) stdoutDropped stderrDropped` when it ended and its pipes
 * closed (or `grace` seconds after it exited while something it started holds them).
 */
const PROGRAM = String.raw`
use strict; use warnings; use POSIX (); use IO::Handle; use IO::Select;
$0 = 'fst fork server';
my ($max, $grace) = @ARGV;
my $tick = POSIX::sysconf(POSIX::_SC_CLK_TCK());
$| = 1;
$SIG{PIPE} = 'IGNORE';
binmode STDIN; binmode STDOUT;
open(my $null, '<', '/dev/null') or die "/dev/null: $!";
sub field { local $/ = "\0"; my $f = <STDIN>; exit 0 unless defined $f; chop $f; $f }
sub now { (POSIX::times())[0] / $tick }
sub answer { print join(' ', @_), "\n" }
while (1) {
  my $id = field();
  my $cwd = field();
  my @argv = map { field() } 1 .. field();
  my @env = map { field() } 1 .. field();
  my $len = field();
  my $input;
  if ($len >= 0) {
    $input = '';
    while (length($input) < $len) { read(STDIN, $input, $len - length($input), length($input)) or exit 0 }
  }
  run($id, $cwd, \@argv, \@env, $input);
}
sub run {
  my ($id, $cwd, $argv, $env, $input) = @_;
  my ($out_r, $out_w, $err_r, $err_w, $st_r, $st_w, $in_r, $in_w);
  unless (pipe($out_r, $out_w) && pipe($err_r, $err_w) && pipe($st_r, $st_w) && (!defined $input || pipe($in_r, $in_w))) {
    return answer('F', $id, unpack('H*', "pipe: $!"));
  }
  # the script's environment and signal handling are set here, before the fork: the child then writes to
  # almost none of perl's memory (every page it wrote would be copied) and goes straight to exec
  %ENV = map { split /=/, $_, 2 } @$env;
  $SIG{PIPE} = 'DEFAULT';
  my $pid = fork();
  $SIG{PIPE} = 'IGNORE' unless defined $pid && $pid == 0;
  return answer('F', $id, unpack('H*', "fork: $!")) unless defined $pid;
  if ($pid == 0) {
    POSIX::setsid();
    POSIX::dup2(fileno($in_r // $null), 0);
    POSIX::dup2(fileno($out_w), 1);
    POSIX::dup2(fileno($err_w), 2);
    exec { $argv->[0] } @$argv if chdir $cwd;
    syswrite($st_w, "cannot run $argv->[0]: $!");
    POSIX::_exit(127);
  }
  close $out_w; close $err_w; close $st_w; close $in_r if defined $in_r;
  # the status pipe closes on exec (close-on-exec) or carries why the exec failed
  sysread($st_r, my $why, 4096);
  close $st_r;
  if (defined $why && length $why) {
    waitpid($pid, 0);
    close $_ for grep { defined } $out_r, $err_r, $in_w;
    return answer('F', $id, unpack('H*', $why));
  }
  answer('S', $id, $pid);
  my @kept = ('', '');
  my @dropped = (0, 0);
  my $reading = IO::Select->new($out_r, $err_r);
  my $writing = IO::Select->new();
  my $offset = 0;
  if (defined $in_w) { $in_w->blocking(0); $writing->add($in_w) }
  my ($status, $deadline);
  while ($reading->count || $writing->count) {
    if ($offset >= length($input // '') && $writing->count) { $writing->remove($in_w); close $in_w; next }
    # the timeout only matters while something the script started holds its pipes after it exited
    my ($readable, $writable) = IO::Select->select($reading, $writing, undef, 0.1);
    for my $fh (@{ $readable // [] }) {
      my $n = sysread($fh, my $chunk, 65536);
      if (!$n) { $reading->remove($fh); close $fh; next }
      my $i = fileno($fh) == fileno($out_r) ? 0 : 1;
      my $room = $max - length $kept[$i];
      $room = 0 if $room < 0;
      $kept[$i] .= substr($chunk, 0, $room);
      $dropped[$i] += length($chunk) > $room ? length($chunk) - $room : 0;
    }
    for my $fh (@{ $writable // [] }) {
      my $n = syswrite($fh, $input, 65536, $offset);
      if (defined $n) { $offset += $n } elsif (!$!{EAGAIN}) { $offset = length $input }
    }
    if (!defined $status && waitpid($pid, POSIX::WNOHANG()) == $pid) { $status = $?; $deadline = now() + $grace }
    last if defined $deadline && now() >= $deadline;
  }
  close $_ for $reading->handles, $writing->handles;
  unless (defined $status) { waitpid($pid, 0); $status = $? }
  answer('E', $id, ($status & 127) ? '-' : $status >> 8, unpack('H*', $kept[0]), unpack('H*', $kept[1]), @dropped);
}
`

interface Pending {
  request: LaunchRequest
  pid?: number
  /** A signal asked for before the pid was known. */
  signal?: NodeJS.Signals
  /** The fallback's launch, when perl could not be started for this request. */
  delegate?: Launch
  resolve: (exit: ScriptExit) => void
}

/**
 * Starts scripts through one long-lived perl helper that forks them, so the daemon never forks itself.
 * The helper starts with the launcher and again after it dies; if perl cannot be started at all, scripts
 * go to the fallback launcher from then on.
 */
export class ForkServer implements Launcher {
  private helper: ChildProcess | null = null
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private broken = false
  private closed = false

  constructor (private readonly perl: string, private readonly fallback: Launcher, private readonly log: Logger) {
    this.startHelper()
  }

  launch (request: LaunchRequest): Launch {
    if (this.broken || this.closed) return this.fallback.launch(request)
    const argv = [request.command, ...request.args]
    const env = envLines(request.env)
    // fields are NUL-terminated on the wire; spawn() refuses NUL bytes too
    if ([request.cwd, ...argv, ...env].some(f => f.includes('\0'))) {
      return { signal: () => {}, exited: Promise.resolve(notStarted('an argument or variable holds a NUL byte')) }
    }
    const helper = this.helper ?? this.startHelper()
    const id = this.nextId++
    let entry!: Pending
    const exited = new Promise<ScriptExit>(resolve => { entry = { request, resolve } })
    this.pending.set(id, entry)
    this.setRef(true)
    const input = request.input === null ? null : Buffer.from(request.input)
    const head = [id, request.cwd, argv.length, ...argv, env.length, ...env, input === null ? -1 : input.length].map(f => `${f}\0`).join('')
    helper.stdin!.write(input === null ? head : Buffer.concat([Buffer.from(head), input]))
    const signal = (sig: NodeJS.Signals) => {
      if (entry.delegate !== undefined) entry.delegate.signal(sig)
      else if (entry.pid === undefined) entry.signal = sig
      else killGroup(entry.pid, sig)
    }
    return { signal, exited }
  }

  /** The helper's pid while one runs (scripts are its children). */
  get helperPid (): number | undefined {
    return this.helper?.pid
  }

  close (): void {
    this.closed = true
    this.helper?.stdin?.end()
    this.setRef(false)
  }

  private startHelper (): ChildProcess {
    const helper = spawn(this.perl, ['-e', PROGRAM, String(MAX_SCRIPT_OUTPUT), String(PIPE_GRACE_MS / 1000)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
      shell: false
    })
    this.helper = helper
    helper.stdin!.on('error', () => {}) // a dead helper is handled on 'exit'
    let stderr = ''
    helper.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-MAX_SCRIPT_OUTPUT) })
    createInterface({ input: helper.stdout! }).on('line', line => this.answer(line))
    helper.on('error', err => {
      // perl could not be started: the waiting script and every later one go to the fallback, none is lost
      this.broken = true
      this.log.warn({ err: err.message }, 'fork server did not start; the daemon forks scripts itself')
      for (const [id, p] of this.pending) {
        this.pending.delete(id)
        p.delegate = this.fallback.launch(p.request)
        if (p.signal !== undefined) p.delegate.signal(p.signal)
        void p.delegate.exited.then(p.resolve)
      }
    })
    helper.on('exit', (code, signal) => {
      if (this.helper === helper) this.helper = null
      for (const [id, p] of this.pending) {
        this.pending.delete(id)
        p.resolve(notStarted(`fork server exited (${signal ?? code}) ${stderr.trim()}`.trim()))
      }
      if (!this.closed && !this.broken) this.log.warn({ code, signal, stderr: stderr.trim() || undefined }, 'fork server exited; starting another for the next script')
    })
    this.setRef(this.pending.size > 0)
    return helper
  }

  private answer (line: string): void {
    const [kind, idText, ...rest] = line.split(' ')
    const entry = this.pending.get(Number(idText))
    if (entry === undefined) return
    if (kind === 'S') {
      entry.pid = Number(rest[0])
      if (entry.signal !== undefined) killGroup(entry.pid, entry.signal)
      return
    }
    this.pending.delete(Number(idText))
    if (this.pending.size === 0) this.setRef(false)
    if (kind === 'F') {
      entry.resolve(notStarted(fromHex(rest[0])))
      return
    }
    const [code, stdout, stderr, stdoutDropped, stderrDropped] = rest
    entry.resolve({
      code: code === '-' ? null : Number(code),
      stdout: formatOutput(fromHex(stdout), Number(stdoutDropped)),
      stderr: formatOutput(fromHex(stderr), Number(stderrDropped))
    })
  }

  /** The helper keeps the daemon alive only while a script runs (tests and `fst` commands exit when done). */
  private setRef (on: boolean): void {
    const helper = this.helper
    if (helper === null) return
    const handles = [helper, helper.stdout, helper.stderr, helper.stdin] as Array<{ ref?: () => void, unref?: () => void } | null>
    for (const h of handles) (on ? h?.ref : h?.unref)?.call(h)
  }
}

function envLines (env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]))
}

function fromHex (hex: string | undefined): string {
  return Buffer.from(hex ?? '', 'hex').toString('utf8')
}
