/**
 * One memfs inode: a file of any type with its attributes, times, extended attributes and locks. A
 * directory holds its entries and its parent; a regular file its {@link FileData}; a symlink its target.
 * Names are in directories, not here: one inode may have many names (hard links), and `nlink` counts them.
 */
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../ops/file-mode.ts';
import type { PathStat, Timestamp } from '../ops/path/types.ts';
import { BLOCK_SIZE, FileData, type SpaceBudget } from './file-data.ts';
import type { FileLocks } from './locks.ts';

/** Bytes st_size reports for a directory, as ext4 does for a small one. */
const DIRECTORY_SIZE = 4096;

export interface InodeInit {
  readonly ino: number;
  /** Type and permission bits. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev?: number;
  /** A symlink's target. */
  readonly target?: string;
  /** Where a regular file's blocks are accounted. */
  readonly space: SpaceBudget;
  readonly now: Timestamp;
}

export class Inode {
  readonly ino: number;
  mode: number;
  uid: number;
  gid: number;
  readonly rdev: number;
  /** Names of this inode; for a directory 2 + its subdirectories, 0 once removed. */
  nlink: number;
  atime: Timestamp;
  mtime: Timestamp;
  ctime: Timestamp;
  readonly btime: Timestamp;
  /** A regular file's bytes. */
  readonly data: FileData | undefined;
  /** A directory's entries. */
  readonly entries: Map<string, Inode> | undefined;
  /** A directory's parent (the root's is itself), for `..` and the "into itself" rename check. */
  parent: Inode | undefined;
  /** A symlink's target. */
  readonly target: string | undefined;
  /** Extended attributes, created on first use. */
  xattrs: Map<string, Buffer> | undefined;
  /** Locks, created on first use. */
  locks: FileLocks | undefined;
  /** Open file handles on this inode: it outlives its last name until they are released. */
  openCount = 0;
  /** Made by O_TMPFILE (without O_EXCL) and not linked yet: `link` may give it its first name. */
  linkable = false;

  constructor(init: InodeInit) {
    this.ino = init.ino;
    this.mode = init.mode;
    this.uid = init.uid;
    this.gid = init.gid;
    this.rdev = init.rdev ?? 0;
    this.atime = this.mtime = this.ctime = this.btime = init.now;
    const type = init.mode & S_IFMT;
    this.nlink = type === S_IFDIR ? 2 : 1;
    this.data = type === S_IFREG ? new FileData(init.space) : undefined;
    this.entries = type === S_IFDIR ? new Map() : undefined;
    this.target = type === S_IFLNK ? init.target ?? '' : undefined;
  }

  get isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }

  get isRegular(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }

  get isSymlink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }

  /** Content changed (write, truncate, an entry added or removed): mtime and ctime. */
  modified(now: Timestamp): void {
    this.mtime = this.ctime = now;
  }

  /** Attributes changed (chmod, chown, link count, xattrs, rename): ctime. */
  changed(now: Timestamp): void {
    this.ctime = now;
  }

  /**
   * Content read: atime, relatime-style (mount(8) "relatime"): only when atime is not newer than mtime
   * or ctime, or is a day old, so reading does not turn into a metadata write every time.
   */
  accessed(now: Timestamp): void {
    if (!after(this.atime, this.mtime) || !after(this.atime, this.ctime) || now.sec - this.atime.sec >= 24 * 3600) {
      this.atime = now;
    }
  }

  stat(): PathStat {
    const allocated = this.data?.allocatedBytes ?? 0;
    return {
      ino: this.ino,
      mode: this.mode,
      nlink: this.nlink,
      uid: this.uid,
      gid: this.gid,
      rdev: this.rdev,
      size: this.data !== undefined ? this.data.size
        : this.target !== undefined ? Buffer.byteLength(this.target)
        : this.entries !== undefined ? DIRECTORY_SIZE : 0,
      blksize: BLOCK_SIZE,
      blocks: allocated / 512,
      atime: this.atime,
      mtime: this.mtime,
      ctime: this.ctime,
      birthtime: this.btime,
    };
  }
}

function after(a: Timestamp, b: Timestamp): boolean {
  return a.sec > b.sec || (a.sec === b.sec && a.nsec > b.nsec);
}
