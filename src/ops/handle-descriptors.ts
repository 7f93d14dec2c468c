/**
 * The opt-in to clone queues (`-o clone_fd`): a filesystem whose open files are plain descriptors says
 * which file handle is which descriptor, and worker threads reading their own /dev/fuse queue answer
 * READ (and, if asked, WRITE) of those handles themselves, with pread(2)/pwrite(2), without calling the
 * filesystem's `read`/`write` and without a trip through the main thread (src/session/clone-queues.ts).
 *
 * The table lives in a SharedArrayBuffer: the filesystem (main thread) is its only writer, the workers
 * read it. A worker that does not find a handle, or looks while the table changes, forwards the READ to
 * the main thread, where the filesystem's own `read` answers it: a miss is always correct, so the table
 * can be small, fixed and lossy (a handle that finds no free slot is simply served by the main thread).
 *
 * Layout (Int32, see {@link TABLE_HEADER} and {@link SLOT_INTS}): [0] a sequence number, odd while the
 * writer changes a slot (a seqlock); [1] the slot count (a power of two); then per slot the handle's low
 * and high 32 bits and the descriptor (−1: free). A handle lives in one of {@link PROBE_WINDOW} slots
 * after its hash, and lookups scan the whole window, so a delete just frees its slot (no tombstones).
 */
import type { U64 } from '../protocol/u64.ts';

/** Int32s before the first slot: [sequence, slot count]. */
export const TABLE_HEADER = 2;
/** Int32s per slot: [fh low 32 bits, fh high 32 bits, descriptor, unused]. */
export const SLOT_INTS = 4;
/** Slots a handle may live in, from its hash on; lookups scan all of them. */
export const PROBE_WINDOW = 16;
/** The multiplier of the slot hash (Fibonacci hashing: 2^32 / φ), shared with the worker's lookup. */
export const HASH_MULTIPLIER = 0x9e3779b1;

/** Defaults of {@link HandleDescriptorsOptions}. */
export const HANDLE_DESCRIPTORS_DEFAULTS = Object.freeze({ slots: 4096, writes: false });

export interface HandleDescriptorsOptions {
  /**
   * Also answer WRITE in the workers, with pwrite(2) of the request's bytes at its offset, replying the
   * count written. Only for a filesystem whose `write` does exactly that and nothing more. Defaults to false.
   */
  readonly writes?: boolean;
  /** Slots in the table (rounded up to a power of two, 64..1 048 576): about 4× the files open at once. Defaults to 4096. */
  readonly slots?: number;
}

/**
 * Which file handle is which open descriptor, for worker threads to answer READ (and WRITE) of those
 * handles themselves. Declare it as {@link LowLevelOperations.workerIo}; `set` a handle before the
 * OPEN/CREATE reply that hands it out, and `delete` it in RELEASE before closing the descriptor.
 *
 * The contract: a READ of a handle in the table is answered with the bytes `pread(fd, size, offset)`
 * returns (short at end of file), a WRITE (with `writes`) with the count `pwrite(fd, data, offset)`
 * returns, and an error of either with its errno; the filesystem's `read`/`write` are not called for
 * them, and the session's tracing, recording and statistics do not see them.
 */
export class HandleDescriptors {
  /** The shared table, handed to the workers. */
  readonly buffer: SharedArrayBuffer;
  /** Whether workers answer WRITE too. */
  readonly writes: boolean;
  readonly #table: Int32Array;
  readonly #mask: number;
  readonly #bits: number;
  #size = 0;

  constructor(options: HandleDescriptorsOptions = {}) {
    const want = Math.min(Math.max(options.slots ?? HANDLE_DESCRIPTORS_DEFAULTS.slots, 64), 1 << 20);
    this.#bits = Math.ceil(Math.log2(want));
    const slots = 1 << this.#bits;
    this.#mask = slots - 1;
    this.writes = options.writes ?? HANDLE_DESCRIPTORS_DEFAULTS.writes;
    this.buffer = new SharedArrayBuffer((TABLE_HEADER + slots * SLOT_INTS) * 4);
    this.#table = new Int32Array(this.buffer);
    this.#table[1] = slots;
    for (let i = 0; i < slots; i++) this.#table[TABLE_HEADER + i * SLOT_INTS + 2] = -1;
  }

  /** Handles in the table. */
  get size(): number { return this.#size; }

  /**
   * Maps `fh` to the open descriptor `fd` (replacing an earlier mapping of `fh`). False when its slots
   * are all taken: that handle's requests then go to the filesystem's own `read`/`write`.
   */
  set(fh: U64, fd: number): boolean {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fff_ffff) throw new RangeError(`not a descriptor: ${String(fd)}`);
    const [lo, hi] = split(fh);
    const t = this.#table;
    let free = -1;
    for (let i = 0, s = this.#first(lo, hi); i < PROBE_WINDOW; i++, s = (s + 1) & this.#mask) {
      const at = TABLE_HEADER + s * SLOT_INTS;
      if (t[at + 2]! >= 0 && t[at] === lo && t[at + 1] === hi) { this.#write(at, lo, hi, fd); return true; }
      if (free < 0 && t[at + 2]! < 0) free = at;
    }
    if (free < 0) return false;
    this.#write(free, lo, hi, fd);
    this.#size++;
    return true;
  }

  /** The descriptor `fh` maps to, or undefined. */
  get(fh: U64): number | undefined {
    const at = this.#find(fh);
    return at < 0 ? undefined : this.#table[at + 2];
  }

  /** Removes `fh`; call it before closing its descriptor. */
  delete(fh: U64): boolean {
    const at = this.#find(fh);
    if (at < 0) return false;
    this.#write(at, 0, 0, -1);
    this.#size--;
    return true;
  }

  /** Empties the table. */
  clear(): void {
    const t = this.#table;
    Atomics.add(t, 0, 1);
    for (let at = TABLE_HEADER; at < t.length; at += SLOT_INTS) Atomics.store(t, at + 2, -1);
    Atomics.add(t, 0, 1);
    this.#size = 0;
  }

  #first(lo: number, hi: number): number {
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), HASH_MULTIPLIER) >>> (32 - this.#bits);
  }

  #find(fh: U64): number {
    const [lo, hi] = split(fh);
    const t = this.#table;
    for (let i = 0, s = this.#first(lo, hi); i < PROBE_WINDOW; i++, s = (s + 1) & this.#mask) {
      const at = TABLE_HEADER + s * SLOT_INTS;
      if (t[at + 2]! >= 0 && t[at] === lo && t[at + 1] === hi) return at;
    }
    return -1;
  }

  /** One slot change inside the seqlock: a worker reading meanwhile sees the sequence move and forwards. */
  #write(at: number, lo: number, hi: number, fd: number): void {
    const t = this.#table;
    Atomics.add(t, 0, 1);
    Atomics.store(t, at, lo);
    Atomics.store(t, at + 1, hi);
    Atomics.store(t, at + 2, fd);
    Atomics.add(t, 0, 1);
  }
}

/** A handle's low and high 32 bits, as the Int32s a worker reads from the request frame. */
function split(fh: U64): [number, number] {
  if (typeof fh === 'bigint') {
    if (fh < 0n || fh >= 1n << 64n) throw new RangeError(`not a file handle: ${fh}`);
    return [Number(fh & 0xffff_ffffn) | 0, Number(fh >> 32n) | 0];
  }
  if (!Number.isSafeInteger(fh) || fh < 0) throw new RangeError(`not a file handle: ${String(fh)}`);
  return [fh | 0, Math.floor(fh / 2 ** 32) | 0];
}
