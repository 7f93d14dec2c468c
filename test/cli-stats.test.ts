// `tsfuse stats MOUNTPOINT` against real background daemons (as root): counts after `cat`s from child
// processes, the table and the JSON, live mode ending at the unmount, the control socket disappearing at
// umount and at SIGTERM, a stale socket left by a SIGKILLed daemon being removed, and the messages for a
// path with no mount and a daemon without statistics. Each test sets its own XDG_RUNTIME_DIR, so the
// sockets live in a temporary directory and never meet other daemons'.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupMountpoints, forceUnmount, freshMountpoint, isFuseMount, mountSkip, mountinfoLines, processExists, run, waitFor, type RunResult } from './support/mount-helpers.ts';
import type { StatsSnapshot } from '../src/session/stats.ts';

const SKIP = mountSkip() ?? false;
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const CLI = [process.execPath, '--import', 'tsx', join(import.meta.dirname, '..', 'src', 'cli.ts')] as const;

interface Workspace {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly socketDir: string;
  readonly daemons: number[];
  tsfuse(...args: string[]): Promise<RunResult>;
  /** The control socket of the mount at `dir`, from its minor device number in mountinfo. */
  socketPath(): string;
  cleanup(): Promise<void>;
}

function workspace(): Workspace {
  const runtime = mkdtempSync(join(tmpdir(), 'tsfuse-cli-stats-'));
  const dir = freshMountpoint();
  const env = { ...process.env, XDG_RUNTIME_DIR: runtime };
  const daemons: number[] = [];
  const w: Workspace = {
    dir,
    env,
    socketDir: join(runtime, 'tsfuse'),
    daemons,
    tsfuse: (...args) => run(CLI[0], [...CLI.slice(1), ...args], { env, timeout: 30_000 }),
    socketPath() {
      const device = mountinfoLines(dir).at(-1)?.[2];
      assert.ok(device !== undefined, `nothing mounted at ${dir}`);
      return join(w.socketDir, `fuse-${device.split(':')[1]}.sock`);
    },
    async cleanup() {
      for (const pid of daemons) if (processExists(pid)) process.kill(pid, 'SIGKILL');
      await forceUnmount(dir);
      rmSync(runtime, { recursive: true, force: true });
    },
  };
  return w;
}

async function mountHello(w: Workspace, ...extra: string[]): Promise<number> {
  const started = await w.tsfuse('hello', w.dir, ...extra);
  assert.equal(started.code, 0, started.stderr);
  const pid = Number(/\(pid (\d+)\)/.exec(started.stderr)?.[1]);
  assert.ok(pid > 0, started.stderr);
  w.daemons.push(pid);
  assert.ok(isFuseMount(w.dir));
  return pid;
}

after(async () => {
  await cleanupMountpoints();
});

test('stats --once --json counts what child processes did; the table shows it; umount removes the socket', { skip: SKIP, timeout: 90_000 }, async () => {
  const w = workspace();
  try {
    const pid = await mountHello(w);
    const socket = w.socketPath();
    assert.ok(lstatSync(socket).isSocket(), socket);
    assert.equal(lstatSync(w.socketDir).mode & 0o777, 0o700);

    for (let i = 0; i < 3; i++) assert.equal((await run('cat', [join(w.dir, 'hello.txt')])).stdout, 'Hello from FUSE!\n');
    assert.notEqual((await run('cat', [join(w.dir, 'missing')])).code, 0);

    const r = await w.tsfuse('stats', w.dir, '--once', '--json');
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as StatsSnapshot;
    const op = (name: string) => s.opcodes.find((o) => o.name === name);
    assert.equal(s.version, 1);
    assert.equal(s.pid, pid);
    assert.equal(s.mountpoint, w.dir);
    assert.equal(op('INIT')?.count, 1);
    assert.ok((op('LOOKUP')?.count ?? 0) >= 2, 'hello.txt and missing');
    assert.ok((op('LOOKUP')?.errnos['ENOENT'] ?? 0) >= 1, 'missing');
    assert.ok((s.errnos['ENOENT'] ?? 0) >= 1);
    // Without FOPEN_KEEP_CACHE every open drops the cached pages, so each cat opens and reads.
    assert.equal(op('OPEN')?.count, 3);
    assert.ok((op('READ')?.count ?? 0) >= 3);
    for (const o of s.opcodes) {
      assert.ok(o.latencyNs.count <= o.count, o.name);
      assert.ok(o.latencyNs.p50 <= o.latencyNs.p90 && o.latencyNs.p90 <= o.latencyNs.p99 && o.latencyNs.p99 <= o.latencyNs.max, o.name);
    }
    assert.equal(s.count, s.opcodes.reduce((sum, o) => sum + o.count, 0));

    const table = await w.tsfuse('stats', w.dir, '--once');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^${w.dir}: daemon pid ${pid}, `));
    assert.match(table.stdout, /^opcode +count +rate\/s +errors +in flight +p50 +p90 +p99 +max$/m);
    assert.match(table.stdout, /^OPEN +3 /m);
    assert.match(table.stdout, /^LOOKUP +\d+ +[\d.]+ +[1-9]\d* +0 +[\d.]+ (µs|ms) /m);
    assert.match(table.stdout, /^errors: .*ENOENT/m);

    const stopped = await w.tsfuse('umount', w.dir);
    assert.equal(stopped.code, 0, stopped.stderr);
    await waitFor(() => !processExists(pid), 10_000, 'the daemon to exit after umount');
    assert.equal(existsSync(socket), false, 'the socket is removed at unmount');
    assert.equal(existsSync(w.socketDir), false, 'and its directory, now empty');
  } finally {
    await w.cleanup();
  }
});

test('live stats redraws until the filesystem is unmounted (here by SIGTERM to the daemon), then exits 0', { skip: SKIP, timeout: 90_000 }, async () => {
  const w = workspace();
  try {
    const pid = await mountHello(w);
    const socket = w.socketPath();
    const live = spawn(CLI[0], [...CLI.slice(1), 'stats', w.dir, '--interval', '0.2'], { env: w.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    live.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    live.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((done) => live.on('close', done));
    try {
      await waitFor(() => (out.match(/^total /gm)?.length ?? 0) >= 2, 20_000, 'two snapshots from live stats');
      // Not a terminal: each snapshot follows the last, with no screen-clearing codes.
      assert.ok(!out.includes('\x1b['), 'no escape sequences');
      assert.match(out, /rate: since the previous refresh/);
      process.kill(pid, 'SIGTERM'); // the daemon unmounts on SIGTERM
      assert.equal(await Promise.race([exited, new Promise((done) => setTimeout(() => done('timeout'), 20_000))]), 0, err);
      assert.match(err, new RegExp(`${w.dir} is no longer served`));
    } finally {
      if (live.exitCode === null) live.kill('SIGKILL');
    }
    await waitFor(() => !processExists(pid), 10_000, 'the daemon to exit after SIGTERM');
    assert.ok(!isFuseMount(w.dir), 'SIGTERM unmounted');
    assert.equal(existsSync(socket), false, 'the socket is removed at SIGTERM');
  } finally {
    await w.cleanup();
  }
});

test('a SIGKILLed daemon leaves a stale socket: stats says so and removes it; a new daemon replaces one', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const w = workspace();
  try {
    // No watchdog: the mount stays (stale) after the kill, so stats still finds the connection number.
    const pid = await mountHello(w, '--no-watchdog');
    const socket = w.socketPath();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !processExists(pid), 10_000, 'the daemon to die');
    assert.ok(existsSync(socket), 'SIGKILL leaves the socket file');

    const r = await w.tsfuse('stats', w.dir, '--once');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the daemon serving .* is gone \(killed\?\): its statistics socket .* was stale and has been removed/);
    assert.match(r.stderr, /tsfuse umount -z/);
    assert.equal(existsSync(socket), false);

    // A daemon given a connection number whose socket a killed one left behind takes the name over.
    const again = await w.tsfuse('hello', w.dir, '--clean-stale', '--no-watchdog');
    assert.equal(again.code, 0, again.stderr);
    const pid2 = Number(/\(pid (\d+)\)/.exec(again.stderr)?.[1]);
    w.daemons.push(pid2);
    const socket2 = w.socketPath();
    process.kill(pid2, 'SIGKILL');
    await waitFor(() => !processExists(pid2), 10_000, 'the second daemon to die');
    assert.ok(existsSync(socket2));
    const third = await w.tsfuse('hello', w.dir, '--clean-stale');
    assert.equal(third.code, 0, third.stderr);
    w.daemons.push(Number(/\(pid (\d+)\)/.exec(third.stderr)?.[1]));
    const s = await w.tsfuse('stats', w.dir, '--once', '--json');
    assert.equal(s.code, 0, s.stderr);
    assert.equal((JSON.parse(s.stdout) as StatsSnapshot).pid, w.daemons.at(-1));
    // Only when the kernel reused the connection number did the third daemon meet the stale file (and
    // listening there succeeded only because it replaced it); otherwise the file waits for stats.
    const reused = w.socketPath() === socket2;
    t.diagnostic(`connection number reused: ${reused}`);
    assert.ok(existsSync(socket2), reused ? 'the new socket took the stale one\'s place' : 'a different number leaves the old file');
    assert.equal((await w.tsfuse('umount', w.dir)).code, 0);
  } finally {
    await w.cleanup();
  }
});

test('stats on a path without a FUSE mount, and on a daemon started with --no-stats', { skip: SKIP, timeout: 60_000 }, async () => {
  const w = workspace();
  try {
    const none = await w.tsfuse('stats', w.dir, '--once');
    assert.equal(none.code, 1);
    assert.match(none.stderr, new RegExp(`^tsfuse stats: no FUSE filesystem is mounted at ${w.dir}\n$`));

    await mountHello(w, '--no-stats');
    assert.equal(existsSync(w.socketPath()), false);
    const r = await w.tsfuse('stats', w.dir, '--once');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /has no statistics socket .*--no-stats/);
    assert.equal((await w.tsfuse('umount', w.dir)).code, 0);

    const bad = await w.tsfuse('stats', w.dir, '--interval', '0');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--interval takes a positive number of seconds/);
  } finally {
    await w.cleanup();
  }
});

test('-f on a terminal: s prints a snapshot, Ctrl-C (a plain byte in raw mode) still unmounts', { skip: SKIP || (SCRIPT === undefined ? 'needs script(1) for a pseudo-terminal: apt-get install bsdutils' : false), timeout: 60_000 }, async () => {
  const w = workspace();
  try {
    // script(1) runs the daemon on a pseudo-terminal and passes our pipe's bytes to it as keystrokes.
    const command = [...CLI, 'hello', '-f', w.dir].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn(SCRIPT!, ['-qfec', command, '/dev/null'], { env: w.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((done) => child.on('close', done));
    try {
      await waitFor(() => /s for statistics, Ctrl-C to unmount/.test(out), 20_000, 'the foreground mount');
      assert.equal((await run('cat', [join(w.dir, 'hello.txt')])).stdout, 'Hello from FUSE!\n');
      child.stdin.write('s');
      await waitFor(() => /^total /m.test(out), 10_000, 'a snapshot after s');
      assert.match(out, /^READ +1 /m);
      child.stdin.write('\x03');
      assert.equal(await Promise.race([exited, new Promise((done) => setTimeout(() => done('timeout'), 20_000))]), 0, out);
      assert.ok(!isFuseMount(w.dir), 'Ctrl-C unmounted');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  } finally {
    await w.cleanup();
  }
});
