/**
 * Numbers of the kernel ABI (7.45) that are not struct layouts: notification codes, INIT capability bits
 * and the small flag sets, each with names for traces. Opcode numbers live in the opcode table
 * (opcodes.ts), which is their one home.
 */

/**
 * File type bits of `fuse_attr.mode` (`S_IF*`, include/uapi/linux/stat.h) and the `fuse_dirent.type`
 * values (`DT_*`, include/linux/fs_types.h): Linux's on every architecture. Node has the `S_IF*` in
 * `fs.constants` too, but not the `DT_*`. Re-exported for filesystem authors by src/ops/file-mode.ts.
 */
/** Mask of the file type bits in a mode. */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** Unknown type: the kernel then asks with LOOKUP/GETATTR when it needs to know. */
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

/**
 * The `DT_*` type for a mode: Linux defines each `DT_*` as its `S_IF*` shifted right by 12 (the kernel's
 * `fs_umode_to_dtype`), so `dtFromMode(S_IFDIR | 0o755) === DT_DIR`.
 */
export function dtFromMode(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

/** Protocol major version; the kernel and tsfuse both speak 7. */
export const KERNEL_MAJOR = 7;
/** The newest minor this codec implements. */
export const KERNEL_MINOR = 45;
/** The oldest minor tsfuse agrees to speak (Linux 4.18, still in enterprise use). */
export const MIN_SUPPORTED_MINOR = 27;
/** The root directory's node id. */
export const ROOT_ID = 1;
/** The kernel needs reads of at least this many bytes from /dev/fuse. */
export const MIN_READ_BUFFER = 8192;
/** uid/gid the kernel sends on idmapped mounts when it cannot map the caller (7.41). */
export const INVALID_UIDGID = 0xffff_ffff;
/** Top bit of `unique`: the kernel resent this request (7.40). Replies echo `unique` exactly. */
export const UNIQUE_RESEND_BIT_HI = 0x8000_0000;
/**
 * INIT_EXT in the 32-bit `flags` of fuse_init_in/out: `flags2` is valid (7.36). The one capability bit
 * the codec reads itself, to find the second flag word; INIT_FLAGS lists it as bit 30 with the others.
 */
export const INIT_EXT = 1 << 30;
/** Extension types: 0..31 are security-context headers, 32 is supplementary groups (7.38). */
export const MAX_NR_SECCTX = 31;
export const EXT_GROUPS = 32;

/** `enum fuse_notify_code`. Sent with unique = 0 and the code in the error field. */
export const NotifyCode = Object.freeze({
  POLL: 1, INVAL_INODE: 2, INVAL_ENTRY: 3, STORE: 4, RETRIEVE: 5, DELETE: 6, RESEND: 7, INC_EPOCH: 8, PRUNE: 9,
} as const);
export type NotifyCodeName = keyof typeof NotifyCode;

/** One INIT capability: its name (without FUSE_), its bit in the 64-bit flag space, the minor it appeared in. */
export interface InitFlagInfo {
  readonly name: InitFlagName;
  /** 0..31: `flags`; 32..63: `flags2` bit (bit − 32). */
  readonly bit: number;
  readonly minor: number;
  /**
   * `kernel`: the kernel tells the daemon what it can do; replying with it has no effect beyond consent.
   * `daemon`: the daemon asks the kernel for a behaviour.
   */
  readonly doc: string;
}

export const INIT_FLAGS = Object.freeze([
  { name: 'ASYNC_READ', bit: 0, minor: 0, doc: 'reads may be sent in parallel' },
  { name: 'POSIX_LOCKS', bit: 1, minor: 7, doc: 'the filesystem implements POSIX locks (GETLK/SETLK)' },
  { name: 'FILE_OPS', bit: 2, minor: 9, doc: 'file handle for fstat (never implemented by the kernel)' },
  { name: 'ATOMIC_O_TRUNC', bit: 3, minor: 9, doc: 'O_TRUNC is handled by OPEN' },
  { name: 'EXPORT_SUPPORT', bit: 4, minor: 10, doc: 'lookups of "." and ".." are answered (NFS export)' },
  { name: 'BIG_WRITES', bit: 5, minor: 9, doc: 'writes larger than 4 KiB' },
  { name: 'DONT_MASK', bit: 6, minor: 12, doc: 'the kernel does not apply the umask on create' },
  { name: 'SPLICE_WRITE', bit: 7, minor: 14, doc: 'the kernel supports splice write on the device' },
  { name: 'SPLICE_MOVE', bit: 8, minor: 14, doc: 'the kernel supports splice move on the device' },
  { name: 'SPLICE_READ', bit: 9, minor: 14, doc: 'the kernel supports splice read on the device' },
  { name: 'FLOCK_LOCKS', bit: 10, minor: 17, doc: 'the filesystem implements BSD flock locks' },
  { name: 'HAS_IOCTL_DIR', bit: 11, minor: 18, doc: 'ioctl on directories' },
  { name: 'AUTO_INVAL_DATA', bit: 12, minor: 20, doc: 'invalidate cached pages when mtime/size change' },
  { name: 'DO_READDIRPLUS', bit: 13, minor: 21, doc: 'READDIRPLUS (readdir with lookup)' },
  { name: 'READDIRPLUS_AUTO', bit: 14, minor: 21, doc: 'adaptive READDIRPLUS' },
  { name: 'ASYNC_DIO', bit: 15, minor: 22, doc: 'asynchronous direct I/O' },
  { name: 'WRITEBACK_CACHE', bit: 16, minor: 23, doc: 'writeback caching of buffered writes' },
  { name: 'NO_OPEN_SUPPORT', bit: 17, minor: 23, doc: 'ENOSYS to OPEN means zero-message opens' },
  { name: 'PARALLEL_DIROPS', bit: 18, minor: 25, doc: 'parallel lookups and readdir in one directory' },
  { name: 'HANDLE_KILLPRIV', bit: 19, minor: 26, doc: 'the filesystem clears suid/sgid/caps on write/chown/truncate' },
  { name: 'POSIX_ACL', bit: 20, minor: 26, doc: 'the filesystem supports POSIX ACLs' },
  { name: 'ABORT_ERROR', bit: 21, minor: 27, doc: 'reading after an abort gives ECONNABORTED' },
  { name: 'MAX_PAGES', bit: 22, minor: 28, doc: 'init_out.max_pages is valid' },
  { name: 'CACHE_SYMLINKS', bit: 23, minor: 28, doc: 'READLINK replies are cached' },
  { name: 'NO_OPENDIR_SUPPORT', bit: 24, minor: 29, doc: 'ENOSYS to OPENDIR means zero-message opendir' },
  { name: 'EXPLICIT_INVAL_DATA', bit: 25, minor: 30, doc: 'cached pages are invalidated only on request' },
  { name: 'MAP_ALIGNMENT', bit: 26, minor: 31, doc: 'init_out.map_alignment is valid (DAX)' },
  { name: 'SUBMOUNTS', bit: 27, minor: 32, doc: 'the filesystem may mark inodes as submount roots' },
  { name: 'HANDLE_KILLPRIV_V2', bit: 28, minor: 33, doc: 'the filesystem clears suid/sgid/caps (v2 semantics)' },
  { name: 'SETXATTR_EXT', bit: 29, minor: 33, doc: 'extended fuse_setxattr_in' },
  { name: 'INIT_EXT', bit: 30, minor: 36, doc: 'flags2 is valid' },
  { name: 'INIT_RESERVED', bit: 31, minor: 36, doc: 'reserved, never used' },
  { name: 'SECURITY_CTX', bit: 32, minor: 36, doc: 'security contexts are sent with creating requests' },
  { name: 'HAS_INODE_DAX', bit: 33, minor: 36, doc: 'per-inode DAX' },
  { name: 'CREATE_SUPP_GROUP', bit: 34, minor: 38, doc: 'supplementary group sent with creating requests' },
  { name: 'HAS_EXPIRE_ONLY', bit: 35, minor: 38, doc: 'the kernel supports FUSE_EXPIRE_ONLY entry invalidation' },
  { name: 'DIRECT_IO_ALLOW_MMAP', bit: 36, minor: 39, doc: 'shared mmap on FOPEN_DIRECT_IO files (alias DIRECT_IO_RELAX)' },
  { name: 'PASSTHROUGH', bit: 37, minor: 40, doc: 'read/write passthrough to a backing file' },
  { name: 'NO_EXPORT_SUPPORT', bit: 38, minor: 40, doc: 'the filesystem refuses NFS export' },
  { name: 'HAS_RESEND', bit: 39, minor: 40, doc: 'the kernel supports the RESEND notification' },
  { name: 'ALLOW_IDMAP', bit: 40, minor: 41, doc: 'idmapped mounts' },
  { name: 'OVER_IO_URING', bit: 41, minor: 42, doc: 'requests over io_uring' },
  { name: 'REQUEST_TIMEOUT', bit: 42, minor: 43, doc: 'init_out.request_timeout is valid' },
] as const satisfies readonly (Omit<InitFlagInfo, 'name'> & { name: string })[]);

export type InitFlagName = (typeof INIT_FLAGS)[number]['name'];

/** Flag name → info. */
export const INIT_FLAG_BY_NAME: ReadonlyMap<InitFlagName, InitFlagInfo> = new Map(INIT_FLAGS.map((f) => [f.name, f]));

/** FOPEN_* bits of an open/create reply. */
export const OpenFlags = Object.freeze({
  DIRECT_IO: 1 << 0, KEEP_CACHE: 1 << 1, NONSEEKABLE: 1 << 2, CACHE_DIR: 1 << 3, STREAM: 1 << 4, NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6, PASSTHROUGH: 1 << 7,
} as const);
/** FATTR_* bits of fuse_setattr_in.valid. */
export const SetattrValid = Object.freeze({
  MODE: 1 << 0, UID: 1 << 1, GID: 1 << 2, SIZE: 1 << 3, ATIME: 1 << 4, MTIME: 1 << 5, FH: 1 << 6, ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8, LOCKOWNER: 1 << 9, CTIME: 1 << 10, KILL_SUIDGID: 1 << 11,
} as const);
export const ReleaseFlags = Object.freeze({ FLUSH: 1 << 0, FLOCK_UNLOCK: 1 << 1 } as const);
export const GetattrFlags = Object.freeze({ FH: 1 << 0 } as const);
export const LockFlags = Object.freeze({ FLOCK: 1 << 0 } as const);
export const WriteFlags = Object.freeze({ CACHE: 1 << 0, LOCKOWNER: 1 << 1, KILL_SUIDGID: 1 << 2 } as const);
export const ReadFlags = Object.freeze({ LOCKOWNER: 1 << 1 } as const);
export const FsyncFlags = Object.freeze({ FDATASYNC: 1 << 0 } as const);
export const PollFlags = Object.freeze({ SCHEDULE_NOTIFY: 1 << 0 } as const);
export const AttrFlags = Object.freeze({ SUBMOUNT: 1 << 0, DAX: 1 << 1 } as const);
export const OpenInFlags = Object.freeze({ KILL_SUIDGID: 1 << 0 } as const);
/** STATX_* bits of fuse_statx.mask (<linux/stat.h>): which fields of a statx answer are valid. */
export const StatxMask = Object.freeze({
  TYPE: 1 << 0, MODE: 1 << 1, NLINK: 1 << 2, UID: 1 << 3, GID: 1 << 4, ATIME: 1 << 5, MTIME: 1 << 6, CTIME: 1 << 7,
  INO: 1 << 8, SIZE: 1 << 9, BLOCKS: 1 << 10, BTIME: 1 << 11,
} as const);
export const SetxattrFlags = Object.freeze({ ACL_KILL_SGID: 1 << 0 } as const);
export const InvalEntryFlags = Object.freeze({ EXPIRE_ONLY: 1 << 0 } as const);
export const IoctlFlags = Object.freeze({
  COMPAT: 1 << 0, UNRESTRICTED: 1 << 1, RETRY: 1 << 2, '32BIT': 1 << 3, DIR: 1 << 4, COMPAT_X32: 1 << 5,
} as const);
export const IOCTL_MAX_IOV = 256;
export const CuseInitFlags = Object.freeze({ UNRESTRICTED_IOCTL: 1 << 0 } as const);
export const SetupmappingFlags = Object.freeze({ WRITE: 1 << 0, READ: 1 << 1 } as const);
/** rename2 flags (from <linux/fs.h>, passed through unchanged). */
export const RenameFlags = Object.freeze({ NOREPLACE: 1 << 0, EXCHANGE: 1 << 1, WHITEOUT: 1 << 2 } as const);

/** `/dev/fuse` ioctls: magic 229 ('\xe5'). Numbers are the encoded _IOC values for x86-64/arm64. */
export const DevIoctl = Object.freeze({
  /** _IOR(229, 0, uint32_t) */
  CLONE: iocEncode(2, 229, 0, 4),
  /** _IOW(229, 1, struct fuse_backing_map) (7.40) */
  BACKING_OPEN: iocEncode(1, 229, 1, 16),
  /** _IOW(229, 2, uint32_t) (7.40) */
  BACKING_CLOSE: iocEncode(1, 229, 2, 4),
  /** _IO(229, 3), Linux 6.18 */
  SYNC_INIT: iocEncode(0, 229, 3, 0),
} as const);

/** Linux _IOC(dir, type, nr, size) with dir 0 = none, 1 = write, 2 = read. */
function iocEncode(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

/** io_uring transport constants (7.42). */
export const Uring = Object.freeze({
  IN_OUT_HEADER_SZ: 128, OP_IN_OUT_SZ: 128, CMD_INVALID: 0, CMD_REGISTER: 1, CMD_COMMIT_AND_FETCH: 2,
} as const);

/** Names of the bits set in `value` according to a flag table, for traces: `'DIRECT_IO|KEEP_CACHE|0x100'`. */
export function flagNames(table: Readonly<Record<string, number>>, value: number): string {
  const names: string[] = [];
  let rest = value >>> 0;
  for (const [name, bit] of Object.entries(table)) {
    if ((rest & bit) !== 0) { names.push(name); rest &= ~bit; }
  }
  if (rest !== 0) names.push(`0x${(rest >>> 0).toString(16)}`);
  return names.length ? names.join('|') : '0';
}
