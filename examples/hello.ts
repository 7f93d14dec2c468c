/**
 * The hello filesystem: a root directory holding one file, hello.txt, that says "Hello from FUSE!\n".
 * Written against the low-level (inode) API; a small example to copy, a client of the package like any
 * other (in your own project, import from 'tsfuse'). Run it with
 *
 *   node --import tsx examples/hello.ts /tmp/hello       # Ctrl-C unmounts
 *
 * `tsfuse hello` mounts a fuller version (src/hello.ts) that also answers EROFS to every change.
 */
import { fileURLToPath } from 'node:url';
import { mount, FuseError, ROOT_ID, type LowLevelOperations, type Attr } from '../src/index.ts';

const HELLO_INO = 2;
const HELLO_NAME = 'hello.txt';
const HELLO_TEXT = Buffer.from('Hello from FUSE!\n');
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const O_RDONLY = 0;

/** Builds the hello filesystem; `started` is used for every timestamp. */
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
      if ((flags & O_ACCMODE) !== O_RDONLY) throw new FuseError('EACCES');
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
  };
}

// Run directly: mount at the path given, serve until Ctrl-C (or `umount`), then exit.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mountpoint = process.argv[2];
  if (mountpoint === undefined) {
    console.error('usage: node --import tsx examples/hello.ts MOUNTPOINT');
    process.exit(2);
  }
  const fs = await mount(mountpoint, helloFilesystem(), { handleSignals: true });
  console.error(`hello mounted at ${fs.mountpoint}; Ctrl-C to unmount`);
  await fs.closed;
}
