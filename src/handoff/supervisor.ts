/**
 * The supervisor: a small process that keeps a copy of the mount's /dev/fuse descriptor so that a
 * daemon that crashes (SIGKILL, an uncaught exception, an out-of-memory kill) can be started again
 * without the mount going away, for filesystems that can rebuild their state (./supervisor-journal.ts).
 *
 * Why it works: the kernel aborts a FUSE connection only when the last descriptor of its /dev/fuse file
 * is released (fs/fuse/dev.c fuse_dev_release → fuse_abort_conn); while the supervisor holds one,
 * requests made while no daemon runs wait in the kernel's queue. Requests the dead daemon had read but
 * not answered sit on that file's processing list; the restarted daemon sends the RESEND notification
 * (7.40, fs/fuse/dev.c fuse_resend), which puts them back in the queue, flagged FUSE_UNIQUE_RESEND. The
 * kernel sends INIT once per connection, so the restarted daemon starts with what INIT agreed, which
 * the first daemon sent here after INIT (the `recovery` message) and this process hands to each
 * restarted daemon unchanged.
 *
 * What it holds and does, and nothing more: the /dev/fuse descriptor (it never reads or writes it), the
 * write end of the watchdog's pipe (so the watchdog does not unmount while a daemon is being
 * restarted), the control socket's listening descriptor (so `tsfuse stats` and `tsfuse restart` keep
 * the same socket), and one socketpair per daemon generation. EOF on that socketpair means every
 * process holding its other end (the daemon, and after a planned handoff its successor, which inherits
 * it) is gone: without a `stop` message first, that is a crash. It is a Node process started with
 * `-e` and a script of a hundred lines that imports four core modules, no tsfuse code: see
 * {@link SUPERVISOR_RSS_NOTE} for what it costs.
 *
 * Policy: a crash restarts the daemon at once. More than {@link SUPERVISOR_DEFAULTS}.maxCrashes crashes
 * within `windowMs` (a daemon that crashes on a request the kernel keeps resending, or cannot start)
 * and it gives up: it exits, which releases its descriptors, so the connection is aborted (programs see
 * ENOTCONN instead of hanging) and the watchdog unmounts. A restarted daemon that does not serve within
 * `startTimeoutMs` is killed and counted as a crash. A `stop` message (the daemon unmounted) or a mount
 * that is gone ends it quietly. If the supervisor itself is killed, the daemon serves on unsupervised
 * (a later crash then unmounts, as without a supervisor); if it is killed while no daemon runs, its
 * descriptors go and the watchdog unmounts, as if it had given up.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { TsfuseError } from '../errors.ts';

/** Defaults of {@link SuperviseOptions}. */
export const SUPERVISOR_DEFAULTS = Object.freeze({ maxCrashes: 5, windowMs: 60_000, startTimeoutMs: 30_000 });

/**
 * What one supervisor costs (Linux 6.18 x64, Node 20, /proc/PID/status; test/handoff/crash-recovery.test.ts
 * reports it): VmRSS about 43 MiB, of which about 36 MiB are the node binary's file pages, shared with
 * the daemon's, and about 7 MiB its own (RssAnon). Heap flags, --jitless and --single-threaded change
 * nothing measurable: that is Node's floor. A /bin/sh supervisor (about 1 MiB, like the watchdog) could
 * hold the descriptors too, but would have to relay the state without parsing it; not done.
 */
export const SUPERVISOR_RSS_NOTE = 'VmRSS ≈ 43 MiB, ≈ 7 MiB of it not shared with the daemon';

export interface SuperviseOptions {
  /** Give up after more than this many crashes within {@link windowMs}. Defaults to 5. */
  readonly maxCrashes?: number;
  /** The period crashes are counted over, in ms. Defaults to 60 000. */
  readonly windowMs?: number;
  /** How long a restarted daemon may take to serve before it is killed (and counted as a crash), in ms. Defaults to 30 000. */
  readonly startTimeoutMs?: number;
}

/** The supervisor's descriptors (and a restarted daemon's: the same numbers). */
export const SUPERVISOR_FDS = Object.freeze({ channel: 3, fuse: 4, watchdog: 5, control: 6 });

/** Environment variable naming a restarted daemon's channel descriptor (read by ./supervisor-link.ts). */
export const RECOVER_ENV = 'TSFUSE_RECOVER';

/**
 * The supervisor program (an ES module run with `node -e`). Arguments: maxCrashes, windowMs,
 * startTimeoutMs, and 1 when it holds a control socket. Messages use the handoff channel's framing
 * (./channel.ts: 4-byte little-endian length, v8.serialize body): from a daemon `recovery` (kept as
 * bytes and handed to each restarted daemon), `serving` and `stop`.
 */
export const SUPERVISOR_SCRIPT = `
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { deserialize } from 'node:v8';
import { readFileSync, rmSync } from 'node:fs';
const [maxCrashes, windowMs, startTimeoutMs, hasControl] = process.argv.slice(1, 5).map(Number);
const FUSE = ${SUPERVISOR_FDS.fuse}, WATCHDOG = ${SUPERVISOR_FDS.watchdog}, CONTROL = ${SUPERVISOR_FDS.control};
const log = (line) => process.stderr.write(new Date().toISOString() + ' tsfuse supervisor (pid ' + process.pid + '): ' + line + '\\n');
let frame, info, restarts = 0;
const crashes = [];
process.on('SIGHUP', () => {});
function finish(code, why) {
  log(why);
  if (info !== undefined) { rmSync(info.journal, { force: true }); rmSync(info.journal + '.new', { force: true }); }
  process.exit(code);
}
function mounted() {
  const want = info.device.mountId + ' ';
  for (const line of readFileSync('/proc/self/mountinfo', 'latin1').split('\\n')) {
    if (line.startsWith(want)) return line.split(' ')[2] === info.device.device;
  }
  return false;
}
function watch(socket, child) {
  let buffered = Buffer.alloc(0), stopped = false, timer;
  const startedAt = performance.now();
  if (child !== undefined) {
    timer = setTimeout(() => { log('pid ' + child.pid + ' did not serve within ' + startTimeoutMs + ' ms: killing it'); child.kill('SIGKILL'); }, startTimeoutMs);
  }
  socket.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUInt32LE(0);
      if (buffered.length < 4 + length) break;
      const bytes = buffered.subarray(0, 4 + length);
      buffered = buffered.subarray(4 + length);
      const m = deserialize(bytes.subarray(4));
      if (m.kind === 'recovery') { frame = Buffer.from(bytes); info = m.state; }
      else if (m.kind === 'stop') stopped = true;
      else if (m.kind === 'serving' && child !== undefined) {
        clearTimeout(timer);
        log('restarted the daemon as pid ' + child.pid + ' (restart ' + restarts + '), serving ' + (performance.now() - startedAt).toFixed(1) + ' ms after it was started');
      }
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    clearTimeout(timer);
    if (stopped) finish(0, 'the mount was unmounted; exiting');
    else crashed();
  });
}
function crashed() {
  const now = performance.now();
  crashes.push(now);
  while (crashes.length > 0 && crashes[0] < now - windowMs) crashes.shift();
  if (info === undefined) finish(1, 'the daemon died before it said how to restart it; exiting (the watchdog unmounts)');
  if (!mounted()) finish(0, info.mountpoint + ' is no longer mounted; exiting');
  if (crashes.length > maxCrashes) finish(1, crashes.length + ' crashes within ' + windowMs + ' ms: giving up; the connection is aborted and the watchdog unmounts ' + info.mountpoint);
  restarts++;
  const c = info.command;
  const child = spawn(c.execPath, c.args, {
    cwd: c.cwd, detached: true,
    env: { ...c.env, TSFUSE_RECOVER: '3', TSFUSE_HANDOFF_CWD: c.startupCwd },
    stdio: ['ignore', 'inherit', 'inherit', 'pipe', FUSE, info.hasWatchdog ? WATCHDOG : 'ignore', hasControl ? CONTROL : 'ignore'],
  });
  child.on('error', (e) => log('could not start the daemon: ' + e.message));
  log('the daemon died; starting it again (crash ' + crashes.length + ' within ' + windowMs + ' ms)');
  const socket = child.stdio[3];
  socket.write(frame);
  watch(socket, child);
}
watch(new Socket({ fd: 3, readable: true, writable: true }), undefined);
`;

/** Node flags that keep the supervisor small: it allocates next to nothing. */
const SUPERVISOR_NODE_FLAGS = ['--max-old-space-size=16', '--max-semi-space-size=1'];

/** The supervisor's descriptors to inherit, in this (the first daemon's) process. */
export interface SupervisorInheritance {
  readonly fuseFd: number;
  /** -1 without a watchdog. */
  readonly watchdogFd: number;
  readonly controlFd: number | undefined;
}

/** A started supervisor, seen from the daemon: its pid and this daemon's end of the channel. */
export interface StartedSupervisor {
  readonly pid: number;
  readonly channel: Socket;
}

/** Starts the supervisor process (detached, in `/`, its output the daemon's log); resolves once it runs. */
export function spawnSupervisor(fds: SupervisorInheritance, options: SuperviseOptions = {}): Promise<StartedSupervisor> {
  const maxCrashes = options.maxCrashes ?? SUPERVISOR_DEFAULTS.maxCrashes;
  const windowMs = options.windowMs ?? SUPERVISOR_DEFAULTS.windowMs;
  const startTimeoutMs = options.startTimeoutMs ?? SUPERVISOR_DEFAULTS.startTimeoutMs;
  for (const [name, v] of [['maxCrashes', maxCrashes], ['windowMs', windowMs], ['startTimeoutMs', startTimeoutMs]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `supervise.${name} must be a whole number ≥ 0, not ${String(v)}`);
  }
  const child = spawn(process.execPath, [...SUPERVISOR_NODE_FLAGS, '--input-type=module', '-e', SUPERVISOR_SCRIPT,
    String(maxCrashes), String(windowMs), String(startTimeoutMs), fds.controlFd !== undefined ? '1' : '0'], {
    detached: true,
    cwd: '/',
    stdio: ['ignore', 'inherit', 'inherit', 'pipe', fds.fuseFd, fds.watchdogFd >= 0 ? fds.watchdogFd : 'ignore', fds.controlFd ?? 'ignore'],
    env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new TsfuseError('ERR_FUSE_SUPERVISE', `could not start the supervisor: ${e.message}`, { cause: e })));
    child.once('spawn', () => {
      child.unref();
      const channel = child.stdio[SUPERVISOR_FDS.channel] as Socket;
      channel.unref();
      resolve({ pid: child.pid ?? -1, channel });
    });
  });
}
