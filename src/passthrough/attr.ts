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
 * A time for fs.utimes/futimes, which take seconds as a double and hand them to libuv, which truncates
 * to whole microseconds (uv__fs_to_timespec). A double near 1.7e9 s is only exact to ~240 ns, so the
 * value is aimed at the middle of its microsecond (+500 ns): truncation then lands on the requested
 * microsecond instead of the one below. Nanoseconds below the microsecond are lost — Node has no
 * utimensat with a timespec. Negative times with a fraction go to the whole second below (libuv's
 * truncation would make tv_nsec negative, which the kernel refuses with EINVAL); negative numbers are
 * passed as strings because Node replaces a negative *number* by "now".
 */
export function utimeArg(t: Timespec): number | string {
  const sec = Number(t.sec);
  const usec = Math.floor(t.nsec / 1000);
  if (sec < 0) return String(sec);
  if (usec === 0) return sec;
  return sec + (usec * 1000 + 500) / 1e9;
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
