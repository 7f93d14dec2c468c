/**
 * A deliberately naive fixture builder for FUSE frames. It shares no code with src/protocol (no imports
 * from it at all): every integer is split into bytes by hand, little-endian, so a layout or byte-order
 * mistake in the codec cannot be mirrored here. Golden tests write one builder call per C field, with a
 * comment naming the field and the 8-byte row it sits in.
 */

/** Appends little-endian values to a growing byte list. */
export class FrameBuilder {
  readonly #bytes: number[] = [];

  get length(): number {
    return this.#bytes.length;
  }

  u8(v: number): this {
    this.#bytes.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }

  u32(v: number): this {
    return this.u8(v).u8(v >>> 8).u8(v >>> 16).u8(v >>> 24);
  }

  /** Two's complement; the same bytes as u32 of `v >>> 0`. */
  i32(v: number): this {
    return this.u32(v >>> 0);
  }

  /** A u64 from a bigint (or a small non-negative number), byte by byte. */
  u64(v: bigint | number): this {
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    for (let i = 0; i < 8; i++) {
      this.u8(Number(x & 0xffn));
      x >>= 8n;
    }
    return this;
  }

  /** An i64 (two's complement). */
  i64(v: bigint | number): this {
    return this.u64(v);
  }

  bytes(b: Uint8Array | readonly number[] | string): this {
    const arr = typeof b === 'string' ? [...Buffer.from(b, 'utf8')] : [...b];
    for (const x of arr) this.u8(x);
    return this;
  }

  /** The bytes of `s` and a NUL. */
  cstring(s: Uint8Array | readonly number[] | string): this {
    return this.bytes(s).u8(0);
  }

  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.u8(0);
    return this;
  }

  /** Zero bytes up to the next multiple of 8. */
  pad8(): this {
    while (this.#bytes.length % 8 !== 0) this.u8(0);
    return this;
  }

  build(): Buffer {
    return Buffer.from(this.#bytes);
  }
}

export interface InHeaderSpec {
  readonly opcode: number;
  /** Raw unique, including the RESEND bit if wanted. */
  readonly unique: bigint | number;
  readonly nodeid: bigint | number;
  readonly uid?: number;
  readonly gid?: number;
  readonly pid?: number;
  /** Overrides the computed len (for length-mismatch tests). */
  readonly len?: number;
  /** Overrides total_extlen (defaults to ext.length / 8). */
  readonly totalExtlen?: number;
}

/**
 * A whole request: the 40-byte fuse_in_header with `len` computed from the parts, then the body, then
 * the extensions (whose length, in 8-byte units, goes to total_extlen).
 */
export function request(h: InHeaderSpec, body: Uint8Array | FrameBuilder = new Uint8Array(0), ext: Uint8Array | FrameBuilder = new Uint8Array(0)): Buffer {
  const b = body instanceof FrameBuilder ? body.build() : body;
  const e = ext instanceof FrameBuilder ? ext.build() : ext;
  const len = h.len ?? 40 + b.length + e.length;
  return new FrameBuilder()
    .u32(len).u32(h.opcode) //                               row 0: len, opcode
    .u64(h.unique) //                                         row 1: unique
    .u64(h.nodeid) //                                         row 2: nodeid
    .u32(h.uid ?? 0).u32(h.gid ?? 0) //                       row 3: uid, gid
    .u32(h.pid ?? 0).u16(h.totalExtlen ?? e.length / 8).u16(0) // row 4: pid, total_extlen, padding
    .bytes(b)
    .bytes(e)
    .build();
}

/** A fuse_out_header followed by the body, with `len` computed. `error` is the raw (negative) value. */
export function reply(error: number, unique: bigint | number, ...body: (Uint8Array | FrameBuilder)[]): Buffer {
  const parts = body.map((p) => (p instanceof FrameBuilder ? p.build() : p));
  const len = 16 + parts.reduce((s, p) => s + p.length, 0);
  const fb = new FrameBuilder()
    .u32(len).i32(error) //                                   row 0: len, error
    .u64(unique); //                                          row 1: unique
  for (const p of parts) fb.bytes(p);
  return fb.build();
}

/** Concatenates iovecs as one writev would. */
export function joined(iovecs: readonly Uint8Array[]): Buffer {
  return Buffer.concat(iovecs.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
}

/**
 * A tiny independent little-endian reader for checking encoded replies: it knows nothing of the codec's
 * layouts, callers read fields in C order.
 */
export class ByteReader {
  readonly buf: Uint8Array;
  #pos = 0;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  get position(): number {
    return this.#pos;
  }
  get remaining(): number {
    return this.buf.length - this.#pos;
  }

  #byte(): number {
    if (this.#pos >= this.buf.length) throw new RangeError(`read past end at ${this.#pos}`);
    return this.buf[this.#pos++]!;
  }

  u8(): number {
    return this.#byte();
  }
  u16(): number {
    return this.#byte() + this.#byte() * 0x100;
  }
  u32(): number {
    return this.u16() + this.u16() * 0x10000;
  }
  i32(): number {
    const v = this.u32();
    return v >= 0x8000_0000 ? v - 0x1_0000_0000 : v;
  }
  /** Always a bigint. */
  u64(): bigint {
    let v = 0n;
    for (let i = 0; i < 8; i++) v |= BigInt(this.#byte()) << BigInt(8 * i);
    return v;
  }
  i64(): bigint {
    const v = this.u64();
    return v >= 1n << 63n ? v - (1n << 64n) : v;
  }
  bytes(n: number): Buffer {
    if (n > this.remaining) throw new RangeError(`read of ${n} past end`);
    const out = Buffer.from(this.buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return out;
  }
  skip(n: number): void {
    this.bytes(n);
  }
  /** Skips to the next multiple of 8. */
  align8(): void {
    while (this.#pos % 8 !== 0) this.#byte();
  }
}

/** A u64 as the codec should present it: an exact number up to 2^53 − 1, else a bigint. */
export function canon(v: bigint | number): number | bigint {
  const b = BigInt(v);
  return b <= 9007199254740991n ? Number(b) : b;
}

/** Distinctive sentinels, each with bytes that are all different so a misplaced byte shows. */
export const S = {
  /** > 2^53: must come back as a bigint. */
  DEADBEEF: 0xdeadbeefbaadf00dn,
  UNIQ: 0x1122334455667788n,
  FH: 0xfeedfacecafebeefn,
  OWNER: 0x0123456789abcdefn,
  /** A valid off_t above 2^53. */
  BIGOFF: 0x7edcba9876543210n,
  /** 2^53 − 1 (largest number) and 2^53 (smallest bigint). */
  MAX_SAFE: 0x1f_ffff_ffff_ffffn,
  TWO_53: 0x20_0000_0000_0000n,
} as const;
