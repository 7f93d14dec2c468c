/**
 * The passthrough's per-request system calls made relative to a node's O_PATH descriptor, through
 * `node:ffi` (Node >= 26): statx, openat, unlinkat, mkdirat, symlinkat. Node has only path-taking
 * calls, so without this every request resolves `/proc/self/fd/N/name`: four more components, two of
 * them procfs magic (fs/proc/fd.c proc_fd_link, with the task lookups behind /proc/self), which
 * bench/passthrough-ops.ts measured at ~2.2 µs of kernel time per call — more than the statx itself.
 *
 *  - Failures come back as a negative errno, not an exception: an ENOENT LOOKUP (the one before every
 *    create) costs no Error and no stack trace.
 *  - statx fills one reused buffer (struct statx has the same layout on every architecture, unlike
 *    struct stat), decoded straight into numbers: no BigIntStats (Node's exact-nanosecond stat allocates
 *    some fourteen BigInts), times to the nanosecond, 64-bit fields as exact U64s.
 *  - Names are copied into a reused buffer with the NUL C wants; a name holding a NUL is refused before
 *    any call (the passthrough's checkName), as C would cut it short.
 *  - openat is variadic in C (its mode is read only with O_CREAT or O_TMPFILE); it is called with the
 *    mode as a fourth int argument, which is how the LP64 calling conventions accepted here pass a
 *    variadic int as well.
 *
 * Without node:ffi (Node < 26, `--no-experimental-ffi`, the permission model), {@link atCalls} is
 * undefined and the passthrough keeps its Node paths. src/mount/ffi.ts has the facts about node:ffi this
 * relies on.
 */
import { closeSync, constants as fsConstants } from 'node:fs';
import type { Attr } from '../protocol/replies.ts';
import { u64FromHalves, type U64 } from '../protocol/u64.ts';
import { bindLibc, pinnedBuffer, signature as sig } from '../ffi.ts';
import { O_PATH } from './nodes.ts';

/** The identity and attributes of an inode, from {@link AtCalls.statAt} / {@link AtCalls.statFd}. */
export interface StatResult {
  /** `${st_dev}:${st_ino}`, as Node's BigIntStats would print them (src/passthrough/nodes.ts keyOf); made when asked for. */
  readonly key: string;
  /** st_dev as glibc encodes dev_t (makedev), as Node reports it. */
  readonly dev: U64;
  readonly ino: U64;
  /** st_mode: type and permission bits. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** The attributes of a FUSE reply (a new object per call: the reply keeps it). */
  readonly attr: Attr;
}

export interface AtCalls {
  /** statx of `name` in the directory `dirfd`, not following a last symlink: the result, or minus the errno. */
  statAt(dirfd: number, name: Uint8Array): StatResult | number;
  /** statx of the inode `fd` holds (any descriptor, O_PATH too): the result, or minus the errno. */
  statFd(fd: number): StatResult | number;
  /** openat(dirfd, name, flags, mode): the descriptor (close-on-exec added), or minus the errno. */
  openAt(dirfd: number, name: Uint8Array, flags: number, mode: number): number;
  /** unlinkat(dirfd, name, flags): 0 or minus the errno; `flags` AT_REMOVEDIR for rmdir. */
  unlinkAt(dirfd: number, name: Uint8Array, flags: number): number;
  /** mkdirat(dirfd, name, mode): 0 or minus the errno. */
  mkdirAt(dirfd: number, name: Uint8Array, mode: number): number;
  /** symlinkat(target, dirfd, name): 0 or minus the errno. */
  symlinkAt(target: Uint8Array, dirfd: number, name: Uint8Array): number;
}

/** include/uapi/linux/fcntl.h. */
export const AT_REMOVEDIR = 0x200;
/** openat's "relative to the working directory": for absolute paths (the magic links of /proc/self/fd). */
export const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
const O_CLOEXEC = 0o2000000;
/** STATX_BASIC_STATS (include/uapi/linux/stat.h): what stat(2) reports. */
const STATX_BASIC_STATS = 0x7ff;
/** struct statx is 256 bytes (include/uapi/linux/stat.h). */
const STATX_SIZE = 256;
/** The longest name a reused buffer holds; longer ones (the kernel sends none: NAME_MAX) get their own. */
const NAME_BUFFER = 1024;
const TWO_32 = 2 ** 32;
/** Highest high word for which `hi * 2^32 + lo` is still a safe integer. */
const MAX_SAFE_HI = 0x1f_ffff;

/** A decoded statx: the key string is built only when asked for (GETATTR never needs it). */
class Statx implements StatResult {
  readonly dev: U64;
  readonly ino: U64;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly attr: Attr;
  constructor(dev: U64, ino: U64, attr: Attr) {
    this.dev = dev;
    this.ino = ino;
    this.mode = attr.mode;
    this.uid = attr.uid!;
    this.gid = attr.gid!;
    this.attr = attr;
  }
  get key(): string { return `${this.dev}:${this.ino}`; }
}

/** LP64 little-endian targets: the statx decoding below reads little-endian fields. */
const ARCHES: readonly string[] = ['x64', 'arm64', 'riscv64', 'loong64'];

let bound: AtCalls | null | undefined;

/** The calls, bound on first use; undefined without node:ffi. */
export function atCalls(): AtCalls | undefined {
  if (bound === undefined) bound = bind();
  return bound ?? undefined;
}

function bind(): AtCalls | null {
  if (process.platform !== 'linux' || !ARCHES.includes(process.arch)) return null;
  const libc = bindLibc('the *at calls need', {
    statx: sig(['int32', 'pointer', 'int32', 'uint32', 'pointer'], 'int32'),
    openat: sig(['int32', 'pointer', 'int32', 'uint32'], 'int32'),
    unlinkat: sig(['int32', 'pointer', 'int32'], 'int32'),
    mkdirat: sig(['int32', 'pointer', 'uint32'], 'int32'),
    symlinkat: sig(['pointer', 'int32', 'pointer'], 'int32'),
  });
  if (typeof libc === 'string') return null;
  const { statx, openat, unlinkat, mkdirat, symlinkat } = libc.fn;
  // errno's address is asked once (src/ffi.ts), so a failed call costs one read, not a second call and a BigInt.
  const errno = (): number => -libc.errno();
  // The reused buffers go to libc as addresses taken once (src/ffi.ts pinnedBuffer), each held by a
  // closure that uses its address.
  const reused = (size: number): [Buffer, bigint] => pinnedBuffer(libc.ffi, size);
  const [sx, sxAt] = reused(STATX_SIZE);
  // Word views of it (its own ArrayBuffer, so aligned; little-endian hosts only: ARCHES).
  const w = new Uint32Array(sx.buffer, sx.byteOffset, STATX_SIZE / 4);
  const sw = new Int32Array(sx.buffer, sx.byteOffset, STATX_SIZE / 4);
  // The tuple, not the address alone, is what statFd uses: it keeps the buffer alive.
  const emptyPath = reused(1);
  const [nameBuf, nameAt] = reused(NAME_BUFFER + 1);
  const [targetBuf, targetAt] = reused(4096 + 1);
  /** `name` NUL-terminated, in the reused buffer `into` at `at` (valid until the next call), or in a new one if longer. */
  const cName = (name: Uint8Array, into: Buffer, at: bigint): bigint | Buffer => {
    const n = name.byteLength;
    const out = n < into.length ? into : Buffer.allocUnsafe(n + 1);
    out.set(name, 0);
    out[n] = 0;
    return out === into ? at : out;
  };
  /** The u64 at byte 8 × `i`. */
  const u64 = (i: number): U64 => (w[i * 2 + 1]! <= MAX_SAFE_HI ? w[i * 2 + 1]! * TWO_32 + w[i * 2]! : u64FromHalves(w[i * 2]!, w[i * 2 + 1]!));
  /** A struct statx_timestamp's tv_sec (s64) at word `i`, as a number: exact for any time a filesystem can hold. */
  const sec = (i: number): number => sw[i + 1]! * TWO_32 + w[i]!;
  const decode = (): StatResult => {
    // struct statx, by 32-bit word: stx_blksize 1, stx_nlink 4, stx_uid 5, stx_gid 6, stx_mode 7 (low
    // half), stx_ino 8, stx_size 10, stx_blocks 12, stx_atime 16, stx_ctime 24, stx_mtime 28 (tv_sec s64,
    // then tv_nsec u32), stx_rdev_major 32, stx_rdev_minor 33, stx_dev_major 34, stx_dev_minor 35.
    const attr: Attr = {
      ino: u64(4), size: u64(5), blocks: u64(6),
      atime: sec(16), atimensec: w[18]!, mtime: sec(28), mtimensec: w[30]!, ctime: sec(24), ctimensec: w[26]!,
      mode: w[7]! & 0xffff, nlink: w[4]!, uid: w[5]!, gid: w[6]!, rdev: rdevOf(w[32]!, w[33]!), blksize: w[1]!,
    };
    return new Statx(devOf(w[34]!, w[35]!), attr.ino!, attr);
  };
  return {
    statAt(dirfd, name) {
      return (statx(dirfd, cName(name, nameBuf, nameAt), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, sxAt) as number) === 0 ? decode() : errno();
    },
    statFd(fd) {
      return (statx(fd, emptyPath[1], AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, sxAt) as number) === 0 ? decode() : errno();
    },
    openAt(dirfd, name, flags, mode) {
      const fd = openat(dirfd, cName(name, nameBuf, nameAt), flags | O_CLOEXEC, mode) as number;
      return fd >= 0 ? fd : errno();
    },
    unlinkAt(dirfd, name, flags) {
      return (unlinkat(dirfd, cName(name, nameBuf, nameAt), flags) as number) === 0 ? 0 : errno();
    },
    mkdirAt(dirfd, name, mode) {
      return (mkdirat(dirfd, cName(name, nameBuf, nameAt), mode) as number) === 0 ? 0 : errno();
    },
    symlinkAt(target, dirfd, name) {
      return (symlinkat(cName(target, targetBuf, targetAt), dirfd, cName(name, nameBuf, nameAt)) as number) === 0 ? 0 : errno();
    },
  };
}

/**
 * An O_PATH | O_NOFOLLOW descriptor of `name` in `dirfd`, with its stat, when that name still names the
 * inode `fd` holds open; undefined, with nothing left open, when it names another inode or none (it was
 * replaced or removed since `fd` was opened).
 */
export function openSameInode(calls: AtCalls, dirfd: number, name: Uint8Array, fd: number): { readonly fd: number; readonly st: StatResult } | undefined {
  const byName = calls.openAt(dirfd, name, O_PATH | fsConstants.O_NOFOLLOW, 0);
  if (byName < 0) return undefined;
  const st = calls.statFd(byName);
  const open = calls.statFd(fd);
  if (typeof st !== 'number' && typeof open !== 'number' && st.ino === open.ino && st.dev === open.dev) return { fd: byName, st };
  closeSync(byName);
  return undefined;
}

/**
 * dev_t as glibc's makedev builds it from statx's major and minor (sysdeps/unix/sysv/linux
 * makedev), which is what Node's stat reports as st_dev: exact as a number for every major below 2^21.
 */
export function devOf(major: number, minor: number): U64 {
  const lo = (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
  const hi = ((major & 0xfffff000) | (minor >>> 20)) >>> 0;
  return u64FromHalves(lo, hi);
}

/**
 * The rdev of struct fuse_attr: the low 32 bits of glibc's dev_t (include/linux/kdev_t.h
 * new_encode_dev, which fs/fuse/inode.c fuse_fillattr decodes), as src/ops/stats.ts attrFromStats gives.
 */
function rdevOf(major: number, minor: number): number {
  return (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
}
