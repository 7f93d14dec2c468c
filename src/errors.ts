/**
 * Errors, Node-style.
 *
 * Two families live here, and only here:
 *  - `FuseError`: what a filesystem handler throws to answer a request with an errno. The session also
 *    accepts any Node `SystemError`-shaped error (`err.code === 'ENOENT'` or a numeric `err.errno`), and
 *    maps every one of them to an errno in {@link errnoOf} — the single place that mapping happens.
 *  - `TsfuseError`: library misuse and environment problems (bad mount option, missing mountpoint, closed
 *    session). Each has a permanent `code` from {@link ERROR_CODES}; messages may change, codes never do.
 */
import { constants as osConstants } from 'node:os';

const ERRNO_BY_NAME: Readonly<Record<string, number>> = Object.freeze({ ...osConstants.errno });
const NAME_BY_ERRNO: ReadonlyMap<number, string> = new Map(
  Object.entries(ERRNO_BY_NAME).map(([name, n]) => [n, name] as const),
);

/** Linux errno numbers used by the library itself (values from `os.constants.errno`). */
export const Errno = Object.freeze({
  EPERM: ERRNO_BY_NAME['EPERM'] ?? 1,
  ENOENT: ERRNO_BY_NAME['ENOENT'] ?? 2,
  EINTR: ERRNO_BY_NAME['EINTR'] ?? 4,
  EIO: ERRNO_BY_NAME['EIO'] ?? 5,
  EBADF: ERRNO_BY_NAME['EBADF'] ?? 9,
  EAGAIN: ERRNO_BY_NAME['EAGAIN'] ?? 11,
  EACCES: ERRNO_BY_NAME['EACCES'] ?? 13,
  EEXIST: ERRNO_BY_NAME['EEXIST'] ?? 17,
  ENODEV: ERRNO_BY_NAME['ENODEV'] ?? 19,
  ENOTDIR: ERRNO_BY_NAME['ENOTDIR'] ?? 20,
  EISDIR: ERRNO_BY_NAME['EISDIR'] ?? 21,
  EINVAL: ERRNO_BY_NAME['EINVAL'] ?? 22,
  ERANGE: ERRNO_BY_NAME['ERANGE'] ?? 34,
  ENOSYS: ERRNO_BY_NAME['ENOSYS'] ?? 38,
  ENOTEMPTY: ERRNO_BY_NAME['ENOTEMPTY'] ?? 39,
  ENODATA: ERRNO_BY_NAME['ENODATA'] ?? 61,
  EPROTO: ERRNO_BY_NAME['EPROTO'] ?? 71,
  EOVERFLOW: ERRNO_BY_NAME['EOVERFLOW'] ?? 75,
  ENOTSUP: ERRNO_BY_NAME['ENOTSUP'] ?? 95,
  ENOTCONN: ERRNO_BY_NAME['ENOTCONN'] ?? 107,
} as const);

/** The symbolic name of an errno (`2` → `'ENOENT'`), or `'E<n>'` for numbers Linux does not name. */
export function errnoName(errno: number): string {
  return NAME_BY_ERRNO.get(errno) ?? `E${errno}`;
}

/** The errno number for a symbolic name, or undefined if Linux has no such errno. */
export function errnoFromName(name: string): number | undefined {
  return Object.hasOwn(ERRNO_BY_NAME, name) ? ERRNO_BY_NAME[name] : undefined;
}

/**
 * The error a handler throws to answer with a specific errno: `throw new FuseError('ENOENT')` or
 * `throw new FuseError(2)`. `code` is the symbolic name, like a Node `SystemError`.
 */
export class FuseError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(errno: number | string, message?: string) {
    const n = typeof errno === 'number' ? errno : errnoFromName(errno);
    if (n === undefined || !Number.isInteger(n) || n <= 0 || n >= 4096) {
      throw new TsfuseError('ERR_FUSE_INVALID_ERRNO', `not a Linux errno: ${String(errno)}`);
    }
    const code = errnoName(n);
    super(message ?? code);
    this.name = 'FuseError';
    this.errno = n;
    this.code = code;
  }
}

/**
 * The errno a thrown value stands for, or `undefined` when it names none (the session answers those
 * with EIO and logs them). Accepts `FuseError`, Node `SystemError`s (a string `code` that is an errno
 * name, or a numeric `errno`, which Node makes negative), `AbortError`s, which mean the request was
 * interrupted (EINTR), and a bare errno name or number (`throw 'ENOENT'`, `throw -2`).
 */
export function errnoOf(err: unknown): number | undefined {
  // `throw 'ENOENT'` and `throw -2` / `throw 2` say which errno they mean as plainly as a FuseError.
  if (typeof err === 'string') return errnoFromName(err);
  if (typeof err === 'number') return Number.isInteger(err) && err !== 0 && Math.abs(err) < 4096 ? Math.abs(err) : undefined;
  if (err === null || typeof err !== 'object') return undefined;
  if (err instanceof FuseError) return err.errno;
  const { code, errno, name } = err as { code?: unknown; errno?: unknown; name?: unknown };
  if (code === 'ABORT_ERR' || name === 'AbortError') return Errno.EINTR;
  if (typeof code === 'string') {
    const n = errnoFromName(code);
    if (n !== undefined) return n;
  }
  if (typeof errno === 'number' && Number.isInteger(errno) && errno !== 0 && Math.abs(errno) < 4096) {
    return Math.abs(errno);
  }
  return undefined;
}

/**
 * Every library error code. A code, once released, is permanent; tests check this table.
 * Messages are templates filled by the thrower.
 */
export const ERROR_CODES = Object.freeze({
  ERR_FUSE_INVALID_ERRNO: 'A FuseError was created with something that is not a Linux errno.',
  ERR_FUSE_INVALID_OPTION: 'A mount or filesystem option is unknown or has a malformed value.',
  ERR_FUSE_MOUNTPOINT: 'The mountpoint is missing, not a directory, or already mounted.',
  ERR_FUSE_NO_DEVICE: '/dev/fuse is missing or cannot be opened.',
  ERR_FUSE_NO_FUSERMOUNT: 'Mounting without root needs fusermount3, which was not found.',
  ERR_FUSE_NO_MOUNT_COMMAND: 'Mounting as root needs mount(8) and umount(8) from util-linux, which were not found.',
  ERR_FUSE_NEEDS_FFI: 'Mounting without root (to receive the /dev/fuse descriptor) or kernel passthrough (to register backing files) needs Node >= 26 (node:ffi).',
  ERR_FUSE_ALLOW_OTHER: 'allow_other needs user_allow_other in /etc/fuse.conf when not root.',
  ERR_FUSE_NOT_PERMITTED: 'Mounting needs CAP_SYS_ADMIN, which this process lacks and cannot gain (e.g. a container without it).',
  ERR_FUSE_MOUNT_FAILED: 'The mount command failed.',
  ERR_FUSE_UNMOUNT_FAILED: 'The unmount command failed.',
  ERR_FUSE_KERNEL_TOO_OLD: 'The kernel speaks a FUSE protocol older than tsfuse supports.',
  ERR_FUSE_PROTOCOL: 'The kernel sent something tsfuse cannot take part in.',
  ERR_FUSE_NOTIFY: 'A notification could not be sent.',
  ERR_FUSE_HANDOFF: 'A mount could not be handed over to a successor process; it stays with the process that serves it.',
  ERR_FUSE_SUPERVISE: 'A mount cannot be supervised (restarted after a crash): the filesystem cannot rebuild its state, or the supervisor could not start.',
  ERR_FUSE_URING_UNAVAILABLE: 'The io_uring transport was asked for, but it cannot run here: it needs Node >= 26 (node:ffi), Linux >= 6.14 with CONFIG_FUSE_IO_URING, and /sys/module/fuse/parameters/enable_uring set to Y.',
  ERR_INVALID_STATE: 'The object was used after it was closed.',
  ERR_INVALID_ARG_VALUE: 'An argument has a value the function cannot use.',
} as const);

export type ErrorCode = keyof typeof ERROR_CODES;

/** A library error with a permanent `code` (see {@link ERROR_CODES}). */
export class TsfuseError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TsfuseError';
    this.code = code;
  }
}
