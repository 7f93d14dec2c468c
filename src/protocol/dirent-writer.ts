/**
 * Pre-packed READDIR listings: a handler may answer READDIR with the bytes of the reply itself, a run of
 * struct fuse_dirent records, instead of an array of entry objects. For a large directory that saves an
 * object per entry and the session's validation of each (bench/profile.ts: the passthrough's readdir).
 * {@link DirentWriter} packs them; {@link checkPackedDirents} is what the session checks before sending
 * a handler's bytes, the checks fs/fuse/readdir.c parse_dirfile applies (a record the kernel would
 * refuse fails the whole READDIR with EIO there, so it is refused here with a clear warning instead).
 */
import { Dirent } from './structs.ts';
import { writeU64, readU64, type U64 } from './u64.ts';
import { NAME_MAX_BYTES } from './requests.ts';
import { zeroed } from './zeroed.ts';

const align8 = (n: number): number => (n + 7) & ~7;
const SLASH = 0x2f;

/**
 * Packs READDIR entries into a buffer of the size the kernel asked for (`req.size`), for a readdir
 * handler to return as is: `const w = new DirentWriter(req.size); while (w.add(…)) …; return w.bytes`.
 */
export class DirentWriter {
  readonly #buf: Buffer;
  #used = 0;
  #count = 0;

  /** `size`: READDIR's `req.size`, the most bytes the reply may carry. */
  constructor(size: number) {
    // Zeroed: the padding after each name goes to the caller as is.
    this.#buf = zeroed(size);
  }

  /**
   * Appends one entry; false (and nothing appended) when it does not fit: stop there, and continue from
   * this entry at the next READDIR. `offset` is the offset of the entry after this one (what the kernel
   * passes back to continue), `type` a DT_* value (DT_UNKNOWN = 0 if unknown), `name` its bytes (1..255,
   * no '/' or NUL; a TypeError otherwise).
   */
  add(ino: U64, name: Uint8Array, offset: U64, type: number): boolean {
    const n = name.byteLength;
    if (n === 0 || n > NAME_MAX_BYTES || name.includes(SLASH) || name.includes(0)) {
      throw new TypeError(`invalid directory entry name ${JSON.stringify(Buffer.from(name).toString())}: must be 1..${NAME_MAX_BYTES} bytes without '/' or NUL`);
    }
    const at = this.#used;
    const rec = align8(Dirent.size + n);
    if (at + rec > this.#buf.length) return false;
    const b = this.#buf;
    writeU64(b, at + Dirent.off.ino, ino);
    writeU64(b, at + Dirent.off.off, offset);
    b.writeUInt32LE(n, at + Dirent.off.namelen);
    b.writeUInt32LE(type, at + Dirent.off.type);
    b.set(name, at + Dirent.size);
    this.#used = at + rec;
    this.#count++;
    return true;
  }

  /** Whether an entry with a name of `nameLength` bytes still fits (to skip work for one that would not). */
  fits(nameLength: number): boolean {
    return this.#used + align8(Dirent.size + nameLength) <= this.#buf.length;
  }

  /** Entries added so far. */
  get count(): number { return this.#count; }
  /** Bytes used so far. */
  get length(): number { return this.#used; }
  /** The packed records: a view of this writer's buffer. */
  get bytes(): Buffer { return this.#buf.subarray(0, this.#used); }
}

/**
 * Checks a pre-packed READDIR reply against the request: at most `size` bytes of whole fuse_dirent
 * records, each name 1..255 bytes without '/', and no record whose offset is 0 or the `offset` the
 * kernel asked to continue from (the listing would never advance). Returns the problem, or undefined.
 */
export function checkPackedDirents(data: Uint8Array, size: number, offset: U64): string | undefined {
  if (data.byteLength > size) return `${data.byteLength} bytes of packed entries exceed the ${size} the kernel asked for`;
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let i = 0;
  for (let at = 0; at < b.length; i++) {
    if (b.length - at < Dirent.size) return `entry ${i}: ${b.length - at} bytes left, too short for a fuse_dirent`;
    const namelen = b.readUInt32LE(at + Dirent.off.namelen);
    if (namelen === 0 || namelen > NAME_MAX_BYTES) return `entry ${i}: name length ${namelen} is not 1..${NAME_MAX_BYTES}`;
    const rec = align8(Dirent.size + namelen);
    if (rec > b.length - at) return `entry ${i}: its ${rec}-byte record runs past the end`;
    const nameAt = at + Dirent.size;
    // Within the name only (Buffer#indexOf has no end: searching from here would scan the rest each time).
    for (let j = nameAt; j < nameAt + namelen; j++) if (b[j] === SLASH) return `entry ${i}: name contains '/'`;
    const next = readU64(b, at + Dirent.off.off);
    if (next === 0 || next === offset) return `entry ${i} has offset ${String(next)}: each entry carries the offset of the entry after it, never 0 nor the offset the kernel asked to continue from`;
    at += rec;
  }
  return undefined;
}
