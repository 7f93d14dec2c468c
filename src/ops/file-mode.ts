/**
 * File type bits of a mode (`S_IF*`) and the directory entry types (`DT_*`), for filesystem authors and
 * the ops layer. They are kernel ABI values, defined once in src/protocol/constants.ts. Then the mode's
 * special bits and the one permission bit the set-id rules read (include/uapi/linux/stat.h).
 */
export {
  S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO,
  DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK, dtFromMode,
} from '../protocol/constants.ts';

export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
/** Group execute: with it, set-group-ID is a privilege; without it, it marks mandatory locking. */
export const S_IXGRP = 0o0010;
