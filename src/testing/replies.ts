/**
 * Reply bodies read back into plain objects (numbers, bigints above 2^53 − 1, Buffers), one reader per
 * reply shape: `reply.entry(r.body).nodeid`, `reply.dirents(r.body)`. The fields are the C fields in
 * camelCase. Each reader checks the body's length and throws ERR_INVALID_ARG_VALUE, saying what it
 * expected, for a body of the wrong size or records that run past the end, so a test of a broken
 * filesystem fails with a message rather than with garbage.
 */
import * as S from '../protocol/structs.ts';
import { readI64, readU64, type U64 } from '../protocol/u64.ts';
import { IoctlFlags } from '../protocol/constants.ts';
import { TsfuseError } from '../errors.ts';

/** struct fuse_attr. Times are signed seconds (before 1970: negative) with their nanoseconds. */
export interface AttrFields {
  readonly ino: U64; readonly size: U64; readonly blocks: U64;
  readonly atime: number | bigint; readonly mtime: number | bigint; readonly ctime: number | bigint;
  readonly atimensec: number; readonly mtimensec: number; readonly ctimensec: number;
  readonly mode: number; readonly nlink: number; readonly uid: number; readonly gid: number; readonly rdev: number;
  readonly blksize: number; readonly flags: number;
}
/** struct fuse_entry_out. A nodeid of 0 is a negative entry ("no such name", cached for entryValid). */
export interface EntryFields {
  readonly nodeid: U64; readonly generation: U64;
  readonly entryValid: U64; readonly entryValidNsec: number; readonly attrValid: U64; readonly attrValidNsec: number;
  readonly attr: AttrFields;
}
export interface AttrOutFields { readonly attrValid: U64; readonly attrValidNsec: number; readonly attr: AttrFields }
export interface OpenFields { readonly fh: U64; /** FOPEN_* bits. */ readonly openFlags: number; readonly backingId: number }
export interface StatfsFields {
  readonly blocks: U64; readonly bfree: U64; readonly bavail: U64; readonly files: U64; readonly ffree: U64;
  readonly bsize: number; readonly namelen: number; readonly frsize: number;
}
export interface LockFields { readonly start: U64; readonly end: U64; readonly type: number; readonly pid: number }
export interface IoctlFields {
  readonly result: number; readonly flags: number; readonly inIovs: number; readonly outIovs: number;
  /** The output data (empty for a retry). */
  readonly data: Buffer;
  /** With FUSE_IOCTL_RETRY: the iovecs the kernel should fetch and retry with. */
  readonly retry?: { readonly in: readonly IovecFields[]; readonly out: readonly IovecFields[] };
}
export interface IovecFields { readonly base: U64; readonly len: U64 }
export interface SxTimeFields { readonly sec: number | bigint; readonly nsec: number }
export interface StatxFields {
  readonly mask: number; readonly blksize: number; readonly attributes: U64; readonly nlink: number; readonly uid: number;
  readonly gid: number; readonly mode: number; readonly ino: U64; readonly size: U64; readonly blocks: U64;
  readonly attributesMask: U64; readonly atime: SxTimeFields; readonly btime: SxTimeFields; readonly ctime: SxTimeFields;
  readonly mtime: SxTimeFields; readonly rdevMajor: number; readonly rdevMinor: number; readonly devMajor: number; readonly devMinor: number;
}
export interface StatxOutFields { readonly attrValid: U64; readonly attrValidNsec: number; readonly flags: number; readonly statx: StatxFields }
/** One fuse_dirent record. */
export interface DirentFields {
  /** d_ino. */
  readonly ino: U64;
  /** The cookie to continue after this entry. */
  readonly off: U64;
  /** DT_* type. */
  readonly type: number;
  /** The name as UTF-8 text. */
  readonly name: string;
  /** The name's bytes. */
  readonly nameBytes: Buffer;
}
/** One fuse_direntplus record: the lookup answer, then the dirent. */
export interface DirentPlusFields extends DirentFields { readonly entry: EntryFields }

function need(b: Uint8Array, size: number, what: string, exact = true): Buffer {
  if (!(b instanceof Uint8Array)) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${what}: expected the reply body (bytes), got ${typeof b}`);
  if (exact ? b.byteLength !== size : b.byteLength < size) {
    throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${what}: a body of ${exact ? '' : 'at least '}${size} bytes expected, got ${b.byteLength}`);
  }
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function attrAt(b: Buffer, at: number): AttrFields {
  const o = S.Attr.off;
  return {
    ino: readU64(b, at + o.ino), size: readU64(b, at + o.size), blocks: readU64(b, at + o.blocks),
    atime: readI64(b, at + o.atime), mtime: readI64(b, at + o.mtime), ctime: readI64(b, at + o.ctime),
    atimensec: b.readUInt32LE(at + o.atimensec), mtimensec: b.readUInt32LE(at + o.mtimensec), ctimensec: b.readUInt32LE(at + o.ctimensec),
    mode: b.readUInt32LE(at + o.mode), nlink: b.readUInt32LE(at + o.nlink), uid: b.readUInt32LE(at + o.uid), gid: b.readUInt32LE(at + o.gid),
    rdev: b.readUInt32LE(at + o.rdev), blksize: b.readUInt32LE(at + o.blksize), flags: b.readUInt32LE(at + o.flags),
  };
}

function entryAt(b: Buffer, at: number): EntryFields {
  const o = S.EntryOut.off;
  return {
    nodeid: readU64(b, at + o.nodeid), generation: readU64(b, at + o.generation),
    entryValid: readU64(b, at + o.entry_valid), entryValidNsec: b.readUInt32LE(at + o.entry_valid_nsec),
    attrValid: readU64(b, at + o.attr_valid), attrValidNsec: b.readUInt32LE(at + o.attr_valid_nsec), attr: attrAt(b, at + o.attr),
  };
}

function openAt(b: Buffer, at: number): OpenFields {
  const o = S.OpenOut.off;
  return { fh: readU64(b, at + o.fh), openFlags: b.readUInt32LE(at + o.open_flags), backingId: b.readInt32LE(at + o.backing_id) };
}

function sxTimeAt(b: Buffer, at: number): SxTimeFields {
  return { sec: readI64(b, at + S.SxTime.off.tv_sec), nsec: b.readUInt32LE(at + S.SxTime.off.tv_nsec) };
}

/** Walks dirent records of `recordSize` bytes before the name, each padded to 8 (FUSE_DIRENT_ALIGN). */
function records<T>(body: Uint8Array, recordSize: number, direntAt: number, what: string, read: (b: Buffer, at: number, d: DirentFields) => T): T[] {
  const b = need(body, 0, what, false);
  const out: T[] = [];
  let at = 0;
  while (at < b.length) {
    if (at + recordSize > b.length) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${what}: a record at byte ${at} needs ${recordSize} bytes, ${b.length - at} left`);
    const d = at + direntAt;
    const namelen = b.readUInt32LE(d + S.Dirent.off.namelen);
    const end = at + recordSize + namelen;
    if (end > b.length) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${what}: the name of the record at byte ${at} (${namelen} bytes) runs past the body's ${b.length}`);
    const nameBytes = Buffer.from(b.subarray(at + recordSize, end));
    out.push(read(b, at, {
      ino: readU64(b, d + S.Dirent.off.ino), off: readU64(b, d + S.Dirent.off.off), type: b.readUInt32LE(d + S.Dirent.off.type),
      name: nameBytes.toString(), nameBytes,
    }));
    at = (end + 7) & ~7;
  }
  return out;
}

/** Readers of every reply body a filesystem sends, by the shape of the opcode's reply. */
export const reply = Object.freeze({
  /** fuse_entry_out: LOOKUP, MKNOD, MKDIR, SYMLINK, LINK. */
  entry: (body: Uint8Array): EntryFields => entryAt(need(body, S.EntryOut.size, 'entry_out'), 0),
  /** fuse_attr_out: GETATTR, SETATTR. */
  attr: (body: Uint8Array): AttrOutFields => {
    const b = need(body, S.AttrOut.size, 'attr_out');
    return { attrValid: readU64(b, S.AttrOut.off.attr_valid), attrValidNsec: b.readUInt32LE(S.AttrOut.off.attr_valid_nsec), attr: attrAt(b, S.AttrOut.off.attr) };
  },
  /** fuse_open_out: OPEN, OPENDIR. */
  open: (body: Uint8Array): OpenFields => openAt(need(body, S.OpenOut.size, 'open_out'), 0),
  /** fuse_entry_out then fuse_open_out: CREATE, TMPFILE. */
  create: (body: Uint8Array): { readonly entry: EntryFields; readonly open: OpenFields } => {
    const b = need(body, S.EntryOut.size + S.OpenOut.size, 'create (entry_out + open_out)');
    return { entry: entryAt(b, 0), open: openAt(b, S.EntryOut.size) };
  },
  /** fuse_write_out: WRITE, COPY_FILE_RANGE. */
  write: (body: Uint8Array): { readonly size: number } => ({ size: need(body, S.WriteOut.size, 'write_out').readUInt32LE(S.WriteOut.off.size) }),
  /** fuse_copy_file_range_out: COPY_FILE_RANGE_64. */
  copyFileRange64: (body: Uint8Array): { readonly bytesCopied: U64 } =>
    ({ bytesCopied: readU64(need(body, S.CopyFileRangeOut.size, 'copy_file_range_out'), S.CopyFileRangeOut.off.bytes_copied) }),
  /** fuse_statfs_out. */
  statfs: (body: Uint8Array): StatfsFields => {
    const b = need(body, S.StatfsOut.size, 'statfs_out');
    const o = S.Kstatfs.off;
    return {
      blocks: readU64(b, o.blocks), bfree: readU64(b, o.bfree), bavail: readU64(b, o.bavail), files: readU64(b, o.files), ffree: readU64(b, o.ffree),
      bsize: b.readUInt32LE(o.bsize), namelen: b.readUInt32LE(o.namelen), frsize: b.readUInt32LE(o.frsize),
    };
  },
  /** fuse_getxattr_out: the answer to a GETXATTR or LISTXATTR size probe (size 0). */
  xattrSize: (body: Uint8Array): { readonly size: number } => ({ size: need(body, S.GetxattrOut.size, 'getxattr_out').readUInt32LE(S.GetxattrOut.off.size) }),
  /** A LISTXATTR list: NUL-terminated names back to back, as UTF-8 text. */
  xattrNames: (body: Uint8Array): string[] => {
    const b = need(body, 0, 'xattr names', false);
    if (b.length === 0) return [];
    if (b[b.length - 1] !== 0) throw new TsfuseError('ERR_INVALID_ARG_VALUE', 'xattr names: the list does not end with a NUL');
    return b.subarray(0, b.length - 1).toString().split('\0');
  },
  /** fuse_lk_out: GETLK. */
  lock: (body: Uint8Array): LockFields => {
    const b = need(body, S.LkOut.size, 'lk_out');
    const o = S.LkOut.off.lk;
    const f = S.FileLock.off;
    return { start: readU64(b, o + f.start), end: readU64(b, o + f.end), type: b.readUInt32LE(o + f.type), pid: b.readUInt32LE(o + f.pid) };
  },
  /** fuse_bmap_out. */
  bmap: (body: Uint8Array): { readonly block: U64 } => ({ block: readU64(need(body, S.BmapOut.size, 'bmap_out'), S.BmapOut.off.block) }),
  /** fuse_ioctl_out, then the output data, or with FUSE_IOCTL_RETRY the in and out iovecs. */
  ioctl: (body: Uint8Array): IoctlFields => {
    const b = need(body, S.IoctlOut.size, 'ioctl_out', false);
    const o = S.IoctlOut.off;
    const base = {
      result: b.readInt32LE(o.result), flags: b.readUInt32LE(o.flags), inIovs: b.readUInt32LE(o.in_iovs), outIovs: b.readUInt32LE(o.out_iovs),
    };
    const rest = b.subarray(S.IoctlOut.size);
    if ((base.flags & IoctlFlags.RETRY) === 0) return { ...base, data: Buffer.from(rest) };
    const n = base.inIovs + base.outIovs;
    need(rest, n * S.IoctlIovec.size, `ioctl retry (${n} iovecs)`);
    const iov = (i: number): IovecFields => ({ base: readU64(rest, i * S.IoctlIovec.size), len: readU64(rest, i * S.IoctlIovec.size + S.IoctlIovec.off.len) });
    return {
      ...base, data: Buffer.alloc(0),
      retry: { in: Array.from({ length: base.inIovs }, (_, i) => iov(i)), out: Array.from({ length: base.outIovs }, (_, i) => iov(base.inIovs + i)) },
    };
  },
  /** fuse_poll_out. */
  poll: (body: Uint8Array): { readonly revents: number } => ({ revents: need(body, S.PollOut.size, 'poll_out').readUInt32LE(S.PollOut.off.revents) }),
  /** fuse_lseek_out. */
  lseek: (body: Uint8Array): { readonly offset: U64 } => ({ offset: readU64(need(body, S.LseekOut.size, 'lseek_out'), S.LseekOut.off.offset) }),
  /** fuse_statx_out. */
  statx: (body: Uint8Array): StatxOutFields => {
    const b = need(body, S.StatxOut.size, 'statx_out');
    const at = S.StatxOut.off.stat;
    const o = S.Statx.off;
    return {
      attrValid: readU64(b, S.StatxOut.off.attr_valid), attrValidNsec: b.readUInt32LE(S.StatxOut.off.attr_valid_nsec), flags: b.readUInt32LE(S.StatxOut.off.flags),
      statx: {
        mask: b.readUInt32LE(at + o.mask), blksize: b.readUInt32LE(at + o.blksize), attributes: readU64(b, at + o.attributes),
        nlink: b.readUInt32LE(at + o.nlink), uid: b.readUInt32LE(at + o.uid), gid: b.readUInt32LE(at + o.gid), mode: b.readUInt16LE(at + o.mode),
        ino: readU64(b, at + o.ino), size: readU64(b, at + o.size), blocks: readU64(b, at + o.blocks), attributesMask: readU64(b, at + o.attributes_mask),
        atime: sxTimeAt(b, at + o.atime), btime: sxTimeAt(b, at + o.btime), ctime: sxTimeAt(b, at + o.ctime), mtime: sxTimeAt(b, at + o.mtime),
        rdevMajor: b.readUInt32LE(at + o.rdev_major), rdevMinor: b.readUInt32LE(at + o.rdev_minor),
        devMajor: b.readUInt32LE(at + o.dev_major), devMinor: b.readUInt32LE(at + o.dev_minor),
      },
    };
  },
  /** READDIR: the fuse_dirent records. */
  dirents: (body: Uint8Array): DirentFields[] => records(body, S.Dirent.size, 0, 'dirents', (_b, _at, d) => d),
  /** READDIRPLUS: the fuse_direntplus records. */
  direntsPlus: (body: Uint8Array): DirentPlusFields[] =>
    records(body, S.Direntplus.size, S.Direntplus.off.dirent, 'direntplus', (b, at, d) => ({ ...d, entry: entryAt(b, at + S.Direntplus.off.entry_out) })),
  /** READ, READLINK, GETXATTR (with a size), LISTXATTR: the bytes, copied. */
  data: (body: Uint8Array): Buffer => Buffer.from(need(body, 0, 'data', false)),
});
