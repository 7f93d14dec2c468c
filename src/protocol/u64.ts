/**
 * Unsigned 64-bit values without BigInt arithmetic on the hot path.
 *
 * FUSE carries node ids, file handles, offsets, lock owners and request ids as u64. Almost all of them
 * are small (our own inode counter, file sizes), so a `U64` is a plain `number` whenever the value is at
 * most `Number.MAX_SAFE_INTEGER` and a `bigint` only above that. The representation is canonical (a value
 * has exactly one form), so `===` and `Map` keys work, and nothing is ever truncated: opaque handles
 * from other layers (pointers, hashes) with the top bits set come out as exact bigints.
 */
export type U64 = number | bigint;

const TWO_32 = 0x1_0000_0000;
/** Highest high word for which `hi * 2^32 + lo` is still a safe integer (2^53 - 1 has hi = 2^21 - 1). */
const MAX_SAFE_HI = 0x1f_ffff;

/** Reads a little-endian u64 at `off` (caller has bounds-checked). */
export function readU64(buf: Uint8Array, off: number): U64 {
  const lo = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16)) + buf[off + 3]! * 0x100_0000;
  const hi = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16)) + buf[off + 7]! * 0x100_0000;
  if (hi <= MAX_SAFE_HI) return hi * TWO_32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Reads a little-endian i64 as a number when it is safe, else a bigint. */
export function readI64(buf: Uint8Array, off: number): number | bigint {
  const v = readU64(buf, off);
  if (typeof v === 'number') return v;
  const s = BigInt.asIntN(64, v);
  return s >= -MAX_SAFE_BIG && s <= MAX_SAFE_BIG ? Number(s) : s;
}
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/** Writes `v` as a little-endian u64; `v` must be an integer in [0, 2^64). Returns the next offset. */
export function writeU64(buf: Uint8Array, off: number, v: U64): number {
  let lo: number;
  let hi: number;
  if (typeof v === 'number') {
    lo = v >>> 0;
    hi = Math.floor(v / TWO_32) >>> 0;
  } else {
    const m = BigInt.asUintN(64, v);
    lo = Number(m & 0xffff_ffffn);
    hi = Number(m >> 32n);
  }
  buf[off] = lo;
  buf[off + 1] = lo >>> 8;
  buf[off + 2] = lo >>> 16;
  buf[off + 3] = lo >>> 24;
  buf[off + 4] = hi;
  buf[off + 5] = hi >>> 8;
  buf[off + 6] = hi >>> 16;
  buf[off + 7] = hi >>> 24;
  return off + 8;
}

/** Writes a signed 64-bit value (two's complement). */
export function writeI64(buf: Uint8Array, off: number, v: number | bigint): number {
  if (typeof v === 'number' && v >= 0) return writeU64(buf, off, v);
  return writeU64(buf, off, BigInt.asUintN(64, BigInt(v)));
}

/** True when `v` is a valid u64: a non-negative safe integer or a bigint in [0, 2^64). */
export function isU64(v: unknown): v is U64 {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0;
  if (typeof v === 'bigint') return v >= 0n && v < 1n << 64n;
  return false;
}

/** Canonical form: a bigint that fits in a safe integer becomes a number. */
export function toU64(v: number | bigint): U64 {
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n) return Number(v);
  return v;
}

/** Largest valid `off_t` (signed 64-bit file offset). */
export const MAX_OFF_T = (1n << 63n) - 1n;

/** True when `v` is a valid non-negative `off_t` (≤ 2^63 − 1). */
export function isOffT(v: U64): boolean {
  return typeof v === 'number' ? v >= 0 : v >= 0n && v <= MAX_OFF_T;
}
