/**
 * Kernel passthrough backing files (7.40, Linux >= 6.9): a filesystem registers an open descriptor of a
 * real file with the `FUSE_DEV_IOC_BACKING_OPEN` ioctl on /dev/fuse, gets a backing id, and answers
 * OPEN/CREATE with FOPEN_PASSTHROUGH and that id; the kernel then reads, writes and mmaps the backing file
 * itself (fs/fuse/passthrough.c), and no READ or WRITE reaches the daemon.
 *
 * Node has no ioctl(2), so the two ioctls go through `node:ffi` (Node >= 26), bound on first use
 * (src/ffi.ts bindLibc).
 * On an older Node every call fails with ERR_FUSE_NEEDS_FFI and {@link BackingFiles.unavailable} says so,
 * so filesystems can feature-detect and fall back to serving reads themselves.
 *
 * The kernel's rules (fs/fuse/backing.c fuse_backing_open, fs/fuse/iomode.c):
 *  - only with PASSTHROUGH granted at INIT, and only for a caller with CAP_SYS_ADMIN: EPERM otherwise;
 *  - the descriptor must be a regular file (EINVAL; EISDIR for a directory); an O_PATH one will do, as
 *    the kernel opens its own file on the same path, with the registering process's credentials, at each
 *    passthrough open (fs/backing-file.c backing_file_open);
 *  - ELOOP when the backing file's filesystem is already stacked `max_stack_depth` deep (a FUSE or
 *    overlayfs mount);
 *  - every open of one inode must name the same backing file while any of them is open (EIO to open(2)
 *    otherwise): keep one id per inode, not per open.
 * The kernel holds its own reference to the file: the descriptor may be closed once registered, and the
 * id may be closed once no open reply that names it can still be in flight (after the last RELEASE).
 */
import { endianness } from 'node:os';
import { FuseError, TsfuseError } from '../errors.ts';
import { hasFlag, type Negotiated } from '../protocol/negotiated.ts';
import { DevIoctl } from '../protocol/constants.ts';
import { OPCODES } from '../protocol/opcodes.ts';
import type { LowLevelOperations, ReadyInfo } from '../ops/lowlevel.ts';
import { bindLibc, signature } from '../ffi.ts';

/** Registering and releasing passthrough backing files, as handed to `ready()` and on `FuseMount`. */
export interface BackingFiles {
  /**
   * Why {@link backingOpen} cannot succeed on this session, or undefined when it can be tried: node:ffi
   * is missing (Node < 26), PASSTHROUGH was not granted at INIT (or INIT has not happened yet), or the
   * process is not root. Re-read it after INIT: it depends on what was agreed.
   */
  readonly unavailable: string | undefined;
  /**
   * Registers `fd` (an open descriptor of a regular file, O_PATH is enough) as a backing file and returns
   * its backing id (> 0), for `OpenReply.backingId` with `OpenFlags.PASSTHROUGH`. The descriptor may be
   * closed afterwards. Throws `ERR_FUSE_NEEDS_FFI` without node:ffi, `FuseError('EPERM')` when PASSTHROUGH
   * was not granted or the process lacks CAP_SYS_ADMIN, and the kernel's errno otherwise (EINVAL: not a
   * regular file; ELOOP: the backing filesystem is stacked too deep; EBADF).
   */
  backingOpen(fd: number): number;
  /** Releases a backing id; files already opened with it keep working. Throws the kernel's errno (ENOENT: unknown id). */
  backingClose(id: number): void;
}

/**
 * `ops` with a `ready` that also receives `backing` in its {@link ReadyInfo}; `ops` itself when it has no
 * `ready`. Like src/ops/fs-options.ts applyFsOptions, every method of the wrapper runs with `ops` as
 * `this` (a class with #private fields would throw on any other object).
 */
export function readyWithBacking(ops: LowLevelOperations, backing: BackingFiles): LowLevelOperations {
  const ready = ops.ready;
  if (typeof ready !== 'function') return ops;
  const wrapped: Record<string, unknown> = {
    ready: (info: ReadyInfo) => ready.call(ops, { ...info, backing }),
  };
  for (const m of ['init', 'destroy', ...OPCODES.map((row) => row.method)] as const) {
    if (m === undefined || Object.hasOwn(wrapped, m)) continue;
    const f: unknown = ops[m];
    if (typeof f === 'function') wrapped[m] = f.bind(ops);
  }
  if (ops.checksPermissions !== undefined) wrapped['checksPermissions'] = ops.checksPermissions;
  return wrapped as LowLevelOperations;
}

/** The ioctl(2) call, bound once per process. */
interface Ioctl {
  /** ioctl(fd, request, arg): the result, or minus the errno. */
  call(fd: number, request: bigint, arg: Buffer): number;
}

/**
 * Architectures whose ioctl numbers use the generic encoding (include/uapi/asm-generic/ioctl.h: dir in
 * bits 30..31 with _IOC_WRITE = 1, size in bits 16..29). powerpc, mips, sparc and alpha encode
 * differently and are not accepted.
 */
const GENERIC_IOCTL_ARCHES: readonly string[] = ['x64', 'arm64', 'riscv64', 'loong64', 's390x'];

/**
 * `_IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)` and `_IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)` from
 * include/uapi/linux/fuse.h (7.40), magic 229: (1 << 30) | (size << 16) | (229 << 8) | nr, with
 * sizeof(struct fuse_backing_map) = 16 (BackingMap in src/protocol/structs.ts): 0x4010e501 and
 * 0x4004e502, encoded once in DevIoctl (src/protocol/constants.ts). Bigints made once: the ioctl takes an
 * unsigned long.
 */
const FUSE_DEV_IOC_BACKING_OPEN = BigInt(DevIoctl.BACKING_OPEN);
const FUSE_DEV_IOC_BACKING_CLOSE = BigInt(DevIoctl.BACKING_CLOSE);
const EPERM = 1;
const EIO = 5;

let ioctl: Ioctl | string | undefined;

/** Loads node:ffi and binds ioctl(2) once: the binding, or why it cannot be had. */
function loadIoctl(): Ioctl | string {
  ioctl ??= bindIoctl();
  return ioctl;
}

function bindIoctl(): Ioctl | string {
  if (!GENERIC_IOCTL_ARCHES.includes(process.arch)) {
    return `kernel passthrough calls ioctl(2) through node:ffi, which tsfuse supports only on ${GENERIC_IOCTL_ARCHES.join('/')} Linux, not on '${process.arch}'`;
  }
  const libc = bindLibc('kernel passthrough needs', { ioctl: signature(['int32', 'uint64', 'buffer'], 'int32') }, 'to call ioctl(2) on /dev/fuse');
  if (typeof libc === 'string') return libc;
  const { fn: { ioctl: ioctlFn }, errno } = libc;
  return {
    call(fd, request, arg) {
      const r = ioctlFn(fd, request, arg) as number;
      return r >= 0 ? r : -errno();
    },
  };
}

/** Whether this process can call the backing ioctls at all (node:ffi present): undefined, or why not. */
export function backingSupport(): string | undefined {
  const r = loadIoctl();
  return typeof r === 'string' ? r : undefined;
}

/**
 * The backing-file calls of the session reading `deviceFd`. `negotiated` is read at each call, so the
 * object can be made before INIT and handed out after it.
 */
export function createBackingFiles(deviceFd: number, negotiated: () => Negotiated | undefined): BackingFiles {
  // fuse_backing_map { int32 fd; uint32 flags; uint64 padding }: flags and padding must stay 0 (EINVAL).
  const map = Buffer.alloc(16);
  const id = Buffer.alloc(4);
  const little = endianness() === 'LE';
  const notNegotiated = (): string | undefined => {
    const n = negotiated();
    if (n === undefined) return 'the session is closed';
    return hasFlag(n, 'PASSTHROUGH') ? undefined
      : 'PASSTHROUGH was not granted at INIT (ask for it in `init()` wants, without WRITEBACK_CACHE; Linux >= 6.9 with CONFIG_FUSE_PASSTHROUGH)';
  };
  /** After close the descriptor number may name another file: never issue an ioctl on it then. */
  const open = (what: string): void => {
    if (negotiated() === undefined) throw new TsfuseError('ERR_INVALID_STATE', `${what}: the session is closed`);
  };
  const bound = (): Ioctl => {
    const r = loadIoctl();
    if (typeof r === 'string') throw new TsfuseError('ERR_FUSE_NEEDS_FFI', `${r}. Without it, serve READ and WRITE from the daemon (open without FOPEN_PASSTHROUGH).`);
    return r;
  };
  const fail = (what: string, errno: number): never => {
    const hint = errno === EPERM ? ': needs CAP_SYS_ADMIN (run the daemon as root)' : '';
    throw new FuseError(errno, `${what} failed with ${new FuseError(errno).code}${hint}`);
  };
  return Object.freeze({
    get unavailable(): string | undefined {
      const r = loadIoctl();
      if (typeof r === 'string') return r;
      const why = notNegotiated();
      if (why !== undefined) return why;
      return process.geteuid?.() === 0 ? undefined : 'registering backing files needs CAP_SYS_ADMIN (run the daemon as root)';
    },
    backingOpen(fd: number): number {
      const io = bound();
      open('FUSE_DEV_IOC_BACKING_OPEN');
      const why = notNegotiated();
      if (why !== undefined) throw new FuseError('EPERM', `FUSE_DEV_IOC_BACKING_OPEN: ${why}`);
      if (little) map.writeInt32LE(fd, 0); else map.writeInt32BE(fd, 0);
      const r = io.call(deviceFd, FUSE_DEV_IOC_BACKING_OPEN, map);
      return r > 0 ? r : fail(`FUSE_DEV_IOC_BACKING_OPEN of descriptor ${fd}`, r === 0 ? EIO : -r);
    },
    backingClose(backingId: number): void {
      const io = bound();
      open('FUSE_DEV_IOC_BACKING_CLOSE');
      if (little) id.writeUInt32LE(backingId >>> 0, 0); else id.writeUInt32BE(backingId >>> 0, 0);
      const r = io.call(deviceFd, FUSE_DEV_IOC_BACKING_CLOSE, id);
      if (r < 0) fail(`FUSE_DEV_IOC_BACKING_CLOSE of backing id ${backingId}`, -r);
    },
  });
}
