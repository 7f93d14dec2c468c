/**
 * Extended attributes of an inode, with Linux's rules (fs/xattr.c xattr_permission, setxattr):
 * - only the `user.`, `trusted.` and `security.` namespaces (others: ENOTSUP);
 * - `user.` only on regular files and directories (others: EPERM to set, ENODATA to read), and in a
 *   sticky directory only by its owner or root;
 * - `trusted.` is root's: others get EPERM to set and never see it (ENODATA, absent from lists);
 * - `security.` is set only by root (commoncap.c cap_inode_setxattr);
 * - names of 1 … 255 bytes (ERANGE), values of at most 64 KiB (E2BIG);
 * - XATTR_CREATE fails with EEXIST when the name exists, XATTR_REPLACE with ENODATA when it does not.
 * Read and write permission on the inode for `user.` is checked by the caller (memfs), with the rest.
 */
import { FuseError } from '../errors.ts';
import type { Inode } from './inode.ts';
import { isRoot, ownsOrRoot, type KnownCaller } from './permissions.ts';
import { S_ISVTX } from '../ops/file-mode.ts';

export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
/** include/uapi/linux/limits.h XATTR_NAME_MAX. */
export const XATTR_NAME_MAX = 255;
/** include/uapi/linux/limits.h XATTR_SIZE_MAX. */
export const XATTR_SIZE_MAX = 65536;

type Namespace = 'user' | 'trusted' | 'security';

/** The namespace of `name`, after checking its length and prefix. */
export function namespaceOf(name: string): Namespace {
  const length = Buffer.byteLength(name);
  if (length === 0 || length > XATTR_NAME_MAX) throw new FuseError('ERANGE');
  const dot = name.indexOf('.');
  const prefix = dot < 0 ? name : name.slice(0, dot);
  if (prefix !== 'user' && prefix !== 'trusted' && prefix !== 'security') throw new FuseError('ENOTSUP');
  if (dot === name.length - 1) throw new FuseError('EINVAL'); // "user." with nothing after the prefix
  return prefix;
}

/** Whether `caller` may see `name` at all (getxattr, listxattr). */
export function visible(inode: Inode, namespace: Namespace, caller: KnownCaller): boolean {
  if (namespace === 'trusted') return isRoot(caller);
  if (namespace === 'user') return inode.isRegular || inode.isDirectory;
  return true;
}

/** Throws unless `caller` may set or remove `name` on `inode` (the permission bits aside). */
export function requireWritable(inode: Inode, namespace: Namespace, caller: KnownCaller): void {
  if (namespace === 'trusted' || namespace === 'security') {
    if (!isRoot(caller)) throw new FuseError('EPERM');
    return;
  }
  if (!inode.isRegular && !inode.isDirectory) throw new FuseError('EPERM');
  if (inode.isDirectory && (inode.mode & S_ISVTX) !== 0 && !ownsOrRoot(caller, inode)) throw new FuseError('EPERM');
}

/** Store `value` under `name` following `flags`; the caller has checked the name and the permissions. */
export function setXattr(inode: Inode, name: string, value: Uint8Array, flags: number): void {
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0) throw new FuseError('EINVAL');
  if (value.length > XATTR_SIZE_MAX) throw new FuseError('E2BIG');
  const exists = inode.xattrs?.has(name) ?? false;
  if ((flags & XATTR_CREATE) !== 0 && exists) throw new FuseError('EEXIST');
  if ((flags & XATTR_REPLACE) !== 0 && !exists) throw new FuseError('ENODATA');
  inode.xattrs ??= new Map();
  inode.xattrs.set(name, Buffer.from(value)); // a copy: `value` is borrowed from the request
}
