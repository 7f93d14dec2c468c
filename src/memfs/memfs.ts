/**
 * memfs: an in-memory POSIX filesystem on the path layer (see ./index.ts for what it offers). This file
 * is the operations: each resolves its paths (checking search permission on the way), checks what POSIX
 * requires in the order Linux checks it (fs/namei.c may_create, may_delete, vfs_rename, …), then changes
 * the tree synchronously, so no other request interleaves with a half-made change. Awaiting happens only
 * before that, to learn the caller's supplementary groups.
 *
 * Open files are handles on inodes, not on names: reads and writes through a handle keep working after
 * the file is unlinked or renamed, and an inode's blocks are freed when its last name and its last
 * handle are gone.
 */
import { FuseError } from '../errors.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../ops/file-mode.ts';
import { O_ACCMODE, O_APPEND, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '../protocol/open-flags.ts';
import type {
  PathContext, PathDirEntry, PathFilesystem, PathLock, PathStat, PathStatfs, Timestamp,
} from '../ops/path/types.ts';
import { checkAccess, R_OK, W_OK, X_OK, setIdsNeedGroups, setIdsToDrop } from '../ops/permissions.ts';
import { now } from './clock.ts';
import { BLOCK_SIZE, SpaceBudget, type ExportedFileData } from './file-data.ts';
import { Inode } from './inode.ts';
import { FileLocks, type ExportedLocks } from './locks.ts';
import {
  inGroupOrRoot, isRoot, modeAfterChown, modeForChmod, newInodeOwnership, ownsOrRoot,
  requireAccess, requireNotSticky, requireSafeHardlinkSource, type KnownCaller,
} from './permissions.ts';
import { namespaceOf, requireWritable, setXattr, visible, XATTR_SIZE_MAX } from './xattrs.ts';

/** include/uapi/linux/limits.h NAME_MAX: the longest name, in bytes. */
export const NAME_MAX = 255;
/** include/uapi/linux/limits.h PATH_MAX, which includes the NUL: the longest symlink target is one less. */
const PATH_MAX = 4096;


const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;

const SEEK_SET = 0;
const SEEK_END = 2;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;

/** statfs `files`: inode numbers are a counter, so the limit is only nominal. */
const MAX_INODES = 2 ** 32;

/** Settings of one memfs; see `MemfsOptions` in ./index.ts for the documented, optional form. */
export interface MemfsSettings {
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly checkPermissions: boolean;
  readonly groups: (ctx: PathContext) => readonly number[] | Promise<readonly number[]>;
}

interface OpenFile {
  readonly inode: Inode;
  readonly flags: number;
}

/** One inode of {@link Memfs.exportState}: other inodes by number. */
interface ExportedInode {
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly nlink: number;
  readonly atime: Timestamp;
  readonly mtime: Timestamp;
  readonly ctime: Timestamp;
  readonly btime: Timestamp;
  readonly target: string | undefined;
  readonly parent: number | undefined;
  readonly entries: readonly (readonly [string, number])[] | undefined;
  readonly data: ExportedFileData | undefined;
  readonly xattrs: readonly (readonly [string, Buffer])[] | undefined;
  readonly locks: ExportedLocks | undefined;
  readonly openCount: number;
  readonly linkable: boolean;
}

/** What {@link Memfs.exportState} returns. */
export interface ExportedMemfs {
  readonly version: 1;
  readonly root: number;
  readonly inodes: readonly ExportedInode[];
  /** [fh, ino, open flags]. */
  readonly handles: readonly (readonly [number, number, number])[];
  readonly nextFh: number;
  readonly nextIno: number;
  readonly inodeCount: number;
  readonly spaceUsed: number;
}

export class Memfs implements PathFilesystem {
  /** Not readonly: a handoff's importState replaces the whole tree. */
  #root: Inode;
  readonly #space: SpaceBudget;
  readonly #check: boolean;
  readonly #groupsOf: MemfsSettings['groups'];
  readonly #handles = new Map<number, OpenFile>();
  #nextFh = 1;
  #nextIno = 1;
  #inodes = 0;
  /** Writes, truncations and chowns remove the set-id bits here (`#afterWrite`, chown): no write(2) then waits for a GETXATTR. */
  readonly removesSetIds = true;

  constructor(settings: MemfsSettings) {
    this.#space = new SpaceBudget(settings.size);
    this.#check = settings.checkPermissions;
    this.#groupsOf = settings.groups;
    this.#root = this.#newInode(S_IFDIR | (settings.mode & 0o7777), settings.uid, settings.gid);
    this.#root.parent = this.#root;
  }

  // ---- attributes and directories ------------------------------------------------------------

  async getattr(path: string, fh: number | undefined, ctx: PathContext): Promise<PathStat> {
    return (await this.#inodeOf(path, fh, ctx)).stat();
  }

  async opendir(path: string, _flags: number, ctx: PathContext): Promise<number> {
    const caller = await this.#caller(ctx);
    const inode = this.#lookup(path, caller);
    if (!inode.isDirectory) throw new FuseError('ENOTDIR');
    this.#require(inode, caller, R_OK);
    return this.#openHandle(inode, O_RDONLY | O_DIRECTORY);
  }

  async readdir(path: string, fh: number, ctx: PathContext): Promise<PathDirEntry[]> {
    const dir = await this.#inodeOf(path, fh, ctx);
    if (dir.entries === undefined) throw new FuseError('ENOTDIR');
    dir.accessed(now());
    const listing: PathDirEntry[] = [];
    for (const [name, child] of dir.entries) listing.push({ name, stat: child.stat() });
    return listing;
  }

  releasedir(_path: string, fh: number, _ctx: PathContext): void {
    this.#closeHandle(fh);
  }

  statfs(_path: string, _ctx: PathContext): PathStatfs {
    const free = this.#space.available;
    const blocks = Math.floor((this.#space.used + free) / BLOCK_SIZE);
    const bfree = Math.floor(free / BLOCK_SIZE);
    return {
      bsize: BLOCK_SIZE, frsize: BLOCK_SIZE, blocks, bfree, bavail: bfree,
      files: MAX_INODES, ffree: MAX_INODES - this.#inodes, namelen: NAME_MAX,
    };
  }

  /** access(2): always answered from the modes (the kernel sends it only without default_permissions). */
  async access(path: string, mask: number, ctx: PathContext): Promise<void> {
    const caller = await this.#caller(ctx, true);
    const inode = this.#lookup(path, caller);
    if (!checkAccess(inode, caller, mask)) throw new FuseError('EACCES');
  }

  // ---- open files ----------------------------------------------------------------------------

  async open(path: string, flags: number, ctx: PathContext): Promise<number> {
    const caller = await this.#caller(ctx);
    const inode = this.#lookup(path, caller);
    return this.#openExisting(inode, flags, caller, ctx);
  }

  async create(path: string, mode: number, flags: number, ctx: PathContext): Promise<number> {
    const caller = await this.#caller(ctx, true);
    const { dir, name } = this.#lookupParent(path, caller);
    const existing = dir.entries.get(name);
    if (existing !== undefined) {
      if ((flags & O_EXCL) !== 0) throw new FuseError('EEXIST');
      return this.#openExisting(existing, flags, caller, ctx);
    }
    this.#require(dir, caller, W_OK | X_OK);
    const inode = this.#addChild(dir, name, S_IFREG | (mode & 0o7777), caller);
    return this.#openHandle(inode, flags);
  }

  /**
   * O_TMPFILE: a regular file without a name in `dirPath`, open (fs/namei.c vfs_tmpfile: the directory
   * must be writable and searchable; it does not change). Linkable later unless opened with O_EXCL.
   */
  async tmpfile(dirPath: string, mode: number, flags: number, ctx: PathContext): Promise<number> {
    const caller = await this.#caller(ctx, true);
    const dir = this.#lookup(dirPath, caller);
    if (!dir.isDirectory) throw new FuseError('ENOTDIR');
    if (dir.nlink === 0) throw new FuseError('ENOENT');
    this.#require(dir, caller, W_OK | X_OK);
    const owner = newInodeOwnership(dir, S_IFREG | (mode & 0o7777), false, caller);
    const inode = this.#newInode(owner.mode, owner.uid, owner.gid);
    inode.nlink = 0;
    inode.linkable = (flags & O_EXCL) === 0;
    return this.#openHandle(inode, flags);
  }

  read(path: string, fh: number, length: number, position: number, _ctx: PathContext): Buffer {
    const { inode, flags } = this.#fileOf(path, fh);
    if (inode.data === undefined) throw new FuseError(inode.isDirectory ? 'EISDIR' : 'EINVAL');
    if ((flags & O_ACCMODE) === O_WRONLY) throw new FuseError('EBADF');
    const bytes = inode.data.read(position, length);
    inode.accessed(now());
    return bytes;
  }

  /** Writes at `position` as the kernel computed it (for O_APPEND too). */
  write(path: string, fh: number, data: Uint8Array, position: number, ctx: PathContext): number | Promise<number> {
    const { inode, flags } = this.#fileOf(path, fh);
    if (inode.data === undefined) throw new FuseError(inode.isDirectory ? 'EISDIR' : 'EINVAL');
    if ((flags & O_ACCMODE) === O_RDONLY) throw new FuseError('EBADF');
    const written = inode.data.write(position, data);
    const pending = this.#afterWrite(inode, ctx);
    inode.modified(now());
    return pending === undefined ? written : pending.then(() => written);
  }

  release(_path: string, fh: number, _flags: number, _ctx: PathContext): void {
    this.#closeHandle(fh);
  }

  // ---- names ---------------------------------------------------------------------------------

  async mknod(path: string, mode: number, rdev: number, ctx: PathContext): Promise<void> {
    const type = (mode & S_IFMT) === 0 ? S_IFREG : mode & S_IFMT; // mknod(2): type 0 means a regular file
    if (type === S_IFDIR) throw new FuseError('EPERM');
    if (type !== S_IFREG && type !== S_IFIFO && type !== S_IFSOCK && type !== S_IFCHR && type !== S_IFBLK) {
      throw new FuseError('EINVAL');
    }
    const caller = await this.#caller(ctx, true);
    const { dir, name } = this.#lookupParent(path, caller);
    this.#requireCreatable(dir, name, caller);
    // fs/namei.c may_mknod: devices need CAP_MKNOD.
    const device = type === S_IFCHR || type === S_IFBLK;
    if (device && !isRoot(caller)) throw new FuseError('EPERM');
    this.#addChild(dir, name, type | (mode & 0o7777), caller, device ? rdev : 0);
  }

  async mkdir(path: string, mode: number, ctx: PathContext): Promise<void> {
    const caller = await this.#caller(ctx, true);
    const { dir, name } = this.#lookupParent(path, caller);
    this.#requireCreatable(dir, name, caller);
    // fs/namei.c vfs_mkdir keeps only the permission and sticky bits; S_ISGID comes from the parent.
    this.#addChild(dir, name, S_IFDIR | (mode & 0o1777), caller);
  }

  async symlink(target: string, path: string, ctx: PathContext): Promise<void> {
    if (target === '') throw new FuseError('ENOENT');
    if (Buffer.byteLength(target) >= PATH_MAX) throw new FuseError('ENAMETOOLONG');
    const caller = await this.#caller(ctx, true);
    const { dir, name } = this.#lookupParent(path, caller);
    this.#requireCreatable(dir, name, caller);
    this.#addChild(dir, name, S_IFLNK | 0o777, caller, 0, target);
  }

  async readlink(path: string, ctx: PathContext): Promise<string> {
    const inode = this.#lookup(path, await this.#caller(ctx));
    if (inode.target === undefined) throw new FuseError('EINVAL');
    inode.accessed(now());
    return inode.target;
  }

  /** link(2); with `fh`, the open file has no name (O_TMPFILE: linkat of /proc/self/fd/N). */
  async link(existingPath: string, newPath: string, fh: number | undefined, ctx: PathContext): Promise<void> {
    const caller = await this.#caller(ctx);
    const inode = this.#inodeFrom(existingPath, fh, caller);
    const { dir, name } = this.#lookupParent(newPath, caller);
    this.#requireCreatable(dir, name, caller);
    if (inode.isDirectory) throw new FuseError('EPERM');
    if (this.#check) requireSafeHardlinkSource(inode, caller);
    // fs/namei.c vfs_link: a file without names may only get one when it was made by O_TMPFILE.
    if (inode.nlink === 0 && !inode.linkable) throw new FuseError('ENOENT');
    inode.linkable = false;
    dir.entries.set(name, inode);
    inode.nlink++;
    const t = now();
    inode.changed(t);
    dir.modified(t);
  }

  async unlink(path: string, ctx: PathContext): Promise<void> {
    const caller = await this.#caller(ctx);
    const { dir, name } = this.#lookupParent(path, caller);
    const victim = this.#child(dir, name);
    this.#requireDeletable(dir, victim, caller);
    if (victim.isDirectory) throw new FuseError('EISDIR');
    dir.entries.delete(name);
    victim.nlink--;
    const t = now();
    victim.changed(t);
    dir.modified(t);
    this.#freeIfUnused(victim);
  }

  async rmdir(path: string, ctx: PathContext): Promise<void> {
    const caller = await this.#caller(ctx);
    const { dir, name } = this.#lookupParent(path, caller);
    const victim = this.#child(dir, name);
    this.#requireDeletable(dir, victim, caller);
    if (victim.entries === undefined) throw new FuseError('ENOTDIR');
    if (victim === this.#root) throw new FuseError('EBUSY');
    if (victim.entries.size > 0) throw new FuseError('ENOTEMPTY');
    dir.entries.delete(name);
    dir.nlink--;
    victim.nlink = 0;
    const t = now();
    victim.changed(t);
    dir.modified(t);
    this.#freeIfUnused(victim);
  }

  /** rename(2) and renameat2(2) with RENAME_NOREPLACE or RENAME_EXCHANGE, checked as fs/namei.c do_renameat2 and vfs_rename do. */
  async rename(from: string, to: string, flags: number, ctx: PathContext): Promise<void> {
    if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) !== 0) throw new FuseError('EINVAL');
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    if (exchange && (flags & RENAME_NOREPLACE) !== 0) throw new FuseError('EINVAL');
    const caller = await this.#caller(ctx);
    const source = this.#lookupParent(from, caller);
    const dest = this.#lookupParent(to, caller);
    const moved = this.#child(source.dir, source.name);
    const replaced = dest.dir.entries.get(dest.name);
    if (exchange && replaced === undefined) throw new FuseError('ENOENT');
    if ((flags & RENAME_NOREPLACE) !== 0 && replaced !== undefined) throw new FuseError('EEXIST');
    // A directory may not move below itself; a target that is an ancestor of the source is not empty.
    if (moved.isDirectory && isAncestorOf(moved, dest.dir)) throw new FuseError('EINVAL');
    if (replaced?.isDirectory === true && isAncestorOf(replaced, source.dir)) {
      throw new FuseError(exchange ? 'EINVAL' : 'ENOTEMPTY');
    }
    if (replaced === moved) return; // two names of one inode: POSIX says rename does nothing
    this.#requireDeletable(source.dir, moved, caller);
    if (replaced === undefined) {
      this.#require(dest.dir, caller, W_OK | X_OK);
    } else {
      this.#requireDeletable(dest.dir, replaced, caller);
      if (!exchange && moved.isDirectory && !replaced.isDirectory) throw new FuseError('ENOTDIR');
      if (!exchange && !moved.isDirectory && replaced.isDirectory) throw new FuseError('EISDIR');
      if (!exchange && replaced.entries !== undefined && replaced.entries.size > 0) throw new FuseError('ENOTEMPTY');
    }
    if (source.dir !== dest.dir) {
      // vfs_rename: a directory changing parent needs write permission on itself (its ".." changes).
      if (moved.isDirectory) this.#require(moved, caller, W_OK);
      if (exchange && replaced?.isDirectory === true) this.#require(replaced, caller, W_OK);
    }

    const t = now();
    if (exchange && replaced !== undefined) {
      source.dir.entries.set(source.name, replaced);
      dest.dir.entries.set(dest.name, moved);
      reparent(replaced, dest.dir, source.dir);
      reparent(moved, source.dir, dest.dir);
      replaced.changed(t);
    } else {
      if (replaced !== undefined) {
        if (replaced.isDirectory) {
          replaced.nlink = 0;
          dest.dir.nlink--;
        } else {
          replaced.nlink--;
        }
        replaced.changed(t);
      }
      source.dir.entries.delete(source.name);
      dest.dir.entries.set(dest.name, moved);
      reparent(moved, source.dir, dest.dir);
    }
    moved.changed(t);
    source.dir.modified(t);
    dest.dir.modified(t);
    if (replaced !== undefined && !exchange) this.#freeIfUnused(replaced);
  }

  // ---- attributes ----------------------------------------------------------------------------

  /**
   * chmod(2): the owner or root. A change that only clears set-user-ID / set-group-ID is allowed to
   * anyone: it grants nothing, and the kernel sends exactly that, as the writer, when a non-owner writes
   * to such a file and killpriv is not negotiated (fs/fuse/dir.c fuse_setattr, fs/inode.c file_remove_privs).
   */
  async chmod(path: string, mode: number, fh: number | undefined, ctx: PathContext): Promise<void> {
    const caller = await this.#caller(ctx, true);
    const inode = this.#inodeFrom(path, fh, caller);
    const bits = modeForChmod(mode, inode, caller);
    const onlyClearsSetId = (bits & ~0o6000) === (inode.mode & 0o1777) && (bits & ~inode.mode & 0o6000) === 0
      && (inode.mode & ~bits & 0o6000) !== 0;
    if (this.#check && !ownsOrRoot(caller, inode) && !onlyClearsSetId) throw new FuseError('EPERM');
    inode.mode = (inode.mode & S_IFMT) | bits;
    inode.changed(now());
  }

  /** chown(2), `-1` (or 0xffffffff) leaving an id unchanged; fs/attr.c chown_ok / chgrp_ok decide who may. */
  async chown(path: string, uid: number, gid: number, fh: number | undefined, ctx: PathContext): Promise<void> {
    const caller = await this.#caller(ctx, true);
    const inode = this.#inodeFrom(path, fh, caller);
    const newUid = uid === -1 || uid === 0xffff_ffff ? undefined : uid;
    const newGid = gid === -1 || gid === 0xffff_ffff ? undefined : gid;
    if (this.#check && !isRoot(caller)) {
      if (newUid !== undefined && !(caller.uid === inode.uid && newUid === inode.uid)) throw new FuseError('EPERM');
      if (newGid !== undefined && !(caller.uid === inode.uid && (newGid === inode.gid || inGroupOrRoot(caller, newGid)))) {
        throw new FuseError('EPERM');
      }
    }
    if (newUid !== undefined) inode.uid = newUid;
    if (newGid !== undefined) inode.gid = newGid;
    inode.mode = modeAfterChown(inode.mode, inode.isDirectory, caller, inode.gid);
    inode.changed(now());
  }

  async truncate(path: string, size: number, fh: number | undefined, ctx: PathContext): Promise<void> {
    if (size < 0) throw new FuseError('EINVAL');
    const open = fh === undefined ? undefined : this.#handles.get(fh);
    let inode: Inode;
    if (open !== undefined && (open.flags & O_ACCMODE) !== O_RDONLY) {
      inode = open.inode; // ftruncate: the kernel checked that the file is open for writing
    } else {
      // truncate(2) by name, or of a nameless file through /proc/self/fd/N (a handle that may be read-only).
      const caller = await this.#caller(ctx);
      inode = this.#inodeFrom(path, fh, caller);
      if (inode.isDirectory) throw new FuseError('EISDIR');
      this.#require(inode, caller, W_OK);
    }
    if (inode.data === undefined) throw new FuseError(inode.isDirectory ? 'EISDIR' : 'EINVAL');
    inode.data.truncate(size);
    await this.#afterWrite(inode, ctx);
    inode.modified(now());
  }

  /**
   * utimensat(2): the owner or root may set any time; anyone with write permission may set the times
   * to now (UTIME_NOW, which the path layer marks `now: true`; fs/attr.c inode_owner_or_capable vs.
   * fs/utimes.c). A time set to now takes memfs's own clock, so it agrees with ctime to the nanosecond.
   */
  async utimens(path: string, atime: Timestamp | undefined, mtime: Timestamp | undefined, fh: number | undefined, ctx: PathContext): Promise<void> {
    if (atime === undefined && mtime === undefined) return; // both UTIME_OMIT: nothing changes, not even ctime
    const caller = await this.#caller(ctx);
    const inode = this.#inodeFrom(path, fh, caller);
    const t = now();
    if (this.#check && !ownsOrRoot(caller, inode)) {
      const explicit = (time: Timestamp | undefined): boolean => time !== undefined && time.now !== true;
      if (explicit(atime) || explicit(mtime)) throw new FuseError('EPERM');
      requireAccess(inode, caller, W_OK);
    }
    if (atime !== undefined) inode.atime = atime.now ? t : { sec: atime.sec, nsec: atime.nsec };
    if (mtime !== undefined) inode.mtime = mtime.now ? t : { sec: mtime.sec, nsec: mtime.nsec };
    inode.changed(t);
  }

  // ---- extended attributes -------------------------------------------------------------------

  async setxattr(path: string, name: string, value: Uint8Array, flags: number, ctx: PathContext): Promise<void> {
    const namespace = namespaceOf(name);
    if (value.length > XATTR_SIZE_MAX) throw new FuseError('E2BIG');
    const caller = await this.#caller(ctx, true);
    const inode = this.#lookup(path, caller);
    requireWritable(inode, namespace, caller);
    if (namespace === 'user') this.#require(inode, caller, W_OK);
    setXattr(inode, name, value, flags);
    inode.changed(now());
  }

  async getxattr(path: string, name: string, ctx: PathContext): Promise<Buffer> {
    const namespace = namespaceOf(name);
    const caller = await this.#caller(ctx, true);
    const inode = this.#lookup(path, caller);
    if (!visible(inode, namespace, caller)) throw new FuseError('ENODATA');
    if (namespace === 'user') this.#require(inode, caller, R_OK);
    const value = inode.xattrs?.get(name);
    if (value === undefined) throw new FuseError('ENODATA');
    return value;
  }

  async listxattr(path: string, ctx: PathContext): Promise<string[]> {
    const caller = await this.#caller(ctx, true);
    const inode = this.#lookup(path, caller);
    return [...(inode.xattrs?.keys() ?? [])].filter((name) => visible(inode, namespaceOf(name), caller));
  }

  async removexattr(path: string, name: string, ctx: PathContext): Promise<void> {
    const namespace = namespaceOf(name);
    const caller = await this.#caller(ctx, true);
    const inode = this.#lookup(path, caller);
    requireWritable(inode, namespace, caller);
    if (namespace === 'user') this.#require(inode, caller, W_OK);
    if (inode.xattrs?.delete(name) !== true) throw new FuseError('ENODATA');
    inode.changed(now());
  }

  // ---- space, holes, locks -------------------------------------------------------------------

  /** fallocate(2): mode 0, FALLOC_FL_KEEP_SIZE, or FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE; others EOPNOTSUPP. */
  fallocate(path: string, mode: number, offset: number, length: number, fh: number, ctx: PathContext): void | Promise<void> {
    const { inode } = this.#fileOf(path, fh);
    if (inode.data === undefined) throw new FuseError(inode.isDirectory ? 'EISDIR' : 'ENODEV');
    if (offset < 0 || length <= 0) throw new FuseError('EINVAL');
    if (mode === 0 || mode === FALLOC_FL_KEEP_SIZE) {
      inode.data.allocate(offset, length, mode === FALLOC_FL_KEEP_SIZE);
    } else if (mode === (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
      inode.data.punchHole(offset, length);
    } else {
      throw new FuseError('EOPNOTSUPP');
    }
    const pending = this.#afterWrite(inode, ctx); // fs/inode.c file_modified
    inode.modified(now());
    return pending;
  }

  /** SEEK_DATA / SEEK_HOLE (ENXIO at or past the end of the file); SEEK_SET / SEEK_END too. */
  lseek(path: string, offset: number, whence: number, fh: number, _ctx: PathContext): number {
    const { inode } = this.#fileOf(path, fh);
    const size = inode.data?.size ?? 0;
    switch (whence) {
      case SEEK_SET: return offset;
      case SEEK_END: return size + offset;
      case SEEK_DATA: {
        const found = offset < 0 || inode.data === undefined ? -1 : inode.data.seekData(offset);
        if (found < 0) throw new FuseError('ENXIO');
        return found;
      }
      case SEEK_HOLE:
        if (offset < 0 || offset >= size || inode.data === undefined) throw new FuseError('ENXIO');
        return inode.data.seekHole(offset);
      default: // SEEK_CUR needs the file position, which only the kernel has
        throw new FuseError('EINVAL');
    }
  }

  /**
   * copy_file_range(2) inside memfs: block by block, holes staying holes (a sparse file copies in time
   * proportional to its data). Copies up to the end of the source; a short count when space runs out.
   */
  copyFileRange(
    from: { readonly path: string; readonly fh: number; readonly offset: number },
    to: { readonly path: string; readonly fh: number; readonly offset: number },
    length: number, flags: number, ctx: PathContext,
  ): number | Promise<number> {
    // fs/read_write.c vfs_copy_file_range / generic_copy_file_checks (the kernel checks these first too).
    if (flags !== 0 || from.offset < 0 || to.offset < 0 || length < 0) throw new FuseError('EINVAL');
    const source = this.#fileOf(from.path, from.fh);
    const dest = this.#fileOf(to.path, to.fh);
    if ((source.flags & O_ACCMODE) === O_WRONLY || (dest.flags & O_ACCMODE) === O_RDONLY || (dest.flags & O_APPEND) !== 0) {
      throw new FuseError('EBADF');
    }
    const src = source.inode.data;
    const dst = dest.inode.data;
    if (src === undefined || dst === undefined) throw new FuseError(source.inode.isDirectory || dest.inode.isDirectory ? 'EISDIR' : 'EINVAL');
    const count = Math.max(0, Math.min(length, src.size - from.offset));
    if (src === dst && from.offset < to.offset + count && to.offset < from.offset + count) throw new FuseError('EINVAL');
    if (count === 0) return 0;
    const copied = dst.copyFrom(src, from.offset, to.offset, count);
    const t = now();
    source.inode.accessed(t);
    const pending = this.#afterWrite(dest.inode, ctx);
    dest.inode.modified(t);
    return pending === undefined ? copied : pending.then(() => copied);
  }

  getlk(path: string, fh: number, lock: PathLock, owner: bigint, _ctx: PathContext): PathLock {
    return this.#locksOf(path, fh).test(lock, owner);
  }

  /**
   * F_SETLK/F_SETLKW. The path layer also calls this with F_UNLCK over the whole file at every close(2)
   * (FLUSH), which is how a process's record locks go with any of its descriptors, as POSIX requires.
   */
  setlk(path: string, fh: number, lock: PathLock, owner: bigint, wait: boolean, ctx: PathContext): Promise<void> {
    return this.#locksOf(path, fh).set(lock, owner, wait, ctx.signal);
  }

  flock(path: string, fh: number, operation: number, owner: bigint, ctx: PathContext): Promise<void> {
    return this.#locksOf(path, fh).flock(operation, owner, fh, ctx.signal);
  }

  // ---- handoff (src/handoff) --------------------------------------------------------------------

  /**
   * The whole tree, for the process taking the mount over: every inode reachable by a name or an open
   * handle, with its bytes (so the state is about as large as the files: fine for a memory filesystem,
   * which holds it all in memory anyway), and the handles. Called once no request runs.
   */
  exportState(): ExportedMemfs {
    const inodes: ExportedInode[] = [];
    const seen = new Set<Inode>();
    const visit = (start: Inode): void => {
      const pending = [start];
      for (let inode = pending.pop(); inode !== undefined; inode = pending.pop()) {
        if (seen.has(inode)) continue;
        seen.add(inode);
        inodes.push({
          ino: inode.ino, mode: inode.mode, uid: inode.uid, gid: inode.gid, rdev: inode.rdev, nlink: inode.nlink,
          atime: inode.atime, mtime: inode.mtime, ctime: inode.ctime, btime: inode.btime, target: inode.target,
          parent: inode.parent?.ino, entries: inode.entries === undefined ? undefined : [...inode.entries].map(([name, child]) => [name, child.ino] as const),
          data: inode.data?.exportData(), xattrs: inode.xattrs === undefined ? undefined : [...inode.xattrs],
          locks: inode.locks?.exportLocks(), openCount: inode.openCount, linkable: inode.linkable,
        });
        if (inode.entries !== undefined) for (const child of inode.entries.values()) pending.push(child);
        if (inode.parent !== undefined) pending.push(inode.parent);
      }
    };
    visit(this.#root);
    for (const open of this.#handles.values()) visit(open.inode);
    return {
      version: 1, root: this.#root.ino, inodes, handles: [...this.#handles].map(([fh, open]) => [fh, open.inode.ino, open.flags] as const),
      nextFh: this.#nextFh, nextIno: this.#nextIno, inodeCount: this.#inodes, spaceUsed: this.#space.used,
    };
  }

  /** Replaces this (new) filesystem's tree with an exported one. The size limit stays this filesystem's own. */
  importState(data: unknown): void {
    const state = data as ExportedMemfs;
    if (state?.version !== 1) throw new FuseError('EINVAL', `not a memfs state this version can import (version ${String(state?.version)})`);
    const byIno = new Map<number, Inode>();
    for (const e of state.inodes) {
      const inode = new Inode({ ino: e.ino, mode: e.mode, uid: e.uid, gid: e.gid, rdev: e.rdev, target: e.target, space: this.#space, now: e.btime });
      inode.nlink = e.nlink;
      inode.atime = e.atime;
      inode.mtime = e.mtime;
      inode.ctime = e.ctime;
      if (e.data !== undefined) inode.data?.importData(e.data);
      if (e.xattrs !== undefined) inode.xattrs = new Map(e.xattrs);
      if (e.locks !== undefined) {
        inode.locks = new FileLocks();
        inode.locks.importLocks(e.locks);
      }
      inode.openCount = e.openCount;
      inode.linkable = e.linkable;
      byIno.set(e.ino, inode);
    }
    const find = (ino: number): Inode => {
      const inode = byIno.get(ino);
      if (inode === undefined) throw new FuseError('EINVAL', `the memfs state names inode ${ino} but does not hold it`);
      return inode;
    };
    for (const e of state.inodes) {
      const inode = find(e.ino);
      if (e.parent !== undefined) inode.parent = find(e.parent);
      if (e.entries !== undefined) for (const [name, ino] of e.entries) inode.entries?.set(name, find(ino));
    }
    this.#root = find(state.root);
    this.#handles.clear();
    for (const [fh, ino, flags] of state.handles) this.#handles.set(fh, { inode: find(ino), flags });
    this.#nextFh = state.nextFh;
    this.#nextIno = state.nextIno;
    this.#inodes = state.inodeCount;
    this.#space.used = state.spaceUsed;
  }

  // ---- internals -----------------------------------------------------------------------------

  /**
   * Who is asking. The supplementary groups are read (from /proc, by default) only when a decision may
   * depend on them: never for root, and for others only when memfs checks permissions or `needGroups`.
   */
  async #caller(ctx: PathContext, needGroups = false): Promise<KnownCaller> {
    if (ctx.uid === 0 || !(this.#check || needGroups)) return { uid: ctx.uid, gid: ctx.gid, groups: [ctx.gid] };
    return { uid: ctx.uid, gid: ctx.gid, groups: await this.#groupsOf(ctx) };
  }

  #require(inode: Inode, caller: KnownCaller, mask: number): void {
    if (this.#check) requireAccess(inode, caller, mask);
  }

  /** fs/namei.c may_create: the name is free, and the directory writable and searchable. */
  #requireCreatable(dir: Inode, name: string, caller: KnownCaller): void {
    if (dir.entries?.has(name) === true) throw new FuseError('EEXIST');
    if (dir.nlink === 0) throw new FuseError('ENOENT'); // a removed directory takes no new entries
    this.#require(dir, caller, W_OK | X_OK);
  }

  /** fs/namei.c may_delete: the directory writable and searchable, then the sticky bit. */
  #requireDeletable(dir: Inode, victim: Inode, caller: KnownCaller): void {
    this.#require(dir, caller, W_OK | X_OK);
    if (this.#check) requireNotSticky(dir, victim, caller);
  }

  #newInode(mode: number, uid: number, gid: number, rdev = 0, target?: string): Inode {
    this.#inodes++;
    return new Inode({ ino: this.#nextIno++, mode, uid, gid, rdev, target, space: this.#space, now: now() });
  }

  #addChild(dir: Inode, name: string, mode: number, caller: KnownCaller, rdev = 0, target?: string): Inode {
    const isDirectory = (mode & S_IFMT) === S_IFDIR;
    const owner = newInodeOwnership(dir, mode, isDirectory, caller);
    const inode = this.#newInode(owner.mode, owner.uid, owner.gid, rdev, target);
    if (isDirectory) {
      inode.parent = dir;
      dir.nlink++;
    }
    dir.entries?.set(name, inode);
    dir.modified(inode.ctime);
    return inode;
  }

  /**
   * Takes away the set-id bits a write or truncate by `ctx` removes (fs/inode.c file_remove_privs; none
   * for root, else those {@link setIdsToDrop} names); a promise only when the caller's supplementary
   * groups decide and must be read first.
   */
  #afterWrite(inode: Inode, ctx: PathContext): void | Promise<void> {
    if (isRoot(ctx)) return undefined;
    if (!setIdsNeedGroups(inode.mode, ctx.gid, inode.gid)) {
      inode.mode &= ~setIdsToDrop(inode.mode, () => true);
      return undefined;
    }
    return this.#caller(ctx, true).then((caller) => {
      inode.mode &= ~setIdsToDrop(inode.mode, () => inGroupOrRoot(caller, inode.gid));
    });
  }

  #openExisting(inode: Inode, flags: number, caller: KnownCaller, ctx: PathContext): number | Promise<number> {
    if (inode.isSymlink) throw new FuseError('ELOOP');
    const access = flags & O_ACCMODE;
    if (inode.isDirectory && (access !== O_RDONLY || (flags & O_TRUNC) !== 0)) throw new FuseError('EISDIR');
    if ((flags & O_DIRECTORY) !== 0 && !inode.isDirectory) throw new FuseError('ENOTDIR');
    let mask = access === O_RDONLY ? R_OK : access === O_WRONLY ? W_OK : R_OK | W_OK;
    if ((flags & O_TRUNC) !== 0) mask |= W_OK; // fs/open.c build_open_flags: O_TRUNC needs write permission
    this.#require(inode, caller, mask);
    if ((flags & O_TRUNC) !== 0 && inode.data !== undefined) {
      inode.data.truncate(0);
      const pending = this.#afterWrite(inode, ctx);
      inode.modified(now());
      if (pending !== undefined) return pending.then(() => this.#openHandle(inode, flags));
    }
    return this.#openHandle(inode, flags);
  }

  #openHandle(inode: Inode, flags: number): number {
    const fh = this.#nextFh++;
    this.#handles.set(fh, { inode, flags });
    inode.openCount++;
    return fh;
  }

  #closeHandle(fh: number): void {
    const open = this.#handles.get(fh);
    if (open === undefined) return;
    this.#handles.delete(fh);
    const inode = open.inode;
    inode.openCount--;
    if (inode.locks !== undefined) {
      inode.locks.releaseHandle(fh);
      if (inode.openCount === 0) inode.locks.releaseAllRecords();
      if (inode.locks.idle) inode.locks = undefined;
    }
    this.#freeIfUnused(inode);
  }

  /** The last name and the last handle are gone: give the blocks back. */
  #freeIfUnused(inode: Inode): void {
    if (inode.nlink > 0 || inode.openCount > 0) return;
    inode.data?.release();
    inode.xattrs = undefined;
    this.#inodes--;
  }

  /** The open file `fh`, or (no such handle: a caller without one, such as a unit test) the file at `path`. */
  #fileOf(path: string, fh: number): OpenFile {
    return this.#handles.get(fh) ?? { inode: this.#lookup(path, undefined), flags: O_RDWR };
  }

  async #inodeOf(path: string, fh: number | undefined, ctx: PathContext): Promise<Inode> {
    const open = fh === undefined ? undefined : this.#handles.get(fh);
    return open !== undefined ? open.inode : this.#lookup(path, await this.#caller(ctx));
  }

  #inodeFrom(path: string, fh: number | undefined, caller: KnownCaller): Inode {
    const open = fh === undefined ? undefined : this.#handles.get(fh);
    return open !== undefined ? open.inode : this.#lookup(path, caller);
  }

  #locksOf(path: string, fh: number): FileLocks {
    const { inode } = this.#fileOf(path, fh);
    inode.locks ??= new FileLocks();
    return inode.locks;
  }

  /** The inode at `path`, checking search permission on every directory on the way (when `caller` is given). */
  #lookup(path: string, caller: KnownCaller | undefined): Inode {
    if (!path.startsWith('/')) throw new FuseError('ENOENT'); // '' is a nameless file, reached only through its handle
    let node = this.#root;
    for (const name of path.split('/')) {
      if (name === '') continue;
      node = this.#step(node, name, caller);
    }
    return node;
  }

  /** The directory that holds the last component of `path`, and that name. */
  #lookupParent(path: string, caller: KnownCaller | undefined): { dir: Inode & { entries: Map<string, Inode> }; name: string } {
    const names = path.split('/').filter((n) => n !== '');
    const name = names.pop();
    if (name === undefined) throw new FuseError('EBUSY'); // the root has no parent to change
    if (name === '.' || name === '..') throw new FuseError('EINVAL');
    let dir = this.#root;
    for (const step of names) dir = this.#step(dir, step, caller);
    if (dir.entries === undefined) throw new FuseError('ENOTDIR');
    if (caller !== undefined) this.#require(dir, caller, X_OK);
    checkName(name);
    return { dir: dir as Inode & { entries: Map<string, Inode> }, name };
  }

  #step(dir: Inode, name: string, caller: KnownCaller | undefined): Inode {
    if (dir.entries === undefined) throw new FuseError('ENOTDIR');
    if (caller !== undefined) this.#require(dir, caller, X_OK);
    if (name === '.') return dir;
    if (name === '..') return dir.parent ?? dir;
    checkName(name);
    return this.#child(dir, name);
  }

  #child(dir: Inode, name: string): Inode {
    const child = dir.entries?.get(name);
    if (child === undefined) throw new FuseError('ENOENT');
    return child;
  }
}

/**
 * ENAMETOOLONG past NAME_MAX bytes (the kernel lets FUSE names reach 1024, fs/fuse/dir.c fuse_lookup_name).
 * Bytes are counted as UTF-8, the path layer's default name encoding.
 */
function checkName(name: string): void {
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short strings need no counting.
  if (name.length * 3 > NAME_MAX && Buffer.byteLength(name) > NAME_MAX) throw new FuseError('ENAMETOOLONG');
}

/** Whether `ancestor` is `node` or one of the directories above it. */
function isAncestorOf(ancestor: Inode, node: Inode): boolean {
  for (let at = node; ; at = at.parent as Inode) {
    if (at === ancestor) return true;
    if (at.parent === at || at.parent === undefined) return false;
  }
}

/** After a directory moved from `from` to `to`: the parents' link counts and its `..`. */
function reparent(inode: Inode, from: Inode, to: Inode): void {
  if (!inode.isDirectory || from === to) return;
  from.nlink--;
  to.nlink++;
  inode.parent = to;
}
