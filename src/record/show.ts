/**
 * `tsfuse show FILE`: a recording printed like a packet dissector, one line per frame, in the words of
 * the `-d` trace (src/session/trace.ts formats each request and reply; this adds the time column, a
 * summary of each reply body, and notifications). `--explain` adds every field of every frame, by explain
 * mode's dissector (src/explain).
 */
import { errnoName, errnoFromName } from '../errors.ts';
import { formatReply, formatRequest } from '../session/trace.ts';
import { octal } from '../session/flag-names.ts';
import * as S from '../protocol/structs.ts';
import type { StructLayout } from '../protocol/layout.ts';
import { explainFrame, formatExplained } from '../explain/index.ts';
import type { RecordedFrame } from './format.ts';
import {
  frameUnique, layoutSpans, notifyName, replyBody, replyErrno, replySpans, spanValue,
  type Dissection, type Exchange, type FieldSpan,
} from './dissect.ts';

/** Which frames to print. An absent filter lets everything through. */
export interface ShowFilter {
  /** Opcode names (`LOOKUP`), or notification names (`INVAL_ENTRY`). */
  readonly ops?: ReadonlySet<string>;
  /** Requests to this node id (and their replies). */
  readonly node?: number | bigint;
  /** Requests answered with this errno (and their replies); 0 for success. */
  readonly errno?: number;
}

/** `--op`, `--node`, `--errno` as given on the command line, checked; a string says what is wrong. */
export function parseShowFilter(values: { op?: string; node?: string; errno?: string }): ShowFilter | string {
  const filter: { ops?: Set<string>; node?: number | bigint; errno?: number } = {};
  if (values.op !== undefined) filter.ops = new Set(values.op.split(',').map((s) => s.trim().toUpperCase().replace(/^FUSE_/, '')).filter((s) => s !== ''));
  if (values.node !== undefined) {
    if (!/^\d+$/.test(values.node)) return `--node takes a node id (a number), got '${values.node}'`;
    const n = BigInt(values.node);
    filter.node = n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  if (values.errno !== undefined) {
    const e = values.errno.toUpperCase();
    const n = e === 'OK' || e === '0' ? 0 : /^\d+$/.test(e) ? Number(e) : errnoFromName(e);
    if (n === undefined) return `--errno takes an errno name (ENOENT) or number, or OK; got '${values.errno}'`;
    filter.errno = n;
  }
  return filter;
}

/** The errno an exchange ended with: its last reply's, or undefined when unanswered. */
function exchangeErrno(x: Exchange): number | undefined {
  const last = x.replies.at(-1);
  return last === undefined ? undefined : replyErrno(last.bytes);
}

function passes(filter: ShowFilter, frame: RecordedFrame, x: Exchange | undefined): boolean {
  if (x === undefined) {
    // Notifications and replies nobody asked for: shown unless a filter asks for requests.
    if (filter.node !== undefined || filter.errno !== undefined) return false;
    return filter.ops === undefined || (frame.direction === 'notify' && filter.ops.has(notifyName(frame.bytes)));
  }
  if (filter.ops !== undefined && !filter.ops.has(x.name)) return false;
  if (filter.node !== undefined && (x.header === undefined || BigInt(x.header.nodeid) !== BigInt(filter.node))) return false;
  if (filter.errno !== undefined && exchangeErrno(x) !== filter.errno) return false;
  return true;
}

/** `  12.345 ms`: a frame's time since the first frame. */
function timeColumn(ns: bigint): string {
  return `${(Number(ns) / 1e6).toFixed(3).padStart(10)} ms`;
}

/** What a successful reply body says, briefly: node ids, modes, sizes, handles, entry names. */
export function summarizeReply(x: Exchange, body: Buffer): string {
  const shape = x.row?.reply;
  if (shape === undefined || body.byteLength === 0) return '';
  const spans = replySpans(shape, body, x.args);
  const get = (name: string) => {
    const s = spans.find((f) => f.name === name);
    return s === undefined ? undefined : spanValue(body, s);
  };
  switch (shape) {
    case 'entry': case 'create': {
      const parts = [`nodeid: ${String(get('nodeid'))}`, `mode: ${octal(get('attr.mode'))}`, `size: ${String(get('attr.size'))}`];
      if (shape === 'create') parts.push(`fh: ${String(get('open.fh'))}`);
      return ` {${parts.join(', ')}}`;
    }
    case 'attr': return ` {mode: ${octal(get('attr.mode'))}, size: ${String(get('attr.size'))}, nlink: ${String(get('attr.nlink'))}}`;
    case 'statx': return ` {mode: ${octal(get('stat.mode'))}, size: ${String(get('stat.size'))}}`;
    case 'open': case 'open-dir': return ` {fh: ${String(get('fh'))}}`;
    case 'write': return ` {size: ${String(get('size'))}}`;
    case 'entries': case 'entries-plus': {
      const names = spans.filter((s) => s.name.endsWith('.name')).map((s) => JSON.stringify(body.subarray(s.offset, s.offset + s.size).toString('utf8')));
      return ` {${names.length} entries: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}}`;
    }
    case 'data': {
      const text = body.subarray(0, 32).toString('utf8');
      return /^[\x20-\x7e\n\t]*$/.test(text) ? ` {data: ${JSON.stringify(text)}${body.byteLength > 32 ? '…' : ''}}` : '';
    }
    case 'xattr': return get('size') !== undefined ? ` {size: ${String(get('size'))}}` : '';
    case 'statfs': return ` {blocks: ${String(get('st.blocks'))}, bfree: ${String(get('st.bfree'))}}`;
    default: return '';
  }
}

/** Notification structs by name: their fixed part, and whether a name follows. */
const NOTIFY_LAYOUTS: Readonly<Record<string, StructLayout>> = {
  POLL: S.NotifyPollWakeupOut, INVAL_INODE: S.NotifyInvalInodeOut, INVAL_ENTRY: S.NotifyInvalEntryOut, STORE: S.NotifyStoreOut,
  RETRIEVE: S.NotifyRetrieveOut, DELETE: S.NotifyDeleteOut, PRUNE: S.NotifyPruneOut,
};

function notifySpans(name: string, body: Buffer): FieldSpan[] {
  const layout = NOTIFY_LAYOUTS[name];
  if (layout === undefined) return body.byteLength > 0 ? [{ name: 'data', offset: 0, size: body.byteLength, scalar: false }] : [];
  const spans = layoutSpans(layout, 0, '').filter((s) => s.offset + s.size <= body.byteLength && s.name !== 'padding');
  if (body.byteLength > layout.size) spans.push({ name: name === 'STORE' ? 'data' : name === 'PRUNE' ? 'nodeids' : 'name', offset: layout.size, size: body.byteLength - layout.size, scalar: false });
  return spans;
}

function bytesValue(b: Buffer): string {
  const text = b.toString('utf8');
  const trimmed = text.endsWith('\0') ? text.slice(0, -1) : text;
  if (b.byteLength <= 64 && /^[\x20-\x7e]*$/.test(trimmed)) return JSON.stringify(trimmed);
  return `<${b.byteLength} bytes>`;
}

/** One line per frame (the dissector view). */
export function formatFrameLine(frame: RecordedFrame, x: Exchange | undefined): string {
  const t = timeColumn(frame.timeNs);
  if (frame.direction === 'request') {
    if (x === undefined || x.header === undefined) return `${t}  rx ?: malformed frame of ${frame.bytes.byteLength} bytes`;
    const head = x.args === undefined
      ? `rx ${String(x.header.unique)}: ${x.name} n${String(x.header.nodeid)} (undecodable: ${x.decodeError ?? '?'})`
      : formatRequest({ session: 0, header: x.header, name: x.name, args: x.args });
    return `${t}  ${head}`;
  }
  if (frame.direction === 'notify') {
    const name = notifyName(frame.bytes);
    const body = replyBody(frame.bytes);
    const fields = notifySpans(name, body).map((s) => `${s.name}: ${s.scalar ? String(spanValue(body, s)) : bytesValue(body.subarray(s.offset, s.offset + s.size))}`);
    return `${t}  nt ${name} {${fields.join(', ')}}${frame.refusedErrno !== 0 ? ` (refused: ${errnoName(frame.refusedErrno)})` : ''}`;
  }
  const errno = replyErrno(frame.bytes);
  const body = replyBody(frame.bytes);
  if (x === undefined) return `${t}  tx ${String(frameUnique(frame.bytes))}: ${errno === 0 ? 'OK' : errnoName(errno)} ${body.byteLength} B (answers no recorded request)`;
  const latencyNs = Number(frame.timeNs - x.request.timeNs);
  const line = formatReply({ session: 0, unique: x.header!.unique, opcode: x.header!.opcode, name: x.name, error: errno, bodyLength: body.byteLength, latencyNs, body: [body] });
  const summary = errno === 0 ? summarizeReply(x, body) : '';
  return `${t}  ${line}${summary}${frame.refusedErrno !== 0 ? ` (refused by the kernel: ${errnoName(frame.refusedErrno)})` : ''}`;
}

/**
 * Every field of a frame, by explain mode's dissector (src/explain): offset, size, raw bytes, value and
 * meaning, decoded under the settings the recording's INIT agreed.
 */
export function explainRecordedFrame(frame: RecordedFrame, x: Exchange | undefined): string[] {
  const explained = explainFrame(frame.bytes, frame.direction === 'request'
    ? { direction: 'request', ...(x && { negotiated: x.negotiated }) }
    : { direction: 'reply', ...(x && { negotiated: x.negotiated, request: x.request.bytes }) });
  return formatExplained(explained).split('\n').map((line) => `      ${line}`);
}

/** The dissector view of a whole recording, filtered; `explain` adds every field under each line. */
export function formatRecording(d: Dissection, filter: ShowFilter = {}, explain = false): string[] {
  const lines: string[] = [];
  for (const { frame, exchange } of d.timeline) {
    if (!passes(filter, frame, exchange)) continue;
    lines.push(formatFrameLine(frame, exchange));
    if (explain) lines.push(...explainRecordedFrame(frame, exchange));
  }
  return lines;
}
