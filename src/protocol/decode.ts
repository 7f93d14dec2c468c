/**
 * One frame in, one typed request (or a DecodeError) out: header, body by the opcode's row, extensions.
 */
import { FrameReader, type DecodeError } from './reader.ts';
import { decodeInHeader, decodeExtensions, type InHeaderFields, type RequestExtensions } from './header.ts';
import { opcodeRow, type OpcodeRow } from './opcodes.ts';
import type { Negotiated } from './negotiated.ts';

export interface DecodedRequest<Req = unknown> {
  readonly header: InHeaderFields;
  readonly row: OpcodeRow;
  /** The opcode-specific body. Byte fields are views of the frame. */
  readonly args: Req;
  /** Present when the request carried extensions (total_extlen > 0). */
  readonly extensions?: RequestExtensions;
}

/**
 * Decodes one request frame. Never throws: malformed input yields a DecodeError, together with the
 * header when it could be read (so the session can still answer that request with an errno).
 */
export function decodeRequest(
  frame: Buffer, n: Negotiated, r: FrameReader = new FrameReader(),
): DecodedRequest | { readonly error: DecodeError; readonly header?: InHeaderFields } {
  r.reset(frame, 0, frame.length);
  const header = decodeInHeader(r);
  if (header === undefined) return { error: r.error! };
  const row = opcodeRow(header.opcode);
  if (row === undefined) return { error: { kind: 'unknown-opcode', opcode: header.opcode }, header };
  r.what = row.name;
  const bodyEnd = frame.length - header.totalExtlen * 8;
  const args = row.decode(r, header.nodeid, n, header);
  if (row.names !== undefined && r.error === undefined && r.position !== bodyEnd) trailingBytes(r, row, bodyEnd);
  if (r.error !== undefined) return { error: r.error, header };
  if (header.totalExtlen === 0) return { header, row, args };
  const extensions = decodeExtensions(r, frame, bodyEnd, frame.length);
  if (extensions === undefined) return { error: r.error!, header };
  return { header, row, args, extensions };
}

/**
 * A body that ends with strings ends right after the last one (or the counted field that follows it): the
 * decoder stops each string at its first NUL, so a NUL inside one shows as bytes left over, which the
 * kernel never sends. Checked here, by position, so no string is scanned twice; the strings' contents are
 * the session's to check (src/session/validate.ts).
 */
function trailingBytes(r: FrameReader, row: OpcodeRow, bodyEnd: number): void {
  const last = row.names![row.names!.length - 1]!;
  const what = last.followedBy ?? `the NUL that ends ${last.field}`;
  r.invalid(r.position < bodyEnd ? `${bodyEnd - r.position} bytes follow ${what} (a NUL inside a name)` : `${last.field} runs into the request extensions`);
}
