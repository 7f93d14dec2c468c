/**
 * Reply bodies: the types handlers return and the encoders that turn them into bytes. Each encoder
 * returns the body parts (fixed struct first, then any payload) without the out-header, which
 * `frameReply` adds. Missing optional fields encode as 0.
 *
 * Handlers are user code, so every encoder checks what it is given instead of trusting the types: a
 * field of the wrong type or out of its range (`ino: NaN`, `size: -5`, `mode: 'rwx'`, an attr without
 * `mode`, a payload that is not bytes) throws a TypeError naming the field, what was expected and what
 * came, and the session answers that request EIO with a warning. Nothing is wrapped or truncated
 * silently, and nothing that is not a Uint8Array reaches `writev`.
 */
import type { U64 } from './u64.ts';
import { writeU64, writeI64, isU64, MAX_OFF_T } from './u64.ts';
import type { Timespec } from './requests.ts';
import {
  Attr as AttrLayout, AttrOut, EntryOut, OpenOut, WriteOut, StatfsOut, Kstatfs, GetxattrOut, LkOut, FileLock as FileLockLayout,
  BmapOut, IoctlOut, IoctlIovec as IoctlIovecLayout, PollOut, LseekOut, CopyFileRangeOut, StatxOut, Statx as StatxLayout, SxTime,
} from './structs.ts';
import { IOCTL_MAX_IOV } from './constants.ts';
import { zeroed } from './zeroed.ts';
import { write32 } from './le32.ts';

/**
 * A point in time, as a filesystem may return it: seconds since the epoch as a number (fractions become
 * nanoseconds), a `Date`, a bigint of nanoseconds since the epoch (`fs.BigIntStats.mtimeNs`), or
 * `{ sec, nsec }`. Times before 1970 are negative.
 */
export type TimeLike = number | bigint | Date | Timespec;

/** File attributes (struct fuse_attr). */
export interface Attr {
  /** Defaults to the node id the reply is about. */
  readonly ino?: U64;
  /** At most 2^63 − 1 (the kernel refuses larger sizes: fs/fuse/fuse_i.h fuse_valid_size). */
  readonly size?: U64;
  readonly blocks?: U64;
  /** Absent: 0 (the epoch). */
  readonly atime?: TimeLike;
  readonly mtime?: TimeLike;
  readonly ctime?: TimeLike;
  /** Nanoseconds (0..999 999 999), only read when `atime` is a number: its fraction is then ignored. */
  readonly atimensec?: number;
  readonly mtimensec?: number;
  readonly ctimensec?: number;
  /**
   * File type and permission bits (S_IFREG | 0o644, …). Required, with one of the seven file types: the
   * kernel refuses any other (fs/fuse/fuse_i.h fuse_invalid_attr).
   */
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
  /**
   * The node id: any non-zero number (or bigint) the filesystem chooses. 0 with `entryTimeout` caches a
   * negative lookup (the name does not exist); `attr` is then not needed.
   */
  readonly ino: U64;
  readonly generation?: U64;
  /** Seconds the kernel may cache the name → node mapping. Defaults to 1. */
  readonly entryTimeout?: number;
  /** Seconds the kernel may cache the attributes. Defaults to 1. */
  readonly attrTimeout?: number;
  /** Required unless `ino` is 0. */
  readonly attr?: Attr;
}

export interface AttrReply {
  readonly attr: Attr;
  /** Seconds the kernel may cache the attributes. Defaults to 1. */
  readonly attrTimeout?: number;
  /** @deprecated Use `attrTimeout` (one name in every reply); read when `attrTimeout` is absent. */
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

export interface CreateReply {
  readonly entry: EntryReply;
  /** Absent: fh 0, no flags. */
  readonly open?: OpenReply;
}

export interface StatfsReply {
  readonly blocks?: U64; readonly bfree?: U64; readonly bavail?: U64; readonly files?: U64; readonly ffree?: U64;
  readonly bsize?: number; readonly namelen?: number; readonly frsize?: number;
}

export interface LockReply { readonly start: U64; readonly end: U64; readonly type: number; readonly pid: number }

/** An ioctl answer: the result and output data, or a request to retry with the given iovecs (unrestricted ioctls). */
export type IoctlReply =
  | { readonly result: number; readonly data?: BytesLike }
  | { readonly retry: { readonly in: readonly IoctlIovec[]; readonly out: readonly IoctlIovec[] } };
export interface IoctlIovec { readonly base: U64; readonly len: U64 }

/** A statx time: anything {@link TimeLike}. */
export type StatxTime = TimeLike;
/** struct fuse_statx: only the fields named in `mask` (STATX_*) are meaningful to the kernel. */
export interface StatxData {
  readonly mask: number; readonly blksize?: number; readonly attributes?: U64; readonly nlink?: number; readonly uid?: number;
  readonly gid?: number; readonly mode?: number; readonly ino?: U64; readonly size?: U64; readonly blocks?: U64;
  readonly attributesMask?: U64; readonly atime?: StatxTime; readonly btime?: StatxTime; readonly ctime?: StatxTime;
  readonly mtime?: StatxTime; readonly rdevMajor?: number; readonly rdevMinor?: number; readonly devMajor?: number; readonly devMinor?: number;
}
export interface StatxReply {
  readonly statx: StatxData;
  /** Seconds the kernel may cache the attributes. Defaults to 1. */
  readonly attrTimeout?: number;
  /** @deprecated Use `attrTimeout`; read when `attrTimeout` is absent. */
  readonly timeout?: number;
  readonly flags?: number;
}

/** Bytes or text (UTF-8). */
export type BytesLike = Uint8Array | string;

const NS = 1_000_000_000;
const NS_BIG = 1_000_000_000n;
const MAX_I64 = (1n << 63n) - 1n;
const MIN_I64 = -(1n << 63n);

/* ---- checks: each returns the value or throws a TypeError naming the field -------------------------- */

/**
 * A short description of any value for a message (`NaN`, `-1`, `"rwx"`, `an array of 1`, `an object {data}`).
 * Never throws, whatever the value (proxies, throwing getters).
 */
export function describeValue(v: unknown): string {
  try {
    switch (typeof v) {
      case 'undefined': return 'undefined';
      case 'number': case 'boolean': return String(v);
      case 'bigint': return `${v}n`;
      case 'string': return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
      case 'symbol': return v.toString();
      case 'function': return 'a function';
    }
    if (v === null) return 'null';
    if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${v.byteLength} bytes`;
    if (Array.isArray(v)) return `an array of ${v.length}`;
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid Date' : 'a Date';
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    if (typeof (v as { then?: unknown }).then === 'function') return 'a promise';
    const keys = Object.keys(v as object);
    return keys.length === 0 ? 'an object {}' : `an object {${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''}}`;
  } catch {
    return 'an object';
  }
}

/** `field` is a dotted path (`attr.mode`, `entries[3].offset`). */
function bad(field: string, expected: string, got: unknown): never {
  throw new TypeError(`${field}: expected ${expected}, got ${describeValue(got)}`);
}

/** Joins a path lazily: only on the error path do field names get concatenated. */
function at(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}
function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function u32(v: unknown, path: string, field: string): number {
  if (typeof v === 'number' && v >>> 0 === v) return v;
  return bad(at(path, field), 'an integer 0..2^32 − 1', v);
}
function optU32(v: unknown, dflt: number, path: string, field: string): number {
  return v === undefined ? dflt : u32(v, path, field);
}
function i32(v: unknown, path: string, field: string): number {
  if (typeof v === 'number' && (v | 0) === v) return v;
  return bad(at(path, field), 'an integer −2^31..2^31 − 1', v);
}
function u64(v: unknown, path: string, field: string): U64 {
  if (isU64(v)) return v;
  return bad(at(path, field), 'a non-negative integer (a bigint above 2^53 − 1)', v);
}
function optU64(v: unknown, path: string, field: string): U64 {
  return v === undefined ? 0 : u64(v, path, field);
}
/** A file offset or size: the kernel's loff_t is signed, so at most 2^63 − 1. */
function offT(v: unknown, path: string, field: string): U64 {
  if (typeof v === 'number' ? Number.isSafeInteger(v) && v >= 0 : typeof v === 'bigint' && v >= 0n && v <= MAX_OFF_T) return v as U64;
  return bad(at(path, field), 'an offset 0..2^63 − 1 (a bigint above 2^53 − 1)', v);
}

/**
 * The seven file types the kernel accepts (fs/fuse/fuse_i.h fuse_valid_type), indexed by the S_IFMT
 * nibble (mode >>> 12): S_IFIFO 1, S_IFCHR 2, S_IFDIR 4, S_IFBLK 6, S_IFREG 8, S_IFLNK 10, S_IFSOCK 12.
 */
const FILE_TYPES: readonly boolean[] = Object.freeze([false, true, true, false, true, false, true, false, true, false, true, false, true, false, false, false]);
function fileMode(v: unknown, path: string): number {
  if (typeof v === 'number' && v >>> 0 === v && FILE_TYPES[(v >>> 12) & 15]) return v;
  return bad(at(path, 'mode'), 'a file mode with its type (S_IFREG | 0o644, S_IFDIR | 0o755, …)', v);
}

/**
 * Writes a cache timeout in seconds: 0, less or NaN means "do not cache" (0), Infinity the longest the
 * protocol can say; anything but a number is refused.
 */
function writeValid(b: Buffer, secOff: number, nsecOff: number, timeout: unknown, path: string, field: string): void {
  if (typeof timeout !== 'number') return bad(at(path, field), 'seconds (a number)', timeout);
  if (!(timeout > 0)) { writeU64(b, secOff, 0); write32(b, nsecOff, 0); return; }
  const seconds = timeout >= 2 ** 53 ? 2 ** 53 - 1 : timeout;
  const whole = Math.floor(seconds);
  writeU64(b, secOff, whole);
  write32(b, nsecOff, Math.min(NS - 1, Math.round((seconds - whole) * NS)));
}

/** `suffix` is appended to `field` only in the message: no string is built per reply. */
function nsecField(v: unknown, path: string, field: string, suffix: string): number {
  if (typeof v === 'number' && v >>> 0 === v && v < NS) return v;
  return bad(at(path, field + suffix), 'nanoseconds 0..999 999 999', v);
}

const TIME_EXPECTED = 'seconds since the epoch (number), a Date, bigint nanoseconds or { sec, nsec }';

/**
 * Writes a {@link TimeLike} as (i64 seconds, u32 nanoseconds). `nsec` (the `*nsec` field of an Attr)
 * only applies to a number of seconds.
 */
function writeTime(b: Buffer, secOff: number, nsecOff: number, t: unknown, nsec: unknown, path: string, field: string): void {
  let sec: number | bigint;
  let ns: number;
  if (typeof t === 'number') {
    if (!Number.isFinite(t) || Math.abs(t) > Number.MAX_SAFE_INTEGER) bad(at(path, field), TIME_EXPECTED, t);
    if (nsec !== undefined) {
      sec = Math.trunc(t);
      ns = nsecField(nsec, path, field, 'nsec');
    } else {
      sec = Math.floor(t);
      ns = Math.min(NS - 1, Math.round((t - sec) * NS));
    }
  } else if (typeof t === 'bigint') {
    let s = t / NS_BIG;
    let rem = t - s * NS_BIG;
    if (rem < 0n) { s -= 1n; rem += NS_BIG; }
    sec = s;
    ns = Number(rem);
  } else if (t instanceof Date) {
    const ms = t.getTime();
    if (Number.isNaN(ms)) bad(at(path, field), TIME_EXPECTED, t);
    sec = Math.floor(ms / 1000);
    ns = (ms - sec * 1000) * 1_000_000;
  } else if (isRecord(t)) {
    const s = t['sec'];
    if (typeof s === 'number' ? !Number.isSafeInteger(s) : !(typeof s === 'bigint' && s >= MIN_I64 && s <= MAX_I64)) {
      bad(at(path, `${field}.sec`), 'whole seconds (a safe integer or a bigint)', s);
    }
    sec = s as number | bigint;
    ns = nsecField(t['nsec'] ?? 0, path, field, '.nsec');
  } else {
    return bad(at(path, field), TIME_EXPECTED, t);
  }
  if (typeof sec === 'bigint' && (sec < MIN_I64 || sec > MAX_I64)) bad(at(path, field), `${TIME_EXPECTED} within ±2^63 seconds`, t);
  writeI64(b, secOff, sec);
  write32(b, nsecOff, ns);
}

/**
 * Bytes from a handler's result: a Uint8Array as is, a string as UTF-8; anything else throws a
 * TypeError naming `field`.
 */
function asBytes(v: unknown, field = 'result'): Uint8Array {
  if (typeof v === 'string') return Buffer.from(v);
  if (v instanceof Uint8Array) return v;
  return bad(field, 'bytes (a Uint8Array or a string)', v);
}

/* ---- encoders ------------------------------------------------------------------------------------- */

/**
 * Writes struct fuse_attr at `off` of a zeroed buffer. `path` names the attr in error messages. The
 * attr of a negative entry (`negative`) is not read by the kernel, so its mode need not name a type.
 */
export function writeAttr(b: Buffer, off: number, a: Attr, defaultIno: U64, path = 'attr', negative = false): void {
  if (!isObject(a)) bad(path, 'an Attr object ({ mode, … })', a);
  const o = AttrLayout.off;
  const mode = negative ? u32(a.mode, path, 'mode') : fileMode(a.mode, path);
  writeU64(b, off + o.ino, a.ino === undefined ? defaultIno : u64(a.ino, path, 'ino'));
  if (a.size !== undefined) writeU64(b, off + o.size, offT(a.size, path, 'size'));
  if (a.blocks !== undefined) writeU64(b, off + o.blocks, u64(a.blocks, path, 'blocks'));
  if (a.atime !== undefined) writeTime(b, off + o.atime, off + o.atimensec, a.atime, a.atimensec, path, 'atime');
  if (a.mtime !== undefined) writeTime(b, off + o.mtime, off + o.mtimensec, a.mtime, a.mtimensec, path, 'mtime');
  if (a.ctime !== undefined) writeTime(b, off + o.ctime, off + o.ctimensec, a.ctime, a.ctimensec, path, 'ctime');
  write32(b, off + o.mode, mode);
  write32(b, off + o.nlink, optU32(a.nlink, 1, path, 'nlink'));
  write32(b, off + o.uid, optU32(a.uid, 0, path, 'uid'));
  write32(b, off + o.gid, optU32(a.gid, 0, path, 'gid'));
  write32(b, off + o.rdev, optU32(a.rdev, 0, path, 'rdev'));
  write32(b, off + o.blksize, optU32(a.blksize, 0, path, 'blksize'));
  write32(b, off + o.flags, optU32(a.flags, 0, path, 'flags'));
}

/** Writes struct fuse_entry_out at `off` of a zeroed buffer. `path` names the entry in error messages. */
export function writeEntryOut(b: Buffer, off: number, e: EntryReply, path = ''): void {
  if (!isObject(e)) bad(path === '' ? 'result' : path, 'an EntryReply object ({ ino, attr, … })', e);
  const o = EntryOut.off;
  const ino = u64(e.ino, path, 'ino');
  writeU64(b, off + o.nodeid, ino);
  writeU64(b, off + o.generation, optU64(e.generation, path, 'generation'));
  writeValid(b, off + o.entry_valid, off + o.entry_valid_nsec, e.entryTimeout ?? 1, path, 'entryTimeout');
  writeValid(b, off + o.attr_valid, off + o.attr_valid_nsec, e.attrTimeout ?? 1, path, 'attrTimeout');
  // fs/fuse/dir.c fuse_lookup_name: node id 0 is a negative entry, its attributes are not read.
  const negative = ino === 0 || ino === 0n;
  if (e.attr === undefined && negative) return;
  writeAttr(b, off + o.attr, e.attr as Attr, ino, at(path, 'attr'), negative);
}

export function encodeEntryOut(e: EntryReply, path = ''): Buffer {
  const b = zeroed(EntryOut.size);
  writeEntryOut(b, 0, e, path);
  return b;
}

export function encodeAttrOut(r: AttrReply, ino: U64): Buffer {
  if (!isObject(r)) bad('result', 'an AttrReply object ({ attr, attrTimeout? })', r);
  const b = zeroed(AttrOut.size);
  writeValid(b, AttrOut.off.attr_valid, AttrOut.off.attr_valid_nsec, r.attrTimeout ?? r.timeout ?? 1, '', r.attrTimeout === undefined && r.timeout !== undefined ? 'timeout' : 'attrTimeout');
  writeAttr(b, AttrOut.off.attr, r.attr, ino);
  return b;
}

export function encodeOpenOut(r: OpenReply, path = ''): Buffer {
  if (!isObject(r)) bad(path === '' ? 'result' : path, 'an OpenReply object ({ fh?, flags? }) or nothing', r);
  const b = zeroed(OpenOut.size);
  writeU64(b, OpenOut.off.fh, optU64(r.fh, path, 'fh'));
  write32(b, OpenOut.off.open_flags, optU32(r.flags, 0, path, 'flags'));
  write32(b, OpenOut.off.backing_id, r.backingId === undefined ? 0 : i32(r.backingId, path, 'backingId'));
  return b;
}

export function encodeCreateOut(r: CreateReply): Buffer[] {
  if (!isObject(r)) bad('result', 'a CreateReply object ({ entry, open? })', r);
  return [encodeEntryOut(r.entry, 'entry'), encodeOpenOut(r.open ?? {}, 'open')];
}

export function encodeWriteOut(size: number): Buffer {
  const b = zeroed(WriteOut.size);
  write32(b, WriteOut.off.size, u32(size, '', 'result'));
  return b;
}

export function encodeStatfsOut(s: StatfsReply): Buffer {
  if (!isObject(s)) bad('result', 'a StatfsReply object', s);
  const b = zeroed(StatfsOut.size);
  const o = Kstatfs.off;
  writeU64(b, o.blocks, optU64(s.blocks, '', 'blocks'));
  writeU64(b, o.bfree, optU64(s.bfree, '', 'bfree'));
  writeU64(b, o.bavail, optU64(s.bavail, '', 'bavail'));
  writeU64(b, o.files, optU64(s.files, '', 'files'));
  writeU64(b, o.ffree, optU64(s.ffree, '', 'ffree'));
  const bsize = optU32(s.bsize, 512, '', 'bsize');
  write32(b, o.bsize, bsize);
  write32(b, o.namelen, optU32(s.namelen, 255, '', 'namelen'));
  write32(b, o.frsize, optU32(s.frsize, bsize, '', 'frsize'));
  return b;
}

export function encodeGetxattrOut(size: number): Buffer {
  const b = zeroed(GetxattrOut.size);
  write32(b, GetxattrOut.off.size, u32(size, '', 'size'));
  return b;
}

export function encodeLkOut(l: LockReply): Buffer {
  if (!isObject(l)) bad('result', 'a LockReply object ({ start, end, type, pid })', l);
  const b = zeroed(LkOut.size);
  const o = LkOut.off.lk;
  writeU64(b, o + FileLockLayout.off.start, u64(l.start, '', 'start'));
  writeU64(b, o + FileLockLayout.off.end, u64(l.end, '', 'end'));
  write32(b, o + FileLockLayout.off.type, u32(l.type, '', 'type'));
  write32(b, o + FileLockLayout.off.pid, u32(l.pid, '', 'pid'));
  return b;
}

export function encodeBmapOut(block: U64): Buffer {
  const b = zeroed(BmapOut.size);
  writeU64(b, BmapOut.off.block, u64(block, '', 'result'));
  return b;
}

function iovecs(list: unknown, path: string): readonly IoctlIovec[] {
  if (!Array.isArray(list)) bad(path, 'an array of { base, len }', list);
  if (list.length > IOCTL_MAX_IOV) bad(path, `at most ${IOCTL_MAX_IOV} iovecs (FUSE_IOCTL_MAX_IOV)`, list);
  return list as readonly IoctlIovec[];
}

/** An ioctl reply: fuse_ioctl_out, then either the output data or (retry) the in and out iovec arrays. */
export function encodeIoctlOut(r: IoctlReply, outSize: number): Uint8Array[] {
  if (!isObject(r)) bad('result', 'an IoctlReply object ({ result, data? } or { retry })', r);
  const b = zeroed(IoctlOut.size);
  if ('retry' in r) {
    const retry: unknown = r.retry;
    if (!isRecord(retry)) bad('retry', 'an object { in, out }', retry);
    const ins = iovecs(retry['in'], 'retry.in');
    const outs = iovecs(retry['out'], 'retry.out');
    write32(b, IoctlOut.off.flags, 1 << 2); // FUSE_IOCTL_RETRY
    write32(b, IoctlOut.off.in_iovs, ins.length);
    write32(b, IoctlOut.off.out_iovs, outs.length);
    const iovs = zeroed((ins.length + outs.length) * IoctlIovecLayout.size);
    let pos = 0;
    for (const [name, list] of [['retry.in', ins], ['retry.out', outs]] as const) {
      for (let i = 0; i < list.length; i++) {
        const v: unknown = list[i];
        const path = `${name}[${i}]`;
        if (!isRecord(v)) bad(path, 'an iovec { base, len }', v);
        writeU64(iovs, pos + IoctlIovecLayout.off.base, u64(v['base'], path, 'base'));
        writeU64(iovs, pos + IoctlIovecLayout.off.len, u64(v['len'], path, 'len'));
        pos += IoctlIovecLayout.size;
      }
    }
    return [b, iovs];
  }
  write32(b, IoctlOut.off.result, i32(r.result, '', 'result'));
  if (r.data === undefined) return [b];
  const data = asBytes(r.data, 'data');
  if (data.byteLength === 0) return [b];
  return [b, data.byteLength > outSize ? data.subarray(0, outSize) : data];
}

export function encodePollOut(revents: number): Buffer {
  const b = zeroed(PollOut.size);
  write32(b, PollOut.off.revents, u32(revents, '', 'result'));
  return b;
}

export function encodeLseekOut(offset: U64): Buffer {
  const b = zeroed(LseekOut.size);
  writeU64(b, LseekOut.off.offset, u64(offset, '', 'result'));
  return b;
}

/** COPY_FILE_RANGE_64 (7.45) answers with a u64 byte count. */
export function encodeCopyFileRangeOut(bytes: U64): Buffer {
  const b = zeroed(CopyFileRangeOut.size);
  writeU64(b, CopyFileRangeOut.off.bytes_copied, u64(bytes, '', 'result'));
  return b;
}

function writeSxTime(b: Buffer, off: number, t: unknown, field: string): void {
  if (t === undefined) return;
  writeTime(b, off + SxTime.off.tv_sec, off + SxTime.off.tv_nsec, t, undefined, 'statx', field);
}

export function encodeStatxOut(r: StatxReply, ino: U64): Buffer {
  if (!isObject(r)) bad('result', 'a StatxReply object ({ statx, attrTimeout? })', r);
  const s: unknown = r.statx;
  if (!isRecord(s)) bad('statx', 'a StatxData object ({ mask, … })', s);
  const b = zeroed(StatxOut.size);
  writeValid(b, StatxOut.off.attr_valid, StatxOut.off.attr_valid_nsec, r.attrTimeout ?? r.timeout ?? 1, '', r.attrTimeout === undefined && r.timeout !== undefined ? 'timeout' : 'attrTimeout');
  write32(b, StatxOut.off.flags, optU32(r.flags, 0, '', 'flags'));
  const base = StatxOut.off.stat;
  const o = StatxLayout.off;
  const p = 'statx';
  write32(b, base + o.mask, u32(s['mask'], p, 'mask'));
  write32(b, base + o.blksize, optU32(s['blksize'], 0, p, 'blksize'));
  writeU64(b, base + o.attributes, optU64(s['attributes'], p, 'attributes'));
  write32(b, base + o.nlink, optU32(s['nlink'], 0, p, 'nlink'));
  write32(b, base + o.uid, optU32(s['uid'], 0, p, 'uid'));
  write32(b, base + o.gid, optU32(s['gid'], 0, p, 'gid'));
  const mode = s['mode'];
  if (mode !== undefined && !(typeof mode === 'number' && mode >>> 0 === mode && mode <= 0xffff)) bad(at(p, 'mode'), 'a file mode 0..0xffff', mode);
  b.writeUInt16LE((mode as number | undefined) ?? 0, base + o.mode);
  writeU64(b, base + o.ino, s['ino'] === undefined ? ino : u64(s['ino'], p, 'ino'));
  writeU64(b, base + o.size, optU64(s['size'], p, 'size'));
  writeU64(b, base + o.blocks, optU64(s['blocks'], p, 'blocks'));
  writeU64(b, base + o.attributes_mask, optU64(s['attributesMask'], p, 'attributesMask'));
  writeSxTime(b, base + o.atime, s['atime'], 'atime');
  writeSxTime(b, base + o.btime, s['btime'], 'btime');
  writeSxTime(b, base + o.ctime, s['ctime'], 'ctime');
  writeSxTime(b, base + o.mtime, s['mtime'], 'mtime');
  write32(b, base + o.rdev_major, optU32(s['rdevMajor'], 0, p, 'rdevMajor'));
  write32(b, base + o.rdev_minor, optU32(s['rdevMinor'], 0, p, 'rdevMinor'));
  write32(b, base + o.dev_major, optU32(s['devMajor'], 0, p, 'devMajor'));
  write32(b, base + o.dev_minor, optU32(s['devMinor'], 0, p, 'devMinor'));
  return b;
}

const DATA_EXPECTED = 'bytes (a Uint8Array or a string) or an array of Uint8Arrays';

/** Data replies (READ, READLINK): the bytes, cut to what the kernel asked for. */
export function encodeData(data: BytesLike | readonly Uint8Array[], max: number): Uint8Array[] {
  if (typeof data === 'string' || data instanceof Uint8Array) {
    const bytes = asBytes(data);
    return [bytes.byteLength > max ? bytes.subarray(0, max) : bytes];
  }
  if (!Array.isArray(data)) return bad('result', DATA_EXPECTED, data);
  const out: Uint8Array[] = [];
  let left = max;
  for (let i = 0; i < data.length; i++) {
    const part: unknown = data[i];
    if (!(part instanceof Uint8Array)) bad(`result[${i}]`, 'a Uint8Array', part);
    if (left <= 0 || part.byteLength === 0) continue;
    out.push(part.byteLength > left ? part.subarray(0, left) : part);
    left -= part.byteLength;
  }
  return out;
}

/** The xattr value or name list with the size-probe rule: size 0 asks for the length; too small is ERANGE. */
export function encodeXattrData(data: Uint8Array, size: number): Uint8Array[] | 'ERANGE' {
  const bytes = asBytes(data);
  if (size === 0) return [encodeGetxattrOut(bytes.byteLength)];
  if (bytes.byteLength > size) return 'ERANGE';
  return [bytes];
}

/** LISTXATTR names as the kernel wants them: each NUL-terminated, back to back. */
export function joinXattrNames(names: readonly BytesLike[] | Uint8Array): Uint8Array {
  if (names instanceof Uint8Array) return names;
  if (!Array.isArray(names)) return bad('result', 'an array of names (strings or Uint8Arrays), or the NUL-separated list as bytes', names);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = asBytes(names[i], `result[${i}]`);
    if (name.byteLength === 0 || name.includes(0)) bad(`result[${i}]`, 'a non-empty xattr name without NUL', names[i]);
    parts.push(name, ZERO);
  }
  return Buffer.concat(parts);
}
const ZERO = Buffer.alloc(1);
export { asBytes };
