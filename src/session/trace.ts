/**
 * A human-readable trace of the request flow, one line per request and per reply, for `-d` and for
 * learners: `rx 12: LOOKUP n1 {name: "hello.txt"}` / `tx 12: OK 128 B in 41 µs`. It is one subscriber of
 * the `tsfuse:request` / `tsfuse:reply` diagnostics channels, which cost nothing while nobody listens.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { REQUEST_CHANNEL, REPLY_CHANNEL, type RequestMessage, type ReplyMessage } from './core.ts';
import { errnoName } from '../errors.ts';
import { EntryOut, InitOut, OpenOut } from '../protocol/structs.ts';
import { REQUEST_FIELD_FORMATS, initFlagWords, openOutFlagWords } from './flag-names.ts';

function show(v: unknown, depth = 0): string {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
    const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    if (b.byteLength > 48) return `<${b.byteLength} bytes>`;
    const text = b.toString('utf8');
    return Buffer.from(text, 'utf8').equals(b) && /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `<${b.toString('hex')}>`;
  }
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (Array.isArray(v)) return depth > 1 ? `[${v.length}]` : `[${v.slice(0, 8).map((x) => show(x, depth + 1)).join(', ')}${v.length > 8 ? `, …${v.length - 8} more` : ''}]`;
  if (v !== null && typeof v === 'object') {
    const parts = Object.entries(v).map(([k, x]) => `${k}: ${show(x, depth + 1)}`);
    return `{${parts.join(', ')}}`;
  }
  return String(v);
}

/** Formats a request as one trace line; flag words as names (src/session/flag-names.ts), modes in octal. */
export function formatRequest(m: RequestMessage): string {
  // The node id is printed from the header; the args repeat it as `ino` or `parent`.
  const { ino: _ino, parent: _parent, ...rest } = (m.args ?? {}) as Record<string, unknown>;
  const formats = REQUEST_FIELD_FORMATS[m.name];
  const parts = Object.entries(rest).map(([k, v]) => `${k}: ${formats?.[k]?.(v) ?? show(v, 1)}`);
  return `rx ${String(m.header.unique)}: ${m.name} n${String(m.header.nodeid)} {${parts.join(', ')}} uid=${m.header.uid} pid=${m.header.pid}`;
}

/** The u32 at `offset` of a reply body split over iovecs, or undefined past its end. */
function bodyU32(body: readonly Uint8Array[], offset: number): number | undefined {
  let at = offset;
  for (const part of body) {
    if (at + 4 <= part.byteLength) return new DataView(part.buffer, part.byteOffset, part.byteLength).getUint32(at, true);
    if (at < part.byteLength) {
      // Straddles two iovecs (never in practice: fixed structs are one iovec); join to read it.
      const joined = Buffer.concat(body.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
      return joined.byteLength >= offset + 4 ? joined.readUInt32LE(offset) : undefined;
    }
    at -= part.byteLength;
  }
  return undefined;
}

/** The flag words of a successful reply that has some: FOPEN_* of an open, the capabilities of INIT. */
function replyFlags(m: ReplyMessage): string {
  if (m.error !== 0 || m.body === undefined) return '';
  switch (m.name) {
    case 'OPEN': case 'OPENDIR': case 'CREATE': case 'TMPFILE': {
      const base = m.name === 'CREATE' || m.name === 'TMPFILE' ? EntryOut.size : 0;
      const flags = bodyU32(m.body, base + OpenOut.off.open_flags);
      return flags === undefined ? '' : ` {open_flags: ${openOutFlagWords(flags)}}`;
    }
    case 'INIT': {
      const flags = bodyU32(m.body, InitOut.off.flags);
      return flags === undefined ? '' : ` {flags: ${initFlagWords(flags, bodyU32(m.body, InitOut.off.flags2) ?? 0)}}`;
    }
    default:
      return '';
  }
}

/** Formats a reply as one trace line. */
export function formatReply(m: ReplyMessage): string {
  const us = (m.latencyNs / 1000).toFixed(m.latencyNs < 10_000 ? 1 : 0);
  if (m.bodyLength < 0) return `-- ${String(m.unique)}: ${m.name} (no reply) after ${us} µs`;
  return `tx ${String(m.unique)}: ${m.error === 0 ? 'OK' : errnoName(m.error)} ${m.bodyLength} B in ${us} µs${replyFlags(m)}`;
}

/** Starts printing the trace through `log` (default: stderr). Returns a function that stops it. */
export function startTrace(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): () => void {
  const onRequest = (m: unknown) => log(formatRequest(m as RequestMessage));
  const onReply = (m: unknown) => log(formatReply(m as ReplyMessage));
  subscribe(REQUEST_CHANNEL, onRequest);
  subscribe(REPLY_CHANNEL, onReply);
  return () => {
    unsubscribe(REQUEST_CHANNEL, onRequest);
    unsubscribe(REPLY_CHANNEL, onReply);
  };
}
