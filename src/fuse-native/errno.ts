/**
 * The errno constants fuse-native puts on its class (`Fuse.ENOENT === -2`): every Linux errno from 1 to
 * 124 by its name, negated, because fuse-native callbacks take `-errno` (libfuse 2's convention for an
 * operation's return value). Linux leaves 41 and 58 unnamed; EWOULDBLOCK and EDEADLOCK are aliases of
 * EAGAIN and EDEADLK (include/uapi/asm-generic/errno-base.h and errno.h).
 */

/** Linux errno names, index = errno number (1 … 124); `undefined` where Linux has none. */
const NAMES = [
  undefined,
  'EPERM', 'ENOENT', 'ESRCH', 'EINTR', 'EIO', 'ENXIO', 'E2BIG', 'ENOEXEC', 'EBADF', 'ECHILD',
  'EAGAIN', 'ENOMEM', 'EACCES', 'EFAULT', 'ENOTBLK', 'EBUSY', 'EEXIST', 'EXDEV', 'ENODEV', 'ENOTDIR',
  'EISDIR', 'EINVAL', 'ENFILE', 'EMFILE', 'ENOTTY', 'ETXTBSY', 'EFBIG', 'ENOSPC', 'ESPIPE', 'EROFS',
  'EMLINK', 'EPIPE', 'EDOM', 'ERANGE', 'EDEADLK', 'ENAMETOOLONG', 'ENOLCK', 'ENOSYS', 'ENOTEMPTY', 'ELOOP',
  undefined, 'ENOMSG', 'EIDRM', 'ECHRNG', 'EL2NSYNC', 'EL3HLT', 'EL3RST', 'ELNRNG', 'EUNATCH', 'ENOCSI',
  'EL2HLT', 'EBADE', 'EBADR', 'EXFULL', 'ENOANO', 'EBADRQC', 'EBADSLT', undefined, 'EBFONT', 'ENOSTR',
  'ENODATA', 'ETIME', 'ENOSR', 'ENONET', 'ENOPKG', 'EREMOTE', 'ENOLINK', 'EADV', 'ESRMNT', 'ECOMM',
  'EPROTO', 'EMULTIHOP', 'EDOTDOT', 'EBADMSG', 'EOVERFLOW', 'ENOTUNIQ', 'EBADFD', 'EREMCHG', 'ELIBACC', 'ELIBBAD',
  'ELIBSCN', 'ELIBMAX', 'ELIBEXEC', 'EILSEQ', 'ERESTART', 'ESTRPIPE', 'EUSERS', 'ENOTSOCK', 'EDESTADDRREQ', 'EMSGSIZE',
  'EPROTOTYPE', 'ENOPROTOOPT', 'EPROTONOSUPPORT', 'ESOCKTNOSUPPORT', 'EOPNOTSUPP', 'EPFNOSUPPORT', 'EAFNOSUPPORT', 'EADDRINUSE', 'EADDRNOTAVAIL', 'ENETDOWN',
  'ENETUNREACH', 'ENETRESET', 'ECONNABORTED', 'ECONNRESET', 'ENOBUFS', 'EISCONN', 'ENOTCONN', 'ESHUTDOWN', 'ETOOMANYREFS', 'ETIMEDOUT',
  'ECONNREFUSED', 'EHOSTDOWN', 'EHOSTUNREACH', 'EALREADY', 'EINPROGRESS', 'ESTALE', 'EUCLEAN', 'ENOTNAM', 'ENAVAIL', 'EISNAM',
  'EREMOTEIO', 'EDQUOT', 'ENOMEDIUM', 'EMEDIUMTYPE',
] as const;

/** Every errno name fuse-native's class carries. */
export type ErrnoName = Exclude<(typeof NAMES)[number], undefined> | 'EWOULDBLOCK' | 'EDEADLOCK';

/** `Fuse.ENOENT` and the rest: each errno, negated. */
export type ErrnoConstants = { readonly [K in ErrnoName]: number };

/** `{ EPERM: -1, ENOENT: -2, …, EWOULDBLOCK: -11, EDEADLOCK: -35 }`: what fuse-native's class carries. */
export const ERRNO_CONSTANTS: ErrnoConstants = (() => {
  const out: Record<string, number> = {};
  NAMES.forEach((name, n) => {
    if (name !== undefined) out[name] = -n;
  });
  out['EWOULDBLOCK'] = out['EAGAIN']!;
  out['EDEADLOCK'] = out['EDEADLK']!;
  return Object.freeze(out) as ErrnoConstants;
})();

/** ETIMEDOUT: what fuse-native answers when an operation's callback is not called within its timeout. */
export const TIMEOUT_ERRNO = 110;
/** ENODATA: getxattr answered with no value. */
export const NO_XATTR_ERRNO = 61;
/** ERANGE: what libfuse 2 substitutes for an error value outside -999 … -1 ("fuse: bad error value"). */
export const BAD_ERROR_ERRNO = 34;
