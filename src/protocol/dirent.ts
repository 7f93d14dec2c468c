/**
 * Directory listings: struct fuse_dirent / fuse_direntplus records, each padded to 8 bytes
 * (FUSE_REC_ALIGN), packed until the reader's buffer (`size` of READDIR) is full. What fits is decided
 * here only, by the packers; the READDIRPLUS lookup accounting reads the count back from the packed bytes.
 */
import type { U64 } from './u64.ts';
import { writeU64 } from './u64.ts';
import { zeroed } from './zeroed.ts';
import { Dirent, Direntplus } from './structs.ts';
import { writeEntryOut, asBytes, type EntryReply, type BytesLike } from './replies.ts';
import { NAME_MAX_BYTES } from './requests.ts';
import { DT_UNKNOWN, dtFromMode } from './constants.ts';

export interface DirEntry {
  readonly ino: U64;
  /** The entry's name (bytes, or text as UTF-8). Not empty, no '/'. */
  readonly name: BytesLike;
  /** The offset of the *next* entry: what the kernel passes back to continue after this one. */
  readonly offset: U64;
  /** DT_* type (DT_DIR = 4, DT_REG = 8, …). Derived from `mode` when absent. */
  readonly type?: number;
  /** File mode; its S_IFMT bits give the type when `type` is absent. */
  readonly mode?: number;
}

/** A READDIRPLUS entry: a directory entry and the lookup answer for it. */
export interface DirEntryPlus {
  readonly name: BytesLike;
  readonly offset: U64;
  readonly entry: EntryReply;
  readonly type?: number;
}

export interface PackedDirents {
  readonly data: Buffer;
  /** How many entries fit; the rest were left out. */
  readonly count: number;
}

/** FUSE_DIRENT_ALIGN: every record is padded to a multiple of 8 bytes. */
const align8 = (n: number): number => (n + 7) & ~7;
const SLASH = 0x2f;
const DOT = 0x2e;

function direntType(type: number | undefined, mode: number | undefined): number {
  if (type !== undefined) return type;
  return mode === undefined ? DT_UNKNOWN : dtFromMode(mode);
}

function checkName(name: Uint8Array): void {
  if (name.byteLength === 0 || name.byteLength > NAME_MAX_BYTES || name.includes(SLASH) || name.includes(0)) {
    throw new TypeError(`invalid directory entry name ${JSON.stringify(Buffer.from(name).toString())}: must be 1..${NAME_MAX_BYTES} bytes without '/' or NUL`);
  }
}

/**
 * The leading entries whose records (`header` bytes, the name, padding to 8) fit in `size` bytes, with
 * their names as bytes (checked) and the bytes they take. Throws TypeError on an invalid name.
 */
function fitting<E extends { readonly name: BytesLike }>(entries: Iterable<E>, header: number, size: number): { list: E[]; names: Uint8Array[]; total: number } {
  const names: Uint8Array[] = [];
  const list: E[] = [];
  let total = 0;
  for (const e of entries) {
    const name = asBytes(e.name);
    checkName(name);
    const rec = align8(header + name.byteLength);
    if (total + rec > size) break;
    total += rec;
    names.push(name);
    list.push(e);
  }
  return { list, names, total };
}

/** Packs READDIR entries into at most `size` bytes. Throws TypeError on an invalid name. */
export function packDirents(entries: Iterable<DirEntry>, size: number): PackedDirents {
  const { list, names, total } = fitting(entries, Dirent.size, size);
  const data = zeroed(total);
  let at = 0;
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    const name = names[i]!;
    writeU64(data, at + Dirent.off.ino, e.ino);
    writeU64(data, at + Dirent.off.off, e.offset);
    data.writeUInt32LE(name.byteLength, at + Dirent.off.namelen);
    data.writeUInt32LE(direntType(e.type, e.mode), at + Dirent.off.type);
    data.set(name, at + Dirent.size);
    at += align8(Dirent.size + name.byteLength);
  }
  return { data, count: list.length };
}

/** Packs READDIRPLUS entries into at most `size` bytes. Throws TypeError on an invalid name. */
export function packDirentsPlus(entries: Iterable<DirEntryPlus>, size: number): PackedDirents {
  const { list, names, total } = fitting(entries, Direntplus.size, size);
  const data = zeroed(total);
  let at = 0;
  const d = Direntplus.off.dirent;
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    const name = names[i]!;
    writeEntryOut(data, at + Direntplus.off.entry_out, e.entry);
    // d_ino is what readdir(3) shows (fs/fuse/readdir.c parse_dirplusfile → fuse_emit): the inode number
    // the attributes carry, not the node id; it also keeps "." and ".." (node id 0) from reading as d_ino 0.
    writeU64(data, at + d + Dirent.off.ino, e.entry.attr?.ino ?? e.entry.ino);
    writeU64(data, at + d + Dirent.off.off, e.offset);
    data.writeUInt32LE(name.byteLength, at + d + Dirent.off.namelen);
    data.writeUInt32LE(direntType(e.type, e.entry.attr?.mode), at + d + Dirent.off.type);
    data.set(name, at + Direntplus.size);
    at += align8(Direntplus.size + name.byteLength);
  }
  return { data, count: list.length };
}

/**
 * How many fuse_direntplus records a packed READDIRPLUS body holds, read from the bytes themselves (each
 * record's namelen gives its length, as fs/fuse/readdir.c parse_dirplusfile walks them). The packer is
 * the only code that decides what fits; this only counts what it produced, so the two cannot disagree.
 */
export function countDirentsPlus(body: Uint8Array): number {
  const namelen = Direntplus.off.dirent + Dirent.off.namelen;
  let count = 0;
  for (let at = 0; at + Direntplus.size <= body.byteLength; count++) {
    // namelen ≤ NAME_MAX_BYTES, so its two low bytes (little-endian) are all of it.
    at += align8(Direntplus.size + (body[at + namelen]! | (body[at + namelen + 1]! << 8)));
  }
  return count;
}

/**
 * Node ids of a READDIRPLUS result for which the kernel took no lookup reference: the entries after the
 * first `sent` (they did not fit, see {@link PackedDirents.count}), and "." and ".." among those sent
 * (fs/fuse/readdir.c fuse_direntplus_link does not link them). Node id 0 is never counted.
 */
export function unsentLookups(entries: readonly DirEntryPlus[], sent: number): U64[] {
  const out: U64[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const ino = e.entry.ino;
    if (ino === 0 || ino === 0n) continue;
    if (i >= sent || isDotName(e.name)) out.push(ino);
  }
  return out;
}

/** "." or "..", given as text or bytes (".x" and "x." are ordinary names). */
function isDotName(name: BytesLike): boolean {
  if (typeof name === 'string') return name === '.' || name === '..';
  const n = name.byteLength;
  return (n === 1 || n === 2) && name[0] === DOT && name[n - 1] === DOT;
}
