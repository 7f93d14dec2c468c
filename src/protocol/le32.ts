/**
 * Little-endian 16- and 32-bit fields by byte index, for the per-request codec (the in-header, the
 * out-header, fuse_attr and the reader's cursor). Buffer's own `readUInt32LE`/`writeUInt32LE` validate
 * their arguments in JavaScript and, on Node 20, are reached through V8's generic LoadIC at every call
 * site of optimized code: valgrind --tool=callgrind of the do-nothing daemon counted ~9 000 instructions
 * per stat(2) in those loads and checks, a fifth of the daemon's user-space instructions (bench/RESULTS.md,
 * "Per-request cost"). Element access on a Uint8Array compiles to plain loads and stores.
 *
 * The caller has bounds-checked `off` (a write past the end of a typed array is silently dropped, a read
 * gives undefined); values are assumed to be in range, as the encoders check them before writing.
 */

/** Reads a little-endian u16 at `off`. */
export function readU16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

/** Reads a little-endian u32 at `off` (a non-negative number). */
export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16)) + b[off + 3]! * 0x100_0000;
}

/** Reads a little-endian i32 at `off`. */
export function readI32(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24);
}

/** Writes the low 32 bits of `v` (a u32 or an i32) little-endian at `off`. */
export function write32(b: Uint8Array, off: number, v: number): void {
  b[off] = v;
  b[off + 1] = v >>> 8;
  b[off + 2] = v >>> 16;
  b[off + 3] = v >>> 24;
}
