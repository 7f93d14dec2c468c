/**
 * From `fs.Stats` / `fs.BigIntStats` (what `fs.stat`, `fs.lstat` and `FileHandle.stat` give) to the
 * {@link Attr} a handler returns, for filesystems that pass through to another one.
 */
import type { BigIntStats, Stats } from 'node:fs';
import type { Attr } from '../protocol/replies.ts';
import { toU64 } from '../protocol/u64.ts';

const NS_PER_S = 1_000_000_000n;
const TWO_32 = 0x1_0000_0000;

/**
 * The attributes of `stats`, as a getattr/lookup reply wants them: ino, size, blocks, the three times,
 * mode, nlink, uid, gid, rdev and blksize.
 *
 * Exact for `BigIntStats` (`fs.stat(path, { bigint: true })`), nanoseconds included. With plain `Stats`
 * the times come from the `*Ms` fields, a double that keeps about a quarter of a microsecond today, and
 * 64-bit inode numbers above 2^53 are already rounded by Node; use `{ bigint: true }` when that matters.
 *
 * `ino` is the inode number of the stat'ed file; a filesystem that reports its own node ids instead
 * overrides it (`{ ...attrFromStats(s), ino: myIno }`) or leaves it out (`ino: undefined` reports the node
 * id the reply is about). `rdev` is converted from glibc's 64-bit `dev_t` to the kernel's 32-bit
 * encoding (include/linux/kdev_t.h new_encode_dev, which fs/fuse/inode.c fuse_fillattr decodes); both
 * agree on the low 32 bits for every device number the kernel can hold (12-bit major, 20-bit minor).
 */
export function attrFromStats(stats: Stats | BigIntStats): Attr {
  if (typeof stats.mode === 'bigint') {
    const s = stats as BigIntStats;
    const [atime, atimensec] = splitNs(s.atimeNs);
    const [mtime, mtimensec] = splitNs(s.mtimeNs);
    const [ctime, ctimensec] = splitNs(s.ctimeNs);
    return {
      ino: toU64(s.ino), size: toU64(s.size), blocks: toU64(s.blocks),
      atime, atimensec, mtime, mtimensec, ctime, ctimensec,
      mode: Number(s.mode), nlink: Number(s.nlink), uid: Number(s.uid), gid: Number(s.gid),
      rdev: Number(s.rdev & 0xffff_ffffn), blksize: Number(s.blksize),
    };
  }
  const s = stats as Stats;
  const [atime, atimensec] = splitMs(s.atimeMs);
  const [mtime, mtimensec] = splitMs(s.mtimeMs);
  const [ctime, ctimensec] = splitMs(s.ctimeMs);
  return {
    ino: s.ino, size: s.size, blocks: s.blocks,
    atime, atimensec, mtime, mtimensec, ctime, ctimensec,
    mode: s.mode, nlink: s.nlink, uid: s.uid, gid: s.gid,
    rdev: s.rdev % TWO_32, blksize: s.blksize,
  };
}

/** Nanoseconds since the epoch → [seconds, nanoseconds in 0..999 999 999], flooring like a timespec. */
function splitNs(ns: bigint): [number, number] {
  let sec = ns / NS_PER_S;
  let nsec = ns - sec * NS_PER_S;
  if (nsec < 0n) { sec -= 1n; nsec += NS_PER_S; } // bigint division truncates toward zero
  return [Number(sec), Number(nsec)];
}

/** Milliseconds (fractional) since the epoch → [seconds, nanoseconds], rounded to the nanosecond. */
function splitMs(ms: number): [number, number] {
  let sec = Math.floor(ms / 1000);
  let nsec = Math.round((ms - sec * 1000) * 1e6);
  if (nsec >= 1e9) { sec += 1; nsec -= 1e9; }
  if (nsec < 0) nsec = 0;
  return [sec, nsec];
}
