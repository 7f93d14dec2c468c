// mount()'s permission rules (allow_other without default_permissions) and its disposal: the pure policy,
// then real mounts. Mounts are touched only from child processes (never this process's sync fs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { closeSync, fstatSync } from 'node:fs';
import {
  mount, mountDevice, FuseError, ROOT_ID, S_IFDIR, S_IFREG, type FuseMount, type LowLevelOperations, type MountedDevice,
} from '../../src/index.ts';
import { permissionPolicy, NO_PERMISSION_CHECKS_WARNING } from '../../src/session/fuse-mount.ts';
import { parseMountOptions } from '../../src/mount/options.ts';
import { cleanupMountpoints, freshMountpoint, isMounted, mountSkip, rejectAfter, run, safeUnmount } from '../support/mount-helpers.ts';

test('permissionPolicy: only allow_other without default_permissions matters', () => {
  for (const o of ['', 'default_permissions', 'allow_other,default_permissions', 'allow_root']) {
    const parsed = parseMountOptions(o);
    for (const checks of [false, true]) {
      const p = permissionPolicy(parsed, checks);
      assert.equal(p.warning, undefined, o);
      assert.equal(p.options, parsed, `${o}: options unchanged`);
    }
  }
});

test('permissionPolicy: a filesystem that does not check gets a warning that explains why', () => {
  const parsed = parseMountOptions('allow_other,attr_timeout=3');
  const p = permissionPolicy(parsed, false);
  assert.equal(p.warning, NO_PERMISSION_CHECKS_WARNING);
  for (const f of ['allow_other', 'default_permissions', 'checksPermissions', 'cached entry', 'every user']) assert.ok(p.warning.includes(f), f);
  assert.equal(p.options, parsed, 'timeouts untouched');
});

test('permissionPolicy: a filesystem that checks gets entry and attribute timeouts of 0 unless given', () => {
  const p = permissionPolicy(parseMountOptions('allow_other'), true);
  assert.equal(p.warning, undefined);
  assert.equal(p.options.fs.entryTimeout, 0);
  assert.equal(p.options.fs.attrTimeout, 0);
  assert.equal(p.options.fs.negativeTimeout, undefined);
  assert.ok(Object.isFrozen(p.options) && Object.isFrozen(p.options.fs));
  const given = permissionPolicy(parseMountOptions({ allowOther: true, attrTimeout: 5 }), true);
  assert.equal(given.options.fs.attrTimeout, 5);
  assert.equal(given.options.fs.entryTimeout, 0);
});

const skip = mountSkip() ?? false;
after(async () => { await cleanupMountpoints(); });

/** A root directory holding one file, `f`, that counts its lookups. */
function counting(checksPermissions: boolean): LowLevelOperations & { lookups: number } {
  const fs = {
    lookups: 0,
    checksPermissions,
    lookup({ parent, name }: { parent: unknown; name: Buffer }) {
      if (parent !== ROOT_ID || name.toString() !== 'f') throw new FuseError('ENOENT');
      fs.lookups++;
      return { ino: 2, attr: { mode: S_IFREG | 0o644, size: 0 } };
    },
    getattr({ ino }: { ino: unknown }) {
      if (ino === ROOT_ID) return { attr: { mode: S_IFDIR | 0o755, nlink: 2 } };
      if (ino === 2) return { attr: { mode: S_IFREG | 0o644, size: 0 } };
      throw new FuseError('ENOENT');
    },
  };
  return fs as LowLevelOperations & { lookups: number };
}

/** Mounts with a timeout, so a broken mount fails the test instead of hanging it. */
function mountIn(dir: string, ops: LowLevelOperations, options: Parameters<typeof mount>[2]): Promise<FuseMount> {
  return Promise.race([mount(dir, ops, options), rejectAfter(15_000, 'mount timed out')]);
}

test('mount: allow_other without default_permissions warns a filesystem that does not check', { skip, timeout: 30_000 }, async () => {
  const dir = freshMountpoint();
  const warnings: string[] = [];
  let m: FuseMount | undefined;
  try {
    m = await mountIn(dir, counting(false), { options: { allowOther: true }, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings, [NO_PERMISSION_CHECKS_WARNING]);
    assert.equal(m.options.fs.attrTimeout, undefined);
  } finally {
    await safeUnmount(m, dir);
  }
});

test('mount: a filesystem that checks is asked on every access (timeouts 0)', { skip, timeout: 30_000 }, async () => {
  const dir = freshMountpoint();
  const warnings: string[] = [];
  const ops = counting(true);
  let m: FuseMount | undefined;
  try {
    m = await mountIn(dir, ops, { options: 'allow_other', onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings, []);
    assert.equal(m.options.fs.entryTimeout, 0);
    assert.equal(m.options.fs.attrTimeout, 0);
    for (let i = 0; i < 3; i++) {
      const r = await run('stat', ['-c', '%s', join(dir, 'f')]);
      assert.equal(r.code, 0, r.out);
    }
    // With entry_timeout 0 the kernel looks the name up again for every stat (fuse_dentry_revalidate).
    assert.ok(ops.lookups >= 3, `lookups: ${ops.lookups}`);
  } finally {
    await safeUnmount(m, dir);
  }
});

test('close(): one promise for every call, unmounts, and [Symbol.asyncDispose] awaits it', { skip, timeout: 30_000 }, async () => {
  const dir = freshMountpoint();
  let m: FuseMount | undefined;
  try {
    m = await mountIn(dir, counting(false), { options: 'default_permissions' });
    const first = m.close();
    assert.equal(m.close(), first, 'idempotent: the same promise');
    await first;
    assert.equal(isMounted(dir), false);
    await m[Symbol.asyncDispose](); // after close: resolves, does nothing more
    await m.closed;
  } finally {
    await safeUnmount(m, dir);
  }
});

test('close(): a busy mount is unmounted lazily, where unmount() refuses', { skip, timeout: 30_000 }, async () => {
  const dir = freshMountpoint();
  let m: FuseMount | undefined;
  // A child whose working directory is the mount keeps it busy. It enters the mount after exec (never
  // spawn's `cwd`: libuv's spawn waits for the exec, and the chdir would wait for this process to answer).
  let child: ReturnType<typeof spawn> | undefined;
  try {
    m = await mountIn(dir, counting(false), { options: 'default_permissions' });
    child = spawn('sh', ['-c', 'cd "$1" && echo in && exec sleep 30', 'sh', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
    await once(child.stdout!, 'data');
    await assert.rejects(m.unmount(), { code: 'ERR_FUSE_UNMOUNT_FAILED' });
    assert.equal(isMounted(dir), true, 'still mounted after the refused unmount');
    await Promise.race([m.close(), rejectAfter(10_000, 'close timed out')]);
    assert.equal(isMounted(dir), false, 'detached');
  } finally {
    child?.kill();
    if (child && child.exitCode === null && child.signalCode === null) await once(child, 'exit').catch(() => {});
    await safeUnmount(m, dir);
  }
});

test('MountedDevice.close(): one promise, unmounts, leaves the descriptor to the caller', { skip, timeout: 30_000 }, async () => {
  const dir = freshMountpoint();
  let device: MountedDevice | undefined;
  try {
    device = await Promise.race([mountDevice(dir, { options: { fsname: 'tsfuse-close-test' } }), rejectAfter(15_000, 'mount timed out')]);
    assert.equal(isMounted(dir), true);
    const first = device.close();
    assert.equal(device.close(), first, 'idempotent: the same promise');
    await first;
    assert.equal(isMounted(dir), false);
    await device[Symbol.asyncDispose]();
    fstatSync(device.fd); // still open: throws EBADF if close() had closed it
  } finally {
    if (device) closeSync(device.fd);
    await safeUnmount(undefined, dir);
  }
});
