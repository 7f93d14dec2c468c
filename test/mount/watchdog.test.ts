// The watchdog: after the daemon is SIGKILLed, the mountpoint is a plain directory again within a second.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mountDevice } from '../../src/mount/index.ts';
import { watchdogCommand } from '../../src/mount/watchdog.ts';
import type { WatchdogConfig } from '../../src/mount/watchdog.ts';
import {
  NODE26, cleanupMountpoints, fdTargets, forceUnmount, freshMountpoint, fusermountSkip, isMounted, mountinfoLines, processExists,
  realMountSkip, startMountChild, waitFor, watchdogsOf,
} from './helpers.ts';

const UMOUNT = ['/usr/bin/umount', '/bin/umount', '/usr/sbin/umount', '/sbin/umount'].find((p) => {
  try { return statSync(p).isFile(); } catch { return false; }
}) ?? 'umount';

/** A process's resident memory in KiB, from /proc/<pid>/status (VmRSS). */
function rssKiB(pid: number): number {
  const kib = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  assert.ok(kib !== undefined, `no VmRSS for ${pid}`);
  return Number(kib);
}

/** The watchdog must stay small: it was a second Node runtime (about 41 MB); a shell is about 1 MB. */
const WATCHDOG_MAX_RSS_KIB = 8 * 1024;

after(async () => {
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

/** Starts a hanging daemon, checks its watchdog (and logs its RSS), SIGKILLs the daemon and times the recovery. */
async function killAndRecover(
  log: (message: string) => void,
  nodeBinary: string,
  request: { options?: string; method?: string; respond?: boolean },
): Promise<void> {
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
  const watchdogRss = rssKiB(watchdog);
  log(`watchdog VmRSS ${watchdogRss} kB (daemon ${rssKiB(pid as number)} kB)`);
  assert.ok(watchdogRss < WATCHDOG_MAX_RSS_KIB, `watchdog VmRSS ${watchdogRss} kB`);
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

test('mount(8) path: SIGKILLed daemon, plain directory again within 1 s', { skip: realMountSkip(), timeout: 20000 }, async (t) => {
  await killAndRecover((m) => t.diagnostic(m), process.execPath, { options: 'subtype=wdroot', respond: true });
});

test('mount(8) path: daemon killed before ever answering INIT', { skip: realMountSkip(), timeout: 20000 }, async (t) => {
  await killAndRecover((m) => t.diagnostic(m), process.execPath, { options: 'subtype=wdmute' });
});

test('fusermount3 path (Node 26): SIGKILLed daemon, plain directory again within 1 s', { skip: fusermountSkip(), timeout: 20000 }, async (t) => {
  await killAndRecover((m) => t.diagnostic(m), NODE26 as string, { method: 'fusermount3', options: 'subtype=wdfm', respond: true });
});

test('fusermount3 path with auto_unmount (Node 26): SIGKILLed daemon', { skip: fusermountSkip(), timeout: 20000 }, async (t) => {
  await killAndRecover((m) => t.diagnostic(m), NODE26 as string, { method: 'fusermount3', options: 'subtype=wdauto,auto_unmount', respond: true });
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
async function runWatchdog(config: WatchdogConfig, ...chunks: string[]): Promise<void> {
  const line = watchdogCommand(config);
  const child = spawn(line.command, line.args, { stdio: ['pipe', 'inherit', 'inherit'] });
  // Listen first: a shell told `disarm` exits within microseconds.
  const closed = new Promise((r) => child.on('close', r));
  child.stdin.on('error', () => {}); // EPIPE after a disarm
  for (const chunk of chunks) {
    child.stdin.write(chunk);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.stdin.end();
  await closed;
}

test('watchdog program: which mounts it unmounts', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  let m = await handMount(dir, 'wdunit');
  const base = { mountpoint: dir, fsType: 'fuse.wdunit', uid: 0, unmount: { command: UMOUNT, args: ['-i', '-c', '-l', '--', dir] } };
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

test('watchdog program: a mountpoint with a space, a tab and a backslash (mountinfo escapes them)', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = join(freshMountpoint(), 'a b\tc\\d');
  mkdirSync(dir);
  const m = await handMount(dir, 'wdesc');
  try {
    const config = { mountpoint: dir, fsType: 'fuse.wdesc', uid: 0, knownMountIds: [], unmount: { command: UMOUNT, args: ['-i', '-c', '-l', '--', dir] } };
    await runWatchdog(config, `arm ${m.mountId + 1000} ${m.device}\n`);
    assert.ok(isMounted(dir), 'another identity: left alone');
    await runWatchdog(config, `arm ${m.mountId} ${m.device}\n`);
    assert.ok(!isMounted(dir), 'its own mount, found despite the escapes');
  } finally {
    await forceUnmount(dir);
    closeSync(m.fd);
  }
});

test('watchdog program: leaves its mount alone when another mount was stacked on top', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const under = await handMount(dir, 'wdunder');
  const over = await handMount(dir, 'wdover');
  try {
    const config = { mountpoint: dir, fsType: 'fuse.wdunder', uid: 0, knownMountIds: [], unmount: { command: UMOUNT, args: ['-i', '-c', '-l', '--', dir] } };
    await runWatchdog(config, `arm ${under.mountId} ${under.device}\n`);
    assert.equal(mountinfoLines(dir).length, 2, 'both mounts are still there');
    assert.equal(Number(mountinfoLines(dir).at(-1)?.[0]), over.mountId);
  } finally {
    await forceUnmount(dir);
    closeSync(under.fd);
    closeSync(over.fd);
  }
});

test('watchdog: false starts no watchdog process', { skip: realMountSkip(), timeout: 20000 }, async () => {
  const dir = freshMountpoint();
  const before = watchdogsOf(process.pid);
  const m = await mountDevice(dir, { options: 'subtype=wdoff', watchdog: false });
  try {
    assert.ok(isMounted(dir));
    assert.deepEqual(watchdogsOf(process.pid), before, 'no new watchdog');
  } finally {
    await m.unmount({ lazy: true });
    closeSync(m.fd);
  }
  assert.ok(!isMounted(dir));
});

test('watchdog: the default starts one small watchdog per mount, dismissed by a clean unmount', { skip: realMountSkip(), timeout: 20000 }, async (t) => {
  const dir = freshMountpoint();
  const before = watchdogsOf(process.pid);
  const m = await mountDevice(dir, { options: 'subtype=wdon' });
  try {
    const added = watchdogsOf(process.pid).filter((p) => !before.includes(p));
    assert.equal(added.length, 1);
    const rss = rssKiB(added[0] as number);
    t.diagnostic(`watchdog VmRSS ${rss} kB, this test process ${rssKiB(process.pid)} kB`);
    assert.ok(rss < WATCHDOG_MAX_RSS_KIB, `watchdog VmRSS ${rss} kB`);
  } finally {
    await m.unmount({ lazy: true });
    closeSync(m.fd);
  }
  await waitFor(() => watchdogsOf(process.pid).every((p) => before.includes(p)), 5000, 'the watchdog to exit');
});
