/**
 * Request bodies: one typed interface and one decoder per opcode. Decoders read from a FrameReader
 * positioned at the body (header and extensions already split off), never throw, and leave any problem
 * on `r.error`. Byte fields (names, data) are views of the frame buffer, not copies: they are valid until
 * the handler settles (the session may reuse a large frame's memory afterwards). Copy what you keep.
 */
import type { FrameReader } from './reader.ts';
import type { Negotiated } from './negotiated.ts';
import type { InHeaderFields } from './header.ts';
import type { Ino, Fh, LockOwner, Unique } from './ids.ts';
import type { U64 } from './u64.ts';
import { isOffT, u64FromHalves } from './u64.ts';
import {
  GetattrFlags, SetattrValid, FsyncFlags, LockFlags, ReadFlags, WriteFlags, ReleaseFlags, INIT_EXT, UNIQUE_RESEND_BIT_HI,
} from './constants.ts';
import {
  SetattrIn, LkIn, IoctlIn, NotifyRetrieveIn, ForgetOne,
  RemovemappingOne, CopyFileRangeIn, StatxIn,
} from './structs.ts';

/** The node id of the request header, as the decoders receive it. */
type NodeId = Ino;

/** Names from the kernel are at most FUSE_NAME_MAX (1024) bytes; symlink targets at most PATH_MAX. */
export const NAME_MAX_BYTES = 1024;
export const PATH_MAX_BYTES = 4096;
/** xattr values are at most XATTR_SIZE_MAX. */
export const XATTR_SIZE_MAX = 65536;
/** xattr names are at most XATTR_NAME_MAX bytes (<linux/limits.h>). */
export const XATTR_NAME_MAX = 255;

export interface LookupRequest { readonly parent: Ino; readonly name: Buffer }
export interface ForgetRequest { readonly ino: Ino; readonly nlookup: U64 }
export interface BatchForgetRequest { readonly items: readonly ForgetRequest[] }
export interface GetattrRequest { readonly ino: Ino; readonly flags: number; /** Present with FUSE_GETATTR_FH (fstat). */ readonly fh?: Fh }
export interface Timespec { readonly sec: number | bigint; readonly nsec: number }
/** A time to set: a timespec, or `'now'` (FATTR_ATIME_NOW / FATTR_MTIME_NOW). */
export type SetTime = Timespec | 'now';
/** Only the fields whose FATTR_* bit is set are present. */
export interface SetattrRequest {
  readonly ino: Ino;
  /** The raw FATTR_* mask. */
  readonly valid: number;
  readonly fh?: Fh;
  readonly size?: U64;
  readonly lockOwner?: LockOwner;
  readonly atime?: SetTime;
  readonly mtime?: SetTime;
  readonly ctime?: Timespec;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** FATTR_KILL_SUIDGID: clear suid/sgid (HANDLE_KILLPRIV_V2). */
  readonly killSuidgid: boolean;
}
export interface InodeRequest { readonly ino: Ino }
export interface SymlinkRequest { readonly parent: Ino; readonly name: Buffer; readonly target: Buffer }
export interface MknodRequest { readonly parent: Ino; readonly name: Buffer; readonly mode: number; readonly rdev: number; readonly umask: number }
export interface MkdirRequest { readonly parent: Ino; readonly name: Buffer; readonly mode: number; readonly umask: number }
export interface EntryNameRequest { readonly parent: Ino; readonly name: Buffer }
export interface RenameRequest {
  readonly parent: Ino; readonly name: Buffer; readonly newParent: Ino; readonly newName: Buffer;
  /** RENAME_NOREPLACE / RENAME_EXCHANGE / RENAME_WHITEOUT; always 0 for FUSE_RENAME. */
  readonly flags: number;
}
export interface LinkRequest { readonly ino: Ino; readonly newParent: Ino; readonly newName: Buffer }
export interface OpenRequest { readonly ino: Ino; /** open(2) flags. */ readonly flags: number; /** FUSE_OPEN_KILL_SUIDGID (7.33). */ readonly openFlags: number }
export interface ReadRequest {
  readonly ino: Ino; readonly fh: Fh; readonly offset: U64; readonly size: number; readonly readFlags: number;
  readonly lockOwner?: LockOwner; readonly flags: number;
}
export interface WriteRequest {
  readonly ino: Ino; readonly fh: Fh; readonly offset: U64; readonly size: number; readonly writeFlags: number;
  readonly lockOwner?: LockOwner; readonly flags: number;
  /** The bytes to write: a view of the request frame, valid until the handler settles. Copy to keep. */
  readonly data: Buffer;
}
export interface ReleaseRequest { readonly ino: Ino; readonly fh: Fh; readonly flags: number; readonly releaseFlags: number; readonly lockOwner: LockOwner; readonly flush: boolean; readonly flockUnlock: boolean }
export interface FsyncRequest { readonly ino: Ino; readonly fh: Fh; readonly datasync: boolean; readonly fsyncFlags: number }
export interface SetxattrRequest { readonly ino: Ino; readonly name: Buffer; readonly value: Buffer; readonly flags: number; /** FUSE_SETXATTR_ACL_KILL_SGID; 0 unless SETXATTR_EXT. */ readonly setxattrFlags: number }
export interface GetxattrRequest { readonly ino: Ino; readonly name: Buffer; /** 0 asks only for the value's size. */ readonly size: number }
export interface ListxattrRequest { readonly ino: Ino; /** 0 asks only for the list's size. */ readonly size: number }
export interface RemovexattrRequest { readonly ino: Ino; readonly name: Buffer }
export interface FlushRequest { readonly ino: Ino; readonly fh: Fh; readonly lockOwner: LockOwner }
export interface InitRequest { readonly major: number; readonly minor: number; readonly maxReadahead: number; readonly flags: number; /** Only valid when flags has INIT_EXT; 0 in the short (pre-7.36) form. */ readonly flags2: number }
export interface FileLock { readonly start: U64; readonly end: U64; /** F_RDLCK (0), F_WRLCK (1), F_UNLCK (2). */ readonly type: number; readonly pid: number }
export interface LockRequest {
  readonly ino: Ino; readonly fh: Fh; readonly lockOwner: LockOwner; readonly lock: FileLock;
  /** BSD flock(2) rather than POSIX fcntl locks (FUSE_LK_FLOCK). */ readonly flock: boolean;
  readonly lkFlags: number;
  /** SETLKW: wait for the lock. */ readonly sleep: boolean;
}
export interface AccessRequest { readonly ino: Ino; /** R_OK/W_OK/X_OK bits (F_OK = 0). */ readonly mask: number }
export interface CreateRequest { readonly parent: Ino; readonly name: Buffer; readonly flags: number; readonly mode: number; readonly umask: number; readonly openFlags: number }
export interface InterruptRequest { /** The request to interrupt. */ readonly target: Unique }
export interface BmapRequest { readonly ino: Ino; readonly block: U64; readonly blocksize: number }
export interface IoctlRequest {
  readonly ino: Ino; readonly fh: Fh; readonly flags: number; readonly cmd: number; readonly arg: U64;
  readonly inSize: number; readonly outSize: number; readonly inData: Buffer;
}
export interface PollRequest { readonly ino: Ino; readonly fh: Fh; readonly kh: U64; readonly flags: number; readonly events: number }
export interface NotifyReplyRequest { /** The `notify_unique` of the RETRIEVE this answers. */ readonly notifyUnique: Unique; readonly ino: Ino; readonly offset: U64; readonly data: Buffer }
export interface FallocateRequest { readonly ino: Ino; readonly fh: Fh; readonly offset: U64; readonly length: U64; readonly mode: number }
export interface LseekRequest { readonly ino: Ino; readonly fh: Fh; readonly offset: U64; /** SEEK_SET..SEEK_HOLE. */ readonly whence: number }
export interface CopyFileRangeRequest {
  readonly ino: Ino; readonly fhIn: Fh; readonly offIn: U64; readonly inoOut: Ino; readonly fhOut: Fh; readonly offOut: U64;
  readonly len: U64; readonly flags: U64;
}
export interface SetupmappingRequest { readonly ino: Ino; readonly fh: Fh; readonly foffset: U64; readonly len: U64; readonly flags: U64; readonly moffset: U64 }
export interface RemovemappingRequest { readonly ino: Ino; readonly mappings: readonly { readonly moffset: U64; readonly len: U64 }[] }
export interface TmpfileRequest { readonly parent: Ino; readonly name: Buffer; readonly flags: number; readonly mode: number; readonly umask: number; readonly openFlags: number }
export interface StatxRequest { readonly ino: Ino; readonly getattrFlags: number; readonly fh?: Fh; readonly sxFlags: number; readonly sxMask: number }
export interface CuseInitRequest { readonly major: number; readonly minor: number; readonly flags: number }
/** Requests with no body beyond the header. */
export interface EmptyRequest { readonly ino: Ino }

/* ------------------------------------------------------------------------------------------------ */
/* Decoders. Each takes the reader at the body, the header's node id, and the negotiated state.      */

export type Decoder<T> = (r: FrameReader, nodeid: NodeId, n: Negotiated, h: InHeaderFields) => T;

function checkOff(r: FrameReader, v: U64, what: string): void {
  if (!isOffT(v)) r.invalid(`${what} exceeds 2^63 − 1`);
}

export const decodeLookup: Decoder<LookupRequest> = (r, parent) => ({ parent, name: r.cstring(NAME_MAX_BYTES) });
export const decodeEntryName: Decoder<EntryNameRequest> = decodeLookup;
export const decodeForget: Decoder<ForgetRequest> = (r, ino) => ({ ino, nlookup: r.u64() });
export const decodeInode: Decoder<InodeRequest> = (_r, ino) => ({ ino });

export const decodeGetattr: Decoder<GetattrRequest> = (r, ino, n) => {
  // Before 7.9 GETATTR had no body; every supported minor sends fuse_getattr_in.
  if (n.minor < 9) return { ino, flags: 0 };
  const flags = r.u32();
  r.skip(4);
  const fh = r.u64() as Fh;
  return (flags & GetattrFlags.FH) !== 0 ? { ino, flags, fh } : { ino, flags };
};

export const decodeSetattr: Decoder<SetattrRequest> = (r, ino) => {
  if (!r.need(SetattrIn.size)) return { ino, valid: 0, killSuidgid: false };
  const valid = r.u32();
  r.skip(4);
  const fh = r.u64();
  const size = r.u64();
  const lockOwner = r.u64();
  // Times are time64_t stored in u64 fields (fs/fuse/dir.c iattr_to_fattr): read them signed.
  const atime = r.i64();
  const mtime = r.i64();
  const ctime = r.i64();
  const atimensec = r.u32();
  const mtimensec = r.u32();
  const ctimensec = r.u32();
  const mode = r.u32();
  r.skip(4);
  const uid = r.u32();
  const gid = r.u32();
  r.skip(4);
  const V = SetattrValid;
  const out: { -readonly [K in keyof SetattrRequest]: SetattrRequest[K] } = { ino, valid, killSuidgid: (valid & V.KILL_SUIDGID) !== 0 };
  if (valid & V.FH) out.fh = fh as Fh;
  if (valid & V.SIZE) { out.size = size; checkOff(r, size, 'setattr size'); }
  if (valid & V.LOCKOWNER) out.lockOwner = lockOwner as LockOwner;
  if (valid & V.ATIME_NOW) out.atime = 'now';
  else if (valid & V.ATIME) out.atime = { sec: atime, nsec: atimensec };
  if (valid & V.MTIME_NOW) out.mtime = 'now';
  else if (valid & V.MTIME) out.mtime = { sec: mtime, nsec: mtimensec };
  if (valid & V.CTIME) out.ctime = { sec: ctime, nsec: ctimensec };
  if (valid & V.MODE) out.mode = mode;
  if (valid & V.UID) out.uid = uid;
  if (valid & V.GID) out.gid = gid;
  return out;
};

export const decodeSymlink: Decoder<SymlinkRequest> = (r, parent) => {
  // The new link's name comes first, then the target (both NUL-terminated).
  const name = r.cstring(NAME_MAX_BYTES);
  const target = r.cstring(PATH_MAX_BYTES);
  return { parent, name, target };
};

export const decodeMknod: Decoder<MknodRequest> = (r, parent, n) => {
  const mode = r.u32();
  const rdev = r.u32();
  let umask = 0;
  if (n.minor >= 12) { umask = r.u32(); r.skip(4); } // FUSE_COMPAT_MKNOD_IN_SIZE before 7.12
  return { parent, mode, rdev, umask, name: r.cstring(NAME_MAX_BYTES) };
};

export const decodeMkdir: Decoder<MkdirRequest> = (r, parent) => {
  const mode = r.u32();
  const umask = r.u32();
  return { parent, mode, umask, name: r.cstring(NAME_MAX_BYTES) };
};

export const decodeRename: Decoder<RenameRequest> = (r, parent) => {
  const newParent = r.u64() as Ino;
  const name = r.cstring(NAME_MAX_BYTES);
  const newName = r.cstring(NAME_MAX_BYTES);
  return { parent, name, newParent, newName, flags: 0 };
};

export const decodeRename2: Decoder<RenameRequest> = (r, parent) => {
  const newParent = r.u64() as Ino;
  const flags = r.u32();
  r.skip(4);
  const name = r.cstring(NAME_MAX_BYTES);
  const newName = r.cstring(NAME_MAX_BYTES);
  return { parent, name, newParent, newName, flags };
};

export const decodeLink: Decoder<LinkRequest> = (r, newParent) => {
  const ino = r.u64() as Ino;
  return { ino, newParent, newName: r.cstring(NAME_MAX_BYTES) };
};

export const decodeOpen: Decoder<OpenRequest> = (r, ino) => {
  const flags = r.u32();
  const openFlags = r.u32();
  return { ino, flags, openFlags };
};

export const decodeRead: Decoder<ReadRequest> = (r, ino, n) => {
  const fh = r.u64() as Fh;
  const offset = r.u64();
  const size = r.u32();
  const readFlags = r.u32();
  let lockOwner: U64 = 0;
  let flags = 0;
  if (n.minor >= 9) { lockOwner = r.u64(); flags = r.u32(); r.skip(4); }
  checkOff(r, offset, 'read offset');
  const base = { ino, fh, offset, size, readFlags, flags };
  return (readFlags & ReadFlags.LOCKOWNER) !== 0 ? { ...base, lockOwner: lockOwner as LockOwner } : base;
};

export const decodeWrite: Decoder<WriteRequest> = (r, ino, n) => {
  const fh = r.u64() as Fh;
  const offset = r.u64();
  const size = r.u32();
  const writeFlags = r.u32();
  let lockOwner: U64 = 0;
  let flags = 0;
  if (n.minor >= 9) { lockOwner = r.u64(); flags = r.u32(); r.skip(4); } // FUSE_COMPAT_WRITE_IN_SIZE = 24
  checkOff(r, offset, 'write offset');
  const data = r.bytes(size);
  if (r.error === undefined && r.remaining !== 0) r.invalid(`write size ${size} but ${size + r.remaining} data bytes`);
  const base = { ino, fh, offset, size, writeFlags, flags, data };
  return (writeFlags & WriteFlags.LOCKOWNER) !== 0 ? { ...base, lockOwner: lockOwner as LockOwner } : base;
};

export const decodeRelease: Decoder<ReleaseRequest> = (r, ino) => {
  const fh = r.u64() as Fh;
  const flags = r.u32();
  const releaseFlags = r.u32();
  const lockOwner = r.u64() as LockOwner;
  return {
    ino, fh, flags, releaseFlags, lockOwner,
    flush: (releaseFlags & ReleaseFlags.FLUSH) !== 0, flockUnlock: (releaseFlags & ReleaseFlags.FLOCK_UNLOCK) !== 0,
  };
};

export const decodeFsync: Decoder<FsyncRequest> = (r, ino) => {
  const fh = r.u64() as Fh;
  const fsyncFlags = r.u32();
  r.skip(4);
  return { ino, fh, fsyncFlags, datasync: (fsyncFlags & FsyncFlags.FDATASYNC) !== 0 };
};

export const decodeSetxattr: Decoder<SetxattrRequest> = (r, ino, n) => {
  // The long form (16 bytes) only when FUSE_SETXATTR_EXT was granted; otherwise 8 bytes.
  const size = r.u32();
  const flags = r.u32();
  let setxattrFlags = 0;
  if (n.setxattrExt) { setxattrFlags = r.u32(); r.skip(4); }
  if (size > XATTR_SIZE_MAX) r.invalid(`xattr value of ${size} bytes exceeds ${XATTR_SIZE_MAX}`);
  const name = r.cstring(XATTR_NAME_MAX);
  const value = r.bytes(size);
  return { ino, name, value, flags, setxattrFlags };
};

export const decodeGetxattr: Decoder<GetxattrRequest> = (r, ino) => {
  const size = r.u32();
  r.skip(4);
  return { ino, size, name: r.cstring(XATTR_NAME_MAX) };
};

export const decodeListxattr: Decoder<ListxattrRequest> = (r, ino) => {
  const size = r.u32();
  r.skip(4);
  return { ino, size };
};

export const decodeRemovexattr: Decoder<RemovexattrRequest> = (r, ino) => ({ ino, name: r.cstring(XATTR_NAME_MAX) });

export const decodeFlush: Decoder<FlushRequest> = (r, ino) => {
  const fh = r.u64() as Fh;
  r.skip(8);
  return { ino, fh, lockOwner: r.u64() as LockOwner };
};

export const decodeInit: Decoder<InitRequest> = (r) => {
  const major = r.u32();
  const minor = r.u32();
  const maxReadahead = r.u32();
  const flags = r.u32();
  // Kernels before 7.36 send the 16-byte form; flags2 exists only when INIT_EXT is set.
  let flags2 = 0;
  if (r.remaining >= 4 && (flags & INIT_EXT) !== 0) flags2 = r.u32();
  r.rest();
  return { major, minor, maxReadahead, flags, flags2 };
};

export const decodeLock = (sleep: boolean): Decoder<LockRequest> => (r, ino) => {
  if (!r.need(LkIn.size)) r.skip(LkIn.size);
  const fh = r.u64() as Fh;
  const lockOwner = r.u64() as LockOwner;
  const start = r.u64();
  const end = r.u64();
  const type = r.u32();
  const pid = r.u32();
  const lkFlags = r.u32();
  r.skip(4);
  return { ino, fh, lockOwner, lock: { start, end, type, pid }, lkFlags, flock: (lkFlags & LockFlags.FLOCK) !== 0, sleep };
};

export const decodeAccess: Decoder<AccessRequest> = (r, ino) => {
  const mask = r.u32();
  r.skip(4);
  return { ino, mask };
};

export const decodeCreate: Decoder<CreateRequest> = (r, parent) => {
  const flags = r.u32();
  const mode = r.u32();
  const umask = r.u32();
  const openFlags = r.u32();
  return { parent, flags, mode, umask, openFlags, name: r.cstring(NAME_MAX_BYTES) };
};

/**
 * After a RESEND the kernel keeps FUSE_UNIQUE_RESEND in the request's unique and copies it into
 * fuse_interrupt_in.unique; the bit is stripped here so `target` has the same form as `header.unique`.
 */
export const decodeInterrupt: Decoder<InterruptRequest> = (r) => {
  const lo = r.u32();
  const hi = (r.u32() & ~UNIQUE_RESEND_BIT_HI) >>> 0;
  return { target: u64FromHalves(lo, hi) as Unique };
};

export const decodeBmap: Decoder<BmapRequest> = (r, ino) => {
  const block = r.u64();
  const blocksize = r.u32();
  r.skip(4);
  return { ino, block, blocksize };
};

export const decodeIoctl: Decoder<IoctlRequest> = (r, ino) => {
  if (!r.need(IoctlIn.size)) r.skip(IoctlIn.size);
  const fh = r.u64() as Fh;
  const flags = r.u32();
  const cmd = r.u32();
  const arg = r.u64();
  const inSize = r.u32();
  const outSize = r.u32();
  const inData = r.bytes(inSize);
  return { ino, fh, flags, cmd, arg, inSize, outSize, inData };
};

export const decodePoll: Decoder<PollRequest> = (r, ino) => {
  const fh = r.u64() as Fh;
  const kh = r.u64();
  const flags = r.u32();
  const events = r.u32();
  return { ino, fh, kh, flags, events };
};

/** NOTIFY_REPLY answers a RETRIEVE: fuse_notify_retrieve_in, then the data. The header's unique is notify_unique. */
export const decodeNotifyReply: Decoder<NotifyReplyRequest> = (r, ino, _n, h) => {
  const notifyUnique = h.unique;
  if (!r.need(NotifyRetrieveIn.size)) r.skip(NotifyRetrieveIn.size);
  r.skip(8);
  const offset = r.u64();
  const size = r.u32();
  r.skip(4 + 16);
  return { notifyUnique, ino, offset, data: r.bytes(size) };
};

export const decodeBatchForget: Decoder<BatchForgetRequest> = (r) => {
  const count = r.u32();
  r.skip(4);
  if (count > r.remaining / ForgetOne.size) {
    // Frame offsets, like FrameReader's own 'short' errors.
    r.error ??= { kind: 'short', what: r.what, want: r.position + count * ForgetOne.size, got: r.position + r.remaining };
    return { items: [] };
  }
  const items: ForgetRequest[] = new Array(count);
  for (let i = 0; i < count; i++) items[i] = { ino: r.u64() as Ino, nlookup: r.u64() };
  return { items };
};

export const decodeFallocate: Decoder<FallocateRequest> = (r, ino) => {
  const fh = r.u64() as Fh;
  const offset = r.u64();
  const length = r.u64();
  const mode = r.u32();
  r.skip(4);
  checkOff(r, offset, 'fallocate offset');
  checkOff(r, length, 'fallocate length');
  return { ino, fh, offset, length, mode };
};

export const decodeLseek: Decoder<LseekRequest> = (r, ino) => {
  const fh = r.u64() as Fh;
  const offset = r.u64();
  const whence = r.u32();
  r.skip(4);
  checkOff(r, offset, 'lseek offset');
  return { ino, fh, offset, whence };
};

export const decodeCopyFileRange: Decoder<CopyFileRangeRequest> = (r, ino) => {
  if (!r.need(CopyFileRangeIn.size)) r.skip(CopyFileRangeIn.size);
  const fhIn = r.u64() as Fh;
  const offIn = r.u64();
  const inoOut = r.u64() as Ino;
  const fhOut = r.u64() as Fh;
  const offOut = r.u64();
  const len = r.u64();
  const flags = r.u64();
  checkOff(r, offIn, 'copy_file_range off_in');
  checkOff(r, offOut, 'copy_file_range off_out');
  return { ino, fhIn, offIn, inoOut, fhOut, offOut, len, flags };
};

export const decodeSetupmapping: Decoder<SetupmappingRequest> = (r, ino) => {
  const fh = r.u64() as Fh;
  const foffset = r.u64();
  const len = r.u64();
  const flags = r.u64();
  const moffset = r.u64();
  return { ino, fh, foffset, len, flags, moffset };
};

export const decodeRemovemapping: Decoder<RemovemappingRequest> = (r, ino) => {
  const count = r.u32();
  if (count > r.remaining / RemovemappingOne.size) {
    r.error ??= { kind: 'short', what: r.what, want: r.position + count * RemovemappingOne.size, got: r.position + r.remaining };
    return { ino, mappings: [] };
  }
  const mappings: { moffset: U64; len: U64 }[] = [];
  // fuse_removemapping_one entries follow the 4-byte count directly (the kernel sends them packed).
  for (let i = 0; i < count; i++) mappings.push({ moffset: r.u64(), len: r.u64() });
  return { ino, mappings };
};

export const decodeTmpfile: Decoder<TmpfileRequest> = decodeCreate;

export const decodeStatx: Decoder<StatxRequest> = (r, ino) => {
  if (!r.need(StatxIn.size)) r.skip(StatxIn.size);
  const getattrFlags = r.u32();
  r.skip(4);
  const fh = r.u64() as Fh;
  const sxFlags = r.u32();
  const sxMask = r.u32();
  const base = { ino, getattrFlags, sxFlags, sxMask };
  return (getattrFlags & GetattrFlags.FH) !== 0 ? { ...base, fh } : base;
};

export const decodeCuseInit: Decoder<CuseInitRequest> = (r) => {
  const major = r.u32();
  const minor = r.u32();
  r.skip(4);
  const flags = r.u32();
  r.rest();
  return { major, minor, flags };
};

export const decodeSyncfs: Decoder<InodeRequest> = (r, ino) => { r.skip(8); return { ino }; };

export const decodeEmpty: Decoder<EmptyRequest> = (r, ino) => { r.rest(); return { ino }; };
