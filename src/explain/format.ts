/**
 * Explain mode as text: a frame as a table of fields (offset, size, name, raw bytes, value = meaning),
 * the daemon-side stage times of a request, and the INIT negotiation audit as a table.
 */
import { errnoName } from '../errors.ts';
import type { CapabilityAudit } from '../protocol/init.ts';
import type { Negotiated } from '../protocol/negotiated.ts';
import type { ExplainedFrame, ExplainedField } from './explain.ts';

/** How many raw bytes of a field the text shows (a u64 fits); the structured result keeps more. */
const TEXT_HEX_BYTES = 8;

/** Long flag lists are wrapped at `|` to keep lines about this wide. */
const LINE_WIDTH = 120;

/** Splits `A|B|C…` into lines of at most `width` characters, breaking only after a `|`. */
function wrapFlags(text: string, width: number): string[] {
  if (text.length <= width || !text.includes('|')) return [text];
  const out: string[] = [];
  let line = '';
  for (const piece of text.split(/(?<=\|)/)) {
    if (line !== '' && line.length + piece.length > width) { out.push(line); line = ''; }
    line += piece;
  }
  if (line !== '') out.push(line);
  return out;
}

/** The heading of a frame: who sends it to whom, and what it is. */
function heading(e: ExplainedFrame): string {
  const size = `${e.length} bytes`;
  switch (e.direction) {
    case 'request':
      return `kernel → daemon  ${e.name} request${e.opcode !== undefined ? ` (opcode ${e.opcode})` : ''}` +
        `${e.unique !== undefined ? `, unique ${String(e.unique)}` : ''}${e.nodeid !== undefined ? `, node ${String(e.nodeid)}` : ''}, ${size}`;
    case 'reply': {
      const result = e.errno === undefined ? '' : e.errno === 0 ? ': OK' : `: ${errnoName(e.errno)}`;
      return `daemon → kernel  ${e.name} reply${e.unique !== undefined ? `, unique ${String(e.unique)}` : ''}${result}, ${size}`;
    }
    case 'notification':
      return `daemon → kernel  notification ${e.name}, ${size}`;
  }
}

function valueText(f: ExplainedField): string {
  const v = typeof f.value === 'bigint' ? f.value.toString() : String(f.value);
  if (f.meaning === undefined || f.meaning === v) return v;
  // "46" and "46 bytes": say it once.
  return f.meaning.startsWith(`${v} `) ? f.meaning : `${v} = ${f.meaning}`;
}

function shortHex(f: ExplainedField): string {
  const bytes = f.hex.replace(/ …$/, '').split(' ').filter((x) => x !== '');
  return bytes.length > TEXT_HEX_BYTES || f.hex.endsWith('…') ? `${bytes.slice(0, TEXT_HEX_BYTES).join(' ')} …` : bytes.join(' ');
}

/**
 * A frame as text: a heading, the one-line summary, then each part with one line per field
 * (`offset size name  raw bytes  value = meaning`), then what is wrong with it, if anything.
 */
export function formatExplained(e: ExplainedFrame): string {
  const lines = [heading(e), `  ${e.summary}`];
  const nameWidth = Math.max(14, ...e.parts.flatMap((p) => p.fields.map((f) => f.name.length)));
  const hexWidth = TEXT_HEX_BYTES * 3 + 1;
  for (const part of e.parts) {
    lines.push(`  ${part.title}${part.note !== undefined ? ` — ${part.note}` : ''}`);
    for (const f of part.fields) {
      const lead = `    ${String(f.offset).padStart(4)} ${String(f.size).padStart(4)}  ${f.name.padEnd(nameWidth)}  ${shortHex(f).padEnd(hexWidth)}  `;
      const [first, ...more] = wrapFlags(valueText(f), Math.max(40, LINE_WIDTH - lead.length));
      lines.push(lead + first);
      for (const m of more) lines.push(' '.repeat(lead.length) + m);
    }
  }
  for (const p of e.problems) lines.push(`  ! ${p}`);
  return lines.join('\n');
}

/** How long one request spent in each daemon-side stage, in nanoseconds. */
export interface StageDurations {
  /** handleFrame's entry to the decoded request (header, body by the opcode's row, extensions). */
  readonly decodeNs: number;
  /** The decoded request to the handler's result (or error): the filesystem's own time, awaits included. */
  readonly handlerNs: number;
  /** The result to the framed reply (encoder, out-header). */
  readonly encodeNs: number;
  /** The writev(2) of the reply to /dev/fuse: the daemon → kernel crossing. */
  readonly writeNs: number;
}

function us(ns: number): string {
  const v = ns / 1000;
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} µs`;
}

/**
 * `daemon time 41 µs: read (before the core) → decode 3.1 µs → handler 27 µs → encode 1.2 µs → write 9.8 µs`.
 * The read(2) that brought the frame in happened in the transport (libuv, or the reader thread) before the
 * core saw the frame, so it has no figure here.
 */
export function formatStages(s: StageDurations, noReply = false): string {
  const total = s.decodeNs + s.handlerNs + s.encodeNs + s.writeNs;
  const tail = noReply ? ' (no reply: nothing is encoded or written)' : ` → encode ${us(s.encodeNs)} → write ${us(s.writeNs)}`;
  return `  daemon time ${us(total)}: read (in the transport) → decode ${us(s.decodeNs)} → handler ${us(s.handlerNs)}${tail}`;
}

const yes = (b: boolean): string => (b ? 'yes' : '-');

/**
 * The INIT negotiation as a table: every capability, whether the kernel offered it, the filesystem
 * requested (or required) it, whether it was granted, and why not. Then the agreed numbers.
 */
export function formatAudit(audit: readonly CapabilityAudit[], negotiated?: Negotiated): string {
  const lines: string[] = [];
  if (negotiated !== undefined) {
    lines.push(`INIT negotiation: protocol ${negotiated.major}.${negotiated.minor}, max_write ${negotiated.maxWrite} bytes (${negotiated.maxPages} pages), ` +
      `max_readahead ${negotiated.maxReadahead}, max_background ${negotiated.maxBackground}, congestion_threshold ${negotiated.congestionThreshold}, time_gran ${negotiated.timeGran} ns`);
  } else {
    lines.push('INIT negotiation:');
  }
  const width = Math.max(10, ...audit.map((a) => a.name.length));
  lines.push(`  ${'capability'.padEnd(width)}  bit  since  offered  requested  granted  why`);
  for (const a of audit) {
    const requested = a.required ? 'required' : yes(a.requested);
    lines.push(`  ${a.name.padEnd(width)}  ${String(a.bit).padStart(3)}  ${`7.${a.minor}`.padEnd(5)}  ${yes(a.offered).padEnd(7)}  ${requested.padEnd(9)}  ${yes(a.granted).padEnd(7)}  ${a.reason ?? ''}`.trimEnd());
  }
  const granted = audit.filter((a) => a.granted).length;
  const offered = audit.filter((a) => a.offered).length;
  lines.push(`  ${granted} granted of ${offered} offered by the kernel (${audit.length} known to FUSE 7.45)`);
  return lines.join('\n');
}
