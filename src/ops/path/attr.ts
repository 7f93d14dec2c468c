/**
 * From what a path filesystem's getattr returns (a plain {@link PathStat}, `fs.Stats` or `fs.BigIntStats`)
 * to the low-level {@link Attr}, and from the kernel's times to the {@link Timestamp}s the filesystem sees.
 */
import type { Attr, StatxData } from '../../protocol/replies.ts';
import type { U64 } from '../../protocol/u64.ts';
import type { AnyStat, PathStat, TimeLike, Timestamp } from './types.ts';
import type { BigIntStats, Stats } from 'node:fs';
import { S_IFDIR, S_IFMT } from '../file-mode.ts';
import { StatxMask } from '../../protocol/constants.ts';

const NS_PER_S = 1_000_000_000;
const NS_PER_S_BIG = 1_000_000_000n;
const TWO_32 = 0x1_0000_0000;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** STATX_BASIC_STATS (<linux/stat.h>): everything struct stat has, which every answer fills. */
const STATX_BASIC_STATS = StatxMask.TYPE | StatxMask.MODE | StatxMask.NLINK | StatxMask.UID | StatxMask.GID
  | StatxMask.ATIME | StatxMask.MTIME | StatxMask.CTIME | StatxMask.INO | StatxMask.SIZE | StatxMask.BLOCKS;

/** A time the filesystem returned, as [seconds, nanoseconds], floored like a timespec. */
function splitTime(t: TimeLike, what: string): [number, number] {
  if (t instanceof Date) return splitMs(t.getTime(), what);
  if (typeof t === 'number') {
    if (!Number.isFinite(t)) throw new TypeError(`getattr returned a non-finite ${what}`);
    const sec = Math.floor(t);
    const nsec = Math.min(NS_PER_S - 1, Math.round((t - sec) * NS_PER_S));
    return [sec, nsec];
  }
  if (typeof t === 'bigint') return splitNs(t);
  if (t !== null && typeof t === 'object' && 'sec' in t) {
    const nsec = t.nsec;
    if (!Number.isInteger(nsec) || nsec < 0 || nsec >= NS_PER_S) throw new TypeError(`getattr returned ${what}.nsec ${String(nsec)}, not 0..999999999`);
    return [Number(t.sec), nsec];
  }
  throw new TypeError(`getattr returned ${what} of type ${typeof t}; expected a Date, seconds, bigint nanoseconds or { sec, nsec }`);
}

function splitMs(ms: number, what: string): [number, number] {
  if (!Number.isFinite(ms)) throw new TypeError(`getattr returned an invalid ${what}`);
  let sec = Math.floor(ms / 1000);
  let nsec = Math.round((ms - sec * 1000) * 1e6);
  if (nsec >= NS_PER_S) { sec += 1; nsec -= NS_PER_S; }
  return [sec, Math.max(0, nsec)];
}

function splitNs(ns: bigint): [number, number] {
  let sec = ns / NS_PER_S_BIG;
  let nsec = ns - sec * NS_PER_S_BIG;
  if (nsec < 0n) { sec -= 1n; nsec += NS_PER_S_BIG; } // bigint division truncates toward zero
  return [Number(sec), Number(nsec)];
}

/** A u64 field: canonical (a number when exact), never negative. */
function u64Of(v: number | bigint, what: string): U64 {
  if (typeof v === 'bigint') {
    if (v < 0n) throw new TypeError(`getattr returned a negative ${what}`);
    return v <= MAX_SAFE_BIG ? Number(v) : v;
  }
  if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`getattr returned ${what} ${String(v)}, not a non-negative integer`);
  return v;
}

/**
 * The attributes of `s` for a reply. `ino` is the filesystem's own inode number when `useIno` and it
 * reports one (libfuse's `use_ino`), else left out so the reply carries the node id.
 */
export function attrOf(s: AnyStat, useIno: boolean): Attr {
  if (s === null || typeof s !== 'object') throw new TypeError(`getattr returned ${s === null ? 'null' : typeof s}; expected an object with a mode`);
  if (typeof s.mode === 'bigint') return attrOfBigIntStats(s as BigIntStats, useIno);
  if (typeof s.mode !== 'number') throw new TypeError('getattr returned an object without a numeric mode');
  if (typeof (s as Stats).atimeMs === 'number') return attrOfStats(s as Stats, useIno);
  const p = s as PathStat;
  const mode = p.mode;
  const size = p.size === undefined ? 0 : u64Of(p.size, 'size');
  const [mtime, mtimensec] = p.mtime === undefined ? [0, 0] : splitTime(p.mtime, 'mtime');
  const [atime, atimensec] = p.atime === undefined ? [mtime, mtimensec] : splitTime(p.atime, 'atime');
  const [ctime, ctimensec] = p.ctime === undefined ? [mtime, mtimensec] : splitTime(p.ctime, 'ctime');
  const blocks = p.blocks !== undefined ? u64Of(p.blocks, 'blocks')
    : typeof size === 'number' ? Math.ceil(size / 512) : (size + 511n) / 512n;
  return {
    ino: useIno && p.ino !== undefined ? u64Of(p.ino, 'ino') : undefined,
    size, blocks, atime, atimensec, mtime, mtimensec, ctime, ctimensec, mode,
    nlink: p.nlink ?? ((mode & S_IFMT) === S_IFDIR ? 2 : 1),
    uid: p.uid ?? 0, gid: p.gid ?? 0, rdev: p.rdev ?? 0, blksize: p.blksize ?? 4096,
  };
}

function attrOfStats(s: Stats, useIno: boolean): Attr {
  const [atime, atimensec] = splitMs(s.atimeMs, 'atime');
  const [mtime, mtimensec] = splitMs(s.mtimeMs, 'mtime');
  const [ctime, ctimensec] = splitMs(s.ctimeMs, 'ctime');
  return {
    ino: useIno ? s.ino : undefined, size: s.size, blocks: s.blocks,
    atime, atimensec, mtime, mtimensec, ctime, ctimensec,
    mode: s.mode, nlink: s.nlink, uid: s.uid, gid: s.gid,
    // glibc's 64-bit dev_t vs. the kernel's 32-bit encoding (include/linux/kdev_t.h new_encode_dev): they
    // agree on the low 32 bits for every device number the kernel can hold.
    rdev: s.rdev % TWO_32, blksize: s.blksize,
  };
}

function attrOfBigIntStats(s: BigIntStats, useIno: boolean): Attr {
  const [atime, atimensec] = splitNs(s.atimeNs);
  const [mtime, mtimensec] = splitNs(s.mtimeNs);
  const [ctime, ctimensec] = splitNs(s.ctimeNs);
  return {
    ino: useIno ? u64Of(s.ino, 'ino') : undefined, size: u64Of(s.size, 'size'), blocks: u64Of(s.blocks, 'blocks'),
    atime, atimensec, mtime, mtimensec, ctime, ctimensec,
    mode: Number(s.mode), nlink: Number(s.nlink), uid: Number(s.uid), gid: Number(s.gid),
    rdev: Number(s.rdev & 0xffff_ffffn), blksize: Number(s.blksize),
  };
}

/**
 * A STATX answer from what getattr returned and its {@link attrOf} form: the basic fields, and the birth
 * time with STATX_BTIME when the filesystem gave one (an `fs.Stats` birth time of 0 means "unknown": Node
 * reports that when the underlying filesystem has none).
 */
export function statxOf(s: AnyStat, attr: Attr): StatxData {
  const btime = birthOf(s);
  const rdev = attr.rdev ?? 0;
  return {
    mask: btime === undefined ? STATX_BASIC_STATS : STATX_BASIC_STATS | StatxMask.BTIME,
    blksize: attr.blksize, nlink: attr.nlink, uid: attr.uid, gid: attr.gid, mode: attr.mode, ino: attr.ino,
    size: attr.size, blocks: attr.blocks,
    atime: { sec: attr.atime as number, nsec: attr.atimensec ?? 0 },
    mtime: { sec: attr.mtime as number, nsec: attr.mtimensec ?? 0 },
    ctime: { sec: attr.ctime as number, nsec: attr.ctimensec ?? 0 },
    ...(btime !== undefined && { btime: { sec: btime[0], nsec: btime[1] } }),
    // The kernel's 32-bit device number (include/linux/kdev_t.h new_decode_dev), as fuse_statx_to_attr
    // encodes it back.
    rdevMajor: (rdev & 0xfff00) >>> 8, rdevMinor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00),
  };
}

function birthOf(s: AnyStat): [number, number] | undefined {
  if (typeof s.mode === 'bigint') {
    const ns = (s as BigIntStats).birthtimeNs;
    return typeof ns === 'bigint' && ns !== 0n ? splitNs(ns) : undefined;
  }
  if (typeof (s as Stats).atimeMs === 'number') {
    const ms = (s as Stats).birthtimeMs;
    return typeof ms === 'number' && ms !== 0 ? splitMs(ms, 'birthtime') : undefined;
  }
  const t = (s as PathStat).birthtime;
  return t === undefined ? undefined : splitTime(t, 'birthtime');
}

/** The inode number a filesystem reports, if any (the key that makes hard links share a node). */
export function reportedIno(s: AnyStat): U64 | undefined {
  const ino = (s as { ino?: number | bigint }).ino;
  if (ino === undefined) return undefined;
  return typeof ino === 'bigint' ? (ino <= MAX_SAFE_BIG ? Number(ino) : ino) : ino;
}

/** The kernel's time (a timespec whose seconds may be a bigint) as a {@link Timestamp}. */
export function timestampOf(t: { readonly sec: number | bigint; readonly nsec: number }): Timestamp {
  return { sec: Number(t.sec), nsec: t.nsec };
}

/** UTIME_NOW: the current wall-clock time to the best resolution Node offers (microseconds), marked `now`. */
export function utimeNow(): Timestamp {
  const ms = performance.timeOrigin + performance.now();
  const sec = Math.floor(ms / 1000);
  const nsec = Math.min(NS_PER_S - 1, Math.max(0, Math.round((ms - sec * 1000) * 1e6)));
  return { sec, nsec, now: true };
}
