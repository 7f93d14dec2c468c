/**
 * memfs's permission and mode rules, as Linux applies them: who may do what to an inode, and how
 * chown, chmod, writes and new files change the set-user-ID / set-group-ID bits. The read/write/search
 * decision itself is the shared `checkAccess` (src/ops/permissions.ts); "root" means uid 0 with every
 * capability.
 */
import { FuseError } from '../errors.ts';
import { checkAccess, R_OK, W_OK, setIdsToDrop, type Caller } from '../ops/permissions.ts';
import { S_ISGID, S_ISUID, S_ISVTX, S_IXGRP } from '../ops/file-mode.ts';
import type { Inode } from './inode.ts';

/** A caller with its groups known (the first is its fsgid). */
export interface KnownCaller extends Caller {
  readonly groups: readonly number[];
}

export function isRoot(caller: Caller): boolean {
  return caller.uid === 0;
}

/** fs/inode.c in_group_or_capable: the caller is in `gid`, or is root. */
export function inGroupOrRoot(caller: KnownCaller, gid: number): boolean {
  return isRoot(caller) || caller.gid === gid || caller.groups.includes(gid);
}

/** fs/inode.c inode_owner_or_capable. */
export function ownsOrRoot(caller: Caller, inode: Inode): boolean {
  return isRoot(caller) || caller.uid === inode.uid;
}

/** Throws EACCES unless `caller` has `mask` (R_OK | W_OK | X_OK) on `inode`. */
export function requireAccess(inode: Inode, caller: KnownCaller, mask: number): void {
  if (!checkAccess(inode, caller, mask)) throw new FuseError('EACCES');
}

/**
 * fs/namei.c may_linkat with fs.protected_hardlinks = 1 (the default of every distribution): anyone but
 * the owner or root may only link a regular file that is neither set-user-ID nor executable set-group-ID
 * and that they can read and write (safe_hardlink_source); otherwise EPERM. The kernel checks this
 * itself only with default_permissions, so memfs does when it checks permissions.
 */
export function requireSafeHardlinkSource(inode: Inode, caller: KnownCaller): void {
  if (ownsOrRoot(caller, inode)) return;
  const mode = inode.mode;
  const regular = (mode & 0o170000) === 0o100000;
  const setuid = (mode & S_ISUID) !== 0;
  const execSetgid = (mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP);
  if (!regular || setuid || execSetgid || !checkAccess(inode, caller, R_OK | W_OK)) throw new FuseError('EPERM');
}

/**
 * fs/namei.c check_sticky: in a sticky directory only the owner of the entry, the owner of the directory
 * or root may remove or rename the entry (EPERM).
 */
export function requireNotSticky(dir: Inode, victim: Inode, caller: Caller): void {
  if ((dir.mode & S_ISVTX) !== 0 && !isRoot(caller) && caller.uid !== dir.uid && caller.uid !== victim.uid) {
    throw new FuseError('EPERM');
  }
}

/**
 * The mode after chown(2) of a non-directory (fs/open.c chown_common with attr.c setattr_should_drop_sgid):
 * S_ISUID is cleared even for root; S_ISGID when group-execute is set, or when the caller is not in the
 * file's (new) group and is not root.
 */
export function modeAfterChown(mode: number, isDirectory: boolean, caller: KnownCaller, gid: number): number {
  if (isDirectory) return mode;
  return mode & ~setIdsToDrop(mode, () => inGroupOrRoot(caller, gid));
}

/** The mode chmod(2) sets: S_ISGID is dropped silently when the caller is not in the file's group (attr.c setattr_prepare). */
export function modeForChmod(requested: number, inode: Inode, caller: KnownCaller): number {
  let bits = requested & 0o7777;
  if ((bits & S_ISGID) !== 0 && !inGroupOrRoot(caller, inode.gid)) bits &= ~S_ISGID;
  return bits;
}

/**
 * Owner and mode of a new inode in `dir` (fs/inode.c inode_init_owner and mode_strip_sgid): the caller's
 * uid; the caller's gid, or the directory's when the directory is set-group-ID, in which case a new
 * directory inherits S_ISGID and a new group-executable file loses it unless the caller is in that group.
 */
export function newInodeOwnership(dir: Inode, mode: number, isDirectory: boolean, caller: KnownCaller): { uid: number; gid: number; mode: number } {
  if ((dir.mode & S_ISGID) === 0) return { uid: caller.uid, gid: caller.gid, mode };
  let next = mode;
  if (isDirectory) next |= S_ISGID;
  else if ((next & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP) && !inGroupOrRoot(caller, dir.gid)) next &= ~S_ISGID;
  return { uid: caller.uid, gid: dir.gid, mode: next };
}
