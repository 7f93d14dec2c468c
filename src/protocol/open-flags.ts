/**
 * open(2) flags as the kernel passes them in fuse_open_in.flags and fuse_create_in.flags (the file's
 * f_flags): include/uapi/asm-generic/fcntl.h, except four that arm and arm64 place elsewhere
 * (arch/arm64/include/uapi/asm/fcntl.h). The daemon runs on the kernel's architecture, so process.arch
 * picks; the architectures with other layouts (alpha, mips, parisc, sparc) are not supported.
 */
const ARM = process.arch === 'arm64' || process.arch === 'arm';

export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const FASYNC = 0o20000;
export const O_DIRECT = ARM ? 0o200000 : 0o40000;
export const O_LARGEFILE = ARM ? 0o400000 : 0o100000;
export const O_DIRECTORY = ARM ? 0o40000 : 0o200000;
export const O_NOFOLLOW = ARM ? 0o100000 : 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
/** Two bits: __O_SYNC (0o4000000) | O_DSYNC. */
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;
export const __O_TMPFILE = 0o20000000;
