/**
 * Telling a stale FUSE mount (its daemon died; every access fails with ENOTCONN, "Transport endpoint is not
 * connected") from a working one, and cleaning stale ones up.
 *
 * mountinfo says whether a FUSE filesystem is mounted at a path; only a stat() says whether its daemon is
 * alive. That stat runs in libuv's thread pool with a time limit, because on a live but hung daemon it
 * blocks until the daemon answers.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { TsfuseError } from '../errors.ts';
import { defaultEnvironment } from './environment.ts';
import type { MountEnvironment } from './environment.ts';
import { isFuseType, mountsAt, readMountinfo } from './mountinfo.ts';
import type { MountInfoEntry } from './mountinfo.ts';
import { unmountWith } from './unmount.ts';

/** How long a stat() of a FUSE mountpoint may take before its daemon counts as unresponsive. */
export const STAT_PROBE_TIMEOUT_MS = 2000;

/** What stat() said: `'ok'`, `'timeout'`, or the error code (`'ENOTCONN'`, `'ENOENT'`, ...). */
export async function probeStat(path: string, timeoutMs: number = STAT_PROBE_TIMEOUT_MS): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((done) => {
    timer = setTimeout(() => done('timeout'), timeoutMs);
  });
  try {
    return await Promise.race([
      stat(path).then(() => 'ok', (err: NodeJS.ErrnoException) => err.code ?? 'EIO'),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Quotes a path for the shell commands suggested in error messages. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The absolute, symlink-free mountpoint. A stale mountpoint cannot be resolved itself (ENOTCONN), so then
 * only its parent is. Throws ERR_FUSE_MOUNTPOINT for a path that does not exist or cannot be reached.
 */
export async function canonicalMountpoint(mountpoint: string): Promise<string> {
  const absolute = resolve(mountpoint);
  try {
    return await realpath(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN') return join(await realpath(dirname(absolute)), basename(absolute));
    throw mountpointError(absolute, code, err);
  }
}

/** ERR_FUSE_MOUNTPOINT for a failed stat or realpath of the mountpoint. */
export function mountpointError(path: string, code: string | undefined, cause?: unknown): TsfuseError {
  const why =
    code === 'ENOENT' ? 'does not exist; create the directory first' :
    code === 'ENOTDIR' ? 'is not a directory (or a component of its path is not)' :
    code === 'EACCES' ? 'cannot be reached: permission denied' :
    code === 'ELOOP' ? 'has too many levels of symbolic links' :
    `cannot be examined (${code ?? 'unknown error'})`;
  return new TsfuseError('ERR_FUSE_MOUNTPOINT', `mountpoint ${path} ${why}`, { cause });
}

/** The mount a path shows (the last one mounted there), if it is FUSE. */
export async function topFuseMount(env: MountEnvironment, path: string): Promise<MountInfoEntry | undefined> {
  const top = mountsAt(await readMountinfo(env.mountinfoPath), path).at(-1);
  return top !== undefined && isFuseType(top.fsType) ? top : undefined;
}

/**
 * ERR_FUSE_MOUNTPOINT for a stale FUSE mount in the way. Its own class so that callers with other words
 * for the remedy (the CLI's `--clean-stale`) can recognise it without parsing the message.
 */
export class StaleMountError extends TsfuseError {
  /** The canonical mountpoint. */
  readonly mountpoint: string;
  constructor(mountpoint: string, message: string) {
    super('ERR_FUSE_MOUNTPOINT', message);
    this.mountpoint = mountpoint;
  }
}

/** The error for a FUSE mount that is in the way, stale or not. */
export function mountedError(path: string, entry: MountInfoEntry, probe: string): TsfuseError {
  const what = `${entry.fsType} '${entry.source}'`;
  if (probe === 'ENOTCONN') {
    const q = shellQuote(path);
    return new StaleMountError(
      path,
      `mountpoint ${path} is a stale FUSE mount (${what}): its daemon is gone and the path answers ` +
      `"Transport endpoint is not connected". Clean it with \`fusermount3 -u -z ${q}\` (or \`umount -l ${q}\` ` +
      'as root), or pass { cleanStale: true } to mountDevice(), or call cleanStaleMount(path).',
    );
  }
  const state = probe === 'timeout'
    ? `whose daemon did not answer a stat() within ${STAT_PROBE_TIMEOUT_MS} ms`
    : 'that is working';
  return new TsfuseError(
    'ERR_FUSE_MOUNTPOINT',
    `mountpoint ${path} already has a FUSE filesystem mounted (${what}) ${state}; unmount it first`,
  );
}

/** {@link cleanStaleMount} against a given environment. */
export async function cleanStaleMountWith(env: MountEnvironment, mountpoint: string): Promise<boolean> {
  const path = await canonicalMountpoint(mountpoint);
  let cleaned = false;
  // FUSE mounts can be stacked; a stale one may hide another stale one underneath.
  for (let round = 0; round < 16; round++) {
    const entry = await topFuseMount(env, path);
    if (entry === undefined) return cleaned;
    const probe = await probeStat(path);
    if (probe !== 'ENOTCONN') {
      if (cleaned) return true;
      throw new TsfuseError(
        'ERR_FUSE_MOUNTPOINT',
        `mountpoint ${path} is not stale: ${mountedError(path, entry, probe).message}. ` +
        'cleanStaleMount only removes mounts whose daemon is gone; use unmount() for this one',
      );
    }
    await unmountWith(env, path, { lazy: true });
    cleaned = true;
  }
  return cleaned;
}

/**
 * Lazily unmounts a stale FUSE mount at `mountpoint` (one whose daemon died, so accesses fail with ENOTCONN).
 * Resolves true if something was cleaned, false if no FUSE filesystem is mounted there; throws
 * ERR_FUSE_MOUNTPOINT for a FUSE mount that still works (use `unmount` for that).
 */
export async function cleanStaleMount(mountpoint: string): Promise<boolean> {
  return cleanStaleMountWith(defaultEnvironment(), mountpoint);
}
