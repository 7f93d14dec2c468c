/**
 * Running mount(8), umount(8) and fusermount3 without blocking the event loop.
 *
 * Always the asynchronous `spawn`: a daemon serving a mount must keep its event loop free, because these
 * tools may touch the mountpoint and so wait on a FUSE request that only this process can answer.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** How a tool ended. */
export interface ToolResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunToolOptions {
  /** A file descriptor to hand to the tool as its fd 3. */
  readonly fd3?: number | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Kill the tool with SIGKILL after this many milliseconds. Defaults to {@link DEFAULT_TOOL_TIMEOUT_MS}. */
  readonly timeoutMs?: number | undefined;
}

/** A mount tool that has not finished after this long is stuck (for example on a hung mountpoint). */
export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;

/** Keep at most this much of a tool's output; error messages only need the first lines. */
const OUTPUT_CAP = 16 * 1024;

/** Starts a tool; resolves once it has started, rejects if it could not (`ENOENT`, `EACCES`, ...). */
export function startTool(command: string, args: readonly string[], options: RunToolOptions = {}): Promise<ChildProcess> {
  const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe'];
  if (options.fd3 !== undefined) stdio.push(options.fd3);
  const child = spawn(command, args, { stdio, env: options.env ?? process.env, cwd: '/' });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

/** Collects a started tool's output and waits for it to exit. */
export function finishTool(child: ChildProcess, timeoutMs: number = DEFAULT_TOOL_TIMEOUT_MS): Promise<ToolResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { if (stdout.length < OUTPUT_CAP) stdout += s; });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < OUTPUT_CAP) stderr += s; });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    // 'close' waits for the output pipes too, so stderr is complete.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs a tool to completion. */
export async function runTool(command: string, args: readonly string[], options: RunToolOptions = {}): Promise<ToolResult> {
  return finishTool(await startTool(command, args, options), options.timeoutMs);
}

/** A one-line description of a failed run, for error messages. */
export function describeFailure(command: string, result: ToolResult): string {
  const how = result.signal !== null ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
  const output = (result.stderr.trim() || result.stdout.trim()).replace(/\s*\n\s*/g, ' ');
  return output === '' ? `${command} ${how}` : `${command} ${how}: ${output}`;
}
