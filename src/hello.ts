/**
 * The demo filesystem that `tsfuse hello MOUNTPOINT` mounts: a read-only root directory holding one file,
 * hello.txt, saying "Hello from FUSE!\n". Written against the low-level (inode) API.
 *
 * Read-only means every request that would change something is answered EROFS, so `touch`, `mkdir` and
 * `rm` say "Read-only file system", as on any read-only mount, instead of ENOSYS ("Function not
 * implemented"), which is what an absent method gives. The kernel sends those requests without looking at
 * the modes (there is no `default_permissions`), so the filesystem itself has to refuse them.
 * examples/hello.ts is the smallest form of the same filesystem, to copy.
 */
import { FuseError } from './errors.ts';
import { ROOT_ID } from './protocol/constants.ts';
import type { Attr } from './protocol/index.ts';
import type { LowLevelOperations } from './ops/lowlevel.ts';

const HELLO_INO = 2;
const HELLO_NAME = 'hello.txt';
const HELLO_TEXT = Buffer.from('Hello from FUSE!\n');
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const O_RDONLY = 0;

/** Answers every request that would modify the filesystem. */
function readOnly(): never {
  throw new FuseError('EROFS');
}

/** Builds the demo filesystem; `started` (seconds since the epoch) is used for every timestamp. */
export function helloFilesystem(started = Date.now() / 1000): LowLevelOperations {
  const times = { atime: started, mtime: started, ctime: started };
  const attrOf = (ino: number | bigint): Attr | undefined => {
    if (ino === ROOT_ID) return { ino, mode: S_IFDIR | 0o555, nlink: 2, ...times };
    if (ino === HELLO_INO) return { ino, mode: S_IFREG | 0o444, nlink: 1, size: HELLO_TEXT.length, blocks: 1, ...times };
    return undefined;
  };
  return {
    lookup({ parent, name }) {
      if (parent !== ROOT_ID || name.toString() !== HELLO_NAME) throw new FuseError('ENOENT');
      return { ino: HELLO_INO, attr: attrOf(HELLO_INO)! };
    },
    getattr({ ino }) {
      const attr = attrOf(ino);
      if (!attr) throw new FuseError('ENOENT');
      return { attr };
    },
    readdir({ ino, offset }) {
      if (ino !== ROOT_ID) throw new FuseError('ENOTDIR');
      const entries = [
        { ino: ROOT_ID, name: '.', mode: S_IFDIR },
        { ino: ROOT_ID, name: '..', mode: S_IFDIR },
        { ino: HELLO_INO, name: HELLO_NAME, mode: S_IFREG },
      ];
      // Each entry carries the offset of the one after it, which the kernel passes back to continue.
      return entries.slice(Number(offset)).map((e, i) => ({ ...e, offset: Number(offset) + i + 1 }));
    },
    open({ ino, flags }) {
      if (ino !== HELLO_INO) throw new FuseError('EISDIR');
      if ((flags & O_ACCMODE) !== O_RDONLY) readOnly();
      return { fh: 0 };
    },
    read({ ino, offset, size }) {
      if (ino !== HELLO_INO) throw new FuseError('EISDIR');
      const start = Number(offset);
      return HELLO_TEXT.subarray(start, start + size);
    },
    statfs() {
      return { blocks: 1, bfree: 0, bavail: 0, files: 2, ffree: 0, bsize: 4096, namelen: 255 };
    },
    // Everything that would change something (touch → create or setattr, mkdir, rm → unlink, mv, ln, …).
    setattr: readOnly,
    mknod: readOnly,
    mkdir: readOnly,
    unlink: readOnly,
    rmdir: readOnly,
    symlink: readOnly,
    rename: readOnly,
    link: readOnly,
    create: readOnly,
    tmpfile: readOnly,
    write: readOnly,
    fallocate: readOnly,
    copyFileRange: readOnly,
    setxattr: readOnly,
    removexattr: readOnly,
  };
}
