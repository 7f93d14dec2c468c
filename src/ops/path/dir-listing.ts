/**
 * One open directory's listing, as the path filesystem returned it, kept for the life of the handle so
 * that READDIR offsets stay meaningful: the offset the kernel passes back is an index into this listing
 * (entry i carries offset i + 1). A directory that changes while it is being read therefore never makes
 * the reader skip or repeat an entry that exists throughout — the guarantee POSIX asks of readdir(3) —
 * and a rewind (offset 0) takes a fresh listing, as rewinddir(3) should.
 *
 * A whole listing (an array) is taken at once; an iterable, sync or async, is pulled only as far as the
 * kernel's buffer needs, so a huge directory streams instead of being gathered up front.
 */
import type { AnyStat, PathDirEntry, PathListing } from './types.ts';

export interface ListedEntry {
  readonly name: string;
  /** Attributes the filesystem gave with the entry, if any. */
  readonly stat: AnyStat | undefined;
}

const DOT: ListedEntry = Object.freeze({ name: '.', stat: undefined });
const DOTDOT: ListedEntry = Object.freeze({ name: '..', stat: undefined });

function entryOf(e: PathDirEntry): ListedEntry | undefined {
  let name: unknown;
  let stat: AnyStat | undefined;
  if (typeof e === 'string') name = e;
  else if (e !== null && typeof e === 'object') { name = e.name; stat = e.stat; }
  if (typeof name !== 'string' || name === '' || name.includes('/') || name.includes('\0')) {
    throw new TypeError(`readdir returned an invalid entry ${JSON.stringify(name ?? e)}: names are non-empty strings without '/' or NUL`);
  }
  // "." and ".." are the layer's own (the first two entries), whatever the filesystem says about them.
  if (name === '.' || name === '..') return undefined;
  return { name, stat };
}

/** A whole listing's READDIR records, packed once by the layer: a page is a view of them. */
export interface PackedListing {
  /** The fuse_dirent records of every entry, "." and ".." first. */
  readonly records: Buffer;
  /** Where each entry's record ends in `records` (entry i's begins where entry i − 1's ends). */
  readonly ends: Uint32Array;
}

export class DirListing {
  /** What has been read so far: ".", "..", then the filesystem's entries in its order. */
  readonly entries: ListedEntry[] = [DOT, DOTDOT];
  #sync: Iterator<PathDirEntry> | undefined;
  #async: AsyncIterator<PathDirEntry> | undefined;
  #done = false;
  /** The records of the complete listing, once a READDIR asked for them (the layer packs them). */
  packed: PackedListing | undefined;

  constructor(listing: PathListing) {
    if (Array.isArray(listing)) {
      for (const e of listing as readonly PathDirEntry[]) {
        const entry = entryOf(e);
        if (entry !== undefined) this.entries.push(entry);
      }
      this.#done = true;
    } else if (listing !== null && typeof listing === 'object' && Symbol.asyncIterator in listing) {
      this.#async = (listing as AsyncIterable<PathDirEntry>)[Symbol.asyncIterator]();
    } else if (listing !== null && typeof listing === 'object' && Symbol.iterator in listing) {
      this.#sync = (listing as Iterable<PathDirEntry>)[Symbol.iterator]();
    } else {
      throw new TypeError(`readdir returned ${listing === null ? 'null' : typeof listing}; expected an array or an (async) iterable of names`);
    }
  }

  /** True once the filesystem's listing has been read to its end. */
  get complete(): boolean { return this.#done; }

  /**
   * Reads on until the entries from index `start` on add up to at least `bytes` (each costing
   * `recordSize(name)`), or the listing ends. The estimate only bounds the work: the codec decides what
   * fits, and the kernel asks again from the first entry it did not receive.
   */
  fill(start: number, bytes: number, recordSize: (name: string) => number): void | Promise<void> {
    if (this.#done) return; // a whole listing (the common case): nothing to read
    let have = 0;
    for (let i = start; i < this.entries.length && have < bytes; i++) have += recordSize(this.entries[i]!.name);
    // A whole listing or a sync iterable is read synchronously; only an async iterable makes this async.
    if (this.#async !== undefined) return this.#fillAsync(start, bytes, recordSize, have);
    while (!this.#done && (have < bytes || this.entries.length <= start)) {
      const next = this.#sync!.next();
      if (next.done === true) { this.#done = true; break; }
      have += this.#push(next.value, start, recordSize);
    }
  }

  async #fillAsync(start: number, bytes: number, recordSize: (name: string) => number, have: number): Promise<void> {
    while (!this.#done && (have < bytes || this.entries.length <= start)) {
      const next = await this.#async!.next();
      if (next.done === true) { this.#done = true; break; }
      have += this.#push(next.value, start, recordSize);
    }
  }

  /** Appends one entry the filesystem gave; returns the bytes it adds to a page starting at `start`. */
  #push(e: PathDirEntry, start: number, recordSize: (name: string) => number): number {
    const entry = entryOf(e);
    if (entry === undefined) return 0;
    this.entries.push(entry);
    return this.entries.length > start ? recordSize(entry.name) : 0;
  }

  /** The handle closed or was rewound: let an unfinished generator clean up. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    try {
      const r = this.#sync !== undefined ? this.#sync.return?.() : this.#async?.return?.();
      if (r instanceof Promise) r.catch(() => { /* the listing is abandoned; its cleanup error has nowhere to go */ });
    } catch { /* likewise */ }
  }
}
