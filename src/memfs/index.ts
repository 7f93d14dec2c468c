/**
 * memfs: an in-memory POSIX filesystem written on the path layer, what `tsfuse memfs MOUNTPOINT` serves
 * and a ready fixture for tests of code that uses a filesystem:
 *
 * ```ts
 * await using m = await mount(dir, pathOperations(createMemfs({ size: 64 << 20 })));
 * ```
 *
 * It has regular files (sparse, with offsets past 4 GiB, SEEK_DATA/SEEK_HOLE, fallocate with
 * KEEP_SIZE and PUNCH_HOLE), directories, symlinks, hard links, FIFOs, sockets and device nodes;
 * stable inode numbers; owners, modes and its own permission checks (for mounts without
 * `default_permissions`), including sticky directories and the set-user-ID/set-group-ID rules of Linux;
 * atime/mtime/ctime/birth time to the nanosecond; extended attributes in the user., trusted. and
 * security. namespaces; rename with RENAME_NOREPLACE and RENAME_EXCHANGE; O_TMPFILE (linkable through
 * /proc/self/fd); copy_file_range that keeps holes; POSIX record locks (dropped at any close by their
 * process) and flock; and statfs usage with a size limit that turns into ENOSPC.
 */
import { TsfuseError } from '../errors.ts';
import type { PathContext } from '../ops/path/types.ts';
import { callerGroups } from '../ops/permissions.ts';
import { totalmem } from 'node:os';
import { Memfs } from './memfs.ts';

export { Memfs } from './memfs.ts';

/** Options of {@link createMemfs}. */
export interface MemfsOptions {
  /**
   * Bytes the files may occupy together, counted in 4 KiB blocks; a write past it is short or fails with
   * ENOSPC. Defaults to half of the machine's memory, as tmpfs.
   */
  readonly size?: number;
  /** Owner of the root directory. Defaults to the daemon's uid (0 where `process.getuid` is absent). */
  readonly uid?: number;
  /** Group of the root directory. Defaults to the daemon's gid (0 where `process.getgid` is absent). */
  readonly gid?: number;
  /** Permission bits of the root directory. Defaults to 0o755. */
  readonly mode?: number;
  /**
   * Check permissions itself, as the kernel would: needed when mounted without `default_permissions`
   * (the kernel then checks nothing); with it, the checks repeat the kernel's and can be turned off.
   * Set-user-ID/set-group-ID clearing and group inheritance happen either way. Defaults to true.
   */
  readonly checkPermissions?: boolean;
  /**
   * The caller's groups (fsgid first), for group permissions and chown. Defaults to `callerGroups`,
   * which reads /proc/<pid>/status; it is asked only for callers other than root.
   */
  readonly groups?: (ctx: PathContext) => readonly number[] | Promise<readonly number[]>;
}

/** A new, empty memfs: a `PathFilesystem` to hand to `pathOperations()`. */
export function createMemfs(options: MemfsOptions = {}): Memfs {
  const size = options.size ?? Math.floor(totalmem() / 2);
  if (!(size >= 0)) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `memfs size must be a number of bytes ≥ 0, got ${String(options.size)}`);
  for (const key of ['uid', 'gid', 'mode'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new TsfuseError('ERR_INVALID_ARG_VALUE', `memfs ${key} must be an integer ≥ 0, got ${String(value)}`);
    }
  }
  return new Memfs({
    size,
    uid: options.uid ?? process.getuid?.() ?? 0,
    gid: options.gid ?? process.getgid?.() ?? 0,
    mode: options.mode ?? 0o755,
    checkPermissions: options.checkPermissions ?? true,
    groups: options.groups ?? callerGroups,
  });
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/**
 * A size as tmpfs's `size=` option writes it: bytes, or a number with k, m, g or t (powers of 1024,
 * either case), e.g. `'512m'`. Throws ERR_INVALID_ARG_VALUE otherwise.
 */
export function parseMemfsSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmgt]?)$/i.exec(text.trim());
  const unit = match === null ? undefined : SIZE_UNITS[(match[2] as string).toLowerCase()];
  if (match === null || unit === undefined) {
    throw new TsfuseError('ERR_INVALID_ARG_VALUE', `not a size: ${JSON.stringify(text)} (bytes, or a number with k, m, g or t)`);
  }
  return Math.floor(Number(match[1]) * unit);
}
