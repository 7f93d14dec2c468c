/**
 * Hard-linking an inode and reading a symlink given only the node's O_PATH descriptor, through
 * `node:ffi` (Node >= 26): the two things Node can otherwise do only by a name, and a name another
 * process can rename or unlink at any moment.
 *
 *  - link: `linkat(AT_FDCWD, "/proc/self/fd/N", AT_FDCWD, newPath, AT_SYMLINK_FOLLOW)`. Following the
 *    magic link reaches the inode itself (a symlink's own inode too, as the descriptor is O_NOFOLLOW);
 *    link(2), which is all `fs.link` has, does not follow it and fails with EXDEV. Needs no capability,
 *    unlike AT_EMPTY_PATH (CAP_DAC_READ_SEARCH); an inode without names left fails with ENOENT
 *    (fs/namei.c vfs_link), as linking an unlinked file must.
 *  - readlink: `readlinkat(N, "", …)` reads the symlink the O_PATH | O_NOFOLLOW descriptor holds
 *    (fs/stat.c do_readlinkat, an empty name with an O_PATH descriptor); `fs.readlink` of the magic link
 *    would give the link's path instead.
 *
 * src/mount/ffi.ts has the facts about node:ffi this relies on. Without it, `byDescriptor()` is undefined
 * and the passthrough works by the names it tracks for each node (src/passthrough/nodes.ts).
 */
import { FuseError } from '../errors.ts';
import { bindLibc, signature } from '../ffi.ts';

export interface ByDescriptor {
  /** Gives the inode of `fd` the new name `to` (bytes, no NUL). Throws the errno as a FuseError. */
  link(fd: number, to: Buffer): void;
  /** The target of the symlink open as `fd` (O_PATH | O_NOFOLLOW). Throws the errno as a FuseError. */
  readlink(fd: number): Buffer;
}

/** include/uapi/linux/fcntl.h; the same on every architecture Linux has. */
const AT_FDCWD = -100;
const AT_SYMLINK_FOLLOW = 0x400;
/** PATH_MAX: symlink(2) refuses longer targets (ENAMETOOLONG), so a full buffer means one longer still. */
const PATH_MAX = 4096;
const EMPTY_NAME = Buffer.alloc(1);
/** LP64 targets, where size_t and ssize_t are 64 bits (the signatures below). */
const LP64_ARCHES: readonly string[] = ['x64', 'arm64', 'riscv64', 'ppc64', 'loong64', 's390x'];

let bound: ByDescriptor | null | undefined;

/** The calls, bound on first use; undefined without node:ffi (Node < 26, --no-experimental-ffi, the permission model). */
export function byDescriptor(): ByDescriptor | undefined {
  if (bound === undefined) bound = bind();
  return bound ?? undefined;
}

function bind(): ByDescriptor | null {
  if (!LP64_ARCHES.includes(process.arch)) return null;
  const libc = bindLibc('linkat and readlinkat by descriptor need', {
    linkat: signature(['int32', 'buffer', 'int32', 'buffer', 'int32'], 'int32'),
    readlinkat: signature(['int32', 'buffer', 'buffer', 'uint64'], 'int64'),
  });
  if (typeof libc === 'string') return null;
  const { fn: { linkat, readlinkat }, errno: errnoOf } = libc;
  const fail = (call: string): never => {
    const errno = errnoOf();
    throw new FuseError(errno > 0 ? errno : 'EIO', `${call} failed`);
  };
  const target = Buffer.alloc(PATH_MAX);
  return {
    link(fd, to) {
      const from = Buffer.from(`/proc/self/fd/${fd}\0`);
      const path = Buffer.concat([to, EMPTY_NAME]);
      if ((linkat(AT_FDCWD, from, AT_FDCWD, path, AT_SYMLINK_FOLLOW) as number) !== 0) fail('linkat');
    },
    readlink(fd) {
      const n = Number(readlinkat(fd, EMPTY_NAME, target, BigInt(PATH_MAX)) as bigint | number);
      if (n < 0) fail('readlinkat');
      if (n >= PATH_MAX) throw new FuseError('ENAMETOOLONG', 'symlink target longer than PATH_MAX');
      return Buffer.from(target.subarray(0, n));
    },
  };
}
