/**
 * Directory listings with inode numbers, through getdents64(2) over `node:ffi` (Node >= 26). Node's
 * readdir drops d_ino, so without this the passthrough lstats every entry of a plain READDIR to report
 * it: bench/profile.ts measured ~9–13 µs of daemon CPU per entry that way, almost all in the lstat
 * through /proc/self/fd/N/name. getdents64 returns d_ino and d_type for a whole buffer of entries in
 * one call. On an older Node (or without node:ffi) {@link readDirectory} returns false and the caller
 * (./listing.ts) keeps the lstat path. src/mount/ffi.ts has the facts about node:ffi this relies on.
 */
import * as fs from 'node:fs';
import { endianness } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { bindLibc, signature } from '../ffi.ts';

/** getdents64(fd, buf, size): bytes filled, 0 at the end, or minus the errno. */
type Getdents = (fd: number, buf: Buffer) => number;

// struct linux_dirent64 (include/linux/dirent.h): d_ino u64 0, d_off s64 8, d_reclen u16 16, d_type u8 18,
// d_name 19 (NUL-terminated, the record padded to 8 bytes).
export const D_RECLEN = 16;
export const D_TYPE = 18;
export const D_NAME = 19;

let getdents: Getdents | null | undefined;

function bind(): Getdents | null {
  // getdents64 is in glibc >= 2.30; the d_ino/d_off layout is the same on every 64-bit Linux.
  if (endianness() !== 'LE' || process.platform !== 'linux') return null;
  const libc = bindLibc('getdents64 needs', { getdents64: signature(['int32', 'buffer', 'uint64'], 'int64') });
  if (typeof libc === 'string') return null;
  const { fn: { getdents64 }, errno } = libc;
  return (fd, buf) => {
    const n = Number(getdents64(fd, buf, BigInt(buf.length)) as bigint);
    return n >= 0 ? n : -errno();
  };
}

/** Whether {@link readDirectory} can work in this process. */
export function canListWithInodes(): boolean {
  getdents ??= bind();
  return getdents !== null;
}

/**
 * Runs getdents64 over the directory at `path` until its end, handing each filled buffer to `each`
 * (`length` bytes of struct linux_dirent64 records, "." and ".." included, in the kernel's order);
 * `buffer()` gives the buffer for each call (a fresh one to keep views of it, or one reused). False when
 * getdents64 is not reachable (Node < 26, node:ffi off). Throws the errno of a failed open or getdents64
 * as a Node-style error.
 */
export function readDirectory(path: string | Buffer, buffer: () => Buffer, each: (records: Buffer, length: number) => void): boolean {
  getdents ??= bind();
  if (getdents === null) return false;
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    for (;;) {
      const buf = buffer();
      const n = getdents(fd, buf);
      if (n === 0) return true;
      if (n < 0) throw Object.assign(new Error(`getdents64 failed: errno ${-n}`), { errno: -n, code: getSystemErrorName(n), syscall: 'getdents64' });
      each(buf, n);
    }
  } finally {
    fs.closeSync(fd);
  }
}
