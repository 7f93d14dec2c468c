/**
 * fuse-native's stat and statfs objects as the path layer takes them. fuse-native packs a stat into
 * integers (its `getStatArray`) with these rules, kept here: a missing field is 0, except `nlink` (1) and
 * the times (the current time); times are `Date`s or milliseconds since the epoch, kept to the
 * millisecond; `ino` and `dev` are not used (libfuse 2 without `use_ino` numbers inodes itself).
 * Deliberate difference: a missing `blocks` is ceil(size / 512), so du(1) sees the size, where fuse-native
 * reported 0 blocks.
 */
import type { PathStat, PathStatfs, Timestamp } from '../ops/path/types.ts';

/** The stat object a fuse-native getattr (or readdir) passes to its callback. */
export interface FuseNativeStat {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: number;
  readonly dev?: number;
  readonly nlink?: number;
  readonly ino?: number;
  readonly rdev?: number;
  readonly blksize?: number;
  readonly blocks?: number;
  readonly atime?: Date | number;
  readonly mtime?: Date | number;
  readonly ctime?: Date | number;
}

/** The statfs object a fuse-native statfs passes to its callback (struct statvfs's fields). */
export interface FuseNativeStatfs {
  readonly bsize?: number;
  readonly frsize?: number;
  readonly blocks?: number;
  readonly bfree?: number;
  readonly bavail?: number;
  readonly files?: number;
  readonly ffree?: number;
  readonly favail?: number;
  readonly fsid?: number;
  readonly flag?: number;
  readonly namemax?: number;
}

/** A time as fuse-native reads it: a Date, or milliseconds; anything else (absent) is `nowMs`. */
function timeOf(t: unknown, nowMs: number): Date | Timestamp {
  if (t instanceof Date) return t;
  const ms = typeof t === 'number' && Number.isFinite(t) ? t : nowMs;
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6)) };
}

/** A non-negative integer field, or 0 (fuse-native's `|| 0`). */
const count = (v: unknown): number => (typeof v === 'number' && v > 0 && Number.isSafeInteger(v) ? v : 0);

/** The attributes of a fuse-native stat object (or of nothing: `cb(0)` without a stat). */
export function pathStatOf(st: FuseNativeStat | null | undefined): PathStat {
  const s: FuseNativeStat = st !== null && typeof st === 'object' ? st : {};
  const nowMs = s.atime instanceof Date && s.mtime instanceof Date && s.ctime instanceof Date ? 0 : Date.now();
  const size = count(s.size);
  return {
    mode: count(s.mode),
    uid: count(s.uid),
    gid: count(s.gid),
    size,
    nlink: count(s.nlink) || 1,
    rdev: count(s.rdev),
    // Absent (undefined) takes the layer's defaults: 4096, and ceil(size / 512).
    blksize: count(s.blksize) || undefined,
    blocks: count(s.blocks) || undefined,
    atime: timeOf(s.atime, nowMs),
    mtime: timeOf(s.mtime, nowMs),
    ctime: timeOf(s.ctime, nowMs),
  };
}

/** The statfs answer of a fuse-native statfs object; missing fields are 0, as in fuse-native. */
export function pathStatfsOf(s: FuseNativeStatfs | null | undefined): PathStatfs {
  const f: FuseNativeStatfs = s !== null && typeof s === 'object' ? s : {};
  return {
    bsize: count(f.bsize), frsize: count(f.frsize), blocks: count(f.blocks), bfree: count(f.bfree),
    bavail: count(f.bavail), files: count(f.files), ffree: count(f.ffree), namelen: count(f.namemax),
  };
}
