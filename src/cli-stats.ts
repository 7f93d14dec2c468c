/**
 * `tsfuse stats MOUNTPOINT`: the live statistics of a running daemon, asked for on its control socket
 * (src/session/control-socket.ts) and redrawn once a second; and the `s` key of a foreground mount.
 */
import { unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Io, Subcommand } from './cli.ts';
import { TsfuseError } from './errors.ts';
import { shellQuote } from './mount/stale.ts';
import { ControlClient, locateStatsSocket } from './session/control-socket.ts';
import type { StatsSnapshot } from './session/stats.ts';
import { formatStats } from './session/stats-format.ts';

/** Clear the screen and home the cursor (ECMA-48 ED 2 + CUP), for the live redraw on a terminal. */
const CLEAR = '\x1b[H\x1b[2J';

export const STATS_COMMAND: Subcommand = {
  name: 'stats',
  summary: 'live per-opcode counts, errors and latencies of a running tsfuse daemon',
  usage: 'MOUNTPOINT [--once] [--json] [--interval SECONDS]',
  synopsis: 'MOUNTPOINT',
  args: { once: { type: 'boolean' }, json: { type: 'boolean' }, interval: { type: 'string' } },
  positionals: ['MOUNTPOINT'],
  help: `Shows what the daemon serving MOUNTPOINT has been asked: requests per opcode, errors by errno,
requests in flight, and latency percentiles (p50/p90/p99/max, from a request's arrival in the daemon to
its reply), redrawn every second until Ctrl-C or the unmount. The daemon must be a tsfuse command mount
(statistics are on unless --no-stats) or a mount() with { stats: true }, run by the same user.`,
  optionsHelp: `  --once            print one snapshot and exit
  --json            JSON instead of a table (with --once: one object; else one object per line)
  --interval S      seconds between refreshes (default: 1)`,
  run: statsCommand,
};

async function statsCommand({ values, positionals }: { values: Readonly<Record<string, unknown>>; positionals: readonly string[] }, io: Io): Promise<number> {
  const given = positionals[0] as string;
  const once = values['once'] === true;
  const json = values['json'] === true;
  const intervalText = values['interval'];
  const interval = typeof intervalText === 'string' ? Number(intervalText) : 1;
  if (!Number.isFinite(interval) || interval <= 0) {
    io.err(`tsfuse stats: --interval takes a positive number of seconds, not '${String(intervalText)}'\n`);
    return 2;
  }

  let location;
  try {
    location = await locateStatsSocket(given);
  } catch (e) {
    io.err(`tsfuse stats: ${e instanceof TsfuseError ? e.message : (e as Error).message}\n`);
    return 1;
  }
  const { mountpoint, socketPath } = location;
  let client: ControlClient;
  try {
    client = await ControlClient.connect(socketPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') {
      // Nobody listens: the daemon was killed without unmounting. The file is ours to remove.
      await unlink(socketPath).catch(() => {});
      io.err(`tsfuse stats: the daemon serving ${mountpoint} is gone (killed?): its statistics socket ${socketPath} ` +
        `was stale and has been removed. If the mount is stale too, \`tsfuse umount -z ${shellQuote(mountpoint)}\` removes it\n`);
    } else if (code === 'ENOENT') {
      io.err(`tsfuse stats: ${mountpoint} has no statistics socket (looked for ${socketPath}): its daemon is not tsfuse, ` +
        'was started with --no-stats (or by mount() without { stats: true }), or runs as another user\n');
    } else {
      io.err(`tsfuse stats: cannot reach the daemon of ${mountpoint} at ${socketPath}: ${(e as Error).message}\n`);
    }
    return 1;
  }

  // Redraw in place only on a terminal; piped, each snapshot follows the last.
  const terminal = !json && !once && process.stdout.isTTY === true;
  let previous: StatsSnapshot | undefined;
  try {
    for (;;) {
      let snapshot: StatsSnapshot;
      try {
        snapshot = await client.stats();
      } catch (e) {
        if (previous === undefined) {
          io.err(`tsfuse stats: ${(e as Error).message}\n`);
          return 1;
        }
        io.err(`tsfuse stats: ${mountpoint} is no longer served (${(e as Error).message})\n`);
        return 0;
      }
      if (json) io.out(`${JSON.stringify(snapshot, null, once ? 2 : undefined)}\n`);
      else io.out(`${terminal ? CLEAR : previous !== undefined ? '\n' : ''}${formatStats(snapshot, previous)}`);
      if (once) return 0;
      previous = snapshot;
      await sleep(interval * 1000);
    }
  } finally {
    client.close();
  }
}

/**
 * In a foreground mount on a terminal: pressing `s` prints a snapshot. The terminal is put in raw mode
 * to get single keys, which also turns Ctrl-C into a plain byte, so that byte is turned back into the
 * SIGINT it means (the mount's signal handling unmounts). Returns a function that restores the terminal.
 */
export function watchSnapshotKey(input: NodeJS.ReadStream, print: () => void): () => void {
  if (!input.isTTY) return () => {};
  input.setRawMode(true);
  const onData = (chunk: Buffer) => {
    for (const byte of chunk) {
      if (byte === 0x73 || byte === 0x53) print(); // s, S
      else if (byte === 0x03) process.kill(process.pid, 'SIGINT'); // Ctrl-C
      else if (byte === 0x1c) process.kill(process.pid, 'SIGQUIT'); // Ctrl-\
    }
  };
  input.on('data', onData);
  input.resume();
  return () => {
    input.off('data', onData);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
  };
}
