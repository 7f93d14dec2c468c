/**
 * The passthrough's requests that Node has no API for, answered through libc by `node:ffi` (Node >= 26):
 * extended attributes, fallocate, lseek (SEEK_DATA/SEEK_HOLE) and copy_file_range.
 *
 * Without node:ffi, {@link ffiOperations} gives nothing and the passthrough leaves these methods
 * undefined, so the kernel answers with its own defaults: EOPNOTSUPP for xattrs and fallocate, its generic
 * lseek (no holes), and a copy by splice for copy_file_range (fs/fuse/file.c fuse_copy_file_range).
 * This is decided when the passthrough is created, as the session looks for each method only once.
 *
 *  - xattrs: the non-`l` calls (getxattr, setxattr, listxattr, removexattr) on the node's magic link
 *    `/proc/self/fd/N` (N its O_PATH | O_NOFOLLOW descriptor). Following a magic link stops at the inode
 *    it holds (fs/proc/base.c proc_pid_get_link), a symlink's own inode too, and never at a name another
 *    process can rename: the `f*` calls refuse O_PATH descriptors (EBADF), the `l*` ones by name would not.
 *    getxattr uses fgetxattr instead when the node has a file open (./open-files.ts): the same inode,
 *    without the procfs walk.
 *    user.* on symlinks never arrives (fs/xattr.c xattr_permission answers EPERM/ENODATA first, as on
 *    ext4); a crafted request gets the same answers from the backing filesystem's VFS. A value is read
 *    into a reused 64 KiB buffer, the VFS's limit for values and lists (XATTR_SIZE_MAX, XATTR_LIST_MAX),
 *    asking for no more than the caller takes; the size probe asks for the length alone. Lists are read
 *    whole, as the names a caller may see are picked from them. XATTR_CREATE/XATTR_REPLACE pass through;
 *    every errno passes through.
 *  - fallocate, lseek: on the open file's backing descriptor. lseek moves that descriptor's offset, which
 *    nothing else uses (reads and writes are positioned).
 *  - copy_file_range: between the two backing descriptors, offsets passed by pointer as 64-bit values.
 *  - times ({@link ffiSetTimes}, for SETATTR): utimensat on the magic link, to the nanosecond, with the
 *    kernel's own UTIME_NOW and UTIME_OMIT. Node's utimes takes seconds as a double (~240 ns steps near
 *    2026) and has no "omit", which attr.ts can only emulate by setting the current value again; Node 26
 *    no longer truncates that double to the microsecond as libuv did (found by experiment, 26.12), so the
 *    emulation drifts there by a few hundred ns per re-set.
 *
 * Calls through node:ffi are synchronous: a long copy_file_range or fallocate holds the event loop for
 * its duration, as a single-threaded passthrough_ll would. src/mount/ffi.ts has the facts about node:ffi
 * this relies on (signatures, bigints, 'buffer' arguments).
 */
import * as fs from 'node:fs';
import { endianness } from 'node:os';
import type { LowLevelOperations, RequestContext } from '../ops/lowlevel.ts';
import { S_ISGID } from '../ops/file-mode.ts';
import type * as P from '../protocol/index.ts';
import { Errno, FuseError } from '../errors.ts';
import { SetxattrFlags } from '../protocol/constants.ts';
import { XATTR_NAME_MAX } from '../protocol/requests.ts';
import type { PassthroughNode } from './nodes.ts';
import { u64 } from './attr.ts';
import { bindLibc, pinnedBuffer, signature as sig, type FfiModule } from '../ffi.ts';

/** What the operations need from the passthrough: its nodes and open files. */
export interface FfiOpsContext {
  /** The node a request names; throws (ESTALE) for one the passthrough does not hold. */
  node(ino: P.U64): PassthroughNode;
  /** The backing descriptor of an open file handle; throws (EBADF) for an unknown handle. */
  fileFd(fh: P.U64): number;
  /** A descriptor of `node`'s inode open for reading or writing (an open file's), if it has one. */
  openFd(node: PassthroughNode): number | undefined;
}

export type FfiOperations = Required<Pick<LowLevelOperations,
  'getxattr' | 'setxattr' | 'listxattr' | 'removexattr' | 'fallocate' | 'lseek' | 'copyFileRange'>>;

/** The libc calls, bound; each returns what libc returns, and `errno()` right after a failure. */
interface Libc {
  /** The xattr calls take their path, name and buffer as addresses of pinned buffers (src/ffi.ts pinnedBuffer); 0n is NULL. */
  getxattr(path: bigint, name: bigint, value: bigint, size: bigint): bigint;
  fgetxattr(fd: number, name: bigint, value: bigint, size: bigint): bigint;
  setxattr(path: bigint, name: bigint, value: Uint8Array, size: bigint, flags: number): number;
  listxattr(path: bigint, list: bigint, size: bigint): bigint;
  removexattr(path: bigint, name: bigint): number;
  fallocate(fd: number, mode: number, offset: bigint, len: bigint): number;
  lseek(fd: number, offset: bigint, whence: number): bigint;
  copy_file_range(fdIn: number, offIn: Buffer, fdOut: number, offOut: Buffer, len: bigint, flags: number): bigint;
  utimensat(dirfd: number, path: Buffer, times: Buffer, flags: number): number;
  errno(): number;
  readonly ffi: FfiModule;
}

/** LP64 targets, where size_t, ssize_t and off_t are 64 bits (the signatures below). */
const LP64_ARCHES: readonly string[] = ['x64', 'arm64', 'riscv64', 'ppc64', 'loong64', 's390x'];
/** include/uapi/linux/limits.h XATTR_SIZE_MAX and XATTR_LIST_MAX: the VFS answers no longer value or list. */
const XATTR_MAX = 65536;
const XATTR_MAX_BIG = BigInt(XATTR_MAX);
/** A node's magic link, `/proc/self/fd/` and its descriptor (at most 10 digits) and a NUL. */
const MAGIC_LINK_PREFIX = '/proc/self/fd/';
const MAGIC_LINK_SIZE = MAGIC_LINK_PREFIX.length + 11;
/** MAX_RW_COUNT (INT_MAX rounded down to a page): the most one read, write or copy moves (fs/read_write.c). */
const MAX_RW_COUNT = 0x7fff_f000n;
const TRUSTED = Buffer.from('trusted.');
const OFF_T_MAX = 2n ** 63n - 1n;
const LITTLE_ENDIAN = endianness() === 'LE';
/**
 * getxattr's "no such attribute", one shared frozen error: the kernel asks for security.capability
 * before the first write to each file (fs/backing-file.c backing_file_write_iter and fs/fuse/file.c
 * fuse_cache_write_iter call file_remove_privs), so every create + write meets it, and an Error with its
 * stack trace per answer cost more than the getxattr.
 */
const NO_DATA = Object.freeze(new FuseError(Errno.ENODATA));

/** An offset or length as the off_t libc takes; EINVAL beyond it (a crafted frame: the kernel sends none). */
function offT(v: P.U64): bigint {
  const b = BigInt(v);
  if (b > OFF_T_MAX) throw new FuseError('EINVAL', `offset ${b} exceeds off_t`);
  return b;
}

let bound: Libc | null | undefined;

/** libc through node:ffi, bound on first use; null without it (Node < 26, --no-experimental-ffi, the permission model). */
function libc(): Libc | null {
  if (bound === undefined) bound = bind();
  return bound;
}

function bind(): Libc | null {
  if (!LP64_ARCHES.includes(process.arch)) return null;
  const libc = bindLibc('the passthrough\'s xattr, fallocate, lseek, copy_file_range and utimensat calls need', {
    getxattr: sig(['pointer', 'pointer', 'pointer', 'uint64'], 'int64'),
    fgetxattr: sig(['int32', 'pointer', 'pointer', 'uint64'], 'int64'),
    setxattr: sig(['pointer', 'pointer', 'buffer', 'uint64', 'int32'], 'int32'),
    listxattr: sig(['pointer', 'pointer', 'uint64'], 'int64'),
    removexattr: sig(['pointer', 'pointer'], 'int32'),
    fallocate: sig(['int32', 'int32', 'int64', 'int64'], 'int32'),
    lseek: sig(['int32', 'int64', 'int32'], 'int64'),
    copy_file_range: sig(['int32', 'buffer', 'int32', 'buffer', 'uint64', 'uint32'], 'int64'),
    utimensat: sig(['int32', 'buffer', 'buffer', 'int32'], 'int32'),
  });
  if (typeof libc === 'string') return null;
  const { getxattr, fgetxattr, setxattr, listxattr, removexattr, fallocate, lseek, copy_file_range: copyFileRange, utimensat } = libc.fn;
  // int64 results arrive as bigints and int32 ones as numbers (Node 26.12); normalised here either way.
  const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(v as number));
  return {
    getxattr: (path, name, value, size) => big(getxattr(path, name, value, size)),
    fgetxattr: (fd, name, value, size) => big(fgetxattr(fd, name, value, size)),
    setxattr: (path, name, value, size, flags) => Number(setxattr(path, name, value, size, flags)),
    listxattr: (path, list, size) => big(listxattr(path, list, size)),
    removexattr: (path, name) => Number(removexattr(path, name)),
    fallocate: (fd, mode, offset, len) => Number(fallocate(fd, mode, offset, len)),
    lseek: (fd, offset, whence) => big(lseek(fd, offset, whence)),
    copy_file_range: (fdIn, offIn, fdOut, offOut, len, flags) => big(copyFileRange(fdIn, offIn, fdOut, offOut, len, flags)),
    utimensat: (dirfd, path, times, flags) => Number(utimensat(dirfd, path, times, flags)),
    errno: libc.errno,
    ffi: libc.ffi,
  };
}

/** include/uapi/linux/stat.h; AT_FDCWD from include/uapi/linux/fcntl.h. */
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;
const AT_FDCWD = -100;
/** struct timespec[2] on LP64: tv_sec (64 bits) and tv_nsec (long) each. */
const TIMESPECS_SIZE = 32;

/** Sets the times of the inode behind a magic link `self` (`/proc/self/fd/N`); absent: the time is kept. */
export type SetTimes = (self: string, atime: P.SetTime | undefined, mtime: P.SetTime | undefined) => void;

let setTimes: SetTimes | null | undefined;

/**
 * Times set to the nanosecond with utimensat (see the top of this file), or undefined without node:ffi.
 * Following the magic link stops at the node's inode, a symlink's own too, as for xattrs.
 */
export function ffiSetTimes(): SetTimes | undefined {
  if (setTimes === undefined) {
    const c = libc();
    if (c === null) setTimes = null;
    else {
      const times = Buffer.alloc(TIMESPECS_SIZE);
      const put = (at: number, t: P.SetTime | undefined): void => {
        const sec = t === undefined || t === 'now' ? 0n : BigInt(t.sec);
        const nsec = t === undefined ? UTIME_OMIT : t === 'now' ? UTIME_NOW : t.nsec;
        if (LITTLE_ENDIAN) { times.writeBigInt64LE(sec, at); times.writeBigInt64LE(BigInt(nsec), at + 8); }
        else { times.writeBigInt64BE(sec, at); times.writeBigInt64BE(BigInt(nsec), at + 8); }
      };
      setTimes = (self, atime, mtime) => {
        put(0, atime);
        put(16, mtime);
        if (c.utimensat(AT_FDCWD, Buffer.from(`${self}\0`), times, 0) !== 0) {
          const errno = c.errno();
          throw new FuseError(errno > 0 ? errno : 'EIO', 'utimensat failed');
        }
      };
    }
  }
  return setTimes ?? undefined;
}

/** Whether {@link ffiOperations} gives operations in this process. */
export function hasFfiOperations(): boolean {
  return libc() !== null;
}

/**
 * The passthrough's xattr, fallocate, lseek and copy_file_range handlers, or undefined without node:ffi
 * (then leave them out: the kernel's defaults apply; see the top of this file).
 */
export function ffiOperations(ctx: FfiOpsContext): FfiOperations | undefined {
  const c = libc();
  if (c === null) return undefined;
  const fail = (call: string): never => {
    const errno = c.errno();
    throw new FuseError(errno > 0 ? errno : 'EIO', `${call} failed`);
  };
  // Reused, at addresses taken once: every call is synchronous, and answers are copied out.
  const [pathBuf, pathAt] = pinnedBuffer(c.ffi, MAGIC_LINK_SIZE);
  pathBuf.write(MAGIC_LINK_PREFIX, 'latin1');
  const [nameBuf, nameAt] = pinnedBuffer(c.ffi, XATTR_NAME_MAX + 1);
  const [xattrBuffer, xattrAt] = pinnedBuffer(c.ffi, XATTR_MAX);
  /** `node`'s magic link `/proc/self/fd/N`, NUL-terminated in the reused path buffer: its address. */
  const pathOf = (node: PassthroughNode): bigint => {
    const end = MAGIC_LINK_PREFIX.length + pathBuf.write(String(node.fd), MAGIC_LINK_PREFIX.length, 'latin1');
    pathBuf[end] = 0;
    return pathAt;
  };
  /**
   * `name` NUL-terminated in the reused name buffer: its address. A name longer than XATTR_NAME_MAX (which
   * no decoded request holds) gets the VFS's own answer (fs/xattr.c import_xattr_name: ERANGE).
   */
  const cName = (name: Buffer): bigint => {
    if (name.byteLength > XATTR_NAME_MAX) throw new FuseError('ERANGE', `xattr name longer than ${XATTR_NAME_MAX} bytes`);
    nameBuf.set(name, 0);
    nameBuf[name.byteLength] = 0;
    return nameAt;
  };
  const offIn = Buffer.alloc(8);
  const offOut = Buffer.alloc(8);

  return {
    getxattr(req) {
      // The size probe (size 0; the kernel's security.capability question before each new file's first
      // write is one) asks libc for the length alone: with a buffer, the VFS would allocate and zero
      // that many bytes first (fs/xattr.c do_getxattr). Otherwise at most what the caller can take, so
      // the backing filesystem answers ERANGE itself for a longer value. Through a descriptor the node
      // has open when there is one (./open-files.ts: that question comes with the file open), else
      // through the magic link.
      const probe = req.size === 0;
      const name = cName(req.name);
      const value = probe ? 0n : xattrAt;
      const size = probe ? 0n : BigInt(Math.min(req.size, XATTR_MAX));
      const node = ctx.node(req.ino);
      const fd = ctx.openFd(node);
      const n = fd === undefined ? c.getxattr(pathOf(node), name, value, size) : c.fgetxattr(fd, name, value, size);
      if (n < 0n) {
        if (c.errno() === Errno.ENODATA) throw NO_DATA;
        fail('getxattr');
      }
      // For the probe only the length is read (src/protocol/replies.ts encodeXattrData): a view will do.
      return probe ? xattrBuffer.subarray(0, Number(n)) : Buffer.from(xattrBuffer.subarray(0, Number(n)));
    },

    setxattr(req) {
      const node = ctx.node(req.ino);
      if (c.setxattr(pathOf(node), cName(req.name), req.value, BigInt(req.value.byteLength), req.flags) !== 0) fail('setxattr');
      // With POSIX_ACL granted, the kernel asks the filesystem to drop S_ISGID when the caller could not
      // have kept it (fs/fuse/acl.c fuse_set_acl); the daemon, as root, kept it.
      if ((req.setxattrFlags & SetxattrFlags.ACL_KILL_SGID) !== 0) {
        const mode = fs.fstatSync(node.fd).mode;
        if ((mode & S_ISGID) !== 0) fs.chmodSync(node.self, mode & 0o7777 & ~S_ISGID);
      }
    },

    listxattr(req, rc: RequestContext) {
      const n = c.listxattr(pathOf(ctx.node(req.ino)), xattrAt, XATTR_MAX_BIG);
      if (n < 0n) fail('listxattr');
      const list = xattrBuffer.subarray(0, Number(n));
      // The daemon, as root, sees trusted.* names, which ext4 lists only for CAP_SYS_ADMIN callers
      // (fs/ext4/xattr_trusted.c ext4_xattr_trusted_list); the request says only the caller's uid.
      if (rc.uid === 0 || !list.includes(TRUSTED)) return Buffer.from(list);
      const names: Buffer[] = [];
      for (let start = 0; start < list.length;) {
        let end = list.indexOf(0, start);
        if (end < 0) end = list.length;
        const name = list.subarray(start, end);
        if (name.length > 0 && !name.subarray(0, TRUSTED.length).equals(TRUSTED)) names.push(Buffer.from(name));
        start = end + 1;
      }
      return names;
    },

    removexattr(req) {
      if (c.removexattr(pathOf(ctx.node(req.ino)), cName(req.name)) !== 0) fail('removexattr');
    },

    fallocate(req) {
      if (c.fallocate(ctx.fileFd(req.fh), req.mode, offT(req.offset), offT(req.length)) !== 0) fail('fallocate');
    },

    lseek(req) {
      const off = c.lseek(ctx.fileFd(req.fh), offT(req.offset), req.whence);
      if (off < 0n) fail('lseek');
      return u64(off);
    },

    copyFileRange(req) {
      const fdIn = ctx.fileFd(req.fhIn);
      const fdOut = ctx.fileFd(req.fhOut);
      // copy_file_range(2) knows no flags yet; an unknown one is EINVAL, as the kernel would answer.
      if (req.flags !== 0 && req.flags !== 0n) throw new FuseError('EINVAL', 'copy_file_range flags must be 0');
      // loff_t in host byte order, read and advanced by the call.
      if (LITTLE_ENDIAN) { offIn.writeBigInt64LE(offT(req.offIn)); offOut.writeBigInt64LE(offT(req.offOut)); }
      else { offIn.writeBigInt64BE(offT(req.offIn)); offOut.writeBigInt64BE(offT(req.offOut)); }
      const len = BigInt(req.len) < MAX_RW_COUNT ? BigInt(req.len) : MAX_RW_COUNT;
      const n = c.copy_file_range(fdIn, offIn, fdOut, offOut, len, 0);
      if (n < 0n) fail('copy_file_range');
      return Number(n);
    },
  };
}
