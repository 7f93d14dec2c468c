/**
 * A recording read as a conversation: each request frame paired with the reply frames that answered it
 * (by `unique`), decoded with the table (src/protocol/opcodes.ts) under the settings its own INIT agreed,
 * and each reply body mapped to the fields of its structs. `tsfuse show`, `replay` and `timeline` all
 * start here.
 */
import { decodeRequest } from '../protocol/decode.ts';
import { FrameReader, describeDecodeError } from '../protocol/reader.ts';
import type { InHeaderFields } from '../protocol/header.ts';
import { opcodeRow, type OpcodeRow, type ReplyShape } from '../protocol/opcodes.ts';
import { PRE_INIT, type Negotiated } from '../protocol/negotiated.ts';
import type { InitRequest } from '../protocol/requests.ts';
import * as S from '../protocol/structs.ts';
import type { StructLayout } from '../protocol/layout.ts';
import { NotifyCode, INIT_FLAG_BY_NAME } from '../protocol/constants.ts';
import { readU64, type U64 } from '../protocol/u64.ts';
import type { RecordedFrame, Recording } from './format.ts';

/** One request and what answered it. */
export interface Exchange {
  /** Position among the recording's requests (0-based). */
  readonly index: number;
  readonly request: RecordedFrame;
  /** Absent when the frame is too short for an in-header. */
  readonly header?: InHeaderFields;
  /** The opcode's name (`OPCODE_n` for unknown ones, `?` without a header). */
  readonly name: string;
  readonly row?: OpcodeRow;
  /** The decoded body (byte fields are views of the recording). Absent when it did not decode. */
  readonly args?: unknown;
  /** Why the request did not decode, if it did not. */
  readonly decodeError?: string;
  /** The reply frames to this request, in order (a refused reply retried as EIO gives two). */
  readonly replies: RecordedFrame[];
  /** The settings in force when the request arrived (its body's layout depends on them). */
  readonly negotiated: Negotiated;
}

export interface Dissection {
  readonly exchanges: readonly Exchange[];
  /** Every frame in recorded order, each with its exchange (requests, replies) or none (notifications, stray replies). */
  readonly timeline: readonly { readonly frame: RecordedFrame; readonly exchange?: Exchange }[];
  /** What the recording's INIT agreed (PRE_INIT when it has no successful INIT). */
  readonly negotiated: Negotiated;
}

const OUT_HEADER = S.OutHeader.size;

/** The positive errno of a reply frame (0 for success); notifications carry their code there instead. */
export function replyErrno(frame: Uint8Array): number {
  if (frame.byteLength < OUT_HEADER) return 0;
  return -Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).readInt32LE(S.OutHeader.off.error);
}

/** The `unique` of a reply or request frame (0 when too short). */
export function frameUnique(frame: Uint8Array): U64 {
  // Both headers keep unique at byte 8; the RESEND bit (top bit, 7.40) is not part of the id.
  if (frame.byteLength < 16) return 0;
  const u = readU64(frame, 8);
  return typeof u === 'bigint' ? u & ~(1n << 63n) : u;
}

/** The reply body of a reply frame (after the out-header). */
export function replyBody(frame: Buffer): Buffer {
  return frame.subarray(Math.min(OUT_HEADER, frame.byteLength));
}

/** The name of a notification frame's code (`INVAL_ENTRY`), from its error field. */
export function notifyName(frame: Uint8Array): string {
  const code = frame.byteLength >= 8 ? Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).readInt32LE(4) : 0;
  return Object.entries(NotifyCode).find(([, c]) => c === code)?.[0] ?? `NOTIFY_${code}`;
}

/**
 * The settings an INIT reply agreed, read back from its bytes: the fields of fuse_init_out, at the
 * smaller of the two minors (what negotiateInit computed on the recording side).
 */
export function negotiatedFromInit(request: InitRequest, replyBodyBytes: Buffer): Negotiated {
  const o = S.InitOut.off;
  const b = replyBodyBytes;
  const u16 = (off: number) => (b.byteLength >= off + 2 ? b.readUInt16LE(off) : 0);
  const u32 = (off: number) => (b.byteLength >= off + 4 ? b.readUInt32LE(off) : 0);
  const flags = u32(o.flags);
  const flags2 = u32(o.flags2);
  const setxattrBit = INIT_FLAG_BY_NAME.get('SETXATTR_EXT')!.bit;
  const has = (bit: number) => (bit < 32 ? ((flags >>> bit) & 1) === 1 : ((flags2 >>> (bit - 32)) & 1) === 1);
  return Object.freeze({
    ...PRE_INIT,
    major: u32(o.major) || PRE_INIT.major,
    minor: Math.min(request.minor, u32(o.minor) || request.minor),
    flags, flags2,
    maxReadahead: u32(o.max_readahead), maxWrite: u32(o.max_write) || PRE_INIT.maxWrite, maxPages: u16(o.max_pages) || 1,
    maxBackground: u16(o.max_background), congestionThreshold: u16(o.congestion_threshold), timeGran: u32(o.time_gran) || 1,
    mapAlignment: u16(o.map_alignment), maxStackDepth: u32(o.max_stack_depth), requestTimeout: u16(o.request_timeout),
    setxattrExt: has(setxattrBit),
  });
}

/** Pairs and decodes a recording's frames. Never throws: undecodable frames are kept with their reason. */
export function dissect(recording: Recording): Dissection {
  const reader = new FrameReader();
  let negotiated = PRE_INIT;
  const exchanges: Exchange[] = [];
  const waiting = new Map<string, Exchange>();
  const timeline: { frame: RecordedFrame; exchange?: Exchange }[] = [];
  for (const frame of recording.frames) {
    if (frame.direction === 'request') {
      const d = decodeRequest(frame.bytes, negotiated, reader);
      const header = d.header;
      const row = header === undefined ? undefined : opcodeRow(header.opcode);
      const name = header === undefined ? '?' : row?.name ?? `OPCODE_${header.opcode}`;
      const exchange: Exchange = {
        index: exchanges.length, request: frame, name, replies: [], negotiated,
        ...(header && { header }), ...(row && { row }),
        ...('error' in d ? { decodeError: describeDecodeError(d.error) } : { args: d.args }),
      };
      exchanges.push(exchange);
      // The kernel reuses a unique only for a resent request, which replaces the first delivery.
      if (header !== undefined) waiting.set(String(header.unique), exchange);
      timeline.push({ frame, exchange });
    } else if (frame.direction === 'reply') {
      const exchange = waiting.get(String(frameUnique(frame.bytes)));
      if (exchange === undefined) { timeline.push({ frame }); continue; }
      exchange.replies.push(frame);
      timeline.push({ frame, exchange });
      if (exchange.row?.session === 'init' && replyErrno(frame.bytes) === 0 && exchange.args !== undefined && frame.refusedErrno === 0) {
        negotiated = negotiatedFromInit(exchange.args as InitRequest, replyBody(frame.bytes));
      }
    } else {
      timeline.push({ frame });
    }
  }
  return { exchanges, timeline, negotiated };
}

/* ---- reply bodies as fields ------------------------------------------------------------------- */

/** One field of a frame: where it is and what it is called (`attr.mtime`, `[2].name`). */
export interface FieldSpan {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  /** A scalar field (read as an integer); false for names, data and arrays. */
  readonly scalar: boolean;
}

/** The fields of `layout` at `base`, nested structs flattened with dotted names. */
export function layoutSpans(layout: StructLayout, base: number, prefix: string): FieldSpan[] {
  const out: FieldSpan[] = [];
  for (const f of layout.fields) {
    const name = `${prefix}${f.name}`;
    if (typeof f.type !== 'string') {
      if (f.count === 1) { out.push(...layoutSpans(f.type, base + f.offset, `${name}.`)); continue; }
    }
    out.push({ name, offset: base + f.offset, size: f.size, scalar: typeof f.type === 'string' && f.count === 1 });
  }
  return out;
}

/** The out-header's fields. */
export const OUT_HEADER_SPANS: readonly FieldSpan[] = Object.freeze(layoutSpans(S.OutHeader, 0, 'out.'));

/** Fixed reply structs by shape (the shapes with one struct). */
const FIXED_REPLY: Partial<Record<ReplyShape, StructLayout>> = {
  entry: S.EntryOut, attr: S.AttrOut, statx: S.StatxOut, open: S.OpenOut, 'open-dir': S.OpenOut, write: S.WriteOut,
  statfs: S.StatfsOut, lock: S.LkOut, init: S.InitOut, bmap: S.BmapOut, poll: S.PollOut, lseek: S.LseekOut, 'copy-64': S.CopyFileRangeOut,
};

/**
 * The fields of a reply body of `shape` (offsets relative to the body). Bodies of raw data (READ, READLINK,
 * xattr values) are one `data` span; a body shorter than its struct gets the fields that fit.
 */
export function replySpans(shape: ReplyShape, body: Uint8Array, args?: unknown): FieldSpan[] {
  const len = body.byteLength;
  const fit = (spans: FieldSpan[]) => spans.filter((s) => s.offset + s.size <= len);
  const fixed = FIXED_REPLY[shape];
  if (shape === 'xattr' && (args as { size?: number } | undefined)?.size === 0) return fit(layoutSpans(S.GetxattrOut, 0, ''));
  if (fixed !== undefined) return fit(layoutSpans(fixed, 0, ''));
  if (shape === 'create') return fit([...layoutSpans(S.EntryOut, 0, ''), ...layoutSpans(S.OpenOut, S.EntryOut.size, 'open.')]);
  if (shape === 'ioctl') return fit([...layoutSpans(S.IoctlOut, 0, ''), { name: 'data', offset: S.IoctlOut.size, size: Math.max(0, len - S.IoctlOut.size), scalar: false }]);
  if (shape === 'entries' || shape === 'entries-plus') return direntSpans(body, shape === 'entries-plus');
  if (len === 0) return [];
  return [{ name: 'data', offset: 0, size: len, scalar: false }];
}

/** The records of a READDIR / READDIRPLUS body, each `[i].field`, its name as one span. */
function direntSpans(body: Uint8Array, plus: boolean): FieldSpan[] {
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const out: FieldSpan[] = [];
  const head = plus ? S.Direntplus : S.Dirent;
  const namelenAt = plus ? S.Direntplus.off.dirent + S.Dirent.off.namelen : S.Dirent.off.namelen;
  let at = 0;
  for (let i = 0; at + head.size <= b.byteLength; i++) {
    const namelen = b.readUInt32LE(at + namelenAt);
    out.push(...layoutSpans(head, at, `[${i}].`));
    out.push({ name: `[${i}].name`, offset: at + head.size, size: Math.min(namelen, b.byteLength - at - head.size), scalar: false });
    at += (head.size + namelen + 7) & ~7;
  }
  return out;
}

/** The integer in `bytes` at a scalar span, as a number or bigint. */
export function spanValue(bytes: Uint8Array, span: FieldSpan): number | bigint {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (span.size) {
    case 1: return b.readUInt8(span.offset);
    case 2: return b.readUInt16LE(span.offset);
    case 4: return b.readUInt32LE(span.offset);
    default: return readU64(b, span.offset);
  }
}
