/**
 * File type bits of a mode (`S_IF*`, from the kernel's include/uapi/linux/stat.h) and the directory entry
 * types (`DT_*`, include/linux/fs_types.h). The values are Linux's on every architecture; Node has the
 * `S_IF*` in `fs.constants` too, but not the `DT_*`.
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
