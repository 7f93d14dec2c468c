/**
 * File type bits of a mode (`S_IF*`) and the directory entry types (`DT_*`), for filesystem authors and
 * the ops layer. They are kernel ABI values, defined once in src/protocol/constants.ts.
 */
export {
  S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO,
  DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK, dtFromMode,
} from '../protocol/constants.ts';
