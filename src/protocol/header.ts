/**
 * The 40-byte request header, request extensions (7.38) and reply framing. `frameReply` is the one
 * function that fills in an out-header's length and error.
 */
import type { FrameReader } from './reader.ts';
import { InHeader, OutHeader, ExtHeader, SuppGroups, Secctx } from './structs.ts';
import { readU64, u64FromHalves } from './u64.ts';
import { readU16, readU32, write32 } from './le32.ts';
import { EXT_GROUPS, MAX_NR_SECCTX, UNIQUE_RESEND_BIT_HI } from './constants.ts';
import type { Ino, Unique } from './ids.ts';

export const IN_HEADER_SIZE = InHeader.size;
export const OUT_HEADER_SIZE = OutHeader.size;
const H = InHeader.off;
const O = OutHeader.off;
/** The high half of a u64 field is 4 bytes after its start (little-endian). */
const HI_HALF = 4;

/** The decoded in-header of one request. */
export interface InHeaderFields {
  readonly len: number;
  readonly opcode: number;
  /** The request id without the RESEND bit. */
  readonly unique: Unique;
  /** The kernel resent this request after a RESEND notification (top bit of `unique`, 7.40). */
  readonly resend: boolean;
  /** Low and high 32 bits of `unique` exactly as sent; replies echo them. */
  readonly uniqueLo: number;
  readonly uniqueHi: number;
  readonly nodeid: Ino;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  /** Length of the request extensions in 8-byte units (7.38). */
  readonly totalExtlen: number;
}

/** One security context sent with a creating request (FUSE_SECURITY_CTX, 7.36). */
export interface SecurityContext {
  /** The xattr name, e.g. `security.selinux` (bytes, without NUL). */
  readonly name: Buffer;
  readonly value: Buffer;
}

/** What the request extensions carried. */
export interface RequestExtensions {
  readonly securityContexts?: readonly SecurityContext[];
  /** Supplementary group of the caller (FUSE_EXT_GROUPS, FUSE_CREATE_SUPP_GROUP, 7.38). */
  readonly groups?: readonly number[];
  /** Extensions of types this codec does not know, kept as raw bytes (header included). */
  readonly unknown?: readonly { readonly type: number; readonly bytes: Buffer }[];
}

/**
 * Decodes the in-header. The reader must span exactly one frame; on success it is left positioned at the
 * body, with its end at the start of the extensions (which are returned as `extStart`). Errors are left
 * on `r.error` and the result is undefined.
 */
export function decodeInHeader(r: FrameReader): InHeaderFields | undefined {
  const buf = r.buffer;
  const start = r.position;
  const frameLen = r.remaining;
  if (frameLen < IN_HEADER_SIZE) {
    r.error = { kind: 'short-header', got: frameLen };
    return undefined;
  }
  const len = readU32(buf, start + H.len);
  if (len !== frameLen) {
    r.error = { kind: 'length-mismatch', declared: len, got: frameLen };
    return undefined;
  }
  const uniqueLo = readU32(buf, start + H.unique);
  const uniqueHi = readU32(buf, start + H.unique + HI_HALF);
  const hi = (uniqueHi & ~UNIQUE_RESEND_BIT_HI) >>> 0;
  const unique = u64FromHalves(uniqueLo, hi) as Unique;
  const totalExtlen = readU16(buf, start + H.total_extlen);
  if (totalExtlen * 8 > len - IN_HEADER_SIZE) {
    r.error = { kind: 'bad-extension', reason: `total_extlen ${totalExtlen}×8 exceeds the ${len - IN_HEADER_SIZE}-byte body` };
    return undefined;
  }
  r.reset(buf, start + IN_HEADER_SIZE, start + len - totalExtlen * 8);
  return {
    len,
    opcode: readU32(buf, start + H.opcode),
    unique,
    resend: (uniqueHi & UNIQUE_RESEND_BIT_HI) !== 0,
    uniqueLo,
    uniqueHi,
    nodeid: readU64(buf, start + H.nodeid) as Ino,
    uid: readU32(buf, start + H.uid),
    gid: readU32(buf, start + H.gid),
    pid: readU32(buf, start + H.pid),
    totalExtlen,
  };
}

/**
 * Decodes the request extensions in `buf[start, end)`: a sequence of 8-byte-aligned records, each
 * starting with {size, type}. Type 0..31 is a security-context header whose second word is the number
 * of contexts; 32 is supplementary groups. Returns undefined and sets `r.error` when malformed.
 */
export function decodeExtensions(r: FrameReader, buf: Buffer, start: number, end: number): RequestExtensions | undefined {
  let securityContexts: SecurityContext[] | undefined;
  let groups: number[] | undefined;
  let unknown: { type: number; bytes: Buffer }[] | undefined;
  let at = start;
  while (at < end) {
    if (end - at < ExtHeader.size) return extError(r, 'truncated extension header');
    const size = buf.readUInt32LE(at + ExtHeader.off.size);
    const type = buf.readUInt32LE(at + ExtHeader.off.type);
    if (size < ExtHeader.size || size > end - at) return extError(r, `extension size ${size} does not fit`);
    // "Types 0..31 are reserved for fuse_secctx_header": the kernel sends nr_secctx 0 when no LSM labels.
    if (type <= MAX_NR_SECCTX) {
      const list = decodeSecctx(buf, at + ExtHeader.size, at + size, type);
      if (typeof list === 'string') return extError(r, list);
      securityContexts = list;
    } else if (type === EXT_GROUPS) {
      const base = at + ExtHeader.size;
      if (at + size - base < SuppGroups.size) return extError(r, 'truncated supplementary groups');
      const n = buf.readUInt32LE(base + SuppGroups.off.nr_groups);
      if (n > (at + size - base - SuppGroups.size) / 4) return extError(r, `nr_groups ${n} exceeds the extension`);
      groups = [];
      for (let i = 0; i < n; i++) groups.push(buf.readUInt32LE(base + SuppGroups.size + 4 * i));
    } else {
      unknown ??= [];
      unknown.push({ type, bytes: buf.subarray(at, at + size) });
    }
    at += (size + 7) & ~7;
  }
  return { ...(securityContexts && { securityContexts }), ...(groups && { groups }), ...(unknown && { unknown }) };
}

function decodeSecctx(buf: Buffer, start: number, end: number, count: number): SecurityContext[] | string {
  const out: SecurityContext[] = [];
  let at = start;
  for (let i = 0; i < count; i++) {
    if (end - at < Secctx.size) return 'truncated security context';
    const valueSize = buf.readUInt32LE(at + Secctx.off.size);
    const nameAt = at + Secctx.size;
    const nul = buf.indexOf(0, nameAt);
    if (nul < 0 || nul >= end) return 'security context name is not NUL-terminated';
    const valueAt = nul + 1;
    if (valueSize > end - valueAt) return 'security context value exceeds the extension';
    out.push({ name: buf.subarray(nameAt, nul), value: buf.subarray(valueAt, valueAt + valueSize) });
    at += (Secctx.size + (valueAt - nameAt) + valueSize + 7) & ~7;
  }
  return out;
}

function extError(r: FrameReader, reason: string): undefined {
  r.error = { kind: 'bad-extension', reason };
  return undefined;
}

/**
 * Frames a reply: the 16-byte out-header followed by the body parts, ready for one `writev`.
 * `error` is a positive errno (0 for success); the header carries it negated.
 */
export function frameReply(uniqueLo: number, uniqueHi: number, error: number, body: readonly Uint8Array[]): Uint8Array[] {
  const parts = body.length;
  let len = OUT_HEADER_SIZE;
  for (let i = 0; i < parts; i++) len += body[i]!.byteLength;
  const header = Buffer.allocUnsafe(OUT_HEADER_SIZE);
  write32(header, O.len, len);
  write32(header, O.error, error === 0 ? 0 : -error);
  write32(header, O.unique, uniqueLo);
  write32(header, O.unique + HI_HALF, uniqueHi);
  // Array literals for the common shapes: no growing of an array per reply.
  if (parts === 0) return [header];
  if (parts === 1) return [header, body[0]!];
  const out: Uint8Array[] = [header];
  for (let i = 0; i < parts; i++) out.push(body[i]!);
  return out;
}

/** Frames a notification: unique 0, the notify code in the error field (positive, as the kernel expects). */
export function frameNotify(code: number, body: readonly Uint8Array[]): Uint8Array[] {
  let len = OUT_HEADER_SIZE;
  for (const b of body) len += b.byteLength;
  const header = Buffer.alloc(OUT_HEADER_SIZE);
  header.writeUInt32LE(len, O.len);
  header.writeInt32LE(code, O.error);
  return [header, ...body];
}
