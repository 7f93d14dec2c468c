/**
 * Request bodies as the kernel builds them, from friendly arguments: `build.mkdir('dir', { mode: 0o755,
 * umask: 0o022 })` is the body of a MKDIR (fuse_mkdir_in, then the NUL-terminated name). One builder per
 * opcode a filesystem handles; hand the result to `FakeKernel.request(opcode, nodeid, body)`.
 *
 * Each fixed part is written from its layout in src/protocol/structs.ts by `writeStruct`, not by the
 * decoders' code, so decoding a builder's output with the real decoder (test/testing/builders.test.ts)
 * checks the decoders. Builders refuse what the kernel never sends and what cannot be framed: a name with
 * a NUL byte, a value out of its field's range (ERR_INVALID_ARG_VALUE). To send a malformed frame, write
 * the bytes yourself.
 *
 * Names and data may be strings (UTF-8) or bytes. 64-bit fields take a number (exact up to 2^53 − 1) or
 * a bigint.
 */
import * as S from '../protocol/structs.ts';
import {
  GetattrFlags, LockFlags, ReadFlags, ReleaseFlags, SetattrValid, WriteFlags, FsyncFlags,
} from '../protocol/constants.ts';
import type { U64 } from '../protocol/u64.ts';
import { TsfuseError } from '../errors.ts';
import { writeStruct } from './struct-writer.ts';

/** A name or path component: text (UTF-8) or bytes. */
export type NameLike = string | Uint8Array;
/** Bytes, or text as UTF-8. */
export type DataLike = string | Uint8Array;
/**
 * A time to send: seconds since the epoch (fractions become nanoseconds), a Date, bigint nanoseconds,
 * or `{ sec, nsec }`.
 */
export type TimeArg = number | bigint | Date | { readonly sec: number | bigint; readonly nsec: number };

/** SETATTR fields; only those given are sent (their FATTR_* bit is set). */
export interface SetattrFields {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: U64;
  /** `'now'` is utimensat(2)'s UTIME_NOW (FATTR_ATIME_NOW). */
  readonly atime?: TimeArg | 'now';
  readonly mtime?: TimeArg | 'now';
  readonly ctime?: TimeArg;
  /** The open file the change is made through (ftruncate, fchmod): FATTR_FH. */
  readonly fh?: U64;
  readonly lockOwner?: U64;
  /** FATTR_KILL_SUIDGID. Defaults to false. */
  readonly killSuidgid?: boolean;
}

export interface ReadArgs {
  readonly fh: U64;
  /** Defaults to 0. */
  readonly offset?: U64;
  /** Bytes the reader's buffer holds. */
  readonly size: number;
  /** Sets FUSE_READ_LOCKOWNER. Absent: no lock owner. */
  readonly lockOwner?: U64;
  /** open(2) flags of the file. Defaults to 0. */
  readonly flags?: number;
}

export interface WriteArgs {
  readonly fh: U64;
  /** Defaults to 0. */
  readonly offset?: U64;
  readonly data: DataLike;
  /** FUSE_WRITE_CACHE / FUSE_WRITE_KILL_SUIDGID bits. Defaults to 0 (FUSE_WRITE_LOCKOWNER follows `lockOwner`). */
  readonly writeFlags?: number;
  /** Sets FUSE_WRITE_LOCKOWNER. Absent: no lock owner. */
  readonly lockOwner?: U64;
  /** open(2) flags of the file. Defaults to 0. */
  readonly flags?: number;
}

export interface ReleaseArgs {
  readonly fh: U64;
  /** open(2) flags of the file. Defaults to 0. */
  readonly flags?: number;
  /** FUSE_RELEASE_FLUSH. Defaults to false. */
  readonly flush?: boolean;
  /** FUSE_RELEASE_FLOCK_UNLOCK. Defaults to false. */
  readonly flockUnlock?: boolean;
  /** Defaults to 0. */
  readonly lockOwner?: U64;
}

export interface LockArgs {
  readonly fh: U64;
  readonly owner: U64;
  readonly lock: { readonly start: U64; readonly end: U64; /** F_RDLCK 0, F_WRLCK 1, F_UNLCK 2. */ readonly type: number; readonly pid?: number };
  /** flock(2) rather than fcntl (FUSE_LK_FLOCK). Defaults to false. */
  readonly flock?: boolean;
}

export interface CreateArgs {
  /** open(2) flags. */
  readonly flags: number;
  /** The mode, type bits included (S_IFREG | 0o644), the umask already applied (unless DONT_MASK). */
  readonly mode: number;
  /** Defaults to 0. */
  readonly umask?: number;
  /** FUSE_OPEN_KILL_SUIDGID. Defaults to 0. */
  readonly openFlags?: number;
}

export interface CopyFileRangeArgs {
  readonly fhIn: U64;
  readonly offIn: U64;
  /** The node id of the destination file. */
  readonly nodeidOut: U64;
  readonly fhOut: U64;
  readonly offOut: U64;
  readonly len: U64;
  /** Defaults to 0. */
  readonly flags?: U64;
}

const NS = 1_000_000_000;

function bytes(v: DataLike, what: string): Buffer {
  if (typeof v === 'string') return Buffer.from(v);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${what}: expected a string or bytes, got ${typeof v}`);
}

/** The bytes of a name and its NUL. */
function cstring(v: NameLike, what: string): Buffer {
  const b = bytes(v, what);
  if (b.includes(0)) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${what}: a name cannot hold a NUL byte`);
  return Buffer.concat([b, ZERO]);
}
const ZERO = Buffer.alloc(1);

/** A time as (seconds, nanoseconds), floored like a timespec. */
function timespec(t: TimeArg, what: string): { sec: number | bigint; nsec: number } {
  if (t instanceof Date) {
    const ms = t.getTime();
    if (Number.isNaN(ms)) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${what}: an invalid Date`);
    const sec = Math.floor(ms / 1000);
    return { sec, nsec: (ms - sec * 1000) * 1_000_000 };
  }
  if (typeof t === 'number') {
    if (!Number.isFinite(t)) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${what}: expected seconds, got ${t}`);
    const sec = Math.floor(t);
    return { sec, nsec: Math.min(NS - 1, Math.round((t - sec) * NS)) };
  }
  if (typeof t === 'bigint') {
    let sec = t / 1_000_000_000n;
    let nsec = t - sec * 1_000_000_000n;
    if (nsec < 0n) { sec -= 1n; nsec += 1_000_000_000n; }
    return { sec, nsec: Number(nsec) };
  }
  if (t !== null && typeof t === 'object' && Number.isInteger(t.nsec) && t.nsec >= 0 && t.nsec < NS) return { sec: t.sec, nsec: t.nsec };
  throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${what}: expected seconds, a Date, bigint nanoseconds or { sec, nsec }`);
}

const flag = (on: boolean | undefined, bit: number): number => (on ? bit : 0);

function setattr(fields: SetattrFields): Buffer {
  const V = SetattrValid;
  let valid = 0;
  const v: Record<string, number | bigint> = {};
  if (fields.mode !== undefined) { valid |= V.MODE; v['mode'] = fields.mode; }
  if (fields.uid !== undefined) { valid |= V.UID; v['uid'] = fields.uid; }
  if (fields.gid !== undefined) { valid |= V.GID; v['gid'] = fields.gid; }
  if (fields.size !== undefined) { valid |= V.SIZE; v['size'] = fields.size; }
  if (fields.fh !== undefined) { valid |= V.FH; v['fh'] = fields.fh; }
  if (fields.lockOwner !== undefined) { valid |= V.LOCKOWNER; v['lock_owner'] = fields.lockOwner; }
  // fs/fuse/dir.c iattr_to_fattr: UTIME_NOW sends FATTR_ATIME with FATTR_ATIME_NOW and no time.
  for (const which of ['atime', 'mtime'] as const) {
    const t = fields[which];
    if (t === undefined) continue;
    valid |= which === 'atime' ? V.ATIME : V.MTIME;
    if (t === 'now') { valid |= which === 'atime' ? V.ATIME_NOW : V.MTIME_NOW; continue; }
    const ts = timespec(t, `setattr ${which}`);
    v[which] = ts.sec;
    v[`${which}nsec`] = ts.nsec;
  }
  if (fields.ctime !== undefined) {
    const ts = timespec(fields.ctime, 'setattr ctime');
    valid |= V.CTIME;
    v['ctime'] = ts.sec;
    v['ctimensec'] = ts.nsec;
  }
  if (fields.killSuidgid) valid |= V.KILL_SUIDGID;
  // The times are time64_t in u64 fields: a time before 1970 goes in as its two's complement.
  for (const k of ['atime', 'mtime', 'ctime']) {
    const t = v[k];
    if (t !== undefined && t < 0) v[k] = BigInt.asUintN(64, BigInt(t));
  }
  return writeStruct(S.SetattrIn, { ...v, valid });
}

function read(a: ReadArgs): Buffer {
  return writeStruct(S.ReadIn, {
    fh: a.fh, offset: a.offset ?? 0, size: a.size, flags: a.flags ?? 0,
    read_flags: flag(a.lockOwner !== undefined, ReadFlags.LOCKOWNER), lock_owner: a.lockOwner ?? 0,
  });
}

function release(a: ReleaseArgs): Buffer {
  return writeStruct(S.ReleaseIn, {
    fh: a.fh, flags: a.flags ?? 0, lock_owner: a.lockOwner ?? 0,
    release_flags: flag(a.flush, ReleaseFlags.FLUSH) | flag(a.flockUnlock, ReleaseFlags.FLOCK_UNLOCK),
  });
}

function fsync(a: { readonly fh: U64; readonly datasync?: boolean }): Buffer {
  return writeStruct(S.FsyncIn, { fh: a.fh, fsync_flags: flag(a.datasync, FsyncFlags.FDATASYNC) });
}

function lock(a: LockArgs): Buffer {
  return writeStruct(S.LkIn, {
    fh: a.fh, owner: a.owner, lk: { start: a.lock.start, end: a.lock.end, type: a.lock.type, pid: a.lock.pid ?? 0 },
    lk_flags: flag(a.flock, LockFlags.FLOCK),
  });
}

function create(name: NameLike, a: CreateArgs): Buffer {
  return Buffer.concat([
    writeStruct(S.CreateIn, { flags: a.flags, mode: a.mode, umask: a.umask ?? 0, open_flags: a.openFlags ?? 0 }),
    cstring(name, 'create name'),
  ]);
}

function copyFileRange(a: CopyFileRangeArgs): Buffer {
  return writeStruct(S.CopyFileRangeIn, {
    fh_in: a.fhIn, off_in: a.offIn, nodeid_out: a.nodeidOut, fh_out: a.fhOut, off_out: a.offOut, len: a.len, flags: a.flags ?? 0,
  });
}

/**
 * One builder per request a filesystem handles (every opcode row with a `method`), plus INTERRUPT. The
 * node id (the file, or the parent directory for names) goes in the request header, not the body:
 * `kernel.request('MKDIR', parent, build.mkdir('d', { mode: 0o755 }))`.
 */
export const build = Object.freeze({
  /** LOOKUP `name` in the header's directory. */
  lookup: (name: NameLike): Buffer => cstring(name, 'lookup name'),
  /** FORGET: drop `nlookup` references to the header's node. */
  forget: (nlookup: U64 = 1): Buffer => writeStruct(S.ForgetIn, { nlookup }),
  /** BATCH_FORGET (header node id 0). */
  batchForget: (items: readonly { readonly nodeid: U64; readonly nlookup: U64 }[]): Buffer =>
    Buffer.concat([writeStruct(S.BatchForgetIn, { count: items.length }), ...items.map((i) => writeStruct(S.ForgetOne, { nodeid: i.nodeid, nlookup: i.nlookup }))]),
  /** GETATTR; with `fh` (fstat) FUSE_GETATTR_FH is set. */
  getattr: (a: { readonly fh?: U64 } = {}): Buffer =>
    writeStruct(S.GetattrIn, a.fh === undefined ? {} : { getattr_flags: GetattrFlags.FH, fh: a.fh }),
  /** SETATTR (chmod, chown, truncate, utimens): only the fields given are sent. */
  setattr,
  /** READLINK has no body. */
  readlink: (): Buffer => Buffer.alloc(0),
  /** SYMLINK: a link called `name` pointing to `target`. */
  symlink: (name: NameLike, target: DataLike): Buffer => Buffer.concat([cstring(name, 'symlink name'), cstring(target, 'symlink target')]),
  /** MKNOD: `mode` includes the type bits (S_IFREG, S_IFIFO, …). */
  mknod: (name: NameLike, a: { readonly mode: number; readonly rdev?: number; readonly umask?: number }): Buffer =>
    Buffer.concat([writeStruct(S.MknodIn, { mode: a.mode, rdev: a.rdev ?? 0, umask: a.umask ?? 0 }), cstring(name, 'mknod name')]),
  /** MKDIR: `mode` is the permission bits, the umask already applied (unless DONT_MASK). */
  mkdir: (name: NameLike, a: { readonly mode: number; readonly umask?: number }): Buffer =>
    Buffer.concat([writeStruct(S.MkdirIn, { mode: a.mode, umask: a.umask ?? 0 }), cstring(name, 'mkdir name')]),
  unlink: (name: NameLike): Buffer => cstring(name, 'unlink name'),
  rmdir: (name: NameLike): Buffer => cstring(name, 'rmdir name'),
  /** RENAME (no flags): `name` in the header's directory to `newName` in `newParent`. */
  rename: (name: NameLike, newParent: U64, newName: NameLike): Buffer =>
    Buffer.concat([writeStruct(S.RenameIn, { newdir: newParent }), cstring(name, 'rename name'), cstring(newName, 'rename new name')]),
  /** RENAME2, with RENAME_NOREPLACE / RENAME_EXCHANGE / RENAME_WHITEOUT `flags`. */
  rename2: (name: NameLike, newParent: U64, newName: NameLike, flags = 0): Buffer =>
    Buffer.concat([writeStruct(S.Rename2In, { newdir: newParent, flags }), cstring(name, 'rename name'), cstring(newName, 'rename new name')]),
  /** LINK: a new name `newName` in the header's directory for node `oldNodeid`. */
  link: (oldNodeid: U64, newName: NameLike): Buffer => Buffer.concat([writeStruct(S.LinkIn, { oldnodeid: oldNodeid }), cstring(newName, 'link name')]),
  /** OPEN with open(2) `flags`. */
  open: (flags = 0, a: { readonly openFlags?: number } = {}): Buffer => writeStruct(S.OpenIn, { flags, open_flags: a.openFlags ?? 0 }),
  read,
  /** WRITE: fuse_write_in, then the data. */
  write: (a: WriteArgs): Buffer => {
    const data = bytes(a.data, 'write data');
    return Buffer.concat([writeStruct(S.WriteIn, {
      fh: a.fh, offset: a.offset ?? 0, size: data.byteLength, flags: a.flags ?? 0, lock_owner: a.lockOwner ?? 0,
      write_flags: (a.writeFlags ?? 0) | flag(a.lockOwner !== undefined, WriteFlags.LOCKOWNER),
    }), data]);
  },
  /** STATFS has no body. */
  statfs: (): Buffer => Buffer.alloc(0),
  release,
  fsync,
  /**
   * SETXATTR. `ext` (default true) sends the 16-byte fuse_setxattr_in of SETXATTR_EXT, which tsfuse
   * always asks for when the filesystem implements setxattr; false sends the 8-byte form of kernels
   * that did not grant it.
   */
  setxattr: (name: NameLike, value: DataLike, a: { readonly flags?: number; readonly setxattrFlags?: number; readonly ext?: boolean } = {}): Buffer => {
    const v = bytes(value, 'setxattr value');
    const ext = a.ext ?? true;
    if (!ext && a.setxattrFlags) throw new TsfuseError('ERR_INVALID_ARG_VALUE', 'setxattrFlags need the SETXATTR_EXT form (ext: true)');
    const fixed = writeStruct(S.SetxattrIn, { size: v.byteLength, flags: a.flags ?? 0, setxattr_flags: a.setxattrFlags ?? 0 }, ext ? S.SetxattrIn.size : 8);
    return Buffer.concat([fixed, cstring(name, 'xattr name'), v]);
  },
  /** GETXATTR; `size` 0 (the default) asks for the value's size. */
  getxattr: (name: NameLike, size = 0): Buffer => Buffer.concat([writeStruct(S.GetxattrIn, { size }), cstring(name, 'xattr name')]),
  /** LISTXATTR; `size` 0 (the default) asks for the list's size. */
  listxattr: (size = 0): Buffer => writeStruct(S.GetxattrIn, { size }),
  removexattr: (name: NameLike): Buffer => cstring(name, 'xattr name'),
  flush: (a: { readonly fh: U64; readonly lockOwner?: U64 }): Buffer => writeStruct(S.FlushIn, { fh: a.fh, lock_owner: a.lockOwner ?? 0 }),
  /** OPENDIR with open(2) `flags`. */
  opendir: (flags = 0): Buffer => writeStruct(S.OpenIn, { flags }),
  /** READDIR from the cookie `offset` (0: the start), `size` bytes of buffer (default 4096). */
  readdir: (a: { readonly fh: U64; readonly offset?: U64; readonly size?: number }): Buffer => read({ fh: a.fh, offset: a.offset ?? 0, size: a.size ?? 4096 }),
  readdirplus: (a: { readonly fh: U64; readonly offset?: U64; readonly size?: number }): Buffer => read({ fh: a.fh, offset: a.offset ?? 0, size: a.size ?? 4096 }),
  releasedir: release,
  fsyncdir: fsync,
  getlk: lock,
  setlk: lock,
  /** SETLKW: the same body as SETLK; the opcode says "wait". */
  setlkw: lock,
  /** ACCESS with R_OK 4 / W_OK 2 / X_OK 1 bits (F_OK 0). */
  access: (mask: number): Buffer => writeStruct(S.AccessIn, { mask }),
  create,
  bmap: (a: { readonly block: U64; readonly blocksize: number }): Buffer => writeStruct(S.BmapIn, a),
  /** IOCTL; `data` (default none) is the input, `outSize` (default 0) what the caller can take back. */
  ioctl: (a: { readonly fh: U64; readonly cmd: number; readonly arg?: U64; readonly flags?: number; readonly data?: DataLike; readonly outSize?: number }): Buffer => {
    const data = a.data === undefined ? Buffer.alloc(0) : bytes(a.data, 'ioctl data');
    return Buffer.concat([writeStruct(S.IoctlIn, {
      fh: a.fh, cmd: a.cmd, arg: a.arg ?? 0, flags: a.flags ?? 0, in_size: data.byteLength, out_size: a.outSize ?? 0,
    }), data]);
  },
  /** POLL for `events` (POLLIN 1, …); `flags` FUSE_POLL_SCHEDULE_NOTIFY asks for a wakeup with `kh`. */
  poll: (a: { readonly fh: U64; readonly events: number; readonly kh?: U64; readonly flags?: number }): Buffer =>
    writeStruct(S.PollIn, { fh: a.fh, kh: a.kh ?? 0, flags: a.flags ?? 0, events: a.events }),
  fallocate: (a: { readonly fh: U64; readonly offset: U64; readonly length: U64; readonly mode?: number }): Buffer =>
    writeStruct(S.FallocateIn, { fh: a.fh, offset: a.offset, length: a.length, mode: a.mode ?? 0 }),
  /** LSEEK with `whence` SEEK_DATA 3 / SEEK_HOLE 4 (the kernel seeks the others itself). */
  lseek: (a: { readonly fh: U64; readonly offset: U64; readonly whence: number }): Buffer => writeStruct(S.LseekIn, a),
  copyFileRange,
  /** COPY_FILE_RANGE_64 (7.45): the same body as COPY_FILE_RANGE; the reply is a 64-bit count. */
  copyFileRange64: copyFileRange,
  /** TMPFILE: like CREATE; the kernel's name for the nameless dentry is "/" (fs/dcache.c d_alloc of slash_name). */
  tmpfile: (a: CreateArgs): Buffer => create('/', a),
  /** STATX for `sxMask` (STATX_* bits) with AT_STATX_* `sxFlags`; with `fh`, FUSE_GETATTR_FH. */
  statx: (a: { readonly sxMask: number; readonly sxFlags?: number; readonly fh?: U64 }): Buffer =>
    writeStruct(S.StatxIn, {
      getattr_flags: a.fh === undefined ? 0 : GetattrFlags.FH, fh: a.fh ?? 0, sx_flags: a.sxFlags ?? 0, sx_mask: a.sxMask,
    }),
  /** SYNCFS (7.34): a padding word. */
  syncfs: (): Buffer => writeStruct(S.SyncfsIn, {}),
  /** INTERRUPT the request `target` (header node id 0). */
  interrupt: (target: U64): Buffer => writeStruct(S.InterruptIn, { unique: target }),
});
