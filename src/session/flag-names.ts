/**
 * Flag words as names, for the trace: `O_WRONLY|O_CREAT|O_TRUNC`, `FATTR_MODE|FATTR_SIZE`,
 * `FOPEN_KEEP_CACHE|0x100` (bits without a name in hex). The FUSE tables come from
 * src/protocol/constants.ts; the tables here are the Linux ones FUSE passes through unchanged (open(2)
 * flags, xattr, access, fallocate, poll, statx, lseek, lock types).
 *
 * Which field of which request holds which kind of word is {@link REQUEST_FIELD_FORMATS}, one row per
 * opcode, keyed by the field names of src/protocol/requests.ts.
 */
import {
  AttrFlags, CuseInitFlags, FsyncFlags, GetattrFlags, INIT_FLAGS, IoctlFlags, LockFlags, OpenFlags, OpenInFlags, PollFlags,
  ReadFlags, ReleaseFlags, RenameFlags, SetattrValid, SetupmappingFlags, SetxattrFlags, WriteFlags,
} from '../protocol/constants.ts';
import * as O from '../protocol/open-flags.ts';

/** A flag table: name → bit (or bits). */
export type FlagTable = Readonly<Record<string, number>>;

/**
 * `PREFIX_NAME|PREFIX_OTHER|0x40` for the bits set in `value`, in table order; `0` when none is set.
 * Accepts a number up to 2^53 or a bigint (the 64-bit words of SETUPMAPPING, COPY_FILE_RANGE).
 */
export function flagWords(table: FlagTable, value: number | bigint, prefix = ''): string {
  let rest = BigInt(value);
  if (rest === 0n) return '0';
  const names: string[] = [];
  for (const [name, bits] of Object.entries(table)) {
    const b = BigInt(bits);
    if (b !== 0n && (rest & b) === b) {
      names.push(prefix + name);
      rest &= ~b;
    }
  }
  if (rest !== 0n) names.push(`0x${rest.toString(16)}`);
  return names.join('|');
}

/** A 32-bit word as names, with the FUSE table's prefix. */
const words = (table: FlagTable, prefix: string) => (v: unknown): string =>
  typeof v === 'number' || typeof v === 'bigint' ? flagWords(table, v, prefix) : String(v);


/**
 * open(2) flags beyond the access mode, as the kernel passes them in fuse_open_in.flags (file->f_flags,
 * without O_CREAT, O_EXCL and O_NOCTTY, which the kernel handles itself; fs/fuse/file.c fuse_send_open).
 * O_SYNC is two bits (__O_SYNC | O_DSYNC) and is listed first so that it is named as one.
 */
export const OPEN_FLAGS: FlagTable = Object.freeze({
  O_SYNC: O.O_SYNC,
  O_CREAT: O.O_CREAT,
  O_EXCL: O.O_EXCL,
  O_NOCTTY: O.O_NOCTTY,
  O_TRUNC: O.O_TRUNC,
  O_APPEND: O.O_APPEND,
  O_NONBLOCK: O.O_NONBLOCK,
  O_DSYNC: O.O_DSYNC,
  FASYNC: O.FASYNC,
  // In bit order, which differs on arm and arm64.
  ...Object.fromEntries(Object.entries({ O_DIRECT: O.O_DIRECT, O_LARGEFILE: O.O_LARGEFILE, O_DIRECTORY: O.O_DIRECTORY, O_NOFOLLOW: O.O_NOFOLLOW }).sort((a, b) => a[1] - b[1])),
  O_NOATIME: O.O_NOATIME,
  O_CLOEXEC: O.O_CLOEXEC,
  O_PATH: O.O_PATH,
  __O_TMPFILE: O.__O_TMPFILE,
  /** Set by execve() (include/linux/fs.h __FMODE_EXEC). */
  FMODE_EXEC: 0o40,
});

const ACCESS_MODES = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'] as const;

/** open(2) flags: the access mode, then the other bits: `O_WRONLY|O_APPEND`. */
export function openFlagWords(flags: number): string {
  const mode = ACCESS_MODES[flags & 3] as string;
  const rest = (flags & ~3) >>> 0;
  return rest === 0 ? mode : `${mode}|${flagWords(OPEN_FLAGS, rest)}`;
}

/** INIT's two 32-bit words as capability names (FUSE_ASYNC_READ…): `flags2` holds bits 32..63. */
export function initFlagWords(flags: number, flags2 = 0): string {
  const names: string[] = [];
  let low = flags >>> 0;
  let high = flags2 >>> 0;
  for (const f of INIT_FLAGS) {
    const bit = f.bit < 32 ? (1 << f.bit) >>> 0 : (1 << (f.bit - 32)) >>> 0;
    if (f.bit < 32 && (low & bit) !== 0) { names.push(f.name); low = (low & ~bit) >>> 0; }
    if (f.bit >= 32 && (high & bit) !== 0) { names.push(f.name); high = (high & ~bit) >>> 0; }
  }
  if (low !== 0) names.push(`0x${low.toString(16)}`);
  if (high !== 0) names.push(`flags2:0x${high.toString(16)}`);
  return names.length === 0 ? '0' : names.join('|');
}

/** <linux/xattr.h> */
export const XATTR_FLAGS: FlagTable = Object.freeze({ XATTR_CREATE: 1, XATTR_REPLACE: 2 });
/** access(2): F_OK is 0. */
export const ACCESS_MASK: FlagTable = Object.freeze({ R_OK: 4, W_OK: 2, X_OK: 1 });
/** <linux/falloc.h> */
export const FALLOC_FLAGS: FlagTable = Object.freeze({
  FALLOC_FL_KEEP_SIZE: 0x01, FALLOC_FL_PUNCH_HOLE: 0x02, FALLOC_FL_NO_HIDE_STALE: 0x04, FALLOC_FL_COLLAPSE_RANGE: 0x08,
  FALLOC_FL_ZERO_RANGE: 0x10, FALLOC_FL_INSERT_RANGE: 0x20, FALLOC_FL_UNSHARE_RANGE: 0x40, FALLOC_FL_WRITE_ZEROES: 0x80,
});
/** poll(2) events (<asm-generic/poll.h>). */
export const POLL_EVENTS: FlagTable = Object.freeze({
  POLLIN: 0x1, POLLPRI: 0x2, POLLOUT: 0x4, POLLERR: 0x8, POLLHUP: 0x10, POLLNVAL: 0x20, POLLRDNORM: 0x40,
  POLLRDBAND: 0x80, POLLWRNORM: 0x100, POLLWRBAND: 0x200, POLLMSG: 0x400, POLLRDHUP: 0x2000,
});
/** statx(2) mask (<linux/stat.h>). */
export const STATX_MASK: FlagTable = Object.freeze({
  STATX_TYPE: 0x1, STATX_MODE: 0x2, STATX_NLINK: 0x4, STATX_UID: 0x8, STATX_GID: 0x10, STATX_ATIME: 0x20,
  STATX_MTIME: 0x40, STATX_CTIME: 0x80, STATX_INO: 0x100, STATX_SIZE: 0x200, STATX_BLOCKS: 0x400, STATX_BTIME: 0x800,
  STATX_MNT_ID: 0x1000, STATX_DIOALIGN: 0x2000, STATX_MNT_ID_UNIQUE: 0x4000, STATX_SUBVOL: 0x8000,
  STATX_WRITE_ATOMIC: 0x10000, STATX_DIO_READ_ALIGN: 0x20000,
});
/** statx(2) flags (<linux/fcntl.h>). */
export const AT_FLAGS: FlagTable = Object.freeze({
  AT_SYMLINK_NOFOLLOW: 0x100, AT_NO_AUTOMOUNT: 0x800, AT_EMPTY_PATH: 0x1000, AT_STATX_FORCE_SYNC: 0x2000,
  AT_STATX_DONT_SYNC: 0x4000,
});

export const SEEK_WHENCE = ['SEEK_SET', 'SEEK_CUR', 'SEEK_END', 'SEEK_DATA', 'SEEK_HOLE'] as const;
export const LOCK_TYPES = ['F_RDLCK', 'F_WRLCK', 'F_UNLCK'] as const;
const enumWord = (names: readonly string[]) => (v: unknown): string =>
  typeof v === 'number' && names[v] !== undefined ? names[v] as string : String(v);

/** A file mode in octal: `0o100644`. */
export const octal = (v: unknown): string => (typeof v === 'number' ? `0o${v.toString(8)}` : String(v));

/** Formats one field's value for the trace. */
export type FieldFormat = (value: unknown) => string;

const OPEN: FieldFormat = (v) => (typeof v === 'number' ? openFlagWords(v) : String(v));
const OPEN_IN = words(OpenInFlags, 'FUSE_OPEN_');
const RELEASE = { flags: OPEN, releaseFlags: words(ReleaseFlags, 'FUSE_RELEASE_') };
const FSYNC = { fsyncFlags: words(FsyncFlags, 'FUSE_FSYNC_') };
const CREATE = { flags: OPEN, mode: octal, umask: octal, openFlags: OPEN_IN };
const LOCK = {
  lkFlags: words(LockFlags, 'FUSE_LK_'),
  lock: (v: unknown): string => {
    if (v === null || typeof v !== 'object') return String(v);
    const { type, ...rest } = v as { type?: unknown };
    return `{type: ${enumWord(LOCK_TYPES)(type)}, ${Object.entries(rest).map(([k, x]) => `${k}: ${String(x)}`).join(', ')}}`;
  },
};

/** Per opcode, the request fields that hold flag words, modes or enums, and how to print them. */
export const REQUEST_FIELD_FORMATS: Readonly<Record<string, Readonly<Record<string, FieldFormat>>>> = Object.freeze({
  GETATTR: { flags: words(GetattrFlags, 'FUSE_GETATTR_') },
  SETATTR: { valid: words(SetattrValid, 'FATTR_'), mode: octal },
  MKNOD: { mode: octal, umask: octal },
  MKDIR: { mode: octal, umask: octal },
  OPEN: { flags: OPEN, openFlags: OPEN_IN },
  OPENDIR: { flags: OPEN, openFlags: OPEN_IN },
  CREATE,
  TMPFILE: CREATE,
  READ: { flags: OPEN, readFlags: words(ReadFlags, 'FUSE_READ_') },
  READDIR: { flags: OPEN, readFlags: words(ReadFlags, 'FUSE_READ_') },
  READDIRPLUS: { flags: OPEN, readFlags: words(ReadFlags, 'FUSE_READ_') },
  WRITE: { flags: OPEN, writeFlags: words(WriteFlags, 'FUSE_WRITE_') },
  RELEASE,
  RELEASEDIR: RELEASE,
  FSYNC,
  FSYNCDIR: FSYNC,
  SETXATTR: { flags: words(XATTR_FLAGS, ''), setxattrFlags: words(SetxattrFlags, 'FUSE_SETXATTR_') },
  GETLK: LOCK,
  SETLK: LOCK,
  SETLKW: LOCK,
  ACCESS: { mask: (v) => (v === 0 ? 'F_OK' : words(ACCESS_MASK, '')(v)) },
  RENAME2: { flags: words(RenameFlags, 'RENAME_') },
  IOCTL: { flags: words(IoctlFlags, 'FUSE_IOCTL_') },
  POLL: { flags: words(PollFlags, 'FUSE_POLL_'), events: words(POLL_EVENTS, '') },
  FALLOCATE: { mode: words(FALLOC_FLAGS, '') },
  LSEEK: { whence: enumWord(SEEK_WHENCE) },
  SETUPMAPPING: { flags: words(SetupmappingFlags, 'FUSE_SETUPMAPPING_FLAG_') },
  INIT: { flags: (v) => (typeof v === 'number' ? initFlagWords(v) : String(v)), flags2: (v) => (typeof v === 'number' ? initFlagWords(0, v) : String(v)) },
  CUSE_INIT: { flags: words(CuseInitFlags, 'CUSE_') },
  STATX: { getattrFlags: words(GetattrFlags, 'FUSE_GETATTR_'), sxFlags: words(AT_FLAGS, ''), sxMask: words(STATX_MASK, '') },
});

/** FOPEN_* flags of an open reply. */
export const openOutFlagWords = words(OpenFlags, 'FOPEN_');
/** FUSE_ATTR_* flags of an attr. */
export const attrFlagWords = words(AttrFlags, 'FUSE_ATTR_');
