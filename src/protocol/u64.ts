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

/** The u64 `hi · 2^32 + lo` from its two u32 halves: a number when safe, else an exact bigint. */
export function u64FromHalves(lo: number, hi: number): U64 {
  return hi <= MAX_SAFE_HI ? hi * TWO_32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
}

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

/**
 * Writes `v` as a little-endian u64. Returns the next offset. Throws a RangeError for anything but an
 * integer in [0, 2^64) (a number only up to 2^53 − 1, where it is exact): values are refused, never
 * wrapped (NaN, −1 or 2^70 would otherwise become 0, 2^64 − 1 and 0).
 */
export function writeU64(buf: Uint8Array, off: number, v: U64): number {
  let lo: number;
  let hi: number;
  if (typeof v === 'number') {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER) || Math.floor(v) !== v) throw new RangeError(`not a u64: ${String(v)}`);
    lo = v >>> 0;
    hi = Math.floor(v / TWO_32) >>> 0;
  } else {
    if (typeof v !== 'bigint' || v < 0n || v > MAX_U64) throw new RangeError(`not a u64: ${String(v)}`);
    lo = Number(v & 0xffff_ffffn);
    hi = Number(v >> 32n);
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

/** Writes a signed 64-bit value (two's complement). Throws a RangeError outside [−2^63, 2^63) or for a non-integer. */
export function writeI64(buf: Uint8Array, off: number, v: number | bigint): number {
  if (typeof v === 'number') {
    if (v >= 0) return writeU64(buf, off, v);
    if (!(v >= -Number.MAX_SAFE_INTEGER) || Math.floor(v) !== v) throw new RangeError(`not an i64: ${String(v)}`);
  } else if (typeof v !== 'bigint' || v < MIN_I64 || v > MAX_I64) {
    throw new RangeError(`not an i64: ${String(v)}`);
  }
  return writeU64(buf, off, BigInt.asUintN(64, BigInt(v)));
}
const MAX_U64 = (1n << 64n) - 1n;
const MAX_I64 = (1n << 63n) - 1n;
const MIN_I64 = -(1n << 63n);

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
