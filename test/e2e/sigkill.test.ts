// A daemon that dies (SIGKILL) leaves no dead mount behind: the watchdog unmounts within a second, so
// the mountpoint is a plain directory again instead of failing with ENOTCONN. And with handleSignals,
// SIGINT/SIGTERM unmount cleanly and the process exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FIXTURES, NODE26, forceUnmount, freshMountpoint, fusermountSkip, isFuseMount, leftoverMounts, mountSkip, run,
  startDaemon, stopDaemon, waitFor, type Daemon,
} from './helpers.ts';

const DAEMON = join(FIXTURES, 'hello-daemon.ts');

const variants = [
  { name: 'root, mount(8), Node 20 + tsx', skip: mountSkip(), command: () => [process.execPath, '--import', 'tsx', DAEMON], method: 'mount' },
  { name: 'fusermount3, Node 26', skip: fusermountSkip(), command: () => [NODE26 as string, DAEMON], method: 'fusermount3' },
] as const;

for (const v of variants) {
  test(`sigkill (${v.name}): the mountpoint is a plain directory again within 1 s`, { skip: v.skip, timeout: 30000 }, async () => {
    const dir = freshMountpoint();
    let d: Daemon | undefined;
    try {
      const [cmd, ...args] = v.command();
      d = startDaemon(cmd as string, [...args, JSON.stringify({ mountpoint: dir, method: v.method })]);
      const report = await d.ready;
      assert.equal(report['method'], v.method);
      assert.ok(isFuseMount(dir));
      assert.equal((await run('cat', [join(dir, 'hello.txt')])).stdout, 'Hello from FUSE!\n');

      d.child.kill('SIGKILL');
      const killedAt = Date.now();
      const exit = await d.exited;
      assert.equal(exit.signal, 'SIGKILL');
      await waitFor(() => !isFuseMount(dir), 1000 - (Date.now() - killedAt), 'the watchdog to unmount after SIGKILL', 50);

      // Not ENOTCONN: an ordinary, empty directory.
      const st = await run('stat', ['-c', '%F', dir]);
      assert.equal(st.code, 0, st.stderr);
      assert.equal(st.stdout.trim(), 'directory');
      const ls = await run('ls', ['-A', dir]);
      assert.equal(ls.code, 0, ls.stderr);
      assert.equal(ls.stdout, '');
    } finally {
      await stopDaemon(d);
      await forceUnmount(dir);
      await rmdir(dir).catch(() => {});
    }
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`handleSignals: ${signal} unmounts cleanly and the daemon exits 0`, { skip: mountSkip(), timeout: 30000 }, async () => {
    const dir = freshMountpoint();
    let d: Daemon | undefined;
    try {
      d = startDaemon(process.execPath, ['--import', 'tsx', DAEMON, JSON.stringify({ mountpoint: dir, method: 'mount', handleSignals: true })]);
      await d.ready;
      assert.ok(isFuseMount(dir));
      assert.equal((await run('cat', [join(dir, 'hello.txt')])).stdout, 'Hello from FUSE!\n');
      d.child.kill(signal);
      const exit = await d.exited;
      assert.deepEqual(exit, { code: 0, signal: null }, d.output());
      assert.match(d.output(), /^closed$/m);
      assert.doesNotMatch(d.output(), /Warning|Error/);
      assert.ok(!isFuseMount(dir));
      assert.equal((await run('ls', ['-A', dir])).stdout, '');
    } finally {
      await stopDaemon(d);
      await forceUnmount(dir);
      await rmdir(dir).catch(() => {});
    }
  });
}

test('sigkill: no FUSE mount of these tests remains', { skip: mountSkip(), timeout: 30000 }, () => {
  assert.deepEqual(leftoverMounts(), []);
});
