/**
 * What the session checks around a handler, beyond what the reply encoders check field by field
 * (src/protocol/replies.ts): the names in a request before any handler sees them, and the shape of a
 * directory listing before it is packed. Pure functions; problems are returned as values (a message)
 * or thrown as TypeErrors naming the field, which the core answers with an errno and a warning.
 */
import type { OpcodeRow, NameRule } from '../protocol/opcodes.ts';
import { isU64, type U64 } from '../protocol/u64.ts';
import { describeValue } from '../protocol/replies.ts';

export { describeValue };

const SLASH = 0x2f;
const DOT = 0x2e;
/**
 * Up to this length a plain loop finds '/' faster than Buffer#indexOf's native call: about 1 ns a byte
 * against 35-45 ns flat, even at 42 bytes (decodeRequest + checkRequestNames of LOOKUP frames, Node 20).
 */
const SHORT_NAME = 40;

/** Whether `n` holds a '/': one pass over the bytes, no string made. */
function hasSlash(n: Uint8Array): boolean {
  const len = n.length;
  if (len > SHORT_NAME) return n.indexOf(SLASH) !== -1;
  for (let i = 0; i < len; i++) if (n[i] === SLASH) return true;
  return false;
}

const show = (n: Uint8Array): string => JSON.stringify(Buffer.from(n.buffer, n.byteOffset, n.length).toString());

/** What is wrong with one string of a request under its row's rule (src/protocol/opcodes.ts NameRule), or undefined. */
function nameProblem(n: Uint8Array, rule: NameRule): string | undefined {
  const len = n.length;
  if (len === 0) return 'is empty';
  if (rule === 'tmpfile') return len === 1 && n[0] === SLASH ? undefined : `is ${show(n)}, not "/" (fs/namei.c vfs_tmpfile)`;
  if (rule !== 'entry' && rule !== 'lookup') return undefined; // a path or an xattr name: anything but empty
  if (rule === 'entry' && n[0] === DOT && (len === 1 || (len === 2 && n[1] === DOT))) return `is ${show(n)}`;
  return hasSlash(n) ? `${show(n)} contains '/'` : undefined;
}

/**
 * Checks the strings of a decoded request against its row's `names` column; returns what is wrong, or
 * undefined. The kernel never sends an empty name, a name with '/', or a dot name where the VFS already
 * refused it; a replayed or crafted frame can, and a filesystem must not be asked to create "a/b" or
 * "..". (A NUL inside a name leaves bytes after the last string: the decoder refuses that frame.)
 */
export function checkRequestNames(row: OpcodeRow, args: unknown): string | undefined {
  const names = row.names;
  if (names === undefined) return undefined;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const problem = nameProblem((args as Readonly<Record<string, Uint8Array>>)[name.field]!, name.rule);
    if (problem !== undefined) return `${name.field} ${problem}`;
  }
  return undefined;
}

/**
 * The `d_ino` of entries a readdir handler gave as plain names: FUSE_UNKNOWN_INO, as libfuse reports
 * entries without an inode number. Not 0: glibc's readdir skips entries whose d_ino is 0.
 */
export const UNKNOWN_INO = 0xffff_ffff;

/** A listing ready to pack, or the reason it was ended (it would have made the reader loop). */
export type Listing =
  | { readonly entries: readonly unknown[]; readonly skipped: readonly unknown[]; readonly stalled?: undefined }
  | { readonly stalled: string };

const NO_ENTRIES: readonly unknown[] = Object.freeze([]);

/**
 * Prepares a readdir / readdirplus result for packing. Two forms are accepted:
 *  - Entries that each carry `offset` (the position after the entry), starting after `req.offset`.
 *    An entry whose offset is 0 or equal to `req.offset` would make the kernel ask for the same position
 *    again forever (a handler that ignores `req.offset`): the listing is ended instead (`stalled`).
 *    Offsets are opaque cookies (they need not increase), so nothing stronger is assumed.
 *  - The whole listing, with no offset on any entry (readdir also takes plain names): offsets become
 *    index + 1 and the entries up to `req.offset` are skipped (returned in `skipped`, so readdirplus can
 *    hand their lookups back).
 * Throws a TypeError naming the entry and field for anything else.
 */
export function prepareListing(value: unknown, offset: U64, plus: boolean): Listing {
  if (!Array.isArray(value)) throw new TypeError(`result: expected an array of entries, got ${describeValue(value)}`);
  if (value.length === 0) return { entries: value, skipped: NO_ENTRIES };
  const withOffsets = hasOffset(value[0]);
  for (let i = 0; i < value.length; i++) {
    const e: unknown = value[i];
    if (typeof e === 'string' || e instanceof Uint8Array) {
      if (plus) throw new TypeError(`[${i}]: expected { name, entry } (readdirplus needs each entry's lookup answer), got ${describeValue(e)}`);
      if (withOffsets) throw new TypeError(`[${i}]: expected an entry with an offset (every entry has one, or none does), got a plain name`);
      continue;
    }
    if (typeof e !== 'object' || e === null) throw new TypeError(`[${i}]: expected ${plus ? '{ name, entry, offset? }' : '{ name, ino?, offset? } or a name'}, got ${describeValue(e)}`);
    const r = e as Record<string, unknown>;
    const name = r['name'];
    if (typeof name !== 'string' && !(name instanceof Uint8Array)) throw new TypeError(`[${i}].name: expected a string or a Uint8Array, got ${describeValue(name)}`);
    if ((r['offset'] !== undefined) !== withOffsets) {
      throw new TypeError(`[${i}].offset: expected ${withOffsets ? 'an offset' : 'none'} (every entry has an offset, or none does), got ${describeValue(r['offset'])}`);
    }
    if (plus) {
      if (typeof r['entry'] !== 'object' || r['entry'] === null) throw new TypeError(`[${i}].entry: expected an EntryReply ({ ino, attr }), got ${describeValue(r['entry'])}`);
    } else if (r['ino'] !== undefined && !isU64(r['ino'])) {
      throw new TypeError(`[${i}].ino: expected a non-negative integer (a bigint above 2^53 − 1), got ${describeValue(r['ino'])}`);
    } else if (withOffsets && r['ino'] === undefined) {
      throw new TypeError(`[${i}].ino: expected an inode number, got undefined`);
    }
    const type = r['type'];
    if (type !== undefined && !(typeof type === 'number' && type >>> 0 === type && type <= 15)) throw new TypeError(`[${i}].type: expected a DT_* value 0..15, got ${describeValue(type)}`);
    if (!withOffsets) continue;
    const next = r['offset'];
    if (!isU64(next)) throw new TypeError(`[${i}].offset: expected a non-negative integer (a bigint above 2^53 − 1), got ${describeValue(next)}`);
    if (next === 0 || next === offset) {
      return { stalled: `entry ${i} (${describeValue(typeof name === 'string' ? name : Buffer.from(name).toString())}) has offset ${String(next)}${next === 0 ? '' : `, the offset the kernel asked to continue from`}: the handler must return the entries after req.offset, each with the offset of the entry after it` };
    }
  }
  if (withOffsets) return { entries: value, skipped: NO_ENTRIES };
  const start = typeof offset === 'number' && offset < value.length ? offset : value.length;
  const entries = new Array<unknown>(value.length - start);
  for (let i = start; i < value.length; i++) {
    const e: unknown = value[i];
    entries[i - start] = typeof e === 'string' || e instanceof Uint8Array
      ? { ino: UNKNOWN_INO, name: e, offset: i + 1 }
      : { ino: UNKNOWN_INO, ...(e as object), offset: i + 1 };
  }
  return { entries, skipped: start === 0 ? NO_ENTRIES : value.slice(0, start) };
}

function hasOffset(e: unknown): boolean {
  return typeof e === 'object' && e !== null && !(e instanceof Uint8Array) && (e as { offset?: unknown }).offset !== undefined;
}
