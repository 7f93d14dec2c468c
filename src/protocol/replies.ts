/**
 * Reply bodies: the types handlers return and the encoders that turn them into bytes. Each encoder
 * returns the body parts (fixed struct first, then any payload) without the out-header, which
 * `frameReply` adds. Missing optional fields encode as 0.
 */
import type { U64 } from './u64.ts';
import { writeU64, writeI64 } from './u64.ts';
import {
  Attr as AttrLayout, AttrOut, EntryOut, OpenOut, WriteOut, StatfsOut, Kstatfs, GetxattrOut, LkOut, FileLock as FileLockLayout,
  BmapOut, IoctlOut, IoctlIovec, PollOut, LseekOut, CopyFileRangeOut, StatxOut, Statx as StatxLayout, SxTime,
} from './structs.ts';

/** File attributes (struct fuse_attr). Times are seconds since the epoch; fractional seconds become nsec unless `*nsec` is given. */
export interface Attr {
  /** Defaults to the node id the reply is about. */
  readonly ino?: U64;
  readonly size?: U64;
  readonly blocks?: U64;
  readonly atime?: number;
  readonly mtime?: number;
  readonly ctime?: number;
  readonly atimensec?: number;
  readonly mtimensec?: number;
  readonly ctimensec?: number;
  /** File type and permission bits (S_IFREG | 0o644, …). */
  readonly mode: number;
  readonly nlink?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly rdev?: number;
  readonly blksize?: number;
  /** FUSE_ATTR_SUBMOUNT, FUSE_ATTR_DAX. */
  readonly flags?: number;
}

/** A LOOKUP-style answer: a node id, its attributes and how long the kernel may cache both. */
export interface EntryReply {
  /** The node id; 0 with `entryTimeout` caches a negative lookup (the name does not exist). */
  readonly ino: U64;
  readonly generation?: U64;
  /** Seconds the kernel may cache the name → node mapping. Defaults to 1. */
  readonly entryTimeout?: number;
  /** Seconds the kernel may cache the attributes. Defaults to 1. */
  readonly attrTimeout?: number;
  readonly attr: Attr;
}

export interface AttrReply {
  readonly attr: Attr;
  /** Seconds the kernel may cache the attributes. Defaults to 1. */
  readonly timeout?: number;
}

export interface OpenReply {
  /** Any u64 the filesystem wants back in later requests on this open file. Defaults to 0. */
  readonly fh?: U64;
  /** FOPEN_* bits (see `OpenFlags`). */
  readonly flags?: number;
  /** A backing file id from FUSE_DEV_IOC_BACKING_OPEN, with FOPEN_PASSTHROUGH (7.40). */
  readonly backingId?: number;
}

export interface CreateReply { readonly entry: EntryReply; readonly open: OpenReply }

export interface StatfsReply {
  readonly blocks?: U64; readonly bfree?: U64; readonly bavail?: U64; readonly files?: U64; readonly ffree?: U64;
  readonly bsize?: number; readonly namelen?: number; readonly frsize?: number;
}

export interface LockReply { readonly start: U64; readonly end: U64; readonly type: number; readonly pid: number }

/** An ioctl answer: the result and output data, or a request to retry with the given iovecs (unrestricted ioctls). */
export type IoctlReply =
  | { readonly result: number; readonly data?: Uint8Array }
  | { readonly retry: { readonly in: readonly IoctlIovec[]; readonly out: readonly IoctlIovec[] } };
export interface IoctlIovec { readonly base: U64; readonly len: U64 }

export interface StatxTime { readonly sec: number | bigint; readonly nsec: number }
/** struct fuse_statx: only the fields named in `mask` (STATX_*) are meaningful to the kernel. */
export interface StatxData {
  readonly mask: number; readonly blksize?: number; readonly attributes?: U64; readonly nlink?: number; readonly uid?: number;
  readonly gid?: number; readonly mode?: number; readonly ino?: U64; readonly size?: U64; readonly blocks?: U64;
  readonly attributesMask?: U64; readonly atime?: StatxTime; readonly btime?: StatxTime; readonly ctime?: StatxTime;
  readonly mtime?: StatxTime; readonly rdevMajor?: number; readonly rdevMinor?: number; readonly devMajor?: number; readonly devMinor?: number;
}
export interface StatxReply { readonly statx: StatxData; readonly timeout?: number; readonly flags?: number }

/** Bytes or text (UTF-8). */
export type BytesLike = Uint8Array | string;

const NS = 1_000_000_000;

function asBytes(v: BytesLike): Uint8Array {
  return typeof v === 'string' ? Buffer.from(v) : v;
}

/** Splits non-negative seconds into whole seconds and nanoseconds. */
function writeValid(b: Buffer, secOff: number, nsecOff: number, seconds: number): void {
  if (!(seconds > 0)) { writeU64(b, secOff, 0); b.writeUInt32LE(0, nsecOff); return; }
  if (seconds >= 2 ** 53) seconds = 2 ** 53 - 1;
  const whole = Math.floor(seconds);
  writeU64(b, secOff, whole);
  b.writeUInt32LE(Math.min(NS - 1, Math.round((seconds - whole) * NS)), nsecOff);
}

function writeTime(b: Buffer, secOff: number, nsecOff: number, t: number | undefined, nsec: number | undefined): void {
  if (t === undefined) return;
  if (nsec !== undefined) { writeI64(b, secOff, Math.trunc(t)); b.writeUInt32LE(nsec >>> 0, nsecOff); return; }
  const whole = Math.floor(t);
  writeI64(b, secOff, whole);
  b.writeUInt32LE(Math.min(NS - 1, Math.round((t - whole) * NS)), nsecOff);
}

/** Writes struct fuse_attr at `off` of a zeroed buffer. */
export function writeAttr(b: Buffer, off: number, a: Attr, defaultIno: U64): void {
  const o = AttrLayout.off;
  writeU64(b, off + o.ino, a.ino ?? defaultIno);
  if (a.size !== undefined) writeU64(b, off + o.size, a.size);
  if (a.blocks !== undefined) writeU64(b, off + o.blocks, a.blocks);
  writeTime(b, off + o.atime, off + o.atimensec, a.atime, a.atimensec);
  writeTime(b, off + o.mtime, off + o.mtimensec, a.mtime, a.mtimensec);
  writeTime(b, off + o.ctime, off + o.ctimensec, a.ctime, a.ctimensec);
  b.writeUInt32LE(a.mode >>> 0, off + o.mode);
  b.writeUInt32LE((a.nlink ?? 1) >>> 0, off + o.nlink);
  b.writeUInt32LE((a.uid ?? 0) >>> 0, off + o.uid);
  b.writeUInt32LE((a.gid ?? 0) >>> 0, off + o.gid);
  b.writeUInt32LE((a.rdev ?? 0) >>> 0, off + o.rdev);
  b.writeUInt32LE((a.blksize ?? 0) >>> 0, off + o.blksize);
  b.writeUInt32LE((a.flags ?? 0) >>> 0, off + o.flags);
}

/** Writes struct fuse_entry_out at `off` of a zeroed buffer. */
export function writeEntryOut(b: Buffer, off: number, e: EntryReply): void {
  const o = EntryOut.off;
  writeU64(b, off + o.nodeid, e.ino);
  writeU64(b, off + o.generation, e.generation ?? 0);
  writeValid(b, off + o.entry_valid, off + o.entry_valid_nsec, e.entryTimeout ?? 1);
  writeValid(b, off + o.attr_valid, off + o.attr_valid_nsec, e.attrTimeout ?? 1);
  writeAttr(b, off + o.attr, e.attr, e.ino);
}

export function encodeEntryOut(e: EntryReply): Buffer {
  const b = Buffer.alloc(EntryOut.size);
  writeEntryOut(b, 0, e);
  return b;
}

export function encodeAttrOut(r: AttrReply, ino: U64): Buffer {
  const b = Buffer.alloc(AttrOut.size);
  writeValid(b, AttrOut.off.attr_valid, AttrOut.off.attr_valid_nsec, r.timeout ?? 1);
  writeAttr(b, AttrOut.off.attr, r.attr, ino);
  return b;
}

export function encodeOpenOut(r: OpenReply): Buffer {
  const b = Buffer.alloc(OpenOut.size);
  writeU64(b, OpenOut.off.fh, r.fh ?? 0);
  b.writeUInt32LE((r.flags ?? 0) >>> 0, OpenOut.off.open_flags);
  b.writeInt32LE(r.backingId ?? 0, OpenOut.off.backing_id);
  return b;
}

export function encodeCreateOut(r: CreateReply): Buffer[] {
  return [encodeEntryOut(r.entry), encodeOpenOut(r.open)];
}

export function encodeWriteOut(size: number): Buffer {
  const b = Buffer.alloc(WriteOut.size);
  b.writeUInt32LE(size >>> 0, WriteOut.off.size);
  return b;
}

export function encodeStatfsOut(s: StatfsReply): Buffer {
  const b = Buffer.alloc(StatfsOut.size);
  const o = Kstatfs.off;
  writeU64(b, o.blocks, s.blocks ?? 0);
  writeU64(b, o.bfree, s.bfree ?? 0);
  writeU64(b, o.bavail, s.bavail ?? 0);
  writeU64(b, o.files, s.files ?? 0);
  writeU64(b, o.ffree, s.ffree ?? 0);
  b.writeUInt32LE((s.bsize ?? 512) >>> 0, o.bsize);
  b.writeUInt32LE((s.namelen ?? 255) >>> 0, o.namelen);
  b.writeUInt32LE((s.frsize ?? s.bsize ?? 512) >>> 0, o.frsize);
  return b;
}

export function encodeGetxattrOut(size: number): Buffer {
  const b = Buffer.alloc(GetxattrOut.size);
  b.writeUInt32LE(size >>> 0, GetxattrOut.off.size);
  return b;
}

export function encodeLkOut(l: LockReply): Buffer {
  const b = Buffer.alloc(LkOut.size);
  const o = LkOut.off.lk;
  writeU64(b, o + FileLockLayout.off.start, l.start);
  writeU64(b, o + FileLockLayout.off.end, l.end);
  b.writeUInt32LE(l.type >>> 0, o + FileLockLayout.off.type);
  b.writeUInt32LE(l.pid >>> 0, o + FileLockLayout.off.pid);
  return b;
}

export function encodeBmapOut(block: U64): Buffer {
  const b = Buffer.alloc(BmapOut.size);
  writeU64(b, BmapOut.off.block, block);
  return b;
}

/** An ioctl reply: fuse_ioctl_out, then either the output data or (retry) the in and out iovec arrays. */
export function encodeIoctlOut(r: IoctlReply, outSize: number): Uint8Array[] {
  const b = Buffer.alloc(IoctlOut.size);
  if ('retry' in r) {
    const n = r.retry.in.length + r.retry.out.length;
    b.writeUInt32LE(1 << 2, IoctlOut.off.flags); // FUSE_IOCTL_RETRY
    b.writeUInt32LE(r.retry.in.length, IoctlOut.off.in_iovs);
    b.writeUInt32LE(r.retry.out.length, IoctlOut.off.out_iovs);
    const iovs = Buffer.alloc(n * IoctlIovec.size);
    let at = 0;
    for (const v of [...r.retry.in, ...r.retry.out]) {
      writeU64(iovs, at + IoctlIovec.off.base, v.base);
      writeU64(iovs, at + IoctlIovec.off.len, v.len);
      at += IoctlIovec.size;
    }
    return [b, iovs];
  }
  b.writeInt32LE(r.result | 0, IoctlOut.off.result);
  if (r.data === undefined || r.data.byteLength === 0) return [b];
  return [b, r.data.byteLength > outSize ? r.data.subarray(0, outSize) : r.data];
}

export function encodePollOut(revents: number): Buffer {
  const b = Buffer.alloc(PollOut.size);
  b.writeUInt32LE(revents >>> 0, PollOut.off.revents);
  return b;
}

export function encodeLseekOut(offset: U64): Buffer {
  const b = Buffer.alloc(LseekOut.size);
  writeU64(b, LseekOut.off.offset, offset);
  return b;
}

/** COPY_FILE_RANGE_64 (7.45) answers with a u64 byte count. */
export function encodeCopyFileRangeOut(bytes: U64): Buffer {
  const b = Buffer.alloc(CopyFileRangeOut.size);
  writeU64(b, CopyFileRangeOut.off.bytes_copied, bytes);
  return b;
}

function writeSxTime(b: Buffer, off: number, t: StatxTime | undefined): void {
  if (t === undefined) return;
  writeI64(b, off + SxTime.off.tv_sec, t.sec);
  b.writeUInt32LE(t.nsec >>> 0, off + SxTime.off.tv_nsec);
}

export function encodeStatxOut(r: StatxReply, ino: U64): Buffer {
  const b = Buffer.alloc(StatxOut.size);
  writeValid(b, StatxOut.off.attr_valid, StatxOut.off.attr_valid_nsec, r.timeout ?? 1);
  b.writeUInt32LE((r.flags ?? 0) >>> 0, StatxOut.off.flags);
  const s = r.statx;
  const base = StatxOut.off.stat;
  const o = StatxLayout.off;
  b.writeUInt32LE(s.mask >>> 0, base + o.mask);
  b.writeUInt32LE((s.blksize ?? 0) >>> 0, base + o.blksize);
  writeU64(b, base + o.attributes, s.attributes ?? 0);
  b.writeUInt32LE((s.nlink ?? 0) >>> 0, base + o.nlink);
  b.writeUInt32LE((s.uid ?? 0) >>> 0, base + o.uid);
  b.writeUInt32LE((s.gid ?? 0) >>> 0, base + o.gid);
  b.writeUInt16LE((s.mode ?? 0) & 0xffff, base + o.mode);
  writeU64(b, base + o.ino, s.ino ?? ino);
  writeU64(b, base + o.size, s.size ?? 0);
  writeU64(b, base + o.blocks, s.blocks ?? 0);
  writeU64(b, base + o.attributes_mask, s.attributesMask ?? 0);
  writeSxTime(b, base + o.atime, s.atime);
  writeSxTime(b, base + o.btime, s.btime);
  writeSxTime(b, base + o.ctime, s.ctime);
  writeSxTime(b, base + o.mtime, s.mtime);
  b.writeUInt32LE((s.rdevMajor ?? 0) >>> 0, base + o.rdev_major);
  b.writeUInt32LE((s.rdevMinor ?? 0) >>> 0, base + o.rdev_minor);
  b.writeUInt32LE((s.devMajor ?? 0) >>> 0, base + o.dev_major);
  b.writeUInt32LE((s.devMinor ?? 0) >>> 0, base + o.dev_minor);
  return b;
}

/** Data replies (READ, READLINK): the bytes, cut to what the kernel asked for. */
export function encodeData(data: BytesLike | readonly Uint8Array[], max: number): Uint8Array[] {
  if (typeof data === 'string' || data instanceof Uint8Array) {
    const bytes = asBytes(data);
    return [bytes.byteLength > max ? bytes.subarray(0, max) : bytes];
  }
  const out: Uint8Array[] = [];
  let left = max;
  for (const part of data) {
    if (left <= 0) break;
    out.push(part.byteLength > left ? part.subarray(0, left) : part);
    left -= part.byteLength;
  }
  return out;
}

/** The xattr value or name list with the size-probe rule: size 0 asks for the length; too small is ERANGE. */
export function encodeXattrData(data: Uint8Array, size: number): Uint8Array[] | 'ERANGE' {
  if (size === 0) return [encodeGetxattrOut(data.byteLength)];
  if (data.byteLength > size) return 'ERANGE';
  return [data];
}

/** LISTXATTR names as the kernel wants them: each NUL-terminated, back to back. */
export function joinXattrNames(names: readonly BytesLike[] | Uint8Array): Uint8Array {
  if (names instanceof Uint8Array) return names;
  return Buffer.concat(names.flatMap((n) => [asBytes(n), ZERO]));
}
const ZERO = Buffer.alloc(1);
export { asBytes };
