/**
 * Backing stats → FUSE attributes, and the time and device-number conversions Node leaves to us.
 */
import type { BigIntStats } from 'node:fs';
import type { Attr, Timespec, SetTime, U64 } from '../protocol/index.ts';
import { toU64 } from '../protocol/u64.ts';
import { DT_BLK, DT_CHR, DT_DIR, DT_FIFO, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN } from '../protocol/constants.ts';
import { attrFromStats } from '../ops/stats.ts';

const NS = 1_000_000_000n;

/** A stat field as a U64: a number when exact, else the bigint (inode numbers of some filesystems). */
export const u64: (v: bigint) => U64 = toU64;

function split(ns: bigint): [number, number] {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) { sec -= 1n; nsec += NS; }
  return [Number(sec), Number(nsec)];
}

/**
 * struct fuse_attr from a backing stat: st_ino is the inode number users see, times to the nanosecond.
 * The public helper's bigint path (src/ops/stats.ts), under the name the passthrough uses.
 */
export const attrOf: (st: BigIntStats) => Attr = attrFromStats;

/** mknod's rdev (new_encode_dev format, include/linux/kdev_t.h) as major and minor. */
export function decodeRdev(rdev: number): { major: number; minor: number } {
  return { major: (rdev & 0xfff00) >>> 8, minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00) };
}

/**
 * Whether this process's libuv keeps the nanoseconds of a time given to fs.utimes/futimes: from 1.52
 * (Node 24.22 and 26.12 ship 1.52.1) it converts the double to a timespec whole (src/unix/fs.c
 * uv__fs_to_timespec, libuv #4951); before (Node 20: 1.46, Node 22.23: 1.51), it truncated to the microsecond.
 */
export const LIBUV_KEEPS_NS: boolean = libuvAtLeast(process.versions.uv, 1, 52);

function libuvAtLeast(version: string | undefined, major: number, minor: number): boolean {
  const [ma = 0, mi = 0] = (version ?? '').split('.').map(Number);
  return ma > major || (ma === major && mi >= minor);
}

/**
 * A time for fs.utimes/futimes, which take seconds as a double: Node has no utimensat with a timespec
 * (node:ffi gives the passthrough one: ./ffi-ops.ts). A double near 1.7e9 s steps by 2^-22 s (~240 ns).
 *  - libuv < 1.52 truncates to the microsecond, so the value is aimed at the middle of its microsecond
 *    (+500 ns): truncation then lands on the requested microsecond instead of the one below, and the
 *    nanoseconds below it are lost.
 *  - libuv >= 1.52 keeps what the double holds: the time is the double that comes nearest after libuv's
 *    conversion (within ~120 ns; see {@link nearestTime}).
 * Negative times with a fraction go to the whole second below (the old truncation would make tv_nsec
 * negative, which the kernel refuses with EINVAL); negative numbers are passed as strings because Node
 * replaces a negative *number* by "now".
 */
export function utimeArg(t: Timespec, keepsNs: boolean = LIBUV_KEEPS_NS): number | string {
  const sec = Number(t.sec);
  if (sec < 0) return String(sec);
  if (keepsNs) return t.nsec === 0 ? sec : nearestTime(sec, t.nsec);
  const usec = Math.floor(t.nsec / 1000);
  if (usec === 0) return sec;
  return sec + (usec * 1000 + 500) / 1e9;
}

/** What libuv >= 1.52 sets for a double d >= 0, as ns after `sec`: tv_sec = (time_t)d, tv_nsec = (long)((d - tv_sec) * 1e9). */
function libuvNsAfter(sec: number, d: number): number {
  const whole = Math.trunc(d);
  return (whole - sec) * 1e9 + Math.trunc((d - whole) * 1e9);
}

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer); // little-endian: [low, high]

/** The next double above (+1) or below (-1) a positive finite x. */
function adjacent(x: number, dir: 1 | -1): number {
  bits[0] = x;
  if (dir === 1) {
    words[0] = (words[0]! + 1) >>> 0;
    if (words[0] === 0) words[1]! += 1;
  } else {
    if (words[0] === 0) words[1]! -= 1;
    words[0] = (words[0]! - 1) >>> 0;
  }
  return bits[0]!;
}

/**
 * The double whose libuv conversion comes nearest to `sec` s + `nsec` ns: the rounded sum and its two
 * neighbours each side. A time that libuv itself made from a double is hit exactly, so an omitted time
 * re-set from its current value (UTIME_OMIT, which Node's fs cannot pass) stays what it was.
 */
function nearestTime(sec: number, nsec: number): number {
  const candidates = [sec + nsec / 1e9];
  for (let i = 0; i < 2; i++) {
    candidates.push(adjacent(candidates.at(-1)!, 1));
    candidates.unshift(adjacent(candidates[0]!, -1));
  }
  let best = candidates[2]!;
  let bestError = Math.abs(libuvNsAfter(sec, best) - nsec);
  for (const d of candidates) {
    const error = Math.abs(libuvNsAfter(sec, d) - nsec);
    if (error < bestError) { best = d; bestError = error; }
  }
  return best;
}

/** The time to set: the request's, "now", or (absent: UTIME_OMIT) the current one from `st`. */
export function timeToSet(t: SetTime | undefined, currentNs: bigint): number | string {
  if (t === 'now') return Date.now() / 1000;
  if (t !== undefined) return utimeArg(t);
  const [sec, nsec] = split(currentNs);
  return utimeArg({ sec, nsec });
}

/** The type tests of a Node `Dirent`, whatever its name encoding. */
interface DirentLike {
  isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean;
  isCharacterDevice(): boolean; isBlockDevice(): boolean;
}

/** d_type of a directory entry read by Node. */
export function direntType(d: DirentLike): number {
  if (d.isFile()) return DT_REG;
  if (d.isDirectory()) return DT_DIR;
  if (d.isSymbolicLink()) return DT_LNK;
  if (d.isFIFO()) return DT_FIFO;
  if (d.isSocket()) return DT_SOCK;
  if (d.isCharacterDevice()) return DT_CHR;
  if (d.isBlockDevice()) return DT_BLK;
  return DT_UNKNOWN;
}
