/**
 * `mountFake(fs)`: a filesystem behind the fake kernel, used through path-level calls shaped like
 * `fs.promises` (`readFile`, `writeFile`, `readdir`, `stat`, `rename`, …), with no root and no mount.
 *
 * The client does what the kernel does for those calls, with every cache off (entry and attribute
 * timeouts of 0): it walks each path with LOOKUP from the root, following symlinks as path resolution
 * does (fs/namei.c), keeps the lookup count of every node it is answered, and gives them all back with
 * BATCH_FORGET at `close()` — so a filesystem that counts lookups wrong shows it (the path layer's
 * `nodeCount` is back to 1, say). Files are created with CREATE, falling back to MKNOD + OPEN after an
 * ENOSYS as fs/fuse/dir.c fuse_atomic_open does; directories are listed with READDIRPLUS when it was
 * negotiated; FLUSH, FSYNC and ACCESS answered ENOSYS are remembered and not sent again, as the kernel's
 * `no_flush`/`no_fsync`/`no_access` do. Error replies become errors like Node's own
 * (`err.code === 'ENOENT'`, `err.errno === -2`, `err.syscall === 'open'`, `err.path`).
 */
import { constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
// src/testing.ts re-exports this module; FakeKernel is only used once mountFake is called, so the cycle is harmless.
import { FakeKernel, type FakeKernelOptions, type FakeReply } from '../testing.ts';
import type { LowLevelOperations } from '../ops/lowlevel.ts';
import type { PathFilesystem, PathLayerOptions } from '../ops/path/types.ts';
import { pathOperations } from '../ops/path/layer.ts';
import { hasFlag, type Negotiated } from '../protocol/negotiated.ts';
import { ROOT_ID } from '../protocol/constants.ts';
import type { U64 } from '../protocol/u64.ts';
import { Errno, TsfuseError, errnoName } from '../errors.ts';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_IFIFO, S_IFSOCK, S_IFBLK, S_IFCHR } from '../ops/file-mode.ts';
import { build, type DataLike, type TimeArg } from './builders.ts';
import { reply, type AttrFields, type DirentFields, type EntryFields, type StatfsFields } from './replies.ts';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOCTTY, O_DIRECTORY, O_NOFOLLOW, O_SYNC } = fsConstants;
const O_ACCMODE = 3;
const { EBUSY, ELOOP } = osConstants.errno;
/** fs/namei.c MAXSYMLINKS. */
const MAX_SYMLINKS = 40;
/** Lists longer than this many READDIR rounds are a filesystem that never ends its listing. */
const MAX_READDIR_ROUNDS = 100_000;
/** Forget records per BATCH_FORGET, as fs/fuse/dev.c fuse_read_batch_forget fills one page at most. */
const FORGETS_PER_BATCH = 255;
const SYSTEM_ERRORS = getSystemErrorMap();

/** An error like those of `fs.promises`: `code`, a negative `errno`, `syscall`, `path` (and `dest`). */
export interface FakeSystemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  readonly dest?: string;
}

function systemError(errno: number, syscall: string, path?: string, dest?: string): FakeSystemError {
  const [code, description] = SYSTEM_ERRORS.get(-errno) ?? [errnoName(errno), 'unknown error'];
  const where = path === undefined ? '' : dest === undefined ? ` '${path}'` : ` '${path}' -> '${dest}'`;
  const e = new Error(`${code}: ${description}, ${syscall}${where}`) as Error & Record<string, unknown>;
  e['errno'] = -errno;
  e['code'] = code;
  e['syscall'] = syscall;
  if (path !== undefined) e['path'] = path;
  if (dest !== undefined) e['dest'] = dest;
  return e as unknown as FakeSystemError;
}

/** File attributes as `fs.Stats` shows them, from the filesystem's fuse_attr. 64-bit fields are bigints above 2^53 − 1. */
export class FakeStats {
  readonly dev = 0;
  readonly ino: U64;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly size: U64;
  readonly blksize: number;
  readonly blocks: U64;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** Exact times, in nanoseconds since the epoch. */
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly atime: Date;
  readonly mtime: Date;
  readonly ctime: Date;

  constructor(a: AttrFields) {
    this.ino = a.ino;
    this.mode = a.mode;
    this.nlink = a.nlink;
    this.uid = a.uid;
    this.gid = a.gid;
    this.rdev = a.rdev;
    this.size = a.size;
    this.blksize = a.blksize;
    this.blocks = a.blocks;
    this.atimeNs = BigInt(a.atime) * 1_000_000_000n + BigInt(a.atimensec);
    this.mtimeNs = BigInt(a.mtime) * 1_000_000_000n + BigInt(a.mtimensec);
    this.ctimeNs = BigInt(a.ctime) * 1_000_000_000n + BigInt(a.ctimensec);
    this.atimeMs = Number(a.atime) * 1000 + a.atimensec / 1e6;
    this.mtimeMs = Number(a.mtime) * 1000 + a.mtimensec / 1e6;
    this.ctimeMs = Number(a.ctime) * 1000 + a.ctimensec / 1e6;
    this.atime = new Date(this.atimeMs);
    this.mtime = new Date(this.mtimeMs);
    this.ctime = new Date(this.ctimeMs);
  }

  isFile(): boolean { return (this.mode & S_IFMT) === S_IFREG; }
  isDirectory(): boolean { return (this.mode & S_IFMT) === S_IFDIR; }
  isSymbolicLink(): boolean { return (this.mode & S_IFMT) === S_IFLNK; }
  isFIFO(): boolean { return (this.mode & S_IFMT) === S_IFIFO; }
  isSocket(): boolean { return (this.mode & S_IFMT) === S_IFSOCK; }
  isBlockDevice(): boolean { return (this.mode & S_IFMT) === S_IFBLK; }
  isCharacterDevice(): boolean { return (this.mode & S_IFMT) === S_IFCHR; }
}

export interface MountFakeOptions extends FakeKernelOptions {
  /**
   * What `fs` is. Defaults to `'lowlevel'` when it has a method only the low-level interface has
   * (`lookup`, `forget`, `setattr`, `readdirplus`, `statx`, `bmap`, `syncfs`, `ready`) or is the result of
   * `pathOperations()`, else `'path'` (then wrapped with `pathOperations(fs, pathLayer)`).
   */
  readonly kind?: 'lowlevel' | 'path';
  /** Options of the path layer, for a `PathFilesystem`. Defaults to none. */
  readonly pathLayer?: PathLayerOptions;
  /** The caller's uid in every request. Defaults to 0 (root). */
  readonly uid?: number;
  /** The caller's gid. Defaults to 0. */
  readonly gid?: number;
  /** The caller's pid. Defaults to this process's pid. */
  readonly pid?: number;
  /** The caller's umask, applied to the modes of mkdir, create and mknod as the kernel does. Defaults to 0o022. */
  readonly umask?: number;
  /** How long to wait for each reply before failing. Defaults to 2000 ms. */
  readonly timeoutMs?: number;
}

/** A file opened by {@link FakeMount.open}: read, write, stat and close it like an `fs.promises` FileHandle. */
export interface FakeFileHandle extends AsyncDisposable {
  /** The path it was opened by. */
  readonly path: string;
  /** The node id of the open file. */
  readonly nodeid: U64;
  /** The file handle the filesystem chose. */
  readonly fh: U64;
  /** The open(2) flags. */
  readonly flags: number;
  /** Up to `length` bytes (defaults to 64 KiB) at `position`, or at the file position (which then advances). Fewer at the end of the file. */
  read(length?: number, position?: number): Promise<Buffer>;
  /** Writes all of `data` at `position`, or at the file position (the end of the file with O_APPEND); returns bytes written. */
  write(data: DataLike, position?: number): Promise<number>;
  /** fstat(2): GETATTR with this handle. */
  stat(): Promise<FakeStats>;
  /** ftruncate(2). */
  truncate(length?: number): Promise<void>;
  /** fsync(2) / fdatasync(2). */
  sync(datasync?: boolean): Promise<void>;
  /** FLUSH, then RELEASE. Idempotent. */
  close(): Promise<void>;
}

interface Resolved {
  readonly nodeid: U64;
  /** The lookup answer; absent for the root, which is never looked up. */
  readonly entry?: EntryFields;
}

const isLowLevel = (fs: object): boolean =>
  'nodeCount' in fs || ['lookup', 'forget', 'setattr', 'readdirplus', 'statx', 'bmap', 'syncfs', 'ready'].some((m) => typeof (fs as Record<string, unknown>)[m] === 'function');

const FLAG_STRINGS: Readonly<Record<string, number>> = {
  r: O_RDONLY, rs: O_RDONLY | O_SYNC, sr: O_RDONLY | O_SYNC, 'r+': O_RDWR, 'rs+': O_RDWR | O_SYNC, 'sr+': O_RDWR | O_SYNC,
  w: O_TRUNC | O_CREAT | O_WRONLY, wx: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL, xw: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  'w+': O_TRUNC | O_CREAT | O_RDWR, 'wx+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL, 'xw+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  a: O_APPEND | O_CREAT | O_WRONLY, ax: O_APPEND | O_CREAT | O_WRONLY | O_EXCL, xa: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  as: O_APPEND | O_CREAT | O_WRONLY | O_SYNC, sa: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  'a+': O_APPEND | O_CREAT | O_RDWR, 'ax+': O_APPEND | O_CREAT | O_RDWR | O_EXCL, 'xa+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  'as+': O_APPEND | O_CREAT | O_RDWR | O_SYNC, 'sa+': O_APPEND | O_CREAT | O_RDWR | O_SYNC,
};

function openFlags(flags: string | number): number {
  if (typeof flags === 'number' && Number.isInteger(flags) && flags >= 0) return flags;
  const n = typeof flags === 'string' ? FLAG_STRINGS[flags] : undefined;
  if (n === undefined) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `not open flags: ${JSON.stringify(flags)} (a number, or 'r', 'r+', 'w', 'wx', 'w+', 'a', 'a+', …)`);
  return n;
}

/** Path components; "" and "/" are the root. */
function components(path: string): string[] {
  if (typeof path !== 'string') throw new TsfuseError('ERR_INVALID_ARG_VALUE', `a path must be a string, got ${typeof path}`);
  if (path.includes('\0')) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `a path cannot hold a NUL byte: ${JSON.stringify(path)}`);
  return path.split('/').filter((c) => c !== '');
}

const typeOf = (r: Resolved): number => (r.entry === undefined ? S_IFDIR : r.entry.attr.mode & S_IFMT);

/** The path-level client {@link mountFake} returns. */
export class FakeMount implements AsyncDisposable {
  /** The fake kernel underneath, for raw requests (`kernel.request('LOOKUP', 1, build.lookup('x'))`). */
  readonly kernel: FakeKernel;
  /** The low-level operations being driven (for a path filesystem, the `pathOperations()` result, whose `nodeCount` shows leaks). */
  readonly ops: LowLevelOperations;
  /** What INIT agreed. */
  readonly negotiated: Negotiated;
  readonly #options: MountFakeOptions;
  /** Lookup references the kernel side holds, by node id. */
  readonly #lookups = new Map<U64, number>();
  readonly #open = new Set<FakeFileHandle>();
  /** ENOSYS answers the kernel remembers (fuse_conn no_create, no_flush, no_fsync, no_access, no_rename2). */
  readonly #refused = new Set<'CREATE' | 'FLUSH' | 'FSYNC' | 'FSYNCDIR' | 'ACCESS' | 'RENAME2'>();
  #closed = false;

  /** Use {@link mountFake}. */
  constructor(kernel: FakeKernel, ops: LowLevelOperations, negotiated: Negotiated, options: MountFakeOptions) {
    this.kernel = kernel;
    this.ops = ops;
    this.negotiated = negotiated;
    this.#options = options;
  }

  /** Lookup references held in all, the sum over nodes (what `close()` forgets). */
  get lookupCount(): number {
    let n = 0;
    for (const c of this.#lookups.values()) n += c;
    return n;
  }

  /** The lookup references held on one node. */
  lookupsOf(nodeid: U64): number {
    return this.#lookups.get(nodeid) ?? 0;
  }

  /* ---- requests ------------------------------------------------------------------------------- */

  /** One request; error replies are returned, not thrown. */
  async #raw(op: string, nodeid: U64, body: Buffer): Promise<FakeReply> {
    if (this.#closed) throw new TsfuseError('ERR_INVALID_STATE', 'the fake mount is closed');
    const o = this.#options;
    return await this.kernel.request(op, nodeid, body, { uid: o.uid ?? 0, gid: o.gid ?? 0, pid: o.pid ?? process.pid, timeoutMs: o.timeoutMs ?? 2000 });
  }

  /** One request; an error reply is thrown as a Node-style error for `syscall` on `path`. */
  async #req(op: string, nodeid: U64, body: Buffer, syscall: string, path?: string, dest?: string): Promise<Buffer> {
    const r = await this.#raw(op, nodeid, body);
    if (r.error !== 0) throw systemError(r.error, syscall, path, dest);
    return r.body;
  }

  /** Counts the lookup reference an entry reply gives (fs/fuse/inode.c fuse_iget: nlookup++). */
  #took(entry: EntryFields): EntryFields {
    if (entry.nodeid !== 0) this.#lookups.set(entry.nodeid, (this.#lookups.get(entry.nodeid) ?? 0) + 1);
    return entry;
  }

  /** LOOKUP of one name; undefined for ENOENT or a negative entry. */
  async #lookup(parent: U64, name: string, syscall: string, path: string): Promise<EntryFields | undefined> {
    const r = await this.#raw('LOOKUP', parent, build.lookup(name));
    if (r.error === Errno.ENOENT) return undefined;
    if (r.error !== 0) throw systemError(r.error, syscall, path);
    const entry = this.#took(reply.entry(r.body));
    return entry.nodeid === 0 ? undefined : entry;
  }

  /**
   * Path resolution (fs/namei.c link_path_walk): a LOOKUP per component from the root, ".." from the
   * directories walked (the kernel answers it from its dcache), symlinks followed (READLINK) except a
   * final one when `follow` is false, at most 40 of them.
   */
  async #walk(path: string, follow: boolean, syscall: string, shown = path): Promise<Resolved> {
    const queue = components(path);
    const dirs: Resolved[] = [{ nodeid: ROOT_ID }];
    let current: Resolved = dirs[0]!;
    let links = 0;
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (typeOf(current) !== S_IFDIR) throw systemError(Errno.ENOTDIR, syscall, shown);
      if (name === '.') continue;
      if (name === '..') {
        if (dirs.length > 1) dirs.pop();
        current = dirs[dirs.length - 1]!;
        continue;
      }
      const entry = await this.#lookup(current.nodeid, name, syscall, shown);
      if (entry === undefined) throw systemError(Errno.ENOENT, syscall, shown);
      if ((entry.attr.mode & S_IFMT) === S_IFLNK && (queue.length > 0 || follow)) {
        if (++links > MAX_SYMLINKS) throw systemError(ELOOP, syscall, shown);
        const target = reply.data(await this.#req('READLINK', entry.nodeid, build.readlink(), syscall, shown)).toString();
        if (target === '') throw systemError(Errno.ENOENT, syscall, shown);
        if (target.startsWith('/')) dirs.length = 1;
        queue.unshift(...components(target));
        current = dirs[dirs.length - 1]!;
        continue;
      }
      current = { nodeid: entry.nodeid, entry };
      if (queue.length > 0) dirs.push(current);
    }
    return current;
  }

  /** The directory holding the last component of `path` (followed), and that component. */
  async #walkParent(path: string, syscall: string, rootErrno: number): Promise<{ parent: U64; name: string }> {
    const parts = components(path);
    const name = parts.pop();
    if (name === undefined || name === '.' || name === '..') throw systemError(rootErrno, syscall, path);
    const dir = await this.#walk(parts.join('/'), true, syscall, path);
    if (typeOf(dir) !== S_IFDIR) throw systemError(Errno.ENOTDIR, syscall, path);
    return { parent: dir.nodeid, name };
  }

  async #getattr(nodeid: U64, syscall: string, path?: string, fh?: U64): Promise<AttrFields> {
    return reply.attr(await this.#req('GETATTR', nodeid, build.getattr(fh === undefined ? {} : { fh }), syscall, path)).attr;
  }

  /** Sends a request the kernel stops sending once it is answered ENOSYS (then: success). */
  async #unlessRefused(op: 'FLUSH' | 'FSYNC' | 'FSYNCDIR' | 'ACCESS', nodeid: U64, body: Buffer, syscall: string, path?: string): Promise<void> {
    if (this.#refused.has(op)) return;
    const r = await this.#raw(op, nodeid, body);
    if (r.error === Errno.ENOSYS) this.#refused.add(op);
    else if (r.error !== 0) throw systemError(r.error, syscall, path);
  }

  #mode(mode: number): number {
    return mode & ~(this.#options.umask ?? 0o022);
  }

  #transferSize(): number {
    return Math.max(4096, this.negotiated.maxPages * 4096);
  }

  /* ---- files ---------------------------------------------------------------------------------- */

  /**
   * open(2) with `flags` ('r', 'w', 'a+', …, or numeric O_* flags) and, when creating, `mode`
   * (defaults to 0o666, the umask applied).
   */
  async open(path: string, flags: string | number = 'r', mode = 0o666): Promise<FakeFileHandle> {
    const f = openFlags(flags);
    let node: Resolved;
    if ((f & O_CREAT) !== 0) {
      const { parent, name } = await this.#walkParent(path, 'open', Errno.EISDIR);
      const entry = await this.#lookup(parent, name, 'open', path);
      if (entry === undefined) return await this.#create(parent, name, path, f, mode);
      if ((f & O_EXCL) !== 0) throw systemError(Errno.EEXIST, 'open', path);
      node = (entry.attr.mode & S_IFMT) === S_IFLNK ? await this.#walk(path, true, 'open') : { nodeid: entry.nodeid, entry };
    } else {
      node = await this.#walk(path, (f & O_NOFOLLOW) === 0, 'open');
      if ((f & O_NOFOLLOW) !== 0 && typeOf(node) === S_IFLNK) throw systemError(ELOOP, 'open', path);
    }
    if (typeOf(node) === S_IFDIR && (f & O_ACCMODE) !== O_RDONLY) throw systemError(Errno.EISDIR, 'open', path);
    if (typeOf(node) !== S_IFDIR && (f & O_DIRECTORY) !== 0) throw systemError(Errno.ENOTDIR, 'open', path);
    return await this.#openNode(node.nodeid, path, f, typeOf(node) === S_IFDIR);
  }

  /** OPEN (OPENDIR for a directory) as fs/fuse/file.c fuse_send_open sends it, then the VFS's truncate for O_TRUNC. */
  async #openNode(nodeid: U64, path: string, flags: number, dir: boolean): Promise<FakeFileHandle> {
    const atomicTrunc = hasFlag(this.negotiated, 'ATOMIC_O_TRUNC');
    let sent = flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
    if (!atomicTrunc) sent &= ~O_TRUNC;
    const { fh } = reply.open(await this.#req(dir ? 'OPENDIR' : 'OPEN', nodeid, dir ? build.opendir(sent) : build.open(sent), 'open', path));
    const handle = this.#handle(nodeid, fh, flags, path, dir);
    // fs/namei.c handle_truncate: without ATOMIC_O_TRUNC the truncation is a SETATTR on the open file.
    if ((flags & O_TRUNC) !== 0 && !atomicTrunc && !dir && (flags & O_ACCMODE) !== O_RDONLY) {
      try { await handle.truncate(0); } catch (e) { await handle.close().catch(() => {}); throw e; }
    }
    return handle;
  }

  /** CREATE, or MKNOD + OPEN once CREATE was answered ENOSYS (fs/fuse/dir.c fuse_atomic_open → fuse_mknod). */
  async #create(parent: U64, name: string, path: string, flags: number, mode: number): Promise<FakeFileHandle> {
    const fileMode = S_IFREG | this.#mode(mode & 0o7777);
    const umask = this.#options.umask ?? 0o022;
    if (!this.#refused.has('CREATE')) {
      const r = await this.#raw('CREATE', parent, build.create(name, { flags: flags & ~O_NOCTTY, mode: fileMode, umask }));
      if (r.error === 0) {
        const { entry, open } = reply.create(r.body);
        this.#took(entry);
        if (entry.nodeid === 0) throw new TsfuseError('ERR_FUSE_PROTOCOL', `CREATE of ${path} answered node id 0`);
        return this.#handle(entry.nodeid, open.fh, flags, path, false);
      }
      if (r.error !== Errno.ENOSYS) throw systemError(r.error, 'open', path);
      this.#refused.add('CREATE');
    }
    const entry = this.#took(reply.entry(await this.#req('MKNOD', parent, build.mknod(name, { mode: fileMode, umask }), 'open', path)));
    return await this.#openNode(entry.nodeid, path, flags & ~O_TRUNC, false);
  }

  #handle(nodeid: U64, fh: U64, flags: number, path: string, dir: boolean): FakeFileHandle {
    let position = 0;
    let closed = false;
    const usable = (syscall: string): void => { if (closed) throw systemError(Errno.EBADF, syscall); };
    const handle: FakeFileHandle = {
      path, nodeid, fh, flags,
      read: async (length = 65536, at?: number) => {
        usable('read');
        if (dir) throw systemError(Errno.EISDIR, 'read');
        if ((flags & O_ACCMODE) === O_WRONLY) throw systemError(Errno.EBADF, 'read');
        const chunks: Buffer[] = [];
        let offset = at ?? position;
        let left = length;
        while (left > 0) {
          const size = Math.min(left, this.#transferSize());
          const data = reply.data(await this.#req('READ', nodeid, build.read({ fh, offset, size, flags }), 'read'));
          chunks.push(data);
          offset += data.length;
          left -= data.length;
          if (data.length < size) break; // a short read is the end of the file
        }
        if (at === undefined) position = offset;
        return Buffer.concat(chunks);
      },
      write: async (data: DataLike, at?: number) => {
        usable('write');
        if ((flags & O_ACCMODE) === O_RDONLY || dir) throw systemError(Errno.EBADF, 'write');
        const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        // O_APPEND: the kernel refreshes the size first (fs/fuse/file.c fuse_cache_write_iter → fuse_update_attributes).
        let offset = (flags & O_APPEND) !== 0 ? Number((await this.#getattr(nodeid, 'write', undefined, fh)).size) : at ?? position;
        let done = 0;
        while (done < bytes.length) {
          const part = bytes.subarray(done, done + this.negotiated.maxWrite);
          const { size } = reply.write(await this.#req('WRITE', nodeid, build.write({ fh, offset, data: part, flags }), 'write'));
          if (size > part.length) throw new TsfuseError('ERR_FUSE_PROTOCOL', `WRITE of ${part.length} bytes answered ${size}`);
          done += size;
          offset += size;
          if (size < part.length) break;
        }
        if (at === undefined || (flags & O_APPEND) !== 0) position = offset;
        return done;
      },
      stat: async () => { usable('fstat'); return new FakeStats(await this.#getattr(nodeid, 'fstat', undefined, fh)); },
      truncate: async (length = 0) => {
        usable('ftruncate');
        await this.#req('SETATTR', nodeid, build.setattr({ size: length, fh }), 'ftruncate');
      },
      sync: async (datasync = false) => {
        usable('fsync');
        await this.#unlessRefused(dir ? 'FSYNCDIR' : 'FSYNC', nodeid, build.fsync({ fh, datasync }), 'fsync');
      },
      close: async () => {
        if (closed) return;
        closed = true;
        this.#open.delete(handle);
        try {
          // fs/fuse/file.c fuse_flush on every close(2), then fuse_release on the last one.
          if (!dir) await this.#unlessRefused('FLUSH', nodeid, build.flush({ fh }), 'close');
        } finally {
          await this.#req(dir ? 'RELEASEDIR' : 'RELEASE', nodeid, build.release({ fh, flags }), 'close');
        }
      },
      [Symbol.asyncDispose]: () => handle.close(),
    };
    this.#open.add(handle);
    return handle;
  }

  /** The whole file (following symlinks); a string with `encoding`. */
  async readFile(path: string): Promise<Buffer>;
  async readFile(path: string, encoding: BufferEncoding | { readonly encoding: BufferEncoding }): Promise<string>;
  async readFile(path: string, encoding?: BufferEncoding | { readonly encoding?: BufferEncoding }): Promise<Buffer | string> {
    const node = await this.#walk(path, true, 'open');
    if (typeOf(node) === S_IFDIR) throw systemError(Errno.EISDIR, 'read');
    const h = await this.#openNode(node.nodeid, path, O_RDONLY, false);
    const chunks: Buffer[] = [];
    try {
      for (;;) {
        const data = await h.read(this.#transferSize());
        chunks.push(data);
        if (data.length < this.#transferSize()) break;
      }
    } finally {
      await h.close();
    }
    const data = Buffer.concat(chunks);
    const enc = typeof encoding === 'string' ? encoding : encoding?.encoding;
    return enc === undefined ? data : data.toString(enc);
  }

  /** Creates or truncates the file and writes `data`. `mode` (defaults to 0o666) applies to a new file. */
  async writeFile(path: string, data: DataLike, options: { readonly mode?: number; readonly flag?: string | number } = {}): Promise<void> {
    const h = await this.open(path, options.flag ?? 'w', options.mode ?? 0o666);
    try { await h.write(data); } finally { await h.close(); }
  }

  /** Appends `data`, creating the file when absent. */
  async appendFile(path: string, data: DataLike, options: { readonly mode?: number } = {}): Promise<void> {
    await this.writeFile(path, data, { mode: options.mode ?? 0o666, flag: 'a' });
  }

  /* ---- directories ------------------------------------------------------------------------------ */

  /** The names in a directory, without "." and "..", in the filesystem's order. */
  async readdir(path: string): Promise<string[]> {
    const node = await this.#walk(path, true, 'scandir');
    if (typeOf(node) !== S_IFDIR) throw systemError(Errno.ENOTDIR, 'scandir', path);
    const { fh } = reply.open(await this.#req('OPENDIR', node.nodeid, build.opendir(O_RDONLY | O_DIRECTORY), 'scandir', path));
    const plus = hasFlag(this.negotiated, 'DO_READDIRPLUS');
    const names: string[] = [];
    try {
      let offset: U64 = 0;
      for (let round = 0; ; round++) {
        if (round === MAX_READDIR_ROUNDS) throw new TsfuseError('ERR_FUSE_PROTOCOL', `readdir of ${path}: the listing did not end after ${round} rounds`);
        const args = { fh, offset, size: 4096 };
        const body = await this.#req(plus ? 'READDIRPLUS' : 'READDIR', node.nodeid, plus ? build.readdirplus(args) : build.readdir(args), 'scandir', path);
        const list: (DirentFields & { entry?: EntryFields })[] = plus ? reply.direntsPlus(body) : reply.dirents(body);
        if (list.length === 0) break;
        for (const d of list) {
          if (d.name === '.' || d.name === '..') continue;
          // fs/fuse/readdir.c fuse_direntplus_link: every entry but "." and ".." is a lookup reference.
          if (d.entry !== undefined) this.#took(d.entry);
          names.push(d.name);
        }
        offset = list[list.length - 1]!.off;
      }
    } finally {
      await this.#req('RELEASEDIR', node.nodeid, build.release({ fh, flags: O_RDONLY | O_DIRECTORY }), 'scandir', path);
    }
    return names;
  }

  /**
   * mkdir(2) with `mode` (defaults to 0o777, the umask applied); `recursive` creates missing parents and
   * accepts an existing directory, returning the first directory created (or undefined), like Node.
   */
  async mkdir(path: string, options: number | { readonly mode?: number; readonly recursive?: boolean } = {}): Promise<string | undefined> {
    const o = typeof options === 'number' ? { mode: options } : options;
    const mode = o.mode ?? 0o777;
    if (!o.recursive) { await this.#mkdirOne(path, mode); return undefined; }
    const parts = components(path);
    let first: string | undefined;
    for (let i = 1; i <= parts.length; i++) {
      const sub = `/${parts.slice(0, i).join('/')}`;
      try {
        await this.#mkdirOne(sub, mode);
        first ??= sub;
      } catch (e) {
        if ((e as FakeSystemError).code !== 'EEXIST') throw e;
        if (!(await this.stat(sub)).isDirectory()) throw systemError(Errno.ENOTDIR, 'mkdir', path);
      }
    }
    return first;
  }

  async #mkdirOne(path: string, mode: number): Promise<void> {
    const { parent, name } = await this.#walkParent(path, 'mkdir', Errno.EEXIST);
    const umask = this.#options.umask ?? 0o022;
    this.#took(reply.entry(await this.#req('MKDIR', parent, build.mkdir(name, { mode: this.#mode(mode & 0o7777), umask }), 'mkdir', path)));
  }

  async rmdir(path: string): Promise<void> {
    const { parent, name } = await this.#walkParent(path, 'rmdir', EBUSY);
    await this.#req('RMDIR', parent, build.rmdir(name), 'rmdir', path);
  }

  /* ---- names ---------------------------------------------------------------------------------- */

  async unlink(path: string): Promise<void> {
    const { parent, name } = await this.#walkParent(path, 'unlink', Errno.EISDIR);
    await this.#req('UNLINK', parent, build.unlink(name), 'unlink', path);
  }

  /**
   * rename(2), or renameat2(2) with `flags` (RENAME_NOREPLACE 1, RENAME_EXCHANGE 2): RENAME without
   * flags, RENAME2 with them (fs/fuse/dir.c fuse_rename2; an ENOSYS there is EINVAL from then on).
   */
  async rename(from: string, to: string, flags = 0): Promise<void> {
    const a = await this.#walkParent(from, 'rename', EBUSY);
    const b = await this.#walkParent(to, 'rename', EBUSY);
    if (flags === 0) { await this.#req('RENAME', a.parent, build.rename(a.name, b.parent, b.name), 'rename', from, to); return; }
    if (this.#refused.has('RENAME2') || this.negotiated.minor < 23) throw systemError(Errno.EINVAL, 'rename', from, to);
    const r = await this.#raw('RENAME2', a.parent, build.rename2(a.name, b.parent, b.name, flags));
    if (r.error === Errno.ENOSYS) { this.#refused.add('RENAME2'); throw systemError(Errno.EINVAL, 'rename', from, to); }
    if (r.error !== 0) throw systemError(r.error, 'rename', from, to);
  }

  /** A symlink at `path` pointing to `target`. */
  async symlink(target: string, path: string): Promise<void> {
    const { parent, name } = await this.#walkParent(path, 'symlink', Errno.EEXIST);
    this.#took(reply.entry(await this.#req('SYMLINK', parent, build.symlink(name, target), 'symlink', target, path)));
  }

  async readlink(path: string): Promise<string> {
    const node = await this.#walk(path, false, 'readlink');
    // fs/namei.c vfs_readlink: not a symlink is EINVAL without asking the filesystem.
    if (typeOf(node) !== S_IFLNK) throw systemError(Errno.EINVAL, 'readlink', path);
    return reply.data(await this.#req('READLINK', node.nodeid, build.readlink(), 'readlink', path)).toString();
  }

  /** A hard link `newPath` to `existingPath` (not following a final symlink, as link(2)). */
  async link(existingPath: string, newPath: string): Promise<void> {
    const node = await this.#walk(existingPath, false, 'link');
    // fs/namei.c vfs_link: directories cannot be linked (EPERM), before the filesystem is asked.
    if (typeOf(node) === S_IFDIR) throw systemError(Errno.EPERM, 'link', existingPath, newPath);
    const { parent, name } = await this.#walkParent(newPath, 'link', Errno.EEXIST);
    this.#took(reply.entry(await this.#req('LINK', parent, build.link(node.nodeid, name), 'link', existingPath, newPath)));
  }

  /* ---- attributes ------------------------------------------------------------------------------- */

  /** stat(2): follows a final symlink. */
  async stat(path: string): Promise<FakeStats> {
    const node = await this.#walk(path, true, 'stat');
    return new FakeStats(await this.#getattr(node.nodeid, 'stat', path));
  }

  /** lstat(2): a final symlink itself. */
  async lstat(path: string): Promise<FakeStats> {
    const node = await this.#walk(path, false, 'lstat');
    return new FakeStats(await this.#getattr(node.nodeid, 'lstat', path));
  }

  /** chmod(2): the permission bits of `mode` (07777); the kernel sends them with the file type. */
  async chmod(path: string, mode: number): Promise<void> {
    const node = await this.#walk(path, true, 'chmod');
    const type = node.entry === undefined ? (await this.#getattr(node.nodeid, 'chmod', path)).mode & S_IFMT : typeOf(node);
    await this.#req('SETATTR', node.nodeid, build.setattr({ mode: type | (mode & 0o7777) }), 'chmod', path);
  }

  /** chown(2); -1 leaves one unchanged. */
  async chown(path: string, uid: number, gid: number): Promise<void> {
    const node = await this.#walk(path, true, 'chown');
    await this.#req('SETATTR', node.nodeid, build.setattr({ ...(uid === -1 ? {} : { uid }), ...(gid === -1 ? {} : { gid }) }), 'chown', path);
  }

  /** truncate(2) to `length` (defaults to 0). */
  async truncate(path: string, length = 0): Promise<void> {
    const node = await this.#walk(path, true, 'open');
    if (typeOf(node) === S_IFDIR) throw systemError(Errno.EISDIR, 'open', path);
    await this.#req('SETATTR', node.nodeid, build.setattr({ size: length }), 'ftruncate', path);
  }

  /** utimes: seconds (fractions allowed), a Date, `{ sec, nsec }`, bigint nanoseconds, or `'now'`. */
  async utimes(path: string, atime: TimeArg | 'now', mtime: TimeArg | 'now'): Promise<void> {
    const node = await this.#walk(path, true, 'utime');
    await this.#req('SETATTR', node.nodeid, build.setattr({ atime, mtime }), 'utime', path);
  }

  /** access(2) with R_OK 4 / W_OK 2 / X_OK 1 (defaults to F_OK 0: existence). */
  async access(path: string, mode = 0): Promise<void> {
    const node = await this.#walk(path, true, 'access');
    if (mode !== 0) await this.#unlessRefused('ACCESS', node.nodeid, build.access(mode), 'access', path);
  }

  async statfs(path = '/'): Promise<StatfsFields> {
    const node = await this.#walk(path, true, 'statfs');
    return reply.statfs(await this.#req('STATFS', node.nodeid, build.statfs(), 'statfs', path));
  }

  /* ---- extended attributes ---------------------------------------------------------------------- */

  /** getxattr(2): the size probe, then the value (again if it grew in between, as getxattr callers do). */
  async getxattr(path: string, name: string): Promise<Buffer> {
    const node = await this.#walk(path, true, 'getxattr');
    for (let attempt = 0; ; attempt++) {
      const { size } = reply.xattrSize(await this.#req('GETXATTR', node.nodeid, build.getxattr(name, 0), 'getxattr', path));
      if (size === 0) return Buffer.alloc(0);
      const r = await this.#raw('GETXATTR', node.nodeid, build.getxattr(name, size));
      if (r.error === Errno.ERANGE && attempt < 3) continue;
      if (r.error !== 0) throw systemError(r.error, 'getxattr', path);
      return reply.data(r.body);
    }
  }

  /** listxattr(2): the names. */
  async listxattr(path: string): Promise<string[]> {
    const node = await this.#walk(path, true, 'listxattr');
    for (let attempt = 0; ; attempt++) {
      const { size } = reply.xattrSize(await this.#req('LISTXATTR', node.nodeid, build.listxattr(0), 'listxattr', path));
      if (size === 0) return [];
      const r = await this.#raw('LISTXATTR', node.nodeid, build.listxattr(size));
      if (r.error === Errno.ERANGE && attempt < 3) continue;
      if (r.error !== 0) throw systemError(r.error, 'listxattr', path);
      return reply.xattrNames(r.body);
    }
  }

  /** setxattr(2) with XATTR_CREATE 1 / XATTR_REPLACE 2 `flags`, in the form INIT agreed (SETXATTR_EXT or not). */
  async setxattr(path: string, name: string, value: DataLike, flags = 0): Promise<void> {
    const node = await this.#walk(path, true, 'setxattr');
    await this.#req('SETXATTR', node.nodeid, build.setxattr(name, value, { flags, ext: this.negotiated.setxattrExt }), 'setxattr', path);
  }

  async removexattr(path: string, name: string): Promise<void> {
    const node = await this.#walk(path, true, 'removexattr');
    await this.#req('REMOVEXATTR', node.nodeid, build.removexattr(name), 'removexattr', path);
  }

  /* ---- lifecycle -------------------------------------------------------------------------------- */

  /**
   * Gives back every lookup reference held (BATCH_FORGET), as the kernel does when it drops its caches
   * (`echo 2 > /proc/sys/vm/drop_caches`). Open files keep their nodes in the kernel, and here too.
   */
  async forgetAll(): Promise<void> {
    const items = [...this.#lookups].map(([nodeid, nlookup]) => ({ nodeid, nlookup }));
    this.#lookups.clear();
    for (let i = 0; i < items.length; i += FORGETS_PER_BATCH) {
      const unique = this.kernel.nextUnique();
      const frame = this.kernel.frame('BATCH_FORGET', 0, build.batchForget(items.slice(i, i + FORGETS_PER_BATCH)), { unique });
      await this.kernel.send(frame, unique, { expectNoReply: true, timeoutMs: 0 });
    }
  }

  /**
   * Closes open files, forgets every lookup reference, calls the filesystem's `destroy`, and throws if
   * the fake kernel saw a stray or duplicate reply. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      for (const h of [...this.#open]) await h.close().catch(() => {});
      await this.forgetAll();
    } finally {
      this.#closed = true;
      await this.kernel.core.shutdown();
    }
    // A reply to a request that expects none would arrive after its frame was handled.
    await new Promise((resolve) => setImmediate(resolve));
    this.kernel.check();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * A filesystem behind a fake kernel, INIT done, as a path-level client: `const m = await mountFake(fs)`,
 * then `await m.writeFile('/a', 'x')`, `await m.readdir('/')`, … and `await m.close()` (or `await using`).
 * `fs` is a low-level operations object, or a `PathFilesystem` (wrapped with `pathOperations`); see
 * {@link MountFakeOptions.kind}.
 */
export async function mountFake(fs: LowLevelOperations | PathFilesystem, options: MountFakeOptions = {}): Promise<FakeMount> {
  if (fs === null || typeof fs !== 'object') throw new TsfuseError('ERR_INVALID_ARG_VALUE', 'mountFake needs a filesystem object');
  const kind = options.kind ?? (isLowLevel(fs) ? 'lowlevel' : 'path');
  const ops = kind === 'lowlevel' ? fs as LowLevelOperations : pathOperations(fs as PathFilesystem, options.pathLayer);
  const kernel = new FakeKernel(ops, options);
  const negotiated = await kernel.init();
  return new FakeMount(kernel, ops, negotiated, options);
}
