/**
 * What a filesystem needs to check permissions itself, as the kernel would with `default_permissions`
 * (fs/namei.c generic_permission and acl_permission_check, without ACLs or capabilities other than root's).
 *
 * Without `default_permissions` the kernel checks nothing: every caller reaches every handler, and a
 * filesystem that cares must decide each access from the node's attributes and the caller. With
 * `allow_other` the kernel also reuses a cached entry's first lookup for every user, so such a filesystem
 * should not let the kernel cache entries or attributes (see the README's "Permissions").
 */
import { readFile } from 'node:fs/promises';
import { S_IFDIR, S_IFMT, S_ISGID, S_ISUID, S_IXGRP } from './file-mode.ts';

/** Access masks of access(2) (`fs.constants.R_OK` … in Node); OR them together. */
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

/** Who is asking: a handler's `ctx` fits, optionally with the groups from {@link callerGroups}. */
export interface Caller {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups. Absent: only `gid` counts. */
  readonly groups?: readonly number[];
}

/** The attributes an access decision depends on: an `Attr` fits. */
export interface AccessAttr {
  readonly mode: number;
  /** Absent: 0 (root), as in a reply. */
  readonly uid?: number;
  readonly gid?: number;
}

/**
 * Whether `caller` may access a node with these attributes for `mask` (`R_OK | W_OK | X_OK`, or `F_OK`
 * for existence, always granted). The rules are the kernel's: the owner is judged by the owner bits alone,
 * then a member of the file's group (primary or supplementary) by the group bits, everybody else by the
 * other bits. Root may read and write anything and search any directory, but executes a non-directory
 * only if at least one execute bit is set.
 *
 * Answer a refusal with `throw new FuseError('EACCES')`.
 */
export function checkAccess(attr: AccessAttr, caller: Caller, mask: number): boolean {
  const want = mask & (R_OK | W_OK | X_OK);
  if (want === 0) return true;
  const mode = attr.mode;
  if (caller.uid === 0) {
    // generic_permission: read/write DACs are always overridable; execute only on a directory or when
    // some execute bit is set (CAP_DAC_OVERRIDE).
    if ((want & X_OK) === 0 || (mode & S_IFMT) === S_IFDIR || (mode & 0o111) !== 0) return true;
  }
  let granted: number;
  if (caller.uid === (attr.uid ?? 0)) granted = (mode >>> 6) & 7;
  else if (inGroup(caller, attr.gid ?? 0)) granted = (mode >>> 3) & 7;
  else granted = mode & 7;
  return (granted & want) === want;
}

/**
 * The set-id bits of `mode` that a write, truncation or chown by a caller without CAP_FSETID removes
 * (fs/inode.c setattr_should_drop_suidgid and setattr_should_drop_sgid): set-user-ID always;
 * set-group-ID when the file is group-executable, or else (without group execute it marks mandatory
 * locking, not a privilege) when the caller is not in the file's group, as Linux does since 6.2.
 * `inGroup` is asked only in that last case, so a caller's supplementary groups are read only then.
 */
export function setIdsToDrop(mode: number, inGroup: () => boolean): number {
  let drop = mode & S_ISUID;
  if ((mode & S_ISGID) !== 0 && ((mode & S_IXGRP) !== 0 || !inGroup())) drop |= S_ISGID;
  return drop;
}

/**
 * Whether {@link setIdsToDrop} will ask `inGroup` for a file of `mode` and group `fileGid`, and a caller
 * whose own group is `callerGid`: set-group-ID without group execute, and another group.
 */
export function setIdsNeedGroups(mode: number, callerGid: number, fileGid: number): boolean {
  return (mode & (S_ISGID | S_IXGRP)) === S_ISGID && callerGid !== fileGid;
}

function inGroup(caller: Caller, gid: number): boolean {
  return caller.gid === gid || (caller.groups !== undefined && caller.groups.includes(gid));
}

/**
 * The caller's groups: `ctx.gid` first, then its supplementary groups from the `Groups:` line of
 * `/proc/<pid>/status`, as libfuse's `fuse_req_getgroups` reads them (the request itself carries only
 * the fsgid; the FUSE_EXT_GROUPS extension, when sent, holds one group and only on create requests).
 *
 * Resolves to `[ctx.gid]` when the list cannot be read: `pid` 0 (a request the kernel makes itself, or a
 * caller outside the daemon's pid namespace), a process that has already exited, or no `/proc`. The
 * list is the whole process's, read after the request arrived; a caller that changes its groups or exits
 * meanwhile (and whose pid is reused) is not seen, which is why the kernel's own checks
 * (`default_permissions`) are the stronger choice when they fit.
 */
export async function callerGroups(ctx: { readonly pid: number; readonly gid: number }): Promise<number[]> {
  const groups = [ctx.gid];
  if (!Number.isSafeInteger(ctx.pid) || ctx.pid <= 0) return groups;
  let status: string;
  try {
    status = await readFile(`/proc/${ctx.pid}/status`, 'latin1');
  } catch {
    return groups;
  }
  const line = /^Groups:(.*)$/m.exec(status);
  if (line === null) return groups;
  for (const word of (line[1] as string).trim().split(/\s+/)) {
    if (word === '') continue;
    const g = Number(word);
    if (Number.isSafeInteger(g) && g >= 0 && !groups.includes(g)) groups.push(g);
  }
  return groups;
}
