/**
 * Unmounting: `umount [-l]` with privilege, `fusermount3 -u [-z]` without. Both run asynchronously (see
 * run-tool.ts) and neither touches the mountpoint itself: umount gets `-c` (no canonicalisation) and a
 * path we resolved without looking at its last component, fusermount3 resolves only the parent
 * (lib/mount_util.c, fuse_mnt_resolve_path). So unmounting a dead or hung mount never waits on it.
 */
import { closeSync, openSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { TsfuseError } from '../errors.ts';
import { defaultEnvironment, findExecutable } from './environment.ts';
import type { MountEnvironment } from './environment.ts';
import { describeFailure, runTool, type ToolResult } from './run-tool.ts';

/** How a filesystem was mounted, and so how it is unmounted. */
export type MountMethod = 'mount' | 'fusermount3';

export interface UnmountOptions {
  /**
   * Detach now and finish when the mount is no longer busy (`umount -l`, `fusermount3 -u -z`), instead of
   * failing with EBUSY. Defaults to false.
   */
  readonly lazy?: boolean | undefined;
}

/** A command line, ready for spawn. */
export interface CommandLine {
  readonly command: string;
  readonly args: readonly string[];
}

/** The tool that mounts or unmounts for a method, or a clear error saying how to install it. */
export async function findMountTool(
  env: MountEnvironment,
  name: 'mount' | 'umount' | 'fusermount3',
): Promise<string> {
  const found = await findExecutable(name, env.searchDirs);
  if (found !== undefined) return found;
  if (name === 'fusermount3') {
    throw new TsfuseError(
      'ERR_FUSE_NO_FUSERMOUNT',
      'Mounting without root needs fusermount3, which is not installed (searched ' +
      `${env.searchDirs.join(':')}). Install the fuse3 package (apt-get install fuse3, dnf install fuse3, ` +
      'apk add fuse3) or run as root.',
    );
  }
  throw new TsfuseError(
    'ERR_FUSE_NO_MOUNT_COMMAND',
    `Mounting as root uses ${name}(8) from util-linux, which was not found (searched ${env.searchDirs.join(':')}). ` +
    'Install util-linux (apt-get install mount), or use { method: \'fusermount3\' }.',
  );
}

/** The unmount command line for a canonical mountpoint. */
export function unmountCommand(method: MountMethod, tool: string, mountpoint: string, lazy: boolean): CommandLine {
  if (method === 'mount') {
    // -i: never run a /sbin/umount.fuse helper; -c: don't canonicalise (that would stat the mountpoint).
    return { command: tool, args: ['-i', '-c', ...(lazy ? ['-l'] : []), '--', mountpoint] };
  }
  return { command: tool, args: ['-u', ...(lazy ? ['-z'] : []), '--', mountpoint] };
}

/**
 * Descriptors kept spare for unmounting. A daemon can run out of descriptors (EMFILE: the passthrough
 * holds one per inode the kernel knows, up to RLIMIT_NOFILE), and spawning umount takes several (its
 * output pipes, libuv's exec-error pipe): without spares, Ctrl-C could then not unmount, and the daemon
 * stayed. Taken by {@link keepUnmountSpares} once a mount is made; given back for one more try of a
 * spawn that failed for want of descriptors, and taken again after.
 */
const SPARE_DESCRIPTORS = 8;
const spares: number[] = [];

/** Opens the spare descriptors this process lacks (no-op when it has them, or has none left). */
export function keepUnmountSpares(): void {
  while (spares.length < SPARE_DESCRIPTORS) {
    try { spares.push(openSync('/dev/null', 'r')); } catch { return; }
  }
}

function outOfDescriptors(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** runTool; once more with the spares given back when the spawn failed for want of descriptors. */
async function runWithSpares(line: CommandLine): Promise<ToolResult> {
  try {
    return await runTool(line.command, line.args);
  } catch (e) {
    if (!outOfDescriptors(e) || spares.length === 0) throw e;
    for (const fd of spares.splice(0)) { try { closeSync(fd); } catch { /* already closed */ } }
    // runTool spawns before it awaits anything: the descriptors just freed are the ones the spawn takes.
    try { return await runTool(line.command, line.args); } finally { keepUnmountSpares(); }
  }
}

/** Runs an unmount command; throws ERR_FUSE_UNMOUNT_FAILED with the tool's own message. */
export async function runUnmount(line: CommandLine): Promise<void> {
  let result;
  try {
    result = await runWithSpares(line);
  } catch (cause) {
    throw new TsfuseError('ERR_FUSE_UNMOUNT_FAILED', `could not run ${line.command}: ${(cause as Error).message}`, { cause });
  }
  if (result.code !== 0) {
    throw new TsfuseError('ERR_FUSE_UNMOUNT_FAILED', describeFailure(`${line.command} ${line.args.join(' ')}`, result));
  }
}

/**
 * An absolute mountpoint with its parent resolved through symlinks, without looking at the mountpoint
 * itself (a stat there would hang on a hung daemon or fail with ENOTCONN on a dead one).
 */
export async function resolveWithoutFollowing(mountpoint: string): Promise<string> {
  const absolute = resolve(mountpoint);
  const parent = dirname(absolute);
  if (parent === absolute) return absolute;
  try {
    return join(await realpath(parent), basename(absolute));
  } catch {
    return absolute;
  }
}

/** Unmounts with the right tool for this environment; `method` overrides the choice. */
export async function unmountWith(
  env: MountEnvironment,
  mountpoint: string,
  options: UnmountOptions = {},
  method?: MountMethod,
): Promise<void> {
  const how = method ?? ((await env.privilege()).capSysAdmin ? 'mount' : 'fusermount3');
  const tool = await findMountTool(env, how === 'mount' ? 'umount' : 'fusermount3');
  const path = await resolveWithoutFollowing(mountpoint);
  await runUnmount(unmountCommand(how, tool, path, options.lazy === true));
}

/**
 * Unmounts a FUSE filesystem: `umount [-l]` as root (or with CAP_SYS_ADMIN), `fusermount3 -u [-z]`
 * otherwise. Throws ERR_FUSE_UNMOUNT_FAILED carrying the tool's message (for example "target is busy").
 */
export async function unmount(mountpoint: string, options: UnmountOptions = {}): Promise<void> {
  await unmountWith(defaultEnvironment(), mountpoint, options);
}
