// The unprivileged mount path for real: fusermount3 opens /dev/fuse and passes the descriptor back, which
// tsfuse receives through node:ffi (Node >= 26). As root, as an ordinary user, and the error an ordinary
// user gets on Node 20.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, rmdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NODE_MAJOR, E2E_FIXTURES, NODE26, asUserCommand, cleanupMountpoints, ensureTestUser, forceUnmount, freshMountpoint, fusermountSkip,
  isFuseMount, leftoverMounts, mountSkip, removeTestUser, run, startDaemon, stopDaemon, waitFor, withDeviceMode, type Daemon,
} from '../support/mount-helpers.ts';

const DAEMON = join(E2E_FIXTURES, 'hello-daemon.ts');
const skip = fusermountSkip();

after(async () => {
  await cleanupMountpoints();
  await removeTestUser();
});

/** The super options (last field) of the mount at `dir`. */
function superOptions(dir: string): string[] {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === dir);
  assert.ok(line, `no mountinfo line for ${dir}`);
  return (line.split(' ').at(-1) ?? '').split(',');
}

test('fusermount3: Node 26 runs src/ by its own type stripping, mounts hello through fusermount3 as root, SIGTERM unmounts', { skip, timeout: 30000 }, async () => {
  const dir = freshMountpoint();
  let d: Daemon | undefined;
  try {
    // No flags: Node 26 strips types by default and node:ffi is on by default (only --permission needs --allow-ffi).
    d = startDaemon(NODE26 as string, [DAEMON, JSON.stringify({ mountpoint: dir, method: 'fusermount3', handleSignals: true })]);
    const report = await d.ready;
    assert.equal(report['method'], 'fusermount3');
    assert.match(String(report['node']), /^v2[6-9]\.|^v[3-9]\d\./);
    assert.ok(isFuseMount(dir));
    assert.ok(superOptions(dir).includes('user_id=0'));
    const cat = await run('cat', [join(dir, 'hello.txt')]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'Hello from FUSE!\n');
    d.child.kill('SIGTERM');
    const exit = await d.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, d.output());
    assert.match(d.output(), /^closed$/m);
    assert.ok(!isFuseMount(dir), 'unmounted by the daemon itself');
  } finally {
    await stopDaemon(d);
    await forceUnmount(dir);
    await rmdir(dir).catch(() => {});
  }
});

test('fusermount3: an ordinary user mounts hello with Node 26, reads it, and unmounts on SIGTERM', { skip, timeout: 30000 }, async () => {
  const user = await ensureTestUser();
  const { uid, gid } = user;
  const dir = freshMountpoint();
  await chown(dir, uid, gid);
  let d: Daemon | undefined;
  try {
    await withDeviceMode(0o666, async () => {
      d = startDaemon(...asUserCommand(user, NODE26 as string, [DAEMON, JSON.stringify({ mountpoint: dir, method: 'fusermount3', handleSignals: true })]));
      const report = await d.ready;
      assert.equal(report['method'], 'fusermount3');
      assert.ok(isFuseMount(dir));
      assert.ok(superOptions(dir).includes(`user_id=${uid}`), superOptions(dir).join(','));
      // Without allow_other only the mounting user may enter the mount, so read it as that user.
      const cat = await run(...asUserCommand(user, 'cat', [join(dir, 'hello.txt')]));
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(cat.stdout, 'Hello from FUSE!\n');
      const ls = await run(...asUserCommand(user, 'ls', [dir]));
      assert.equal(ls.stdout, 'hello.txt\n');
      // The daemon runs as the user, not as root.
      const status = readFileSync(`/proc/${String(report['pid'])}/status`, 'utf8');
      assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
      process.kill(report['pid'] as number, 'SIGTERM');
      const exit = await d.exited;
      assert.deepEqual(exit, { code: 0, signal: null }, d.output());
      assert.match(d.output(), /^closed$/m);
      assert.ok(!isFuseMount(dir), 'fusermount3 -u unmounted it');
    });
  } finally {
    await stopDaemon(d);
    await forceUnmount(dir);
    await rmdir(dir).catch(() => {});
  }
});

test('fusermount3: under Node 26 --permission the error names --allow-ffi, and with it the mount works', { skip, timeout: 30000 }, async () => {
  const dir = freshMountpoint();
  const permission = ['--permission', '--allow-fs-read=*', '--allow-fs-write=*', '--allow-child-process'];
  let d: Daemon | undefined;
  try {
    const denied = await run(NODE26 as string, [...permission, DAEMON, JSON.stringify({ mountpoint: dir, method: 'fusermount3' })]);
    assert.equal(denied.code, 1, denied.stdout + denied.stderr);
    const m = /^error (.*)$/m.exec(denied.stdout);
    assert.ok(m, denied.stdout + denied.stderr);
    const e = JSON.parse(m[1] as string) as { code: string; message: string };
    assert.equal(e.code, 'ERR_FUSE_NEEDS_FFI');
    assert.match(e.message, /permission model blocks: add --allow-ffi/);
    assert.ok(!isFuseMount(dir), 'nothing was mounted');

    d = startDaemon(NODE26 as string, [...permission, '--allow-ffi', '--allow-worker', DAEMON, JSON.stringify({ mountpoint: dir, method: 'fusermount3', handleSignals: true })]);
    await d.ready;
    assert.equal((await run('cat', [join(dir, 'hello.txt')])).stdout, 'Hello from FUSE!\n');
    d.child.kill('SIGTERM');
    assert.deepEqual(await d.exited, { code: 0, signal: null }, d.output());
    assert.ok(!isFuseMount(dir));
  } finally {
    await stopDaemon(d);
    await forceUnmount(dir);
    await rmdir(dir).catch(() => {});
  }
});

// What a Node without node:ffi says; under a Node that has it (the suite run by Node >= 26), the mount
// would simply work, so there is nothing to check.
const HAS_FFI_NODE = NODE_MAJOR >= 26;
test('fusermount3: an ordinary user on Node 20 is told node:ffi (Node >= 26) is missing', {
  skip: mountSkip() || (HAS_FFI_NODE && `this Node (${process.version}) has node:ffi; run the suite with Node < 26 (the machine's default Node 20) for this case`),
  timeout: 30000,
}, async () => {
  const user = await ensureTestUser();
  const dir = freshMountpoint();
  await chown(dir, user.uid, user.gid);
  try {
    await withDeviceMode(0o666, async () => {
      for (const method of ['fusermount3', 'auto']) {
        const r = await run(...asUserCommand(user, process.execPath, ['--import', 'tsx', DAEMON, JSON.stringify({ mountpoint: dir, method })]), { cwd: join(E2E_FIXTURES, '../../..') });
        assert.equal(r.code, 1, r.stdout + r.stderr);
        const m = /^error (.*)$/m.exec(r.stdout);
        assert.ok(m, r.stdout + r.stderr);
        const e = JSON.parse(m[1] as string) as { code: string; message: string };
        assert.equal(e.code, 'ERR_FUSE_NEEDS_FFI');
        assert.match(e.message, /needs node:ffi \(Node >= 26\)/);
        assert.match(e.message, new RegExp(`this is Node ${process.version.replace(/\./g, '\\.')}`));
        assert.match(e.message, /run as root/);
        assert.ok(!isFuseMount(dir));
      }
    });
  } finally {
    await forceUnmount(dir);
    await rmdir(dir).catch(() => {});
  }
});

test('fusermount3: no FUSE mount of these tests remains', { skip: mountSkip(), timeout: 30000 }, async () => {
  await waitFor(() => leftoverMounts().length === 0, 2000, 'no leftover mounts').catch(() => {});
  assert.deepEqual(leftoverMounts(), []);
});
