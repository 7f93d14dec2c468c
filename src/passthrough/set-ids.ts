/**
 * Removing set-user-ID and set-group-ID when an unprivileged caller writes, truncates or chowns a file,
 * which the passthrough does itself under HANDLE_KILLPRIV_V2.
 *
 * Why the passthrough asks for HANDLE_KILLPRIV_V2 (./passthrough.ts `init`): with it the kernel marks the
 * mount SB_NOSEC (fs/fuse/inode.c process_init_reply), and file_remove_privs then skips every inode it
 * has once found without set-id bits or `security.capability` (S_NOSEC). Without it, every write(2)
 * costs a GETXATTR of `security.capability` first, even when the kernel passes the write through.
 * A set-id bit given to a file behind the mount's back (on SOURCE itself) is seen once its attributes
 * reach the kernel again: fs/fuse/inode.c fuse_change_attributes_common then clears S_NOSEC.
 *
 * What it costs: the kernel no longer clears the bits with a SETATTR of the mode; it tells the
 * filesystem instead, with FUSE_WRITE_KILL_SUIDGID on WRITE, FATTR_KILL_SUIDGID on SETATTR (truncate by
 * a caller without CAP_FSETID, and every chown of a non-directory) and FUSE_OPEN_KILL_SUIDGID on an
 * OPEN or CREATE with O_TRUNC. The daemon writes as root, holding CAP_FSETID, so the backing filesystem
 * keeps the bits on its writes: they are removed here. `security.capability` needs nothing: the backing
 * filesystem removes it on any write, truncation or chown, whoever makes it (security/commoncap.c
 * cap_inode_need_killpriv).
 *
 * A write the kernel passes through (FUSE passthrough) never reaches the daemon. For it the kernel's
 * file_remove_privs (fs/backing-file.c backing_file_write_iter) ends in fs/fuse/dir.c fuse_setattr, which
 * under HANDLE_KILLPRIV_V2 turns ATTR_KILL_SUID/SGID into nothing: a SETATTR with no field set, from the
 * writer. The passthrough takes such a SETATTR from a caller other than root, on a regular file, as
 * that request (test/conformance posix.py `permissions` covers both paths).
 */
import * as fs from 'node:fs';
import { S_ISGID, S_ISUID } from '../ops/file-mode.ts';
import type { RequestContext } from '../ops/lowlevel.ts';
import { callerGroups, setIdsNeedGroups, setIdsToDrop } from '../ops/permissions.ts';

/** The caller of a request, as far as the rule needs it. */
export type SetIdCaller = Pick<RequestContext, 'uid' | 'gid' | 'pid'>;

/**
 * Removes from the file behind `fd` (any descriptor of it, O_PATH included; `path` names the same inode
 * for chmod, which an O_PATH descriptor cannot do) the set-id bits `caller` could not keep. `before` is
 * the file's group before the request changed it (a chown): the kernel decides with the old group.
 * Returns a promise only when the caller's supplementary groups have to be read (set-group-ID without
 * group execute, and a caller whose own group is not the file's).
 */
export function dropSetIds(fd: number, path: string, caller: SetIdCaller, before?: { readonly gid: number }): void | Promise<void> {
  const st = fs.fstatSync(fd);
  const mode = st.mode & 0o7777;
  if ((mode & (S_ISUID | S_ISGID)) === 0) return;
  const gid = before?.gid ?? st.gid;
  const apply = (inGroup: boolean): void => {
    const drop = setIdsToDrop(mode, () => inGroup);
    if (drop !== 0) fs.chmodSync(path, mode & ~drop);
  };
  // uid 0 stands for CAP_FSETID (the kernel flags every chown, a privileged caller's too).
  if (caller.uid === 0 || !setIdsNeedGroups(mode, caller.gid, gid)) return apply(true);
  return callerGroups(caller).then((groups) => apply(groups.includes(gid)));
}
