// Real mounts as root: mount(8) in this process, fusermount3 + node:ffi in a Node 26 child.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TsfuseError } from '../../src/errors.ts';
import { mountDevice, unmount } from '../../src/mount/index.ts';
import { defaultEnvironment } from '../../src/mount/environment.ts';
import { mountDeviceWith } from '../../src/mount/mount.ts';
import {
  NODE26 as FOUND_NODE26, cleanupMountpoints, fdTargets, freshMountpoint, fusermountSkip, isMounted, mountinfoLines, processExists,
  realMountSkip, run, startMountChild, waitFor, watchdogsOf,
} from '../support/mount-helpers.ts';
import { respond } from './init-responder.ts';

// Looks only at this file's own mountpoints: another test file or another run may have mounts up now.
after(async () => {
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

const NODE26 = FOUND_NODE26 ?? ''; // only used by tests that fusermountSkip() lets run

const OPTIONS = 'fsname=tsfuse-test,subtype=tsfusetest,allow_other,default_permissions,max_read=65536,noexec,noatime';

test('root: mount(8) path mounts with the requested options, serves, and unmounts', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const m = await mountDevice(dir, { options: OPTIONS });
  let served: Promise<number> | undefined;
  try {
    assert.equal(m.method, 'mount');
    assert.equal(m.mountpoint, dir);
    assert.equal(m.options.mount.subtype, 'tsfusetest');
    const lines = mountinfoLines(dir);
    assert.equal(lines.length, 1);
    const f = lines[0] as string[];
    const sep = f.indexOf('-', 6);
    assert.equal(Number(f[0]), m.mountId);
    assert.equal(f[2], `${f[2]?.split(':')[0]}:${m.connection}`);
    assert.equal(f[sep + 1], 'fuse.tsfusetest');
    assert.equal(f[sep + 2], 'tsfuse-test');
    const mountOpts = (f[5] as string).split(',');
    for (const o of ['rw', 'nosuid', 'nodev', 'noexec', 'noatime']) assert.ok(mountOpts.includes(o), `mount option ${o}`);
    assert.deepEqual((f[sep + 3] as string).split(','),
      ['rw', 'user_id=0', 'group_id=0', 'default_permissions', 'allow_other', 'max_read=65536']);
    // The descriptor is /dev/fuse, close-on-exec, and belongs to this very connection.
    const fdinfo = readFileSync(`/proc/self/fdinfo/${m.fd}`, 'utf8');
    assert.ok((Number.parseInt(/flags:\s+(\d+)/.exec(fdinfo)?.[1] ?? '0', 8) & 0o2000000) !== 0, 'O_CLOEXEC');
    const conn = /fuse_connection:\s+(\d+)/.exec(fdinfo)?.[1];
    if (conn !== undefined) assert.equal(Number(conn), m.connection);
    // A watchdog watches, without the device and away from the mountpoint.
    const [watchdog] = watchdogsOf(process.pid);
    assert.ok(watchdog !== undefined, 'a watchdog runs');
    assert.ok(!fdTargets(watchdog).includes('/dev/fuse'), 'the watchdog does not hold /dev/fuse');
    assert.equal(readFileSync(`/proc/${watchdog}/stat`, 'utf8').split(' ')[5], String(watchdog), 'own session');
    served = respond(m.fd);
    assert.ok((await stat(dir)).isDirectory());
    assert.deepEqual(await readdir(dir).catch((e: NodeJS.ErrnoException) => e.code), 'ENOSYS');
    await m.unmount();
    assert.ok(!isMounted(dir));
    await m.unmount(); // idempotent
    await waitFor(() => !processExists(watchdog), 5000, 'the watchdog to exit after a clean unmount');
    assert.ok((await stat(dir)).isDirectory());
  } finally {
    if (isMounted(dir)) await m.unmount({ lazy: true }).catch(() => {});
    await served;
    closeSync(m.fd);
  }
});

test('root: busy mount fails to unmount with the tool message, lazy works', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const m = await mountDevice(dir);
  const served = respond(m.fd);
  // Not spawn's `cwd`: that chdir happens before exec, while spawn() blocks this process's event loop, so the
  // FUSE request it makes could never be answered. The shell changes directory after exec instead.
  const sleeper = spawn('sh', ['-c', `cd '${dir}' && exec sleep 30`], { stdio: 'ignore' });
  try {
    await waitFor(() => {
      try {
        return readlinkSync(`/proc/${sleeper.pid}/cwd`) === dir;
      } catch {
        return false;
      }
    }, 5000, 'the shell to enter the mount');
    await assert.rejects(m.unmount(), (err: unknown) => {
      assert.ok(err instanceof TsfuseError);
      assert.equal(err.code, 'ERR_FUSE_UNMOUNT_FAILED');
      assert.match(err.message, /busy/);
      return true;
    });
    assert.ok(isMounted(dir));
    await m.unmount({ lazy: true });
    assert.ok(!isMounted(dir));
  } finally {
    sleeper.kill('SIGKILL');
    if (isMounted(dir)) await m.unmount({ lazy: true }).catch(() => {});
    await served;
    closeSync(m.fd);
  }
});

test('root: standalone unmount() and Symbol.asyncDispose', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const m = await mountDevice(dir, { options: ['subtype=standalone'] });
  try {
    await unmount(dir);
    assert.ok(!isMounted(dir));
    await m.unmount(); // already gone: counts as done
    await assert.rejects(unmount(dir), (err: unknown) => {
      assert.ok(err instanceof TsfuseError);
      assert.equal(err.code, 'ERR_FUSE_UNMOUNT_FAILED');
      assert.match(err.message, /not mounted/);
      return true;
    });
  } finally {
    closeSync(m.fd);
  }
  const d = await mountDevice(dir, { options: 'fsname=dispose' });
  await d[Symbol.asyncDispose]();
  assert.ok(!isMounted(dir));
  closeSync(d.fd);
});

test('root: a failing mount(8) gives ERR_FUSE_MOUNT_FAILED with its message, and leaves nothing behind', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const bin = freshMountpoint();
  mkdirSync(join(bin, 'bin'));
  writeFileSync(join(bin, 'bin', 'mount'), '#!/bin/sh\necho "mount: simulated failure: $*" >&2\nexit 32\n');
  chmodSync(join(bin, 'bin', 'mount'), 0o755);
  const env = defaultEnvironment();
  const before = watchdogsOf(process.pid);
  await assert.rejects(
    mountDeviceWith({ ...env, searchDirs: [join(bin, 'bin'), ...env.searchDirs] }, dir, { options: 'subtype=failing' }),
    (err: unknown) => {
      assert.ok(err instanceof TsfuseError);
      assert.equal(err.code, 'ERR_FUSE_MOUNT_FAILED');
      assert.match(err.message, /exited with code 32: mount: simulated failure: .*fuse\.failing/);
      return true;
    },
  );
  assert.ok(!isMounted(dir));
  await waitFor(() => watchdogsOf(process.pid).every((p) => before.includes(p)), 5000, 'the watchdog to be dismissed');
});

test('root: fusermount3 + node:ffi under Node 26', { skip: fusermountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const daemon = startMountChild(NODE26, {
    mountpoint: dir, method: 'fusermount3', hang: true, respond: true,
    options: 'fsname=fm-test,subtype=fmtest,default_permissions,max_read=65536,noatime,auto_unmount',
  });
  try {
    const report = await daemon.first;
    assert.equal(report['method'], 'fusermount3', JSON.stringify(report));
    const f = mountinfoLines(dir)[0] as string[];
    const sep = f.indexOf('-', 6);
    assert.equal(f[sep + 1], 'fuse.fmtest');
    assert.equal(f[sep + 2], 'fm-test');
    assert.ok((f[5] as string).split(',').includes('noatime'));
    assert.deepEqual((f[sep + 3] as string).split(','), ['rw', 'user_id=0', 'group_id=0', 'default_permissions', 'max_read=65536']);
    // The received descriptor is /dev/fuse and close-on-exec in the daemon.
    const pid = report['pid'] as number;
    const fdinfo = readFileSync(`/proc/${pid}/fdinfo/${report['fd'] as number}`, 'utf8');
    assert.ok((Number.parseInt(/flags:\s+(\d+)/.exec(fdinfo)?.[1] ?? '0', 8) & 0o2000000) !== 0, 'O_CLOEXEC');
    assert.ok((await stat(dir)).isDirectory());
  } finally {
    daemon.child.kill('SIGTERM');
    await daemon.reports;
    await waitFor(() => !isMounted(dir), 5000, 'the watchdog to unmount');
  }
  // And a clean run: mount, unmount, exit on its own (nothing keeps the daemon alive).
  const clean = startMountChild(NODE26, { mountpoint: dir, method: 'fusermount3', respond: true });
  const reports = await clean.reports;
  assert.equal(reports[0]?.['method'], 'fusermount3', JSON.stringify(reports));
  assert.deepEqual(reports[1], { unmounted: true });
  assert.ok(!isMounted(dir));
});

test('root: fusermount3 failure carries its message', { skip: fusermountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const inner = join(dir, 'inner');
  mkdirSync(inner);
  // A stand-in fusermount3 that fails the way the real one does: a message on stderr, exit code 1.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'fusermount3'), '#!/bin/sh\necho "fusermount3: simulated: $*" >&2\nexit 1\n');
  chmodSync(join(bin, 'fusermount3'), 0o755);
  const r = await run(NODE26, ['--no-warnings', '--input-type=module', '-e', `
    import { mountDeviceWith } from ${JSON.stringify(new URL('../../src/mount/mount.ts', import.meta.url).href)};
    import { defaultEnvironment } from ${JSON.stringify(new URL('../../src/mount/environment.ts', import.meta.url).href)};
    const env = defaultEnvironment();
    try { await mountDeviceWith({ ...env, searchDirs: [${JSON.stringify(bin)}, ...env.searchDirs] }, ${JSON.stringify(inner)}, { method: 'fusermount3' }); }
    catch (e) { console.log(e.code, e.message); }
  `]);
  assert.match(r.out, /ERR_FUSE_MOUNT_FAILED .*fusermount3 exited with code 1: fusermount3: simulated: -o rw,nosuid,nodev,fsname=tsfuse -- /);
  assert.ok(!isMounted(inner));
});
