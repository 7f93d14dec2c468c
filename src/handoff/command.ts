/**
 * `tsfuse restart MOUNTPOINT`: has the daemon serving MOUNTPOINT hand the mount to a new process running
 * the code on disk now (src/handoff/predecessor.ts), through its control socket. Programs using the
 * mount notice nothing but a pause; a filesystem that cannot be handed off is refused and keeps running.
 */
import type { Io, Subcommand } from '../cli.ts';
import { ControlClient, locateStatsSocket } from '../session/control-socket.ts';
import type { HandoffResult } from './types.ts';

export const RESTART_COMMAND: Subcommand = {
  name: 'restart',
  summary: 'restart (or upgrade) the daemon of a mount without unmounting it',
  usage: 'MOUNTPOINT [--json]',
  synopsis: 'MOUNTPOINT',
  args: { json: { type: 'boolean' } },
  positionals: ['MOUNTPOINT'],
  help: `Hands the mount at MOUNTPOINT to a new daemon process running the tsfuse code installed now (so this
is also how an upgrade is deployed), without unmounting: the old daemon starts its successor, stops
reading, answers what it had read, hands over the filesystem's state (open files, the kernel's node ids,
for memfs its contents) and exits; programs using the mount see a short pause and no error. Prints the
new daemon's pid. Works for memfs and passthrough mounts made by the tsfuse command (statistics on, the
default), run by the same user; a filesystem that cannot hand over its state is refused, and its mount is
left as it was. The same is done by sending SIGUSR2 to the daemon.`,
  optionsHelp: '  --json            print the result as JSON (pid, pausedMs, gapMs, stateBytes)',
  run: restartCommand,
};

async function restartCommand({ values, positionals }: { values: Readonly<Record<string, unknown>>; positionals: readonly string[] }, io: Io): Promise<number> {
  const given = positionals[0] as string;
  let client: ControlClient;
  let mountpoint = given;
  try {
    const location = await locateStatsSocket(given);
    mountpoint = location.mountpoint;
    client = await ControlClient.connect(location.socketPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it has no control socket (not a tsfuse daemon, started with --no-stats, or run by another user); send it SIGUSR2 instead'
      : code === 'ECONNREFUSED' ? 'its daemon is gone (killed?)'
      : (e as Error).message;
    io.err(`tsfuse restart: cannot reach the daemon of ${mountpoint}: ${why}\n`);
    return 1;
  }
  try {
    const result = await client.handoff() as HandoffResult;
    if (values['json'] === true) io.out(`${JSON.stringify(result)}\n`);
    else {
      const gap = result.gapMs === undefined ? '' : `; ${result.gapMs.toFixed(1)} ms from its last reply to the new one's first`;
      io.out(`${result.pid}\n`);
      io.err(`tsfuse restart: ${mountpoint} is served by pid ${result.pid} now (nobody read for ${result.pausedMs.toFixed(1)} ms${gap})\n`);
    }
    return 0;
  } catch (e) {
    io.err(`tsfuse restart: ${(e as Error).message}; the mount is served as before\n`);
    return 1;
  } finally {
    client.close();
  }
}
