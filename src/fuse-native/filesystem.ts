/**
 * A fuse-native operations object as a {@link PathFilesystem}: each method calls the user's callback-style
 * operation with fuse-native's argument order and turns the callback's arguments into the path layer's
 * return value (see ./callback.ts). Only the operations the user wrote become methods, so the path layer
 * applies its own defaults (and the kernel its fallbacks) to the rest, as libfuse 2 did for fuse-native.
 *
 * Data is not copied on the way: `read` hands the user one Buffer of the requested length and replies
 * with a view of the bytes it reported; `write` and `setxattr` hand the user a Buffer view of the request
 * bytes, valid until the callback (copy to keep, as fuse-native's README says for setxattr).
 */
import type { PathFilesystem, PathDirEntry, PathStat, Timestamp } from '../ops/path/types.ts';
import { S_IFDIR, S_IFMT } from '../ops/file-mode.ts';
import { invoke, statusOnly, succeeded, failureOf, type Finish, type FuseNativeCallback } from './callback.ts';
import { pathStatOf, pathStatfsOf, type FuseNativeStat, type FuseNativeStatfs } from './stat.ts';
import { NO_XATTR_ERRNO } from './errno.ts';

type Cb = FuseNativeCallback;

/**
 * The operations of fuse-native's README, with the argument order fuse-native really uses (where its
 * README differs, the code wins: `fsync(path, datasync, fd, cb)`). Every one is optional.
 */
export interface FuseNativeOperations {
  init?(cb: Cb): void;
  /** Not in fuse-native (which never calls it; fuse-bindings did): called once at unmount. */
  destroy?(cb: Cb): void;
  access?(path: string, mode: number, cb: Cb): void;
  statfs?(path: string, cb: Cb): void;
  getattr?(path: string, cb: Cb): void;
  fgetattr?(path: string, fd: number, cb: Cb): void;
  flush?(path: string, fd: number, cb: Cb): void;
  fsync?(path: string, datasync: number, fd: number, cb: Cb): void;
  fsyncdir?(path: string, datasync: number, fd: number, cb: Cb): void;
  readdir?(path: string, cb: Cb): void;
  truncate?(path: string, size: number, cb: Cb): void;
  ftruncate?(path: string, fd: number, size: number, cb: Cb): void;
  utimens?(path: string, atime: number, mtime: number, cb: Cb): void;
  readlink?(path: string, cb: Cb): void;
  chown?(path: string, uid: number, gid: number, cb: Cb): void;
  chmod?(path: string, mode: number, cb: Cb): void;
  mknod?(path: string, mode: number, dev: number, cb: Cb): void;
  setxattr?(path: string, name: string, value: Buffer, position: number, flags: number, cb: Cb): void;
  getxattr?(path: string, name: string, position: number, cb: Cb): void;
  listxattr?(path: string, cb: Cb): void;
  removexattr?(path: string, name: string, cb: Cb): void;
  open?(path: string, flags: number, cb: Cb): void;
  opendir?(path: string, flags: number, cb: Cb): void;
  read?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: Cb): void;
  write?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: Cb): void;
  release?(path: string, fd: number, cb: Cb): void;
  releasedir?(path: string, fd: number, cb: Cb): void;
  create?(path: string, mode: number, cb: Cb): void;
  unlink?(path: string, cb: Cb): void;
  rename?(src: string, dest: string, cb: Cb): void;
  link?(src: string, dest: string, cb: Cb): void;
  symlink?(src: string, dest: string, cb: Cb): void;
  mkdir?(path: string, mode: number, cb: Cb): void;
  rmdir?(path: string, cb: Cb): void;
}

/** What fuse-native answers for getattr when the user has none: the root as a 0755 directory, EPERM elsewhere. */
const ROOT_WITHOUT_GETATTR: PathStat = Object.freeze({ mode: S_IFDIR | 0o755, size: 4096, nlink: 1, atime: 0, mtime: 0, ctime: 0 });
const EPERM = -1;
const EINVAL = -22;
const ENOSYS = -38;

/* ---- what each callback's arguments become (shared, allocated once) ------------------------------- */

const statResult: Finish<PathStat> = (status, st) => {
  if (!succeeded(status)) throw failureOf(status);
  return pathStatOf(st as FuseNativeStat | undefined);
};
/** open/opendir/create: the fd, 0 when none is given. */
const fdResult: Finish<number> = (status, fd) => {
  if (!succeeded(status)) throw failureOf(status);
  return typeof fd === 'number' && Number.isInteger(fd) ? fd : 0;
};
const listingResult: Finish<PathDirEntry[]> = (status, names, stats) => {
  if (!succeeded(status)) throw failureOf(status);
  if (names === undefined || names === null) return [];
  if (!Array.isArray(names)) throw new TypeError('readdir must call back with an array of names');
  for (const n of names) if (typeof n !== 'string') throw new TypeError(`readdir returned a name that is not a string: ${String(n)}`);
  // fuse-native uses the stats only when there is one per name.
  if (!Array.isArray(stats) || stats.length !== names.length || stats.length === 0) return names as string[];
  return (names as string[]).map((name, i) => ({ name, stat: pathStatOf(stats[i] as FuseNativeStat) }));
};
const linkResult: Finish<string> = (status, target) => {
  if (!succeeded(status)) throw failureOf(status);
  return typeof target === 'string' ? target : '';
};
const statfsResult: Finish<ReturnType<typeof pathStatfsOf>> = (status, s) => {
  if (!succeeded(status)) throw failureOf(status);
  return pathStatfsOf(s as FuseNativeStatfs | undefined);
};
/** read/write: the first argument is the byte count (positive), 0, or a negative errno. */
const byteCount = (status: unknown, limit: number, op: string): number => {
  if (status === null || status === undefined || status === false) return 0;
  if (typeof status === 'number' && Number.isInteger(status) && status >= 0) {
    if (status > limit) throw new TypeError(`${op} reported ${status} bytes for a request of ${limit}`);
    return status;
  }
  throw failureOf(status);
};
const xattrValueResult: Finish<Uint8Array | string> = (status, value) => {
  if (!succeeded(status)) throw failureOf(status);
  if (value === null || value === undefined) throw NO_XATTR_ERRNO; // fuse-native: "no attribute stored"
  if (typeof value === 'string' || value instanceof Uint8Array) return value;
  throw new TypeError('getxattr must call back with a Buffer');
};
const xattrListResult: Finish<string[]> = (status, list) => {
  if (!succeeded(status)) throw failureOf(status);
  return Array.isArray(list) ? list.map(String) : [];
};

/**
 * Read buffers, reused. A fresh 128 KiB buffer per READ costs an mmap, 32 page faults and a munmap (glibc
 * serves allocations from 128 KiB up with mmap): 88 µs per READ against 7 µs for a view, measured on this
 * 2-core machine, which made the adapter's sequential read 4× slower than the path layer's
 * (bench/fuse-native.ts). A buffer goes back only once the user called back (fuse-native detaches it
 * then, so no user may keep it; one whose read timed out is never reused), and only once its reply is
 * written:
 *  - answered before the operation returned ({@link reuse}): at once. The session writes a synchronous
 *    handler's reply before the handler's caller returns (src/session/core.ts #dispatch → #finish → the
 *    sink's reply, which writes or copies the bytes), and the next {@link take} is in a later request's
 *    handler. This is what keeps busy polling cheap: the transport then reads and serves frames for up
 *    to 2 ms without a macrotask turn (src/session/transport.ts EpollTransport #poll), and a buffer
 *    waiting for one made a third of the READs of a sequential read allocate afresh (bench/fuse-native.ts,
 *    2 rounds: 338 of 1024).
 *  - answered later ({@link giveBack}): after a macrotask turn, since the session writes the reply in
 *    the microtasks that follow the callback.
 */
class ReadBuffers {
  /** Free buffers by exact length (the kernel asks for few distinct sizes: pages up to max_read). */
  readonly #free = new Map<number, Buffer[]>();
  /** Kept per length: enough for the kernel's concurrent READs (max_background defaults to 12). */
  static readonly PER_LENGTH = 16;

  take(length: number): Buffer {
    return this.#free.get(length)?.pop() ?? Buffer.allocUnsafeSlow(length);
  }

  /** A buffer whose reply is written by the time anyone can {@link take} again (see the class comment). */
  reuse(buf: Buffer): void {
    let list = this.#free.get(buf.length);
    if (list === undefined) {
      list = [];
      this.#free.set(buf.length, list);
    }
    if (list.length < ReadBuffers.PER_LENGTH) list.push(buf);
  }

  /** Buffers answered since the last macrotask turn: free once it comes (one setImmediate for them all). */
  #answered: Buffer[] = [];

  giveBack(buf: Buffer): void {
    if (this.#answered.push(buf) === 1) setImmediate(this.#recycle);
  }

  readonly #recycle = (): void => {
    const answered = this.#answered;
    this.#answered = [];
    for (const buf of answered) this.reuse(buf);
  };
}

/** Only functions count as operations (fuse-native's tests put `force: true` among them). */
const isFn = (v: unknown): boolean => typeof v === 'function';

/** Milliseconds since the epoch, as fuse-native passes times to utimens. */
const msOf = (t: Timestamp): number => t.sec * 1000 + Math.floor(t.nsec / 1e6);

/** A Buffer over the same bytes (no copy). */
const bufferView = (data: Uint8Array): Buffer =>
  Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/**
 * The path filesystem serving `ops`. `timeoutOf(name)` gives each operation's timeout in ms (0: none);
 * `onInitError` receives what a failing `init` reported (fuse-native ignores it and serves on).
 */
export function fuseNativeFilesystem(
  ops: FuseNativeOperations,
  timeoutOf: (operation: string) => number,
  onInitError: (err: unknown) => void,
): PathFilesystem {
  const t = (name: keyof FuseNativeOperations): number => timeoutOf(name);
  const fs: PathFilesystem = {};
  const o = ops;

  // getattr is always served, as fuse-native always registers it.
  {
    const tGetattr = t('getattr');
    const tFgetattr = t('fgetattr');
    fs.getattr = (path, fh) => {
      if (fh !== undefined && isFn(o.fgetattr)) return invoke(tFgetattr, (cb) => o.fgetattr!(path, fh, cb), statResult);
      if (!isFn(o.getattr)) {
        if (path === '/') return ROOT_WITHOUT_GETATTR;
        throw EPERM;
      }
      return invoke(tGetattr, (cb) => o.getattr!(path, cb), statResult);
    };
  }
  /** Current attributes, for the parts of setattr fuse-native passes whole (chmod's type bits, utimens). */
  const current = (path: string): PathStat | Promise<PathStat> | undefined =>
    isFn(o.getattr) ? invoke(t('getattr'), (cb) => o.getattr!(path, cb), statResult) : undefined;

  if (isFn(o.init)) {
    const tInit = t('init');
    fs.init = async () => {
      try {
        await invoke(tInit, (cb) => o.init!(cb), statusOnly);
      } catch (e) {
        onInitError(e);
      }
    };
  }
  if (isFn(o.destroy)) {
    const tDestroy = t('destroy');
    fs.destroy = () => invoke(tDestroy, (cb) => o.destroy!(cb), statusOnly);
  }
  if (isFn(o.access)) {
    const tm = t('access');
    fs.access = (path, mask) => invoke(tm, (cb) => o.access!(path, mask, cb), statusOnly);
  }
  if (isFn(o.statfs)) {
    const tm = t('statfs');
    fs.statfs = (path) => invoke(tm, (cb) => o.statfs!(path, cb), statfsResult);
  }
  if (isFn(o.flush)) {
    const tm = t('flush');
    fs.flush = (path, fh) => invoke(tm, (cb) => o.flush!(path, fh, cb), statusOnly);
  }
  if (isFn(o.fsync)) {
    const tm = t('fsync');
    fs.fsync = (path, datasync, fh) => invoke(tm, (cb) => o.fsync!(path, datasync ? 1 : 0, fh, cb), statusOnly);
  }
  if (isFn(o.fsyncdir)) {
    const tm = t('fsyncdir');
    fs.fsyncdir = (path, datasync, fh) => invoke(tm, (cb) => o.fsyncdir!(path, datasync ? 1 : 0, fh, cb), statusOnly);
  }
  if (isFn(o.readdir)) {
    const tm = t('readdir');
    fs.readdir = (path) => invoke(tm, (cb) => o.readdir!(path, cb), listingResult);
  }
  if (isFn(o.truncate) || isFn(o.ftruncate)) {
    const tTruncate = t('truncate');
    const tFtruncate = t('ftruncate');
    // libfuse 2: ftruncate for an open file (falling back to truncate), truncate for a path.
    fs.truncate = (path, size, fh) => {
      if (fh !== undefined && isFn(o.ftruncate)) return invoke(tFtruncate, (cb) => o.ftruncate!(path, fh, size, cb), statusOnly);
      if (!isFn(o.truncate)) throw ENOSYS;
      return invoke(tTruncate, (cb) => o.truncate!(path, size, cb), statusOnly);
    };
  }
  if (isFn(o.utimens)) {
    const tm = t('utimens');
    fs.utimens = async (path, atime, mtime) => {
      // A time left unchanged (UTIME_OMIT) is passed as its current value: fuse-native has no way to say "unchanged".
      const st = atime === undefined || mtime === undefined ? await current(path) : undefined;
      const keep = (which: 'atime' | 'mtime'): number => {
        const v = st?.[which];
        return v instanceof Date ? v.getTime() : v !== undefined && typeof v === 'object' && 'sec' in v ? Number(v.sec) * 1000 + Math.floor(v.nsec / 1e6) : Date.now();
      };
      const a = atime !== undefined ? msOf(atime) : keep('atime');
      const m = mtime !== undefined ? msOf(mtime) : keep('mtime');
      return invoke(tm, (cb) => o.utimens!(path, a, m, cb), statusOnly);
    };
  }
  if (isFn(o.readlink)) {
    const tm = t('readlink');
    fs.readlink = (path) => invoke(tm, (cb) => o.readlink!(path, cb), linkResult);
  }
  if (isFn(o.chown)) {
    const tm = t('chown');
    // An id left unchanged is (uid_t)-1, as libfuse 2 passes it.
    fs.chown = (path, uid, gid) => invoke(tm, (cb) => o.chown!(path, uid >>> 0, gid >>> 0, cb), statusOnly);
  }
  if (isFn(o.chmod)) {
    const tm = t('chmod');
    // The kernel sends chmod's mode with the file type bits (fs/attr.c chmod_common keeps them) and
    // fuse-native passes it on; filesystems that store `mode` as given rely on them.
    fs.chmod = async (path, mode) => {
      const st = await current(path);
      const full = ((st?.mode ?? 0) & S_IFMT) | mode;
      return invoke(tm, (cb) => o.chmod!(path, full, cb), statusOnly);
    };
  }
  if (isFn(o.mknod)) {
    const tm = t('mknod');
    fs.mknod = (path, mode, rdev) => invoke(tm, (cb) => o.mknod!(path, mode, rdev, cb), statusOnly);
  }
  if (isFn(o.setxattr)) {
    const tm = t('setxattr');
    fs.setxattr = (path, name, value, flags) => invoke(tm, (cb) => o.setxattr!(path, name, bufferView(value), 0, flags, cb), statusOnly);
  }
  if (isFn(o.getxattr)) {
    const tm = t('getxattr');
    fs.getxattr = (path, name) => invoke(tm, (cb) => o.getxattr!(path, name, 0, cb), xattrValueResult);
  }
  if (isFn(o.listxattr)) {
    const tm = t('listxattr');
    fs.listxattr = (path) => invoke(tm, (cb) => o.listxattr!(path, cb), xattrListResult);
  }
  if (isFn(o.removexattr)) {
    const tm = t('removexattr');
    fs.removexattr = (path, name) => invoke(tm, (cb) => o.removexattr!(path, name, cb), statusOnly);
  }
  if (isFn(o.open)) {
    const tm = t('open');
    fs.open = (path, flags) => invoke(tm, (cb) => o.open!(path, flags, cb), fdResult);
  }
  if (isFn(o.opendir)) {
    const tm = t('opendir');
    fs.opendir = (path, flags) => invoke(tm, (cb) => o.opendir!(path, flags, cb), fdResult);
  }
  if (isFn(o.create)) {
    const tm = t('create');
    fs.create = (path, mode) => invoke(tm, (cb) => o.create!(path, mode, cb), fdResult);
  }
  if (isFn(o.read)) {
    const tm = t('read');
    const buffers = new ReadBuffers();
    fs.read = (path, fh, length, position) => {
      // One buffer, filled by the user; the reply is a view of what it reported (no second copy).
      const buf = buffers.take(length);
      let later = false;
      const r = invoke(tm, (cb) => o.read!(path, fh, buf, length, position, cb), (status) => {
        if (later) buffers.giveBack(buf);
        const n = byteCount(status, length, 'read');
        return n === length ? buf : buf.subarray(0, n);
      });
      // A failure thrown here leaves the buffer to the collector (the user may have kept it, if it threw).
      if (r instanceof Promise) later = true;
      else buffers.reuse(buf);
      return r;
    };
  }
  if (isFn(o.write)) {
    const tm = t('write');
    fs.write = (path, fh, data, position) => {
      const length = data.byteLength;
      return invoke(tm, (cb) => o.write!(path, fh, bufferView(data), length, position, cb), (status) => byteCount(status, length, 'write'));
    };
  }
  if (isFn(o.release)) {
    const tm = t('release');
    fs.release = (path, fh) => invoke(tm, (cb) => o.release!(path, fh, cb), statusOnly);
  }
  if (isFn(o.releasedir)) {
    const tm = t('releasedir');
    fs.releasedir = (path, fh) => invoke(tm, (cb) => o.releasedir!(path, fh, cb), statusOnly);
  }
  if (isFn(o.unlink)) {
    const tm = t('unlink');
    fs.unlink = (path) => invoke(tm, (cb) => o.unlink!(path, cb), statusOnly);
  }
  if (isFn(o.rename)) {
    const tm = t('rename');
    fs.rename = (from, to, flags) => {
      // libfuse 2 has no RENAME2: the kernel turns its ENOSYS into EINVAL for rename flags (fs/fuse/dir.c fuse_rename2).
      if (flags !== 0) throw EINVAL;
      return invoke(tm, (cb) => o.rename!(from, to, cb), statusOnly);
    };
  }
  if (isFn(o.link)) {
    const tm = t('link');
    fs.link = (existing, path) => invoke(tm, (cb) => o.link!(existing, path, cb), statusOnly);
  }
  if (isFn(o.symlink)) {
    const tm = t('symlink');
    fs.symlink = (target, path) => invoke(tm, (cb) => o.symlink!(target, path, cb), statusOnly);
  }
  if (isFn(o.mkdir)) {
    const tm = t('mkdir');
    fs.mkdir = (path, mode) => invoke(tm, (cb) => o.mkdir!(path, mode, cb), statusOnly);
  }
  if (isFn(o.rmdir)) {
    const tm = t('rmdir');
    fs.rmdir = (path) => invoke(tm, (cb) => o.rmdir!(path, cb), statusOnly);
  }
  return fs;
}

