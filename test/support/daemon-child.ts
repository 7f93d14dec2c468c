// The parent's side of a fixture daemon (test/*/fixtures/*-daemon.ts, whose side is ./fixture-daemon.ts):
// a child process started with a JSON request, spoken to over IPC, that mounts a fresh SOURCE at a fresh
// mountpoint, reports { ready } (or { error, message, code }), answers commands, and exits once told to
// unmount.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { REPO_ROOT, forceUnmount, freshMountpoint, rejectAfter } from './mount-helpers.ts';

/** The running daemon, as `fn` of {@link withDaemonChild} sees it. */
export interface DaemonChild {
  readonly source: string;
  readonly mnt: string;
  /** Its { ready } message. */
  readonly ready: Record<string, unknown>;
  /** Sends a command and resolves to the daemon's answer (30 s at most). */
  ask(message: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The requests its session handled, by opcode name (the `counts` command). */
  counts(): Promise<Record<string, number>>;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
}

/**
 * Runs the command line `node` (the fixture last) with `request` plus `{ source, mountpoint }` as JSON in
 * its last argument, on the directory `makeSource()` returns and a fresh mountpoint; calls `fn` once the
 * daemon is ready, then has it unmount and waits for it to exit. A daemon that reports an error fails
 * with its message and code. Always kills the daemon if it is still there, force-unmounts, and removes
 * SOURCE.
 */
export async function withDaemonChild(
  node: readonly string[], request: Record<string, unknown>, makeSource: () => string, fn: (d: DaemonChild) => Promise<void>,
): Promise<void> {
  const source = makeSource();
  const mnt = freshMountpoint();
  const [command, ...args] = node;
  const child: ChildProcess = spawn(command ?? '', [...args, JSON.stringify({ ...request, source, mountpoint: mnt })], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  child.on('message', (m: Record<string, unknown>) => waiting.shift()?.(m));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const next = (what: string): Promise<Record<string, unknown>> => Promise.race([
    new Promise<Record<string, unknown>>((resolve) => waiting.push(resolve)),
    exited.then(() => { throw new Error(`the daemon exited while waiting for ${what}: ${output}`); }),
    rejectAfter(30_000, `the daemon did not answer ${what}: ${output}`),
  ]);
  const ask = (message: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const answer = next(String(message['cmd']));
    child.send(message);
    return answer;
  };
  try {
    const ready = await next('ready');
    if (ready['error'] === true) throw Object.assign(new Error(String(ready['message'])), { code: ready['code'] });
    await fn({
      source, mnt, ready, ask, output: () => output,
      counts: async () => (await ask({ cmd: 'counts' }))['counts'] as Record<string, number>,
    });
    const bye = await ask({ cmd: 'unmount' });
    assert.equal(bye['unmounted'], true, JSON.stringify(bye));
    await Promise.race([exited, rejectAfter(10_000, 'the daemon did not exit after unmounting')]);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await forceUnmount(mnt);
    rmSync(source, { recursive: true, force: true });
  }
}
