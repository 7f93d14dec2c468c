/**
 * Planned handoff on real mounts (src/handoff): a client keeps reading, writing, listing and holding a
 * file open on a memfs and on a passthrough mount, started by the `tsfuse` command as a background
 * daemon, while `tsfuse restart` hands the mount to a new daemon process 20 times in a row (and SIGUSR2
 * once more). Nothing may fail, every byte must come back as written, and each restart must name a new
 * pid while the old daemon exits. A filesystem without the hooks is refused and keeps serving.
 *
 * The client runs in this process with async fs calls: the daemons are other processes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorkload } from './workload.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  NODE_MAJOR as MAJOR, NODE26_SKIP, cleanupMountpoints, forceUnmount, freshMountpoint, isFuseMount, mountSkip, passUnderNode26, processExists, run, waitFor, type RunResult,
} from '../support/mount-helpers.ts';

const SKIP = mountSkip() ?? false;
const CLI = [process.execPath, '--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli.ts')] as const;
const HANDOFFS = 20;

after(async () => { await cleanupMountpoints(); });

interface Daemon {
  readonly mountpoint: string;
  readonly log: string;
  tsfuse(...args: string[]): Promise<RunResult>;
  pid: number;
  cleanup(): Promise<void>;
}

async function startCli(fs: string, sources: readonly string[]): Promise<Daemon> {
  const runtime = mkdtempSync(join(tmpdir(), 'tsfuse-handoff-'));
  const mountpoint = freshMountpoint();
  const log = join(runtime, 'daemon.log');
  const env = { ...process.env, XDG_RUNTIME_DIR: runtime };
  const tsfuse = (...args: string[]): Promise<RunResult> => run(CLI[0], [...CLI.slice(1), ...args], { env, timeout: 60_000 });
  const started = await tsfuse(fs, ...sources, mountpoint, '--log', log);
  assert.equal(started.code, 0, started.stderr);
  const pid = Number(/\(pid (\d+)\)/.exec(started.stderr)?.[1]);
  assert.ok(pid > 0 && isFuseMount(mountpoint), started.stderr);
  const d: Daemon = {
    mountpoint, log, tsfuse, pid,
    async cleanup() {
      await tsfuse('umount', mountpoint).catch(() => undefined);
      await waitFor(() => !processExists(d.pid), 10_000, 'the last daemon to exit after umount').catch(() => {
        if (processExists(d.pid)) process.kill(d.pid, 'SIGKILL');
      });
      await forceUnmount(mountpoint);
      rmSync(runtime, { recursive: true, force: true });
    },
  };
  return d;
}


interface Figures { pausedMs: number[]; gapMs: number[] }

/** 20 `tsfuse restart`s under the workload, each checked; returns the reported times. */
async function restartRepeatedly(d: Daemon): Promise<Figures> {
  const figures: Figures = { pausedMs: [], gapMs: [] };
  const pids = new Set([d.pid]);
  for (let n = 0; n < HANDOFFS; n++) {
    await sleep(150); // let the client work against this daemon
    const r = await d.tsfuse('restart', d.mountpoint, '--json');
    assert.equal(r.code, 0, `restart ${n + 1}: ${r.stderr}\n${readFileSync(d.log, 'utf8')}`);
    const result = JSON.parse(r.stdout) as { pid: number; pausedMs: number; gapMs?: number };
    assert.ok(!pids.has(result.pid), `restart ${n + 1} reported pid ${result.pid}, which served before`);
    assert.ok(processExists(result.pid), `the new daemon ${result.pid} is running`);
    const old = d.pid;
    await waitFor(() => !processExists(old), 10_000, `the old daemon ${old} to exit`);
    assert.ok(isFuseMount(d.mountpoint), 'the mount stays');
    pids.add(result.pid);
    d.pid = result.pid;
    figures.pausedMs.push(result.pausedMs);
    if (result.gapMs !== undefined) figures.gapMs.push(result.gapMs);
  }
  return figures;
}

function summary(values: readonly number[]): string {
  if (values.length === 0) return 'none';
  const s = [...values].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(2)} ms, median ${s[Math.floor(s.length / 2)]!.toFixed(2)} ms, max ${s.at(-1)!.toFixed(2)} ms (n=${s.length})`;
}

test(`memfs: a busy client sees no error and exact bytes across ${HANDOFFS} restarts and a SIGUSR2`, { skip: SKIP, timeout: 240_000 }, async (t) => {
  const d = await startCli('memfs', []);
  try {
    const work = await startWorkload(d.mountpoint);
    const figures = await restartRepeatedly(d);
    // The signal for service managers does the same.
    const before = d.pid;
    process.kill(before, 'SIGUSR2');
    await waitFor(() => !processExists(before), 30_000, 'the daemon to hand over on SIGUSR2');
    const stats = await d.tsfuse('stats', d.mountpoint, '--once', '--json');
    assert.equal(stats.code, 0, stats.stderr);
    d.pid = (JSON.parse(stats.stdout) as { pid: number }).pid;
    assert.notEqual(d.pid, before);
    await sleep(200);
    const { ops, errors } = await work.stop();
    t.diagnostic(`memfs: ${ops} client operations, ${errors.length} errors; nobody reading: ${summary(figures.pausedMs)}; last reply (old) to first reply (new): ${summary(figures.gapMs)}`);
    assert.deepEqual(errors, []);
    assert.ok(ops > HANDOFFS * 6, `the client kept working (${ops} operations)`);
    assert.ok(figures.gapMs.length > 0, 'some handoffs had a request waiting');
  } finally {
    await d.cleanup();
  }
});

test(`passthrough: a busy client sees no error and exact bytes across ${HANDOFFS} restarts, in SOURCE too`, { skip: SKIP, timeout: 240_000 }, async (t) => {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-handoff-src-'));
  const d = await startCli('passthrough', [source]);
  try {
    const work = await startWorkload(d.mountpoint);
    const figures = await restartRepeatedly(d);
    const { ops, errors } = await work.stop();
    t.diagnostic(`passthrough: ${ops} client operations, ${errors.length} errors; nobody reading: ${summary(figures.pausedMs)}; last reply (old) to first reply (new): ${summary(figures.gapMs)}`);
    assert.deepEqual(errors, []);
    // Each successor must come up whole: a ready() that threw once left kernel passthrough off after a restart.
    assert.deepEqual(readFileSync(d.log, 'utf8').split('\n').filter((l) => l.includes('warning:')), [], 'no warnings in the daemon log');
    assert.ok(ops > HANDOFFS * 6, `the client kept working (${ops} operations)`);
    assert.ok(readFileSync(join(source, 'held.bin')).equals(Buffer.concat(work.held)), 'the backing file holds what was written');
  } finally {
    await d.cleanup();
    rmSync(source, { recursive: true, force: true });
  }
});

test('under Node >= 26 (TSFUSE_NODE26): the passthrough\'s restarts pass there too, with kernel passthrough', { skip: SKIP || (MAJOR >= 26 ? 'this Node is the one: run above' : NODE26_SKIP), timeout: 240_000 }, () => {
  passUnderNode26(fileURLToPath(import.meta.url), `passthrough: a busy client sees no error and exact bytes across ${HANDOFFS} restarts`, 230_000);
});

test('a filesystem without the hooks is refused, and its mount and daemon stay as they were', { skip: SKIP, timeout: 60_000 }, async () => {
  const d = await startCli('hello', []);
  try {
    const r = await d.tsfuse('restart', d.mountpoint);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not support handoff: it implements no exportState\(\) and importState\(\).*served as before/);
    assert.ok(processExists(d.pid));
    assert.equal(await readFile(join(d.mountpoint, 'hello.txt'), 'utf8'), 'Hello from FUSE!\n');
  } finally {
    await d.cleanup();
  }
});
