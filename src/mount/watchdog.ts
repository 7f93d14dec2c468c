/**
 * The watchdog: a tiny detached `/bin/sh` process that unmounts lazily when the daemon dies, even by
 * SIGKILL, so the mountpoint goes back to being a plain directory instead of failing with "Transport
 * endpoint is not connected". fusermount3's own auto_unmount covers only the fusermount3 path, hence this
 * one, which runs on every path.
 *
 * Why a shell: it costs about 1 MB of memory where a second Node runtime cost about 40 MB (measured with
 * /proc/<pid>/status VmRSS, see test/mount/watchdog.test.ts), and POSIX sh is on every Linux that has
 * mount(8) or fusermount3. It uses only builtins until it runs the unmount command.
 *
 * How it knows: its stdin is a pipe from the daemon, and nothing else holds the write end (libuv makes
 * the parent's end close-on-exec), so EOF on stdin means the daemon is gone. The daemon talks to it in
 * lines: `arm <mountId> <major:minor>` once mounted, `disarm` after a clean unmount (exit without
 * unmounting). It is started before the mount so that a daemon killed in between is covered too: if never
 * armed, it unmounts a FUSE mount of our type and uid at the mountpoint whose mount id it was not told
 * existed beforehand. Armed, it unmounts only the mount with that id and that device number (the minor is
 * the FUSE connection), and only while it is the top mount at the mountpoint: a mount stacked on top by
 * someone else, or a new mount that reused the id, is left alone.
 *
 * What it must not do: hold the /dev/fuse descriptor (it is close-on-exec and not in the watchdog's
 * stdio), touch the mountpoint (it runs in `/`, reads /proc/self/mountinfo only, and the unmount commands
 * do not resolve the mountpoint, see unmount.ts), or keep the daemon alive (its process and pipe are
 * unref'd).
 */
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import type { CommandLine } from './unmount.ts';

/** What the watchdog is told at start. */
export interface WatchdogConfig {
  readonly mountpoint: string;
  readonly fsType: string;
  readonly uid: number;
  /** Mount ids at the mountpoint before mounting; any other one of our type is ours. */
  readonly knownMountIds: readonly number[];
  /** The lazy unmount to run; `command` is an absolute path (no PATH search in the watchdog). */
  readonly unmount: CommandLine;
}

export interface Watchdog {
  /** The watchdog's process id; -1 when there is none (`watchdog: false`). */
  readonly pid: number;
  /**
   * This process's descriptor of the pipe's write end; -1 when there is none. A process that takes the
   * mount over (src/handoff) inherits it, so the watchdog sees no EOF when this one exits.
   */
  readonly pipeFd: number;
  /** Names our mount exactly, once it exists. */
  arm(mountId: number, device: string): void;
  /** Tells the watchdog to exit without unmounting. Idempotent. */
  disarm(): void;
}

/** The word that names watchdog processes in `ps` and /proc/<pid>/cmdline (the shell's `$0`). */
export const WATCHDOG_NAME = 'tsfuse-watchdog';

/** The shell that runs the watchdog. */
export const WATCHDOG_SHELL = '/bin/sh';

/**
 * The watchdog program, POSIX sh. Arguments: `$1` the mountpoint and `$2` the filesystem type as
 * mountinfo prints them (escaped), `$3` the uid, `$4` the known mount ids separated by spaces, then the
 * unmount command line.
 *
 * mountinfo fields (proc(5)): id parent major:minor root mountpoint options [optional…] - type source
 * superoptions. Fields are split by the shell (globbing off); the kernel escapes whitespace inside
 * fields, so the split is exact, except that an empty source collapses, which is why the super options
 * are taken as the last field rather than counted from the separator. Later lines are mounted later, so
 * the last line for the mountpoint is the mount on top. A function has its own positional parameters,
 * which keeps the unmount command line in the script's `$@` intact.
 */
export const WATCHDOG_SCRIPT = `set -f
trap '' HUP INT QUIT PIPE
cd / || exit 1
mp=$1 fstype=$2 uid=$3 known=" $4 "
shift 4
armed_id= armed_dev=
scan() {
  [ "$5" = "$mp" ] || return 0
  top_id=$1 top_dev=$3
  shift 6
  while [ $# -gt 0 ] && [ "$1" != - ]; do shift; done
  [ $# -ge 3 ] || return 0
  top_type=$2
  eval "top_opts=\\\${$#}"
}
ours() {
  top_id= top_dev= top_type= top_opts=
  while IFS= read -r line; do scan $line; done < /proc/self/mountinfo
  [ -n "$top_id" ] || return 1
  if [ -n "$armed_id" ]; then
    [ "$top_id" = "$armed_id" ] && [ "$top_dev" = "$armed_dev" ]
    return
  fi
  [ "$top_type" = "$fstype" ] || return 1
  case $known in *" $top_id "*) return 1 ;; esac
  case ,$top_opts, in *,user_id=$uid,*) return 0 ;; esac
  return 1
}
while read -r word id dev; do
  case $word in
    arm) armed_id=$id armed_dev=$dev ;;
    disarm) exit 0 ;;
  esac
done
ours || exit 0
exec "$@"
`;

/** Escapes a field as /proc/self/mountinfo prints it: space, tab, newline, backslash as `\ooo` (fs/proc_namespace.c, mangle()). */
export function mountinfoEscape(field: string): string {
  return field.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** The command line that runs the watchdog for `config` (its stdin must be the pipe from the daemon). */
export function watchdogCommand(config: WatchdogConfig): CommandLine {
  return {
    command: WATCHDOG_SHELL,
    args: [
      '-c', WATCHDOG_SCRIPT, WATCHDOG_NAME,
      mountinfoEscape(config.mountpoint), mountinfoEscape(config.fsType), String(config.uid),
      config.knownMountIds.join(' '), config.unmount.command, ...config.unmount.args,
    ],
  };
}

/** A watchdog that does nothing, for `watchdog: false`. */
export const NO_WATCHDOG: Watchdog = Object.freeze({ pid: -1, pipeFd: -1, arm(): void {}, disarm(): void {} });

/** Talks to a watchdog through an inherited write end of its pipe (a mount taken over, src/handoff). */
export function adoptWatchdog(pid: number, pipeFd: number): Watchdog {
  if (pipeFd < 0) return NO_WATCHDOG;
  const stdin = new Socket({ fd: pipeFd, readable: false, writable: true });
  return watchdogOver(pid, pipeFd, stdin);
}

function watchdogOver(pid: number, pipeFd: number, stdin: Socket): Watchdog {
  // If the watchdog died, writes fail with EPIPE; that must not crash the daemon.
  stdin.on('error', () => {});
  stdin.unref();
  let disarmed = false;
  return {
    pid,
    pipeFd,
    arm(mountId: number, device: string): void {
      if (!disarmed) stdin.write(`arm ${mountId} ${device}\n`);
    },
    disarm(): void {
      if (disarmed) return;
      disarmed = true;
      stdin.end('disarm\n');
    },
  };
}

/** Starts the watchdog; resolves once its process exists. */
export function startWatchdog(config: WatchdogConfig): Promise<Watchdog> {
  const line = watchdogCommand(config);
  const child = spawn(line.command, line.args, {
    detached: true, // its own session: a Ctrl-C or SIGHUP for the daemon's process group must not reach it
    stdio: ['pipe', 'ignore', 'ignore'],
    cwd: '/', // never pin a directory, least of all the mountpoint
    env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      const stdin = child.stdin as Socket;
      child.unref();
      // The pipe's descriptor, for a handoff (libuv's handle keeps it; no public API names it).
      const pipeFd = (stdin as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
      resolve(watchdogOver(child.pid ?? -1, pipeFd, stdin));
    });
  });
}
