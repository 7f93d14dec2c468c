/**
 * A directory handle's listing: the snapshot taken at offset 0 (opendir, rewinddir), which READDIR and
 * READDIRPLUS pages are cut from, so that telldir/seekdir offsets (an entry's index + 1, "." and ".."
 * being 0 and 1) stay valid for the life of the handle.
 *
 * With getdents64 (Node >= 26, ./getdents.ts) the snapshot is packed once, as the READDIR reply's own
 * struct fuse_dirent records, with the start of each record kept: a READDIR page is then a view of those
 * bytes, no object and no encoding per entry. Listing a 10,000-entry directory on Linux 6.18 takes one
 * READDIRPLUS and 11 READDIRs of 32 KiB each (the kernel sizes its buffer from the reader's getdents
 * count: fs/fuse/readdir.c fuse_readdir_uncached). bench/profile.ts readdir, ext4, daemon CPU per entry:
 * an object per entry and a DirentWriter per page 0.91 µs, packed once 0.47 µs (of which getdents64
 * itself, in the kernel, 0.29 µs), and with {@link ListingCache} 0.10 µs; libfuse's passthrough_ll 0.41 µs.
 * Without node:ffi the names come from Node's readdir, which has no d_ino: the inode number then costs
 * an lstat per entry, made when its page is packed (and a name removed since the snapshot is skipped
 * there), or all at once for a snapshot that {@link ListingCache} keeps.
 */
import * as fs from 'node:fs';
import type * as P from '../protocol/index.ts';
import { readU64, writeU64 } from '../protocol/u64.ts';
import { DirentWriter } from '../protocol/dirent-writer.ts';
import { readDirectory, D_RECLEN, D_TYPE, D_NAME } from './getdents.ts';

/** A snapshot of a directory's entries, "." and ".." first. */
export interface Listing {
  /** Entries, "." and ".." included. */
  readonly length: number;
  /** Entry `i`'s name: a view of the listing's bytes. */
  name(i: number): Buffer;
  /** Entry `i`'s DT_* type. */
  type(i: number): number;
  /** Entry `i`'s inode number; undefined when the name is gone (found only without getdents64). */
  ino(i: number): P.U64 | undefined;
  /** The READDIR reply from entry `start` on: whole fuse_dirent records, at most `size` bytes. */
  page(start: number, size: number): Uint8Array;
}

/** sizeof(struct fuse_dirent) before the name: ino u64 0, off u64 8, namelen u32 16, type u32 20. */
const DIRENT_SIZE = 24;
const DT_DIR = 4;
const DOT = 0x2e;
/** The bytes each getdents64 call may fill: a 10,000-entry directory of short names takes two calls. */
const SCRATCH_SIZE = 256 * 1024;
/** A packed listing's first allocation; it doubles as needed. */
const INITIAL_SIZE = 16 * 1024;
const EMPTY = Buffer.alloc(0);

/** One getdents64 buffer for every snapshot: each is copied out (packed) before the next call. */
let scratch: Buffer | undefined;
let scratch32: Uint32Array | undefined;

/**
 * A listing packed as fuse_dirent records: `records` holds entry i at `starts[i]` (8-byte aligned, so
 * its fields are words of `words`), `starts[length]` is the end.
 */
class PackedListing implements Listing {
  readonly #records: Buffer;
  readonly #words: Uint32Array;
  readonly #starts: Uint32Array;
  readonly length: number;

  constructor(records: Buffer, starts: Uint32Array, length: number) {
    this.#records = records;
    this.#words = new Uint32Array(records.buffer, records.byteOffset, records.byteLength >>> 2);
    this.#starts = starts;
    this.length = length;
  }

  name(i: number): Buffer {
    const at = this.#starts[i]!;
    return this.#records.subarray(at + DIRENT_SIZE, at + DIRENT_SIZE + this.#words[(at >>> 2) + 4]!);
  }

  type(i: number): number {
    return this.#words[(this.#starts[i]! >>> 2) + 5]!;
  }

  ino(i: number): P.U64 {
    return readU64(this.#records, this.#starts[i]!);
  }

  /** Bytes held: the records and their starts. */
  get byteLength(): number { return this.#records.byteLength + this.#starts.byteLength; }

  page(start: number, size: number): Uint8Array {
    if (start >= this.length) return EMPTY;
    const starts = this.#starts;
    const from = starts[start]!;
    // The last record end within `size` bytes of `from`: starts increase, so a binary search finds it.
    let lo = start;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! - from <= size) lo = mid;
      else hi = mid - 1;
    }
    return this.#records.subarray(from, starts[lo]!);
  }
}

/** The listing without getdents64: names and types from Node's readdir, inode numbers looked up per page. */
class NamedListing implements Listing {
  readonly #names: readonly Buffer[];
  readonly #types: readonly number[];
  readonly #inoOf: (i: number, name: Buffer) => P.U64 | undefined;

  constructor(names: readonly Buffer[], types: readonly number[], inoOf: (i: number, name: Buffer) => P.U64 | undefined) {
    this.#names = names;
    this.#types = types;
    this.#inoOf = inoOf;
  }

  get length(): number { return this.#names.length; }
  name(i: number): Buffer { return this.#names[i]!; }
  type(i: number): number { return this.#types[i]!; }
  ino(i: number): P.U64 | undefined { return this.#inoOf(i, this.#names[i]!); }

  page(start: number, size: number): Uint8Array {
    // Packed as they are found: no object per entry (src/protocol/dirent-writer.ts).
    const out = new DirentWriter(size);
    for (let i = start; i < this.#names.length; i++) {
      const name = this.#names[i]!;
      if (!out.fits(name.byteLength)) break;
      const ino = this.#inoOf(i, name);
      if (ino === undefined) continue; // removed since the snapshot
      out.add(ino, name, i + 1, this.#types[i]!);
    }
    return out.bytes;
  }
}

/** Where a snapshot is taken from. */
export interface ListingSource {
  /** The directory's path (a node's `/proc/self/fd/N`). */
  readonly path: string | Buffer;
  /** The inode number of "." (i = 0) or ".." (i = 1), or of entry i of a listing without getdents64 (undefined: gone). */
  inoOf(i: number, name: Buffer): P.U64 | undefined;
  /** Node's readdir of the directory, for when getdents64 is not reachable. */
  readdir(): readonly { readonly name: Buffer; readonly type: number }[];
}

const DOT_NAME = Buffer.from('.');
const DOTDOT_NAME = Buffer.from('..');

/** Takes a snapshot of the directory: packed through getdents64 when reachable, else by name. */
export function takeListing(source: ListingSource): Listing {
  return packedListing(source) ?? namedListing(source.readdir().map((e) => [e.name, e.type] as const), source, true);
}

/**
 * How long before a snapshot the directory must have last changed for the snapshot to be kept: a
 * change in the same tick of the filesystem's clock could leave its timestamps as they were (git's
 * "racily clean" entries). The kernel stamps with its coarse clock (a jiffy behind at most; since Linux
 * 6.13 a change after a stat even gets a finer stamp, fs/inode.c inode_set_ctime_current), and 2 s
 * covers the coarsest filesystem timestamps there are (FAT's).
 */
const RACY_MS = 2_000;
/** Bytes of packed snapshots the cache holds at most (a 10,000-entry directory of short names is ~320 KiB). */
const CACHE_BYTES = 16 * 1024 * 1024;

interface CachedListing {
  readonly listing: PackedListing;
  readonly ctimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ino: bigint;
  readonly size: bigint;
}

/**
 * Snapshots of directories that have not changed since, so that listing a large directory again costs
 * one stat instead of getdents64 over every entry (bench/profile.ts readdir, 10,000 entries on ext4:
 * getdents64 took 62% of the daemon's CPU, ~0.29 µs per entry, all of it in the kernel). A snapshot is
 * reused only while the directory's ctime, mtime, inode number and size are those stat gave just before
 * it was taken (every entry added, removed or renamed, and the directory's own move, change its ctime),
 * and only if the directory had last changed at least {@link RACY_MS} before. Without getdents64
 * (Node 20) a snapshot to cache is packed with every entry's inode number looked up at once (an lstat
 * each, which a listing by pages also makes): that is where the cache saves most, as Node 20 has no
 * other way to the inode numbers. Least recently used first out, within {@link CACHE_BYTES}.
 */
export class ListingCache {
  readonly #byKey = new Map<string, CachedListing>();
  readonly #racyMs: number;
  #bytes = 0;

  /** `racyMs`: see {@link RACY_MS} (tests shorten it). */
  constructor(racyMs = RACY_MS) {
    this.#racyMs = racyMs;
  }

  /** The directory's listing: the cached snapshot while the directory is unchanged, else a new one. `key` names the inode (st_dev:st_ino). */
  take(key: string, source: ListingSource): Listing {
    const st = fs.statSync(source.path, { bigint: true });
    const cached = this.#byKey.get(key);
    if (cached !== undefined) {
      this.#byKey.delete(key);
      if (cached.ctimeNs === st.ctimeNs && cached.mtimeNs === st.mtimeNs && cached.ino === st.ino && cached.size === st.size) {
        this.#byKey.set(key, cached);
        return cached.listing;
      }
      this.#bytes -= cached.listing.byteLength;
    }
    const takenMs = Date.now();
    // Packed either way: with getdents64 as read, without it by looking every entry's inode up now.
    const listing = packedListing(source) ?? packedNamedListing(source);
    const changedMs = Math.max(Number(st.ctimeNs / 1_000_000n), Number(st.mtimeNs / 1_000_000n));
    if (listing instanceof PackedListing && changedMs < takenMs - this.#racyMs && listing.byteLength <= CACHE_BYTES / 4) {
      this.#byKey.set(key, { listing, ctimeNs: st.ctimeNs, mtimeNs: st.mtimeNs, ino: st.ino, size: st.size });
      this.#bytes += listing.byteLength;
      for (const [k, old] of this.#byKey) {
        if (this.#bytes <= CACHE_BYTES) break;
        this.#byKey.delete(k);
        this.#bytes -= old.listing.byteLength;
      }
    }
    return listing;
  }

  /** Cached snapshots; for tests. */
  get size(): number { return this.#byKey.size; }
}

/**
 * A listing of the given `[name, type]` entries ("." and ".." first when `withDots` is false, as
 * {@link exportListing} gives them; added when true), inode numbers from `source.inoOf`.
 */
export function namedListing(entries: readonly (readonly [Buffer, number])[], source: Pick<ListingSource, 'inoOf'>, withDots = false): Listing {
  const names: Buffer[] = withDots ? [DOT_NAME, DOTDOT_NAME] : [];
  const types: number[] = withDots ? [DT_DIR, DT_DIR] : [];
  for (const [name, type] of entries) {
    names.push(name);
    types.push(type);
  }
  return new NamedListing(names, types, (i, name) => source.inoOf(i, name));
}

/** A listing's entries as `[name, type]`, "." and ".." included (a planned handoff carries them). */
export function exportListing(listing: Listing): [Buffer, number][] {
  const out: [Buffer, number][] = [];
  for (let i = 0; i < listing.length; i++) out.push([Buffer.from(listing.name(i)), listing.type(i)]);
  return out;
}

/**
 * READDIRPLUS entries that carry no lookup: node id 0, for which the kernel creates no dentry nor inode
 * (fs/fuse/readdir.c fuse_direntplus_link: "zero nodeid ... do nothing") and shows d_ino and d_type
 * alone. At most `limit` of them: the kernel asks for the rest with READDIR, whose records are 6× smaller.
 */
export function namesOnlyPage(listing: Listing, start: number, size: number, limit: number): P.DirEntryPlus[] {
  const out: P.DirEntryPlus[] = [];
  let used = 0;
  for (let i = start; i < listing.length && out.length < limit; i++) {
    const name = listing.name(i);
    used += (DIRENTPLUS_SIZE + name.byteLength + 7) & ~7;
    if (used > size) break;
    const ino = listing.ino(i);
    if (ino === undefined) continue; // removed since the snapshot
    const type = listing.type(i);
    // DTTOIF: the file type bits of the mode are the DT_* value shifted by 12.
    out.push({ name, offset: i + 1, type, entry: { ino: 0, attr: { ino, mode: type << 12 } } });
  }
  return out;
}

/** sizeof(struct fuse_direntplus) before the name (fuse_entry_out 128 + fuse_dirent 24). */
const DIRENTPLUS_SIZE = 152;

/**
 * Packs fuse_dirent records one after the other: {@link add} each entry, "." and ".." first, then
 * {@link finish}. A record's inode number comes as a number or bigint, or as the two little-endian words
 * a linux_dirent64 holds (copied as they are, no BigInt per entry).
 */
class ListingPacker {
  #out = new Uint8Array(INITIAL_SIZE);
  #words = new Uint32Array(this.#out.buffer);
  #starts = new Uint32Array(INITIAL_SIZE >>> 5);
  #count = 0;
  #used = 0;

  /** Room for `bytes` more record bytes and `entries` more starts (plus the end's). */
  reserve(bytes: number, entries: number): void {
    if (this.#used + bytes > this.#out.length) {
      const grown = new Uint8Array(Math.max(this.#out.length * 2, this.#used + bytes));
      grown.set(this.#out.subarray(0, this.#used));
      this.#out = grown;
      this.#words = new Uint32Array(grown.buffer);
    }
    if (this.#count + entries + 1 > this.#starts.length) {
      const grown = new Uint32Array(Math.max(this.#starts.length * 2, this.#count + entries + 1));
      grown.set(this.#starts.subarray(0, this.#count));
      this.#starts = grown;
    }
  }

  /**
   * Starts the next record, for a name of `namelen` bytes: its header words, padding zeroed. Returns
   * where the name goes in {@link bytes} (after {@link reserve}d room).
   */
  header(ino: P.U64 | undefined, loWord: number, hiWord: number, namelen: number, type: number): number {
    const words = this.#words;
    const at = this.#used;
    const rec = (DIRENT_SIZE + namelen + 7) & ~7;
    const w = at >>> 2;
    if (ino === undefined) {
      words[w] = loWord;
      words[w + 1] = hiWord;
    } else writeU64(this.#out, at, ino); // a number stays a number: no BigInt per entry
    this.#starts[this.#count++] = at;
    words[w + 2] = this.#count; // off: the next entry's index
    words[w + 3] = 0;
    words[w + 4] = namelen;
    words[w + 5] = type;
    // The record's last word may be part padding: zero it before the name lands over its start.
    words[((at + rec) >>> 2) - 1] = 0;
    words[((at + rec) >>> 2) - 2] = 0;
    this.#used = at + rec;
    return at + DIRENT_SIZE;
  }

  /** A whole record: reserves room, writes the header and the name. */
  add(ino: P.U64, name: Uint8Array, type: number): void {
    this.reserve(DIRENT_SIZE + name.byteLength + 8, 1);
    this.#out.set(name, this.header(ino, 0, 0, name.byteLength, type));
  }

  /** Where names are written. */
  get bytes(): Uint8Array { return this.#out; }

  finish(): PackedListing {
    let starts = this.#starts;
    const count = this.#count;
    const used = this.#used;
    const out = this.#out;
    starts[count] = used;
    if (starts.length > count + 1024) starts = starts.slice(0, count + 1);
    // Keep no more than about what is used: an open directory holds its snapshot until RELEASEDIR.
    const records = out.length - used > INITIAL_SIZE ? Buffer.from(out.slice(0, used).buffer) : Buffer.from(out.buffer, 0, used);
    return new PackedListing(records, starts, count);
  }
}

/**
 * The snapshot as fuse_dirent records straight from getdents64's linux_dirent64 ones (the ino copied
 * word by word, the name byte by byte, off = index + 1), "." and ".." first with the inode numbers
 * `source.inoOf` gives (".." of SOURCE is SOURCE: the source decides). Undefined without getdents64.
 */
function packedListing(source: ListingSource): PackedListing | undefined {
  const packer = new ListingPacker();
  packer.add(source.inoOf(0, DOT_NAME) ?? 0, DOT_NAME, DT_DIR);
  packer.add(source.inoOf(1, DOTDOT_NAME) ?? 0, DOTDOT_NAME, DT_DIR);
  scratch ??= Buffer.from(new ArrayBuffer(SCRATCH_SIZE));
  scratch32 ??= new Uint32Array(scratch.buffer);
  const raw = scratch32;
  const listed = readDirectory(source.path, () => scratch!, (buf, n) => {
    // A linux_dirent64 record is at least 24 bytes and its fuse_dirent at most 8 bytes longer.
    packer.reserve(n + (n >>> 1), (n / 24) | 0);
    const out = packer.bytes;
    for (let at = 0; at < n;) {
      const reclen = buf[at + D_RECLEN]! | (buf[at + D_RECLEN + 1]! << 8);
      // The NUL ends the name within the record's last 8 bytes (fs/readdir.c filldir64: reclen is
      // ALIGN(19 + namelen + 1, 8)); the padding after it is whatever the buffer held before.
      const name = at + D_NAME;
      let nul = at + reclen - 8;
      if (nul < name) nul = name;
      while (buf[nul] !== 0) nul++;
      const namelen = nul - name;
      if (buf[name] === DOT && (namelen === 1 || (namelen === 2 && buf[name + 1] === DOT))) {
        at += reclen;
        continue;
      }
      const to = packer.header(undefined, raw[at >>> 2]!, raw[(at >>> 2) + 1]!, namelen, buf[at + D_TYPE]!);
      for (let j = 0; j < namelen; j++) out[to + j] = buf[name + j]!;
      at += reclen;
    }
  });
  return listed ? packer.finish() : undefined;
}

/**
 * The snapshot packed from Node's readdir, each entry's inode number looked up now (an lstat each):
 * what {@link ListingCache} keeps without getdents64. A name gone before its lookup is left out.
 */
function packedNamedListing(source: ListingSource): PackedListing {
  const packer = new ListingPacker();
  packer.add(source.inoOf(0, DOT_NAME) ?? 0, DOT_NAME, DT_DIR);
  packer.add(source.inoOf(1, DOTDOT_NAME) ?? 0, DOTDOT_NAME, DT_DIR);
  const entries = source.readdir();
  for (let i = 0; i < entries.length; i++) {
    const { name, type } = entries[i]!;
    const ino = source.inoOf(i + 2, name);
    if (ino !== undefined) packer.add(ino, name, type);
  }
  return packer.finish();
}
