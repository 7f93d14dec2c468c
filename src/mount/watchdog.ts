/**
 * The watchdog: a tiny detached Node process that unmounts lazily when the daemon dies, even by SIGKILL,
 * so the mountpoint goes back to being a plain directory instead of failing with "Transport endpoint is
 * not connected". fusermount3's own auto_unmount covers only the fusermount3 path, hence this one, which
 * runs on every path.
 *
 * How it knows: its stdin is a pipe from the daemon, and nothing else holds the write end (libuv makes
 * the parent's end close-on-exec), so EOF on stdin means the daemon is gone. The daemon talks to it in
 * lines: `arm <mountId> <major:minor>` once mounted, `disarm` after a clean unmount (exit without
 * unmounting). It is started before the mount so that a daemon killed in between is covered too: if never
 * armed, it unmounts a FUSE mount of our type and uid at the mountpoint whose mount id it was not told
 * existed beforehand.
 *
 * What it must not do: hold the /dev/fuse descriptor (it is close-on-exec and not in the watchdog's
 * stdio), touch the mountpoint (it reads /proc/self/mountinfo only, and the unmount commands do not
 * resolve the mountpoint, see unmount.ts), or keep the daemon alive (its process and pipe are unref'd).
 * It runs from an inline source string with `process.execPath -e`, so it works the same from TypeScript
 * sources and from the built package, with no entry file to locate.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import type { CommandLine } from './unmount.ts';

/** What the watchdog is told at start. */
export interface WatchdogConfig {
  readonly mountpoint: string;
  readonly fsType: string;
  readonly uid: number;
  /** Mount ids at the mountpoint before mounting; any other one of our type is ours. */
  readonly knownMountIds: readonly number[];
  /** The lazy unmount to run. */
  readonly unmount: CommandLine;
}

export interface Watchdog {
  readonly pid: number;
  /** Names our mount exactly, once it exists. */
  arm(mountId: number, device: string): void;
  /** Tells the watchdog to exit without unmounting. Idempotent. */
  disarm(): void;
}

/**
 * The watchdog program. Plain CommonJS with no dependencies; `process.argv[1]` is the JSON config.
 * Its mountinfo parsing mirrors mountinfo.ts (octal escapes, fields after the ' - ' separator).
 */
export const WATCHDOG_SOURCE = String.raw`'use strict';
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const cfg = JSON.parse(process.argv[1]);
process.title = 'tsfuse-watchdog';
let armed = null;
let finished = false;
let pending = '';
const unescape = (s) => s.replace(/\\([0-3][0-7][0-7])/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
function ourMountOnTop() {
  let text;
  try { text = readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return false; }
  let top = null;
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep !== -1 && unescape(f[4] || '') === cfg.mountpoint) top = { f, sep };
  }
  if (top === null) return false;
  const { f, sep } = top;
  const id = Number(f[0]);
  if (armed !== null) return id === armed.id && f[2] === armed.device;
  return f[sep + 1] === cfg.fsType && !cfg.knownMountIds.includes(id) &&
    (f[sep + 3] || '').split(',').includes('user_id=' + cfg.uid);
}
function daemonGone() {
  if (finished) return;
  finished = true;
  if (!ourMountOnTop()) process.exit(0);
  const child = spawn(cfg.unmount.command, cfg.unmount.args, { stdio: 'ignore', cwd: '/' });
  child.on('exit', () => process.exit(0));
  child.on('error', () => process.exit(1));
}
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
    const words = pending.slice(0, nl).split(' ');
    pending = pending.slice(nl + 1);
    if (words[0] === 'arm') armed = { id: Number(words[1]), device: words[2] };
    if (words[0] === 'disarm') { finished = true; process.exit(0); }
  }
});
process.stdin.on('end', daemonGone);
process.stdin.on('error', daemonGone);
`;

/** Starts the watchdog; resolves once its process exists. */
export function startWatchdog(config: WatchdogConfig): Promise<Watchdog> {
  const child = spawn(process.execPath, ['--input-type=commonjs', '-e', WATCHDOG_SOURCE, JSON.stringify(config)], {
    detached: true, // its own session: a Ctrl-C or SIGHUP for the daemon's process group must not reach it
    stdio: ['pipe', 'ignore', 'ignore'],
    cwd: '/', // never pin a directory, least of all the mountpoint
    env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, // no NODE_OPTIONS (--import tsx ...)
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      const stdin = child.stdin as Socket;
      // If the watchdog died, writes fail with EPIPE; that must not crash the daemon.
      stdin.on('error', () => {});
      stdin.unref();
      child.unref();
      let disarmed = false;
      resolve({
        pid: child.pid ?? -1,
        arm(mountId: number, device: string): void {
          if (!disarmed) stdin.write(`arm ${mountId} ${device}\n`);
        },
        disarm(): void {
          if (disarmed) return;
          disarmed = true;
          stdin.end('disarm\n');
        },
      });
    });
  });
}
