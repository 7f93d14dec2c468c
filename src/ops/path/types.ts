/**
 * The path-based filesystem interface: what most tsfuse users implement. Methods take paths and return
 * plain values, in the style of `fs.promises`, fusepy's `Operations` and fuse-native's ops. The path layer
 * (`pathOperations()` in ./layer.ts) turns such an object into the low-level, inode-based interface: it
 * owns the node table (lookup counts, FORGET), pages directory listings, keeps open files working after
 * unlink or rename, and maps thrown errors exactly as the low-level API does.
 *
 * Conventions, for every method:
 * - Every method is optional and may be sync or async.
 * - Paths are absolute within the filesystem (`'/'`, `'/dir/file'`), decoded from the kernel's bytes as
 *   UTF-8 by default; `PathLayerOptions.nameEncoding` says what happens to names that are not.
 * - The last parameter is always a {@link PathContext} (caller ids, AbortSignal), so a simple
 *   filesystem can ignore it. Where the kernel names an open file, `fh` (the value `open`/`create`/
 *   `opendir`/`tmpfile` returned, or 0) comes just before it, or before the lock `owner` (a bigint: the
 *   kernel's id for the calling process's file table) in the methods that take one.
 * - Files without a name: a file unlinked (or renamed over) while open keeps its last path, which no longer
 *   names it; a file made by `tmpfile` has the path `''` until it is linked. Whenever a request is about
 *   such a file, the layer passes one of its open handles as `fh`, even where the kernel sent none
 *   (`getattr` for fstat(2), `chmod`/`chown`/`utimens` for fchmod(2)…, `link` for linkat(2) of
 *   /proc/self/fd/N): resolve the file by `fh` when it is given, and by path only otherwise.
 * - Errors: throw `new FuseError('ENOENT')`, rethrow any Node `SystemError` (`err.code`/`err.errno`), or
 *   throw an errno name string (`'ENOENT'`); anything else becomes EIO with a warning. Results of the
 *   wrong shape (a getattr without a numeric `mode`, …) are EIO with a warning too.
 * - A filesystem without any mutating method (write, create, tmpfile, mknod, mkdir, unlink, rmdir, rename,
 *   link, symlink, chmod, chown, truncate, utimens, setxattr, removexattr, fallocate) is read-only: those
 *   requests answer EROFS. One with some of them answers ENOSYS for the missing ones, as documented on
 *   each method.
 */
import type { Stats, BigIntStats } from 'node:fs';
import type { LowLevelOperations } from '../lowlevel.ts';
import type { TimeLike } from '../../protocol/replies.ts';
import type { HandoffExportContext, HandoffHooks, HandoffImportContext } from '../../handoff/types.ts';

/** A point in time as users may return it: the low-level API's own (a `Date`, seconds, bigint nanoseconds, `{ sec, nsec }`). */
export type { TimeLike };

/** A point in time as the layer hands it to the filesystem: exact to the nanosecond. */
export interface Timestamp {
  /** Whole seconds since the epoch (may be negative). */
  readonly sec: number;
  /** 0 … 999 999 999. */
  readonly nsec: number;
  /**
   * Set on the times `utimens` receives for UTIME_NOW (`sec`/`nsec` then hold the layer's clock). Setting a
   * time to now needs only write permission; any other time needs ownership (utimensat(2)). Absent: an
   * explicit time.
   */
  readonly now?: true;
}

/**
 * File attributes as a path filesystem returns them. Only `mode` is required; an `fs.Stats` or
 * `fs.BigIntStats` is accepted as is.
 */
export interface PathStat {
  /** File type and permission bits (`S_IFREG | 0o644`, …). */
  readonly mode: number;
  /** Bytes. Defaults to 0. */
  readonly size?: number | bigint;
  /** Defaults to 1 (2 for directories). */
  readonly nlink?: number;
  /** Defaults to 0. */
  readonly uid?: number;
  /** Defaults to 0. */
  readonly gid?: number;
  /** Device number for character and block devices. Defaults to 0. */
  readonly rdev?: number;
  /**
   * A stable inode number. When the filesystem reports one, every name of one inode (hard links)
   * shares one node, and `stat` shows it (libfuse's `use_ino`). Defaults to the node id.
   */
  readonly ino?: number | bigint;
  /** Defaults to 4096. */
  readonly blksize?: number;
  /** 512-byte blocks. Defaults to ceil(size / 512). */
  readonly blocks?: number | bigint;
  /** Last access. Defaults to `mtime`. */
  readonly atime?: TimeLike;
  /** Last change of the content. Defaults to the epoch. */
  readonly mtime?: TimeLike;
  /** Last change of the attributes. Defaults to `mtime`. */
  readonly ctime?: TimeLike;
  /**
   * Creation time, sent to the kernel in STATX answers (statx(2) `stx_btime`, `stat -c %W`). Absent (or
   * 0 in an `fs.Stats`, which is how Node reports "unknown"): statx says the birth time is not known.
   */
  readonly birthtime?: TimeLike;
}

/** Who is asking, and the means to stop early. Read-only; valid during the call. */
export interface PathContext {
  /** Caller's fsuid. */
  readonly uid: number;
  /** Caller's fsgid. */
  readonly gid: number;
  /** Caller's thread group id (0 for requests the kernel makes itself, e.g. writeback). */
  readonly pid: number;
  /** The caller's umask on create, mkdir and mknod (0 elsewhere); the kernel has already applied it to `mode`. */
  readonly umask: number;
  /** Aborted when the kernel interrupts the request (the caller got a signal). */
  readonly signal: AbortSignal;
}

/** A directory entry: a plain name, or a name with its attributes (saves the kernel a lookup later). */
export type PathDirEntry = string | { readonly name: string; readonly stat?: PathStat | Stats | BigIntStats };

/** A whole listing, or entries as they come. "." and ".." are added by the layer when absent. */
export type PathListing = Iterable<PathDirEntry> | AsyncIterable<PathDirEntry>;

/** What `open`, `create` and `opendir` return: a file handle number, or details. */
export type PathOpenResult =
  | number
  | void
  | {
      /** Handed back in later calls on this open file. Defaults to 0. */
      readonly fh?: number;
      /** Bypass the page cache for this open file (FOPEN_DIRECT_IO). Defaults to false. */
      readonly directIo?: boolean;
      /** Keep cached pages from earlier opens (FOPEN_KEEP_CACHE). Defaults to false. */
      readonly keepCache?: boolean;
      /** The file is not seekable (FOPEN_NONSEEKABLE, e.g. a stream). Defaults to false. */
      readonly nonSeekable?: boolean;
    };

export interface PathStatfs {
  readonly bsize?: number; readonly frsize?: number; readonly blocks?: number | bigint; readonly bfree?: number | bigint;
  readonly bavail?: number | bigint; readonly files?: number | bigint; readonly ffree?: number | bigint; readonly namelen?: number;
}

/** A POSIX record lock (fcntl F_GETLK/F_SETLK/F_SETLKW). `end` is inclusive; 2^63−1 (as a bigint) means "to the end of the file". */
export interface PathLock {
  /** F_RDLCK (0), F_WRLCK (1), F_UNLCK (2). */
  readonly type: number;
  readonly start: number | bigint;
  readonly end: number | bigint;
  readonly pid: number;
}

/** The path-based filesystem: implement what you need (see the module comment for conventions). */
export interface PathFilesystem {
  /**
   * During INIT, before any other request; a rejection fails the mount. `notify` works once INIT has been
   * answered (calls before that reject with ERR_INVALID_STATE). Absent: nothing.
   */
  init?(info: { readonly notify: PathNotifier }): void | Promise<void>;
  /**
   * This filesystem removes set-user-ID and set-group-ID itself when a caller other than root writes,
   * truncates or chowns a file, as Linux does (`setIdsToDrop` says which bits; memfs does).
   * The layer then asks the kernel for HANDLE_KILLPRIV_V2, which leaves that to the filesystem; in return
   * the kernel reads `security.capability` (a `getxattr` call) once per file instead of before every
   * write(2). Defaults to false: the kernel clears the bits with a `chmod`.
   */
  readonly removesSetIds?: boolean;
  /** At unmount. Absent: nothing. */
  destroy?(): void | Promise<void>;
  /**
   * Planned handoff (src/handoff/types.ts): this filesystem's own state, for the process that takes the
   * mount over — what it keeps in memory, and what the `fh` values it returned mean. The path layer adds
   * its node table and handles. Called once no request runs. Absent (either hook): the mount cannot be
   * handed off (`tsfuse restart` refuses, the mount stays as it is).
   */
  exportState?(ctx: HandoffExportContext): unknown;
  /** In the successor, on the new filesystem before its first request: take over what exportState returned. Absent: see exportState. */
  importState?(state: unknown, ctx: HandoffImportContext): void | Promise<void>;

  /**
   * Attributes of `path` (lstat semantics: do not follow a final symlink). `fh` is set for fstat, and
   * for a file without a name that is still open. The same call answers STATX (with `birthtime`).
   * Absent: `/` is a 0755 directory, everything else ENOENT.
   */
  getattr?(path: string, fh: number | undefined, ctx: PathContext): PathStat | Stats | BigIntStats | Promise<PathStat | Stats | BigIntStats>;
  /**
   * The entries of a directory, all of them (the layer pages them for the kernel). Called once per open
   * directory handle at its first read and again after a rewind; the layer keeps that listing, so entries
   * that exist throughout are never skipped or repeated however the directory changes meanwhile. An async
   * iterable is consumed as the kernel asks for more. Absent: `/` lists only "." and "..", others ENOSYS.
   */
  readdir?(path: string, fh: number, ctx: PathContext): PathListing | Promise<PathListing>;
  /** Absent: success with fh 0. */
  opendir?(path: string, flags: number, ctx: PathContext): PathOpenResult | Promise<PathOpenResult>;
  /** Absent: success. */
  releasedir?(path: string, fh: number, ctx: PathContext): void | Promise<void>;
  /** Absent: success (the kernel stops asking). */
  fsyncdir?(path: string, datasync: boolean, fh: number, ctx: PathContext): void | Promise<void>;

  /**
   * Open a file; `flags` are open(2) flags (O_RDONLY …, O_TRUNC, O_APPEND). Absent: success with fh 0.
   * On a read-only filesystem (see the module comment) opens for writing or with O_TRUNC answer EROFS
   * before this is called.
   */
  open?(path: string, flags: number, ctx: PathContext): PathOpenResult | Promise<PathOpenResult>;
  /**
   * Create and open a regular file (O_CREAT); `mode` includes S_IFREG. Absent: `mknod` then `open` (with
   * O_CREAT, O_EXCL and O_NOCTTY removed from `flags`) when `mknod` exists, else EROFS/ENOSYS.
   */
  create?(path: string, mode: number, flags: number, ctx: PathContext): PathOpenResult | Promise<PathOpenResult>;
  /**
   * open(2) with O_TMPFILE: create a regular file without a name in the directory `dirPath` and open it
   * (`mode` includes S_IFREG; `flags` are the open flags, O_EXCL meaning it must never get a name).
   * Later requests about the file have the path `''` and its handle as `fh`; `link` may name it. Absent:
   * EROFS on a read-only filesystem, else ENOSYS (the caller sees EOPNOTSUPP).
   */
  tmpfile?(dirPath: string, mode: number, flags: number, ctx: PathContext): PathOpenResult | Promise<PathOpenResult>;
  /** Up to `length` bytes at `position`; fewer means end of file. A string is UTF-8. Absent: ENOSYS. */
  read?(path: string, fh: number, length: number, position: number, ctx: PathContext): Uint8Array | string | Promise<Uint8Array | string>;
  /** Write `data` (borrowed: valid until the call settles; copy to keep) at `position`; return bytes written. Absent: EROFS/ENOSYS. */
  write?(path: string, fh: number, data: Uint8Array, position: number, ctx: PathContext): number | Promise<number>;
  /**
   * Each close(2) of a descriptor of this open file, by the process whose lock owner is `owner`. POSIX
   * says that close releases every record lock that process holds on the file, and the kernel leaves
   * that to the filesystem (its own lock list is empty when locks are the filesystem's): so when `setlk`
   * exists, the layer follows this call with `setlk(path, fh, { type: F_UNLCK, start: 0, end: 2^63−1 },
   * owner, false, ctx)`, as libfuse's high-level layer does. Absent: success (without `setlk` the kernel
   * then stops sending FLUSH).
   */
  flush?(path: string, fh: number, owner: bigint, ctx: PathContext): void | Promise<void>;
  /**
   * Last close of an open file. `path` is the file's current name, or its last name if it was unlinked
   * since. With `flock`, a lock the handle still holds is dropped through `flock(…, LOCK_UN)` first.
   * Absent: success.
   */
  release?(path: string, fh: number, flags: number, ctx: PathContext): void | Promise<void>;
  /** Absent: success (the kernel stops asking). */
  fsync?(path: string, datasync: boolean, fh: number, ctx: PathContext): void | Promise<void>;

  /** Create a file node: regular file, FIFO, socket or device (`mode` has the type bits). Absent: EROFS/ENOSYS. */
  mknod?(path: string, mode: number, rdev: number, ctx: PathContext): void | Promise<void>;
  /** `mode` holds the permission bits (07777), without S_IFDIR. Absent: EROFS/ENOSYS. */
  mkdir?(path: string, mode: number, ctx: PathContext): void | Promise<void>;
  /** Absent: EROFS/ENOSYS. */
  unlink?(path: string, ctx: PathContext): void | Promise<void>;
  /** Absent: EROFS/ENOSYS. */
  rmdir?(path: string, ctx: PathContext): void | Promise<void>;
  /** `flags`: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2). Absent: EROFS/ENOSYS. */
  rename?(from: string, to: string, flags: number, ctx: PathContext): void | Promise<void>;
  /**
   * A hard link `newPath` to `existingPath`. `fh` is set when the file has no name left (a `tmpfile`
   * being given its name, through linkat(2) of /proc/self/fd/N): one of its open handles, and
   * `existingPath` is then not its name. Absent: EROFS/ENOSYS.
   */
  link?(existingPath: string, newPath: string, fh: number | undefined, ctx: PathContext): void | Promise<void>;
  /** A symlink at `path` pointing to `target`. Absent: EROFS/ENOSYS. */
  symlink?(target: string, path: string, ctx: PathContext): void | Promise<void>;
  /** The target of a symlink. Absent: ENOSYS. */
  readlink?(path: string, ctx: PathContext): string | Uint8Array | Promise<string | Uint8Array>;

  /** Change permission bits (`mode` has only the 07777 bits). Absent: EROFS/ENOSYS. */
  chmod?(path: string, mode: number, fh: number | undefined, ctx: PathContext): void | Promise<void>;
  /** Change owner; `-1` leaves one unchanged. Absent: EROFS/ENOSYS. */
  chown?(path: string, uid: number, gid: number, fh: number | undefined, ctx: PathContext): void | Promise<void>;
  /** Absent: EROFS/ENOSYS. */
  truncate?(path: string, size: number, fh: number | undefined, ctx: PathContext): void | Promise<void>;
  /**
   * Set access and modification times. `undefined` leaves a time unchanged (UTIME_OMIT); UTIME_NOW
   * arrives as the current time marked `now: true` (see {@link Timestamp.now}). Absent: EROFS/ENOSYS.
   */
  utimens?(path: string, atime: Timestamp | undefined, mtime: Timestamp | undefined, fh: number | undefined, ctx: PathContext): void | Promise<void>;
  /** Absent: zeros, with namelen 255 and bsize 512. */
  statfs?(path: string, ctx: PathContext): PathStatfs | Promise<PathStatfs>;
  /**
   * Check `mask` (R_OK 4, W_OK 2, X_OK 1, F_OK 0) for the caller. On a read-only filesystem W_OK answers
   * EROFS before this is called. Absent: success (the kernel stops asking).
   */
  access?(path: string, mask: number, ctx: PathContext): void | Promise<void>;

  /** `flags`: XATTR_CREATE (1), XATTR_REPLACE (2). Absent: EROFS on a read-only filesystem, else ENOTSUP. */
  setxattr?(path: string, name: string, value: Uint8Array, flags: number, ctx: PathContext): void | Promise<void>;
  /** The value; throw ENODATA when absent. Size probes and ERANGE are handled by the layer. Absent: ENOTSUP. */
  getxattr?(path: string, name: string, ctx: PathContext): Uint8Array | string | Promise<Uint8Array | string>;
  /** Absent: an empty list when `getxattr` exists, else ENOTSUP. */
  listxattr?(path: string, ctx: PathContext): readonly string[] | Promise<readonly string[]>;
  /** Absent: EROFS on a read-only filesystem, else ENOTSUP. */
  removexattr?(path: string, name: string, ctx: PathContext): void | Promise<void>;

  /** fallocate(2) `mode` bits (FALLOC_FL_KEEP_SIZE 1, FALLOC_FL_PUNCH_HOLE 2, …). Absent: EROFS on a read-only filesystem, else EOPNOTSUPP. */
  fallocate?(path: string, mode: number, offset: number, length: number, fh: number, ctx: PathContext): void | Promise<void>;
  /** SEEK_DATA (3) / SEEK_HOLE (4); return the new offset. Absent: the kernel's generic lseek. */
  lseek?(path: string, offset: number, whence: number, fh: number, ctx: PathContext): number | Promise<number>;
  /** Copy `length` bytes between open files; return bytes copied. Absent: the kernel copies by read/write. */
  copyFileRange?(
    from: { readonly path: string; readonly fh: number; readonly offset: number },
    to: { readonly path: string; readonly fh: number; readonly offset: number },
    length: number, flags: number, ctx: PathContext,
  ): number | Promise<number>;

  /**
   * The first lock that conflicts with `lock` (owner `owner`), or `lock` with `type: F_UNLCK` (2) when none
   * does. Absent: locks are local to the kernel when `setlk` is absent too; with `setlk` alone, ENOSYS.
   */
  getlk?(path: string, fh: number, lock: PathLock, owner: bigint, ctx: PathContext): PathLock | Promise<PathLock>;
  /**
   * Set or clear a POSIX lock; `wait` for F_SETLKW (honour ctx.signal). Also called to clear `owner`'s
   * locks on the whole file at each close(2) (see `flush`). Absent: POSIX locks are local to the kernel.
   */
  setlk?(path: string, fh: number, lock: PathLock, owner: bigint, wait: boolean, ctx: PathContext): void | Promise<void>;
  /** flock(2): `operation` is LOCK_SH (1), LOCK_EX (2) or LOCK_UN (8), with LOCK_NB (4). Absent: flock locks are local to the kernel. */
  flock?(path: string, fh: number, operation: number, owner: bigint, ctx: PathContext): void | Promise<void>;

  /** Restricted ioctl (`arg` is the raw pointer value, `data` the `_IOC_SIZE` input bytes): return `{ result, data }`. Absent: ENOTTY. */
  ioctl?(path: string, cmd: number, arg: bigint, fh: number, flags: number, data: Uint8Array, outSize: number, ctx: PathContext): { readonly result: number; readonly data?: Uint8Array } | Promise<{ readonly result: number; readonly data?: Uint8Array }>;
  /**
   * Return ready events (POLLIN …); when `wakeup` is given, call it once when the events may have changed
   * (it sends the kernel's poll notification). Absent: the kernel's default mask (always ready).
   */
  poll?(path: string, fh: number, events: number, wakeup: (() => Promise<void>) | undefined, ctx: PathContext): number | Promise<number>;
}

/** The notifications a path filesystem may send: invalidate what the kernel caches for a path. */
export interface PathNotifier {
  /** Drop the kernel's cached attributes and data of `path` (nothing happens when the kernel has no node for it). */
  invalidate(path: string): Promise<void>;
  /**
   * Drop the kernel's cached name `path` (after a change the kernel did not see); nothing happens when the
   * kernel has no such name. Do not await it inside a request on the same directory (the kernel holds the
   * directory's lock there): send it without awaiting, or after replying.
   */
  invalidateEntry(path: string): Promise<void>;
}

/** Options of the path layer. */
export interface PathLayerOptions {
  /** Seconds the kernel caches names. Defaults to the mount's `-o entry_timeout`, else 1. */
  readonly entryTimeout?: number;
  /** Seconds the kernel caches attributes. Defaults to the mount's `-o attr_timeout`, else 1. */
  readonly attrTimeout?: number;
  /** Seconds the kernel caches "no such name". Defaults to the mount's `-o negative_timeout`, else 0 (not cached). */
  readonly negativeTimeout?: number;
  /**
   * How the kernel's name bytes become strings: `'utf8'` refuses names that are not valid UTF-8 with
   * EINVAL (nothing is silently replaced); `'latin1'` maps each byte to one character, so every name
   * round-trips. Defaults to `'utf8'`.
   */
  readonly nameEncoding?: 'utf8' | 'latin1';
  /** Use the `ino` the filesystem reports as the node key (hard links share a node). Defaults to true. */
  readonly useIno?: boolean;
  /** The filesystem checks permissions itself (see `checkAccess`): passed on as `LowLevelOperations.checksPermissions`. Defaults to false. */
  readonly checksPermissions?: boolean;
  /**
   * Whether READDIRPLUS answers (the kernel's first page of every listing, and later pages while the
   * reader looks entries up) carry attributes for entries the listing gave without a `stat`, by calling
   * `getattr` for each. Entries given with a `stat` always carry it.
   * - `'auto'`: names only, until the kernel looks up names of a directory after such a listing of it
   *   (`ls -l`, a stat of each entry): from then on, attributes for that directory. A plain `ls` or
   *   `readdir` so costs no `getattr`, and an `ls -l` saves a LOOKUP round trip per entry from its second
   *   run on. With `entryTimeout: 0` no READDIRPLUS at all (plain READDIR pages, one request fewer
   *   per listing): the kernel would look every entry up again anyway.
   * - `'always'`: attributes for every entry listed.
   * - `'never'`: names only (libfuse's high-level readdir without `FUSE_FILL_DIR_PLUS`); with
   *   `entryTimeout: 0`, no READDIRPLUS at all, as for `'auto'`.
   * Defaults to `'auto'`.
   */
  readonly statEntries?: 'auto' | 'always' | 'never';
}

/** Stats as Node returns them, accepted wherever a PathStat is. */
export type AnyStat = PathStat | Stats | BigIntStats;

/** What `pathOperations()` returns: the low-level operations, plus the state of the node table for tests and leak hunts. */
export interface PathOperations extends LowLevelOperations, HandoffHooks {
  /** Nodes the kernel holds (lookup count or open handles above zero), the root included. */
  readonly nodeCount: number;
  /** Open file and directory handles. */
  readonly handleCount: number;
}
