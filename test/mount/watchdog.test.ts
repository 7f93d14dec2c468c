// The watchdog: after the daemon is SIGKILLed, the mountpoint is a plain directory again within a second.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { WATCHDOG_SOURCE } from '../../src/mount/watchdog.ts';
import {
  NODE26, cleanupMountpoints, fdTargets, freshMountpoint, fusermountSkip, isMounted, mountinfoLines, processExists,
  realMountSkip, startMountChild, waitFor, watchdogsOf,
} from './helpers.ts';

after(async () => {
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

/** Starts a hanging daemon, checks its watchdog, SIGKILLs the daemon and times the recovery. */
async function killAndRecover(nodeBinary: string, request: { options?: string; method?: string; respond?: boolean }): Promise<void> {
  const dir = freshMountpoint();
  const daemon = startMountChild(nodeBinary, { mountpoint: dir, hang: true, ...request });
  const report = await daemon.first;
  const pid = report['pid'];
  assert.equal(typeof pid, 'number', JSON.stringify(report));
  assert.ok(isMounted(dir));
  const watchdogs = watchdogsOf(pid as number);
  assert.equal(watchdogs.length, 1, 'one watchdog per mount');
  const watchdog = watchdogs[0] as number;
  assert.ok(!fdTargets(watchdog).includes('/dev/fuse'), 'the watchdog does not hold /dev/fuse');
  assert.equal(readlinkCwd(watchdog), '/', 'the watchdog does not sit in the mountpoint');
  daemon.child.kill('SIGKILL');
  const killedAt = Date.now();
  await waitFor(() => !isMounted(dir), 1000, 'the watchdog to unmount within a second');
  const elapsed = Date.now() - killedAt;
  assert.ok(statSync(dir).isDirectory(), 'stat works: no "Transport endpoint is not connected"');
  assert.deepEqual(readdirSync(dir), []);
  await daemon.reports;
  await waitFor(() => !processExists(watchdog), 5000, 'the watchdog to exit');
  assert.ok(elapsed < 1000, `recovered in ${elapsed} ms`);
}

function readlinkCwd(pid: number): string {
  return readlinkSync(`/proc/${pid}/cwd`);
}

test('mount(8) path: SIGKILLed daemon, plain directory again within 1 s', { skip: realMountSkip(), timeout: 20000 }, async () => {
  await killAndRecover(process.execPath, { options: 'subtype=wdroot', respond: true });
});

test('mount(8) path: daemon killed before ever answering INIT', { skip: realMountSkip(), timeout: 20000 }, async () => {
  await killAndRecover(process.execPath, { options: 'subtype=wdmute' });
});

test('fusermount3 path (Node 26): SIGKILLed daemon, plain directory again within 1 s', { skip: fusermountSkip(), timeout: 20000 }, async () => {
  await killAndRecover(NODE26, { method: 'fusermount3', options: 'subtype=wdfm', respond: true });
});

test('fusermount3 path with auto_unmount (Node 26): SIGKILLed daemon', { skip: fusermountSkip(), timeout: 20000 }, async () => {
  await killAndRecover(NODE26, { method: 'fusermount3', options: 'subtype=wdauto,auto_unmount', respond: true });
});

test('a daemon that returns without unmounting exits (the watchdog keeps nothing alive) and is cleaned up', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  // mount-child with hang=false unmounts itself; here a one-liner mounts and simply falls off the end.
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    `import { mountDevice } from ${JSON.stringify(new URL('../../src/mount/index.ts', import.meta.url).href)};
     await mountDevice(${JSON.stringify(dir)}, { options: 'subtype=wdleave' });`], { stdio: 'inherit' });
  const code = await new Promise((r) => child.on('close', r));
  assert.equal(code, 0, 'the daemon exited by itself');
  await waitFor(() => !isMounted(dir), 1000, 'the watchdog to unmount after the daemon exited');
});

/** Mounts by hand (no tsfuse) so the watchdog program can be tested alone. */
async function handMount(dir: string, subtype: string): Promise<{ fd: number; mountId: number; device: string }> {
  const fd = openSync('/dev/fuse', 'r+');
  await new Promise((resolve) => spawn('mount', ['-i', '-c', '-t', `fuse.${subtype}`, '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'hand', dir], {
    stdio: ['ignore', 'inherit', 'inherit', fd],
  }).on('close', resolve));
  const f = mountinfoLines(dir).at(-1) as string[];
  return { fd, mountId: Number(f[0]), device: f[2] as string };
}

/** Runs the watchdog program on a pipe we control: writes each chunk (pausing between), then closes it. */
async function runWatchdog(config: object, ...chunks: string[]): Promise<void> {
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, JSON.stringify(config)], { stdio: ['pipe', 'inherit', 'inherit'] });
  for (const chunk of chunks) {
    child.stdin.write(chunk);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.stdin.end();
  await new Promise((r) => child.on('close', r));
}

test('watchdog program: which mounts it unmounts', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  let m = await handMount(dir, 'wdunit');
  const base = { mountpoint: dir, fsType: 'fuse.wdunit', uid: 0, unmount: { command: 'umount', args: ['-i', '-c', '-l', '--', dir] } };
  try {
    // Disarmed: leaves the mount alone.
    await runWatchdog({ ...base, knownMountIds: [] }, 'disarm\n');
    assert.ok(isMounted(dir));
    // Armed with another mount's identity: leaves it alone.
    await runWatchdog({ ...base, knownMountIds: [] }, `arm ${m.mountId + 1000} ${m.device}\n`);
    assert.ok(isMounted(dir));
    // Never armed, but the mount existed before it started: not ours.
    await runWatchdog({ ...base, knownMountIds: [m.mountId] });
    assert.ok(isMounted(dir));
    // Never armed, wrong type or uid: not ours.
    await runWatchdog({ ...base, fsType: 'fuse.other', knownMountIds: [] });
    await runWatchdog({ ...base, uid: 12345, knownMountIds: [] });
    assert.ok(isMounted(dir));
    // Never armed (daemon killed between mount and arm), new mount of our type and uid: unmounted.
    await runWatchdog({ ...base, knownMountIds: [] });
    assert.ok(!isMounted(dir));
    // Armed with the right identity (split across writes): unmounted.
    closeSync(m.fd);
    m = await handMount(dir, 'wdunit');
    await runWatchdog({ ...base, knownMountIds: [m.mountId] }, 'ar', `m ${m.mountId} ${m.device}\n`);
    assert.ok(!isMounted(dir));
  } finally {
    closeSync(m.fd);
  }
});
