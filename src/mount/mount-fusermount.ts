/**
 * The unprivileged path: the setuid fusermount3 opens /dev/fuse, mounts it, and sends the descriptor back
 * over a UNIX socket named by `_FUSE_COMMFD` (util/fusermount.c, send_fd). We make the socketpair and
 * receive the SCM_RIGHTS message through node:ffi (ffi.ts).
 *
 * recvmsg is only tried without blocking (node:ffi calls are synchronous and would stall the event loop),
 * polled with a short backoff until the descriptor arrives or fusermount3 closes its end. Polling rather
 * than waiting for fusermount3 to exit, because with `auto_unmount` it never exits while mounted: it stays
 * to unmount when our end of the socket closes. In that case we keep our end open for the mount's lifetime.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsfuseError } from '../errors.ts';
import type { FdPassing } from './ffi.ts';
import { fusermountOptions } from './options.ts';
import type { ParsedMountOptions } from './options.ts';
import { DEFAULT_TOOL_TIMEOUT_MS, describeFailure, finishTool, startTool } from './run-tool.ts';
import type { ToolResult } from './run-tool.ts';

export interface FusermountRequest {
  readonly fusermount: string;
  readonly mountpoint: string;
  readonly options: ParsedMountOptions;
  readonly fdPassing: FdPassing;
  /** Give up (and kill fusermount3) after this long. Defaults to {@link DEFAULT_TOOL_TIMEOUT_MS}. */
  readonly timeoutMs?: number | undefined;
}

export interface FusermountMount {
  readonly fd: number;
  /**
   * With `auto_unmount`: our end of the socket, which must stay open while mounted (closing it makes
   * fusermount3 unmount), and the fusermount3 process waiting on it.
   */
  readonly autoUnmount: { readonly socket: number; readonly helper: ChildProcess } | undefined;
}

/** Polling starts fast, because fusermount3 usually answers within a few milliseconds. */
const FIRST_POLL_MS = 1;
const MAX_POLL_MS = 50;
/** The descriptor number fusermount3 sees its end of the socket under. */
const CHILD_FD = 3;

/** The fusermount3 command line. */
export function fusermountArgs(options: ParsedMountOptions, mountpoint: string): string[] {
  return ['-o', fusermountOptions(options.mount), '--', mountpoint];
}

/** Mounts through fusermount3 and returns the received /dev/fuse descriptor. */
export async function mountWithFusermount(request: FusermountRequest): Promise<FusermountMount> {
  const { fdPassing } = request;
  const timeoutMs = request.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  const [ours, theirs] = fdPassing.socketpair();
  let child: ChildProcess;
  try {
    child = await startTool(request.fusermount, fusermountArgs(request.options, request.mountpoint), {
      fd3: theirs,
      env: { ...process.env, _FUSE_COMMFD: String(CHILD_FD) },
    });
  } catch (err) {
    fdPassing.close(ours);
    throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', `could not run ${request.fusermount}: ${(err as Error).message}`, { cause: err });
  } finally {
    // The child has its own copy now (or failed to start); ours would keep the socket from reaching EOF.
    fdPassing.close(theirs);
  }

  let exited = false;
  const finished: Promise<ToolResult> = finishTool(child, timeoutMs).then((r) => { exited = true; return r; });
  const failed = async (): Promise<never> => {
    const result = await finished;
    throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', describeFailure(request.fusermount, result));
  };

  let fd: number | undefined;
  try {
    const deadline = Date.now() + timeoutMs;
    let wait = FIRST_POLL_MS;
    for (;;) {
      const got = fdPassing.tryReceiveFd(ours);
      if (got === 'eof') await failed();
      if (typeof got === 'object') {
        fd = got.fd;
        break;
      }
      if (exited) {
        // Exited without sending a descriptor; the EOF may still be in flight, but the answer is the same.
        await failed();
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', `${request.fusermount} did not answer within ${timeoutMs} ms`);
      }
      await Promise.race([sleep(wait), finished]);
      wait = Math.min(wait * 2, MAX_POLL_MS);
    }
  } catch (err) {
    fdPassing.close(ours);
    throw err;
  }

  if (request.options.mount.autoUnmount) {
    // fusermount3 stays to watch the socket; it must not keep this process alive.
    child.unref();
    (child.stdout as Socket | null)?.unref();
    (child.stderr as Socket | null)?.unref();
    return { fd, autoUnmount: { socket: ours, helper: child } };
  }
  fdPassing.close(ours);
  const result = await finished;
  if (result.code !== 0) {
    fdPassing.close(fd);
    throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', describeFailure(request.fusermount, result));
  }
  return { fd, autoUnmount: undefined };
}
