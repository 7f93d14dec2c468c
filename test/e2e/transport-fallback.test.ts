// The worker transport takes over when the epoll transport's binding (process.binding('pipe_wrap'), see
// src/session/transport.ts) is unavailable: a daemon in a child process whose binding is stubbed out
// before tsfuse loads (fixtures/no-pipe-wrap.mjs) still mounts and serves, through the worker.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  E2E_FIXTURES, cleanupMountpoints, freshMountpoint, isFuseMount, leftoverMounts, mountSkip, run, startDaemon, stopDaemon,
  type Daemon,
} from '../support/mount-helpers.ts';

const skip = mountSkip();
const DAEMON = join(E2E_FIXTURES, 'hello-daemon.ts');
const NO_PIPE_WRAP = join(E2E_FIXTURES, 'no-pipe-wrap.mjs');

after(async () => {
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

/** Starts the hello daemon under this Node (tsx), with the binding made unavailable as `how` says. */
function daemon(dir: string, how: 'throw' | 'absent' | undefined, transport?: 'epoll' | 'worker'): Daemon {
  const preload = how === undefined ? [] : ['--import', NO_PIPE_WRAP];
  const env: NodeJS.ProcessEnv = { ...process.env, TSFUSE_TEST_NO_PIPE_WRAP: how };
  return startDaemon(process.execPath, [
    '--import', 'tsx', ...preload, DAEMON, JSON.stringify({ mountpoint: dir, method: 'mount', handleSignals: true, transport }),
  ], { env });
}

/** Reads hello.txt from another process, stops the daemon with SIGTERM and checks it unmounted. */
async function serveAndStop(d: Daemon, dir: string): Promise<void> {
  const cat = await run('cat', [join(dir, 'hello.txt')]);
  assert.equal(cat.code, 0, cat.stderr);
  assert.equal(cat.stdout, 'Hello from FUSE!\n');
  const ls = await run('ls', [dir]);
  assert.equal(ls.stdout, 'hello.txt\n');
  d.child.kill('SIGTERM');
  assert.deepEqual(await d.exited, { code: 0, signal: null }, d.output());
  assert.ok(!isFuseMount(dir), 'unmounted on SIGTERM');
}

test('transport: with the binding available, the default is epoll', { skip, timeout: 30000 }, async () => {
  const dir = freshMountpoint();
  const d = daemon(dir, undefined);
  try {
    const report = await d.ready;
    assert.equal(report['transport'], 'epoll');
    await serveAndStop(d, dir);
  } finally {
    await stopDaemon(d);
  }
});

for (const how of ['throw', 'absent'] as const) {
  test(`transport: process.binding('pipe_wrap') unavailable (${how}) → the worker transport serves the mount`, { skip, timeout: 30000 }, async () => {
    const dir = freshMountpoint();
    const d = daemon(dir, how);
    try {
      const report = await d.ready;
      assert.equal(report['transport'], 'worker', d.output());
      assert.ok(isFuseMount(dir));
      await serveAndStop(d, dir);
    } finally {
      await stopDaemon(d);
    }
  });
}

test('transport: asking for epoll without the binding fails clearly and leaves no mount', { skip, timeout: 30000 }, async () => {
  const dir = freshMountpoint();
  const d = daemon(dir, 'throw', 'epoll');
  try {
    const exit = await d.exited;
    assert.equal(exit.code, 1, d.output());
    const m = /^error (.*)$/m.exec(d.output());
    assert.ok(m, d.output());
    const e = JSON.parse(m[1] as string) as { message: string };
    assert.match(e.message, /epoll transport needs process\.binding\("pipe_wrap"\)/);
    assert.ok(!isFuseMount(dir), 'nothing stays mounted');
  } finally {
    await stopDaemon(d);
  }
});

test('transport: no FUSE mount of these tests remains', { skip, timeout: 30000 }, () => {
  assert.deepEqual(leftoverMounts(), []);
});
