// Runs `tsfuse <fs> MOUNTPOINT --explain` in a child process (the CLI from source), runs commands
// against the mount from other child processes, stops the daemon with SIGINT (a foreground daemon
// unmounts on Ctrl-C) and returns what it printed. Never touches the mount from this process.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, forceUnmount, freshMountpoint, isMounted, run, waitFor, type RunResult } from '../support/mount-helpers.ts';

const CLI = ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts')];

export interface ExplainRun {
  /** Everything the daemon wrote to stderr: the explanation and its own messages. */
  readonly output: string;
  /** The results of the commands, in order. */
  readonly results: readonly RunResult[];
  readonly exitCode: number | null;
  readonly mountpoint: string;
}

/** `commands` get the mountpoint and return [command, args]; each runs after the previous one ended. */
export async function explainRun(fs: string, args: readonly string[], commands: readonly ((mnt: string) => [string, string[]])[]): Promise<ExplainRun> {
  const mountpoint = freshMountpoint();
  const child = spawn(process.execPath, [...CLI, fs, mountpoint, '--explain', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const results: RunResult[] = [];
  try {
    await waitFor(() => /mounted at /.test(output) || child.exitCode !== null, 30_000, `tsfuse ${fs} --explain to mount`, 50);
    if (!/mounted at /.test(output)) throw new Error(`tsfuse ${fs} --explain did not mount: ${output}`);
    for (const command of commands) {
      const [cmd, cmdArgs] = command(mountpoint);
      results.push(await run(cmd, cmdArgs, { timeout: 20_000 }));
    }
    // Let the last RELEASE (sent after close returned) be printed before stopping.
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    const exitCode = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
    return { output, results, exitCode, mountpoint };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (isMounted(mountpoint)) await forceUnmount(mountpoint);
  }
}

/**
 * The frames' headings after the mount message (or all of them, with `includeInit`), without what
 * changes from run to run: `kernel → daemon LOOKUP request`, `daemon → kernel LOOKUP reply: OK`.
 */
export function frameSequence(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const req = /^kernel → daemon {2}(\w+) request\b/.exec(line);
    if (req) { out.push(`kernel → daemon ${req[1]} request`); continue; }
    const rep = /^daemon → kernel {2}(\w+) reply\b.*?: (\w+), \d+ bytes$/.exec(line);
    if (rep) out.push(`daemon → kernel ${rep[1]} reply: ${rep[2]}`);
  }
  return out;
}
