/**
 * Explain mode's dissector: one frame in, every byte accounted for out. A request is explained as its
 * in-header, the fixed struct of its opcode's row (`fixed` in src/protocol/opcodes.ts), the names and
 * payload that follow, counted arrays and request extensions; a reply as its out-header and the structs
 * of its row's reply shape; a notification by its code. Each field carries its offset, size, raw bytes,
 * decoded value and meaning.
 *
 * Pure and total: it reads the frame through the session's own decoders (so what it shows is what the
 * session understood), never throws, and describes what is wrong with a malformed frame in `problems`.
 */
import { decodeRequest, type DecodedRequest } from '../protocol/decode.ts';
import { FrameReader, describeDecodeError } from '../protocol/reader.ts';
import { opcodeRow, type OpcodeRow, type ReplyShape } from '../protocol/opcodes.ts';
import { PRE_INIT, type Negotiated } from '../protocol/negotiated.ts';
import { EXT_GROUPS, MAX_NR_SECCTX, NotifyCode } from '../protocol/constants.ts';
import type { StructLayout } from '../protocol/layout.ts';
import type { U64 } from '../protocol/u64.ts';
import { readU64 } from '../protocol/u64.ts';
import * as S from '../protocol/structs.ts';
import { errnoName } from '../errors.ts';
import { walkStruct, bytesField, hexOf, type ExplainedField } from './fields.ts';

export type { ExplainedField };

/** One struct (or run of names and data) of an explained frame. */
export interface ExplainedPart {
  /** What the part is: `fuse_in_header`, `fuse_entry_out`, `names and data`, `dirent 2`. */
  readonly title: string;
  /** Offset of its first byte in the frame. */
  readonly offset: number;
  readonly size: number;
  readonly fields: readonly ExplainedField[];
  /** A remark on the part as a whole (a shorter, older form of the struct, …). Absent: none. */
  readonly note?: string;
}

/** A frame, explained. */
export interface ExplainedFrame {
  /** `notification`: a frame from the daemon with unique 0 (cache invalidation, …). */
  readonly direction: 'request' | 'reply' | 'notification';
  /** Bytes in the frame as given. */
  readonly length: number;
  /** The opcode (of the request, for a reply); absent when unknown. */
  readonly opcode?: number;
  /** The opcode's name (`LOOKUP`), a notification's (`INVAL_ENTRY`), or `?` when unknown. */
  readonly name: string;
  /** What the frame is for, in one line. */
  readonly summary: string;
  readonly unique?: U64;
  /** The request's node id. */
  readonly nodeid?: U64;
  /** A reply's result: 0, or the positive errno it carries. */
  readonly errno?: number;
  readonly parts: readonly ExplainedPart[];
  /** What is wrong with the frame, one sentence each; empty when it is well-formed. */
  readonly problems: readonly string[];
}

export interface ExplainOptions {
  readonly direction: 'request' | 'reply';
  /**
   * The settings INIT agreed, where a layout depends on them (SETXATTR's long form). Defaults to the
   * state before INIT: protocol 7.45, no optional layouts.
   */
  readonly negotiated?: Negotiated;
  /** For a reply: the opcode of the request it answers (its shape comes from the opcode's row). */
  readonly requestOpcode?: number;
  /**
   * For a reply: the request frame it answers. Gives the opcode, and what the reply's shape depends on
   * (GETXATTR's size probe). Absent: only `requestOpcode` is known.
   */
  readonly request?: Uint8Array;
}

const IN_HEADER = S.InHeader.size;
const OUT_HEADER = S.OutHeader.size;

/** Explains one frame. Never throws: anything unexpected becomes a problem in the result. */
export function explainFrame(bytes: Uint8Array, options: ExplainOptions): ExplainedFrame {
  const frame = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return options.direction === 'request' ? explainRequest(frame, options.negotiated ?? PRE_INIT) : explainReply(frame, options);
  } catch (e) {
    // A bug in this explainer must not take down the daemon it watches.
    return {
      direction: options.direction, length: frame.length, name: '?', summary: 'could not be explained',
      parts: [rawPart('frame', frame, 0, frame.length)], problems: [`the explainer failed: ${(e as Error)?.message ?? String(e)}`],
    };
  }
}

/* ---- requests --------------------------------------------------------------------------------- */

/**
 * A FrameReader that remembers where the decoder took names and payloads: the first of them ends the
 * fixed part of the body (the compat form the decoder chose), and each is a field to show.
 */
class TracingReader extends FrameReader {
  spans: { start: number; end: number; kind: 'name' | 'payload' }[] = [];

  override reset(buf: Buffer, start = 0, end = buf.length, what = ''): this {
    this.spans = [];
    return super.reset(buf, start, end, what);
  }

  override cstring(max?: number): Buffer {
    const start = this.position;
    const v = super.cstring(max);
    if (this.error === undefined) this.spans.push({ start, end: this.position, kind: 'name' });
    return v;
  }

  override bytes(n: number): Buffer {
    const start = this.position;
    const v = super.bytes(n);
    if (this.error === undefined) this.spans.push({ start, end: this.position, kind: 'payload' });
    return v;
  }
}

/** Elements that follow a fixed struct, `count` of them (the struct's `count` field). */
const COUNTED: ReadonlyMap<StructLayout, StructLayout> = new Map<StructLayout, StructLayout>([
  [S.BatchForgetIn, S.ForgetOne],
  [S.RemovemappingIn, S.RemovemappingOne],
]);

function explainRequest(frame: Buffer, n: Negotiated): ExplainedFrame {
  const problems: string[] = [];
  const parts: ExplainedPart[] = [];
  const header = walkStruct(S.InHeader, frame, 0);
  parts.push({ title: 'fuse_in_header', offset: 0, size: Math.min(IN_HEADER, frame.length), fields: header.fields });
  if (frame.length < IN_HEADER) {
    problems.push(`the frame has ${frame.length} bytes, fewer than the 40-byte fuse_in_header: nothing can be decoded (the session cannot even answer it)`);
    return { direction: 'request', length: frame.length, name: '?', summary: 'a truncated request', parts, problems };
  }
  const opcode = frame.readUInt32LE(S.InHeader.off.opcode);
  const unique = readU64(frame, S.InHeader.off.unique);
  const nodeid = readU64(frame, S.InHeader.off.nodeid);
  const row = opcodeRow(opcode);
  const ident = { direction: 'request' as const, length: frame.length, opcode, unique, nodeid };

  const r = new TracingReader();
  let d: ReturnType<typeof decodeRequest>;
  try {
    d = decodeRequest(frame, n, r);
  } catch (e) {
    d = { error: { kind: 'invalid', what: row?.name ?? 'request', reason: `the decoder threw: ${(e as Error)?.message ?? String(e)}` } };
  }
  if ('error' in d) problems.push(describeDecodeError(d.error) + consequence(d.error.kind, row));

  const declared = frame.readUInt32LE(S.InHeader.off.len);
  const extBytes = frame.readUInt16LE(S.InHeader.off.total_extlen) * 8;
  // A frame whose length field disagrees is explained over the bytes actually there.
  const bodyEnd = declared === frame.length && extBytes <= frame.length - IN_HEADER ? frame.length - extBytes : frame.length;
  if (row === undefined) {
    if (bodyEnd > IN_HEADER) parts.push(rawPart('body (unknown opcode)', frame, IN_HEADER, bodyEnd));
    return { ...ident, name: '?', summary: `opcode ${opcode} is not in FUSE 7.45`, parts, problems };
  }
  parts.push(...bodyParts(row, frame, bodyEnd, r, 'error' in d ? undefined : d));
  if (extBytes > 0 && bodyEnd < frame.length) parts.push(...extensionParts(frame, bodyEnd));
  return { ...ident, name: row.name, summary: row.summary, parts, problems };
}

/** What the session does about a malformed request, after the decode error's description. */
function consequence(kind: string, row: OpcodeRow | undefined): string {
  if (row?.noReply) return `; ${row.name} has no reply, so the session drops it with a warning`;
  const errno = kind === 'unknown-opcode' ? 'ENOSYS' : kind === 'invalid' ? 'EINVAL' : kind === 'short-header' ? undefined : 'EIO';
  return errno === undefined ? '' : `; the session answers ${errno} and keeps serving`;
}

function bodyParts(row: OpcodeRow, frame: Buffer, bodyEnd: number, r: TracingReader, d: DecodedRequest | undefined): ExplainedPart[] {
  const parts: ExplainedPart[] = [];
  let at = IN_HEADER;
  // Spans of the body only (the reader saw none of the header), in the order the decoder took them.
  const spans = r.spans.filter((s) => s.start >= IN_HEADER && s.end <= bodyEnd);
  if (row.fixed !== undefined) {
    const fixed = row.fixed;
    // The decoder's first name or payload ends the fixed part: a shorter compat form stops there.
    const variableAt = spans[0]?.start ?? bodyEnd;
    const end = Math.min(IN_HEADER + fixed.size, variableAt, bodyEnd);
    const walked = walkStruct(fixed, frame, IN_HEADER, end);
    const short = end - IN_HEADER < fixed.size;
    const note = short && d !== undefined
      ? `${end - IN_HEADER} of its ${fixed.size} bytes: the shorter form this request is sent in (older protocol or capability not granted); the fields after ${walked.truncatedAt ?? 'these'} are absent`
      : undefined;
    parts.push({ title: fixed.cName, offset: IN_HEADER, size: end - IN_HEADER, fields: walked.fields, ...(note !== undefined && { note }) });
    at = end;
    const element = COUNTED.get(fixed);
    if (element !== undefined && end === IN_HEADER + fixed.size) at = countedParts(parts, fixed, element, frame, at, bodyEnd);
  }
  const labels = argLabels(d?.args, frame);
  const named: ExplainedField[] = [];
  for (const s of spans) {
    if (s.start < at) continue;
    if (s.end === s.start) continue; // an empty payload (WRITE of 0 bytes): nothing to show
    if (s.start > at) named.push(bytesField('(skipped)', frame, at, s.start - at, 'payload', 'bytes the decoder skips'));
    const label = labels.get(`${s.start}:${s.kind === 'name' ? s.end - s.start - 1 : s.end - s.start}`) ?? (s.kind === 'name' ? 'name' : 'data');
    named.push(bytesField(label, frame, s.start, s.end - s.start, s.kind));
    at = s.end;
  }
  if (named.length > 0) parts.push({ title: 'names and data', offset: named[0]!.offset, size: at - named[0]!.offset, fields: named });
  if (at < bodyEnd) {
    const rest = rawPart('trailing bytes', frame, at, bodyEnd);
    parts.push({ ...rest, note: d === undefined ? 'not decoded (the frame is malformed)' : 'not part of this request\'s layout; the decoder ignores them' });
  }
  return parts;
}

/** `offset:length` of each byte field of the decoded arguments (views of the frame) → its name. */
function argLabels(args: unknown, frame: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  if (args === null || typeof args !== 'object') return out;
  for (const [key, v] of Object.entries(args)) {
    if (v instanceof Uint8Array && v.buffer === frame.buffer) out.set(`${v.byteOffset - frame.byteOffset}:${v.byteLength}`, snake(key));
  }
  return out;
}

/** `newName` → `new_name`: the C side's spelling, like the struct fields around it. */
function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The `count` elements after a counted struct (BATCH_FORGET, REMOVEMAPPING); returns where they end. */
function countedParts(parts: ExplainedPart[], fixed: StructLayout, element: StructLayout, frame: Buffer, at: number, end: number): number {
  const count = frame.readUInt32LE(IN_HEADER + (fixed.off as Record<string, number>)['count']!);
  const fit = Math.min(count, Math.floor((end - at) / element.size));
  // Only a few are listed field by field; a batch of hundreds would drown the rest.
  const shown = Math.min(fit, MAX_ELEMENTS);
  for (let i = 0; i < shown; i++) {
    parts.push({ title: `${element.cName} ${i + 1} of ${count}`, offset: at, size: element.size, fields: walkStruct(element, frame, at).fields });
    at += element.size;
  }
  if (fit > shown) {
    const skipped = (fit - shown) * element.size;
    parts.push({ ...rawPart(`${element.cName} ${shown + 1}..${fit}`, frame, at, at + skipped), note: `${fit - shown} more, not listed` });
    at += skipped;
  }
  return at;
}

const MAX_ELEMENTS = 8;

/** Rounds up to a multiple of 8 without 32-bit bitwise arithmetic (a u32 from the frame may exceed 2^31). */
function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Request extensions (7.38): each a fuse_ext_header and its payload, 8-byte aligned. */
function extensionParts(frame: Buffer, start: number): ExplainedPart[] {
  const parts: ExplainedPart[] = [];
  let at = start;
  while (at + S.ExtHeader.size <= frame.length) {
    const size = frame.readUInt32LE(at + S.ExtHeader.off.size);
    const type = frame.readUInt32LE(at + S.ExtHeader.off.type);
    const end = Math.min(frame.length, at + Math.max(size, S.ExtHeader.size));
    const fields = walkStruct(S.ExtHeader, frame, at).fields;
    let title = 'fuse_ext_header';
    if (type === EXT_GROUPS && end - at >= S.ExtHeader.size + S.SuppGroups.size) {
      title = 'extension: supplementary groups (FUSE_EXT_GROUPS)';
      const base = at + S.ExtHeader.size;
      fields.push(...walkStruct(S.SuppGroups, frame, base).fields);
      const nr = frame.readUInt32LE(base);
      for (let i = 0; i < nr && base + 4 + 4 * (i + 1) <= end; i++) {
        const o = base + S.SuppGroups.size + 4 * i;
        fields.push({ name: `groups[${i}]`, type: 'u32', offset: o, size: 4, hex: hexOf(frame.subarray(o, o + 4)), value: frame.readUInt32LE(o) });
      }
    } else if (type <= MAX_NR_SECCTX) {
      title = `extension: security contexts (${type})`;
      if (end > at + S.ExtHeader.size) fields.push(bytesField('contexts', frame, at + S.ExtHeader.size, end - at - S.ExtHeader.size, 'payload'));
    } else {
      title = `extension of unknown type ${type}`;
      if (end > at + S.ExtHeader.size) fields.push(bytesField('payload', frame, at + S.ExtHeader.size, end - at - S.ExtHeader.size, 'payload'));
    }
    parts.push({ title, offset: at, size: end - at, fields });
    if (size < S.ExtHeader.size) break;
    at += align8(size);
  }
  if (at < frame.length) parts.push(rawPart('extension bytes', frame, at, frame.length));
  return parts;
}

function rawPart(title: string, frame: Buffer, start: number, end: number): ExplainedPart {
  return { title, offset: start, size: end - start, fields: end > start ? [bytesField('bytes', frame, start, end - start, 'payload')] : [] };
}

/* ---- replies and notifications ---------------------------------------------------------------- */

/** The structs a successful reply of each shape starts with, in order. */
const REPLY_STRUCTS: Readonly<Partial<Record<ReplyShape, readonly StructLayout[]>>> = {
  entry: [S.EntryOut], attr: [S.AttrOut], statx: [S.StatxOut], open: [S.OpenOut], 'open-dir': [S.OpenOut],
  create: [S.EntryOut, S.OpenOut], write: [S.WriteOut], statfs: [S.StatfsOut], lock: [S.LkOut], init: [S.InitOut],
  bmap: [S.BmapOut], ioctl: [S.IoctlOut], poll: [S.PollOut], lseek: [S.LseekOut], 'copy-64': [S.CopyFileRangeOut],
};

/** Notifications (fuse_out_header.error = code, unique 0): what each says and the struct it carries. */
const NOTIFICATIONS: Readonly<Record<number, { readonly summary: string; readonly struct?: StructLayout }>> = {
  [NotifyCode.POLL]: { summary: 'Wake the poller that passed kh in a POLL request.', struct: S.NotifyPollWakeupOut },
  [NotifyCode.INVAL_INODE]: { summary: 'Drop cached attributes and data of a node.', struct: S.NotifyInvalInodeOut },
  [NotifyCode.INVAL_ENTRY]: { summary: 'Drop (or only expire) a cached name in a directory.', struct: S.NotifyInvalEntryOut },
  [NotifyCode.STORE]: { summary: 'Put data into the kernel\'s page cache of a node.', struct: S.NotifyStoreOut },
  [NotifyCode.RETRIEVE]: { summary: 'Ask for data from the kernel\'s page cache (answered by NOTIFY_REPLY).', struct: S.NotifyRetrieveOut },
  [NotifyCode.DELETE]: { summary: 'A name was deleted: drop it and its node from the caches.', struct: S.NotifyDeleteOut },
  [NotifyCode.RESEND]: { summary: 'Resend every request still waiting for an answer.' },
  [NotifyCode.INC_EPOCH]: { summary: 'Bump the epoch: every cached name is looked up again.' },
  [NotifyCode.PRUNE]: { summary: 'Forget these unused nodes.', struct: S.NotifyPruneOut },
};
const NOTIFY_NAME = Object.fromEntries(Object.entries(NotifyCode).map(([k, v]) => [v, k])) as Record<number, string>;

function explainReply(frame: Buffer, options: ExplainOptions): ExplainedFrame {
  const problems: string[] = [];
  const parts: ExplainedPart[] = [{ title: 'fuse_out_header', offset: 0, size: Math.min(OUT_HEADER, frame.length), fields: walkStruct(S.OutHeader, frame, 0).fields }];
  const request = options.request !== undefined ? Buffer.from(options.request.buffer, options.request.byteOffset, options.request.byteLength) : undefined;
  const opcode = options.requestOpcode ?? (request !== undefined && request.length >= IN_HEADER ? request.readUInt32LE(S.InHeader.off.opcode) : undefined);
  const row = opcode === undefined ? undefined : opcodeRow(opcode);
  if (frame.length < OUT_HEADER) {
    problems.push(`the frame has ${frame.length} bytes, fewer than the 16-byte fuse_out_header: the kernel refuses it (EINVAL from write(2))`);
    return { direction: 'reply', length: frame.length, name: row?.name ?? '?', summary: 'a truncated reply', parts, problems, ...(opcode !== undefined && { opcode }) };
  }
  const len = frame.readUInt32LE(S.OutHeader.off.len);
  const error = frame.readInt32LE(S.OutHeader.off.error);
  const unique = readU64(frame, S.OutHeader.off.unique);
  if (len !== frame.length) problems.push(`the header says ${len} bytes but the frame has ${frame.length}: the kernel refuses it (EINVAL from write(2))`);
  const end = Math.min(len, frame.length) >= OUT_HEADER ? Math.min(len, frame.length) : frame.length;

  if (unique === 0 && error > 0) return explainNotification(frame, error, end, parts, problems);

  const base = { direction: 'reply' as const, length: frame.length, unique, ...(opcode !== undefined && { opcode }) };
  const name = row?.name ?? '?';
  if (error > 0) problems.push(`error ${error} is positive: a reply carries 0 or a negative errno (the kernel refuses it)`);
  if (error < 0) {
    const errno = -error;
    if (errno > 511) problems.push(`errno ${errno} is beyond what the kernel accepts (1..511)`);
    if (end > OUT_HEADER) {
      problems.push(`an error reply carries no body, but this one has ${end - OUT_HEADER} bytes`);
      parts.push(rawPart('body', frame, OUT_HEADER, end));
    }
    return { ...base, name, errno, summary: `${row?.name ?? 'The request'} failed with ${errnoName(errno)} (${errno}); an error reply is the out-header alone`, parts, problems };
  }
  if (row === undefined) {
    if (end > OUT_HEADER) parts.push(rawPart('body (request unknown: pass requestOpcode or request)', frame, OUT_HEADER, end));
    return { ...base, name, errno: 0, summary: opcode === undefined ? 'a successful reply (its request\'s opcode was not given)' : `a reply to unknown opcode ${opcode}`, parts, problems };
  }
  if (row.noReply) problems.push(`${row.name} gets no reply: the kernel does not wait for one`);
  parts.push(...replyBody(row, frame, end, request, problems));
  return { ...base, name, errno: 0, summary: row.summary, parts, problems };
}

function replyBody(row: OpcodeRow, frame: Buffer, end: number, request: Buffer | undefined, problems: string[]): ExplainedPart[] {
  const parts: ExplainedPart[] = [];
  let at = OUT_HEADER;
  const structs = REPLY_STRUCTS[row.reply];
  if (structs !== undefined) {
    for (const layout of structs) {
      if (at >= end) { problems.push(`the body ends before ${layout.cName} (${layout.size} bytes)`); break; }
      const walked = walkStruct(layout, frame, at, end);
      const size = Math.min(layout.size, end - at);
      // INIT answers an old kernel with the short fuse_init_out it knows (24 or 8 bytes).
      const compat = row.reply === 'init' && (size === 24 || size === 8);
      if (size < layout.size && !compat) problems.push(`${layout.cName} needs ${layout.size} bytes, the body has ${size}`);
      parts.push({ title: layout.cName, offset: at, size, fields: walked.fields, ...(compat && { note: `the ${size}-byte form of kernels before 7.${size === 8 ? 5 : 23}` }) });
      at += size;
    }
  }
  switch (row.reply) {
    case 'none':
      break;
    case 'data':
      if (end > at) parts.push({ title: row.name === 'READLINK' ? 'link target' : 'data', offset: at, size: end - at, fields: [bytesField(row.name === 'READLINK' ? 'target' : 'data', frame, at, end - at, 'payload')] });
      at = end;
      break;
    case 'xattr': {
      const probe = request !== undefined && request.length >= IN_HEADER + 4 && request.readUInt32LE(IN_HEADER) === 0;
      if (probe) {
        parts.push({ title: S.GetxattrOut.cName, offset: at, size: Math.min(S.GetxattrOut.size, end - at), fields: walkStruct(S.GetxattrOut, frame, at, end).fields, note: 'the answer to a size probe (the request\'s size was 0)' });
        at = Math.min(end, at + S.GetxattrOut.size);
      } else if (end > at) {
        const note = request === undefined && end - at === S.GetxattrOut.size ? 'if the request asked with size 0, this is fuse_getxattr_out: the length' : undefined;
        parts.push({ title: row.name === 'LISTXATTR' ? 'attribute names' : 'value', offset: at, size: end - at, fields: xattrFields(row, frame, at, end), ...(note !== undefined && { note }) });
        at = end;
      }
      break;
    }
    case 'entries':
    case 'entries-plus':
      at = direntParts(parts, row.reply === 'entries-plus', frame, at, end, problems);
      break;
    case 'ioctl':
      if (end > at) parts.push(rawPart('ioctl data or iovecs', frame, at, end));
      at = end;
      break;
    default:
      break;
  }
  if (at < end) {
    problems.push(`${end - at} bytes after the ${row.reply === 'none' ? 'header (this reply has no body)' : 'reply\'s layout'}`);
    parts.push(rawPart('trailing bytes', frame, at, end));
  }
  return parts;
}

function xattrFields(row: OpcodeRow, frame: Buffer, at: number, end: number): ExplainedField[] {
  if (row.name !== 'LISTXATTR') return [bytesField('value', frame, at, end - at, 'payload')];
  const fields: ExplainedField[] = [];
  let i = at;
  while (i < end && fields.length < MAX_ELEMENTS) {
    const nul = frame.indexOf(0, i);
    const stop = nul < 0 || nul >= end ? end : nul + 1;
    fields.push(bytesField(`name ${fields.length + 1}`, frame, i, stop - i, 'name'));
    i = stop;
  }
  if (i < end) fields.push(bytesField('more names', frame, i, end - i, 'payload'));
  return fields;
}

/** fuse_dirent (or fuse_direntplus) records, each name padded to 8 bytes; returns where they end. */
function direntParts(parts: ExplainedPart[], plus: boolean, frame: Buffer, at: number, end: number, problems: string[]): number {
  const head = plus ? S.Direntplus : S.Dirent;
  const direntAt = plus ? S.Direntplus.off.dirent : 0;
  let count = 0;
  let shownEnd = at;
  while (at < end) {
    if (end - at < head.size) { problems.push(`${end - at} bytes at ${at} are too few for a ${head.cName} (${head.size})`); parts.push(rawPart('truncated record', frame, at, end)); return end; }
    const namelen = frame.readUInt32LE(at + direntAt + S.Dirent.off.namelen);
    const nameAt = at + head.size;
    const recEnd = nameAt + align8(namelen);
    if (nameAt + namelen > end) { problems.push(`record ${count + 1}: namelen ${namelen} runs past the end of the body`); parts.push(rawPart('truncated record', frame, at, end)); return end; }
    count++;
    if (count <= MAX_ELEMENTS) {
      const fields = walkStruct(head, frame, at).fields;
      fields.push(bytesField('name', frame, nameAt, namelen, 'payload'));
      if (Math.min(recEnd, end) > nameAt + namelen) fields.push(bytesField('(padding to 8)', frame, nameAt + namelen, Math.min(recEnd, end) - nameAt - namelen, 'payload'));
      parts.push({ title: `${head.cName} ${count}`, offset: at, size: Math.min(recEnd, end) - at, fields });
      shownEnd = Math.min(recEnd, end);
    }
    at = Math.min(recEnd, end);
  }
  if (count > MAX_ELEMENTS) parts.push({ ...rawPart(`${head.cName} ${MAX_ELEMENTS + 1}..${count}`, frame, shownEnd, at), note: `${count - MAX_ELEMENTS} more entries, not listed` });
  return at;
}

function explainNotification(frame: Buffer, code: number, end: number, parts: ExplainedPart[], problems: string[]): ExplainedFrame {
  const info = NOTIFICATIONS[code];
  const name = NOTIFY_NAME[code] ?? '?';
  const base = { direction: 'notification' as const, length: frame.length, unique: 0, name };
  if (info === undefined) {
    problems.push(`notification code ${code} is not in FUSE 7.45`);
    if (end > OUT_HEADER) parts.push(rawPart('body', frame, OUT_HEADER, end));
    return { ...base, summary: 'an unknown notification', parts, problems };
  }
  let at = OUT_HEADER;
  if (info.struct !== undefined) {
    const walked = walkStruct(info.struct, frame, at, end);
    const size = Math.min(info.struct.size, end - at);
    if (size < info.struct.size) problems.push(`${info.struct.cName} needs ${info.struct.size} bytes, the body has ${Math.max(0, size)}`);
    parts.push({ title: info.struct.cName, offset: at, size: Math.max(0, size), fields: walked.fields });
    at += Math.max(0, size);
    const fields: ExplainedField[] = [];
    const s = info.struct;
    if ((s === S.NotifyInvalEntryOut || s === S.NotifyDeleteOut) && size === s.size) {
      const namelen = frame.readUInt32LE(OUT_HEADER + (s.off as Record<string, number>)['namelen']!);
      const stop = Math.min(end, at + namelen + 1);
      fields.push(bytesField('name', frame, at, stop - at, 'name'));
      at = stop;
    } else if (s === S.NotifyStoreOut && size === s.size) {
      const n = Math.min(frame.readUInt32LE(OUT_HEADER + S.NotifyStoreOut.off.size), end - at);
      fields.push(bytesField('data', frame, at, n, 'payload'));
      at += n;
    } else if (s === S.NotifyPruneOut && size === s.size) {
      const count = frame.readUInt32LE(OUT_HEADER + S.NotifyPruneOut.off.count);
      for (let i = 0; i < count && at + 8 <= end && i < MAX_ELEMENTS; i++, at += 8) {
        fields.push({ name: `nodeid[${i}]`, type: 'u64', offset: at, size: 8, hex: hexOf(frame.subarray(at, at + 8)), value: readU64(frame, at) });
      }
    }
    if (fields.length > 0) parts.push({ title: 'names and data', offset: fields[0]!.offset, size: at - fields[0]!.offset, fields });
  }
  if (at < end) parts.push(rawPart('trailing bytes', frame, at, end));
  return { ...base, summary: info.summary, parts, problems };
}
