/**
 * A bounds-checked cursor over one request frame. Reads never throw and never go past the end: a read
 * that would returns 0 (or an empty view) and records a {@link DecodeError}, which the decoder checks
 * once at the end (`if (r.error) return r.error`). The reader is re-pointed with `reset()` rather than
 * reallocated, so the session keeps one per transport.
 */
import { readU64, readI64, type U64 } from './u64.ts';
import { readU16, readU32, readI32 } from './le32.ts';

/** Why a frame could not be decoded. The session answers these with an errno and keeps serving. */
export type DecodeError =
  | { readonly kind: 'short-header'; readonly got: number }
  | { readonly kind: 'length-mismatch'; readonly declared: number; readonly got: number }
  | { readonly kind: 'short'; readonly what: string; readonly want: number; readonly got: number }
  | { readonly kind: 'unknown-opcode'; readonly opcode: number }
  | { readonly kind: 'unterminated-name'; readonly what: string }
  | { readonly kind: 'name-too-long'; readonly what: string; readonly length: number; readonly max: number }
  | { readonly kind: 'bad-extension'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly what: string; readonly reason: string };

/** Type guard: is this decode result an error value? */
export function isDecodeError(v: unknown): v is DecodeError {
  return typeof v === 'object' && v !== null && DECODE_ERROR_KINDS.has((v as { kind?: unknown }).kind as string);
}
const DECODE_ERROR_KINDS = new Set([
  'short-header', 'length-mismatch', 'short', 'unknown-opcode', 'unterminated-name', 'name-too-long',
  'bad-extension', 'invalid',
]);

/** A human-readable description of a decode error, for logs and traces. */
export function describeDecodeError(e: DecodeError): string {
  switch (e.kind) {
    case 'short-header': return `frame of ${e.got} bytes is shorter than the 40-byte header`;
    case 'length-mismatch': return `header says ${e.declared} bytes but the frame has ${e.got}`;
    case 'short': return `${e.what}: needs ${e.want} bytes, frame has ${e.got}`;
    case 'unknown-opcode': return `unknown opcode ${e.opcode}`;
    case 'unterminated-name': return `${e.what}: name is not NUL-terminated`;
    case 'name-too-long': return `${e.what}: name of ${e.length} bytes exceeds ${e.max}`;
    case 'bad-extension': return `request extension: ${e.reason}`;
    case 'invalid': return `${e.what}: ${e.reason}`;
  }
}

/** Longest name the kernel sends (PATH_MAX covers symlink targets; NAME_MAX is 255). */
export const MAX_NAME = 4096;
/** How many bytes {@link FrameReader.cstring} scans in JavaScript before handing the search to Buffer#indexOf. */
const SHORT_SCAN = 40;

export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  #end = 0;
  /** What the current decode is reading, for error messages. */
  what = '';
  /** The first error seen since the last `reset`, or undefined. */
  error: DecodeError | undefined = undefined;

  /** Points the reader at `buf[start, end)`. */
  reset(buf: Buffer, start = 0, end = buf.length, what = ''): this {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
    this.what = what;
    this.error = undefined;
    return this;
  }

  get position(): number { return this.#pos; }
  get remaining(): number { return this.#end - this.#pos; }
  get buffer(): Buffer { return this.#buf; }

  #take(n: number): number {
    const at = this.#pos;
    if (this.error !== undefined) return -1;
    if (n > this.#end - at) {
      this.error = { kind: 'short', what: this.what, want: at + n, got: this.#end };
      this.#pos = this.#end;
      return -1;
    }
    this.#pos = at + n;
    return at;
  }

  u16(): number { const at = this.#take(2); return at < 0 ? 0 : readU16(this.#buf, at); }
  u32(): number { const at = this.#take(4); return at < 0 ? 0 : readU32(this.#buf, at); }
  i32(): number { const at = this.#take(4); return at < 0 ? 0 : readI32(this.#buf, at); }
  u64(): U64 { const at = this.#take(8); return at < 0 ? 0 : readU64(this.#buf, at); }
  i64(): number | bigint { const at = this.#take(8); return at < 0 ? 0 : readI64(this.#buf, at); }
  skip(n: number): void { this.#take(n); }

  /** Expects `n` bytes to be present without consuming them (used for fixed-size structs). */
  need(n: number): boolean {
    if (this.error !== undefined) return false;
    if (n > this.#end - this.#pos) {
      this.error = { kind: 'short', what: this.what, want: this.#pos + n, got: this.#end };
      return false;
    }
    return true;
  }

  /** A view (not a copy) of the next `n` bytes. */
  bytes(n: number): Buffer {
    const at = this.#take(n);
    return at < 0 ? EMPTY : this.#buf.subarray(at, at + n);
  }

  /** A view of everything left. */
  rest(): Buffer {
    const at = this.#pos;
    this.#pos = this.#end;
    return this.#buf.subarray(at, this.#end);
  }

  /**
   * A view of the bytes up to the next NUL (the NUL is consumed, not returned). Names are bytes, not
   * text: non-UTF-8 names round-trip. A missing NUL or an over-long name is an error.
   */
  cstring(max = MAX_NAME): Buffer {
    if (this.error !== undefined) return EMPTY;
    const buf = this.#buf;
    const at = this.#pos;
    const end = this.#end;
    // Most names are short: a plain loop finds their NUL before Buffer#indexOf's native call would have
    // started (the same measurement as src/session/validate.ts SHORT_NAME); longer ones go native.
    const stop = Math.min(end, at + SHORT_SCAN);
    let nul = -1;
    for (let i = at; i < stop; i++) {
      if (buf[i] === 0) { nul = i; break; }
    }
    if (nul < 0 && stop < end) nul = buf.indexOf(0, stop);
    if (nul < 0 || nul >= end) {
      this.error = { kind: 'unterminated-name', what: this.what };
      this.#pos = this.#end;
      return EMPTY;
    }
    if (nul - at > max) {
      this.error = { kind: 'name-too-long', what: this.what, length: nul - at, max };
      this.#pos = this.#end;
      return EMPTY;
    }
    this.#pos = nul + 1;
    return buf.subarray(at, nul);
  }

  /** Records a semantic error (a field whose value cannot be right). */
  invalid(reason: string): void {
    if (this.error === undefined) this.error = { kind: 'invalid', what: this.what, reason };
  }
}

const EMPTY: Buffer = Buffer.alloc(0);
