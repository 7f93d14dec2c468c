/**
 * How the passthrough serves READ: into reused buffers, and synchronously while the backing file's
 * pages are cached.
 *
 * Buffers. A fresh `Buffer.allocUnsafe(1 MiB)` per READ is a fresh mapping each time (the kernel faults
 * in and zeroes 256 pages), and as external memory it drives V8 into major collections:
 * bench/profile.ts measured ~1.25 ms of daemon CPU per MiB read that way against ~0.43 ms with reused
 * buffers. A large READ borrows a buffer here and replies with a view of it. A synchronous read's
 * buffer comes back at once, as its reply is written before another READ can start (the session writes
 * a synchronous handler's reply before returning to the transport); an asynchronous one's on the next
 * turn of the event loop, by when its reply, written in the microtasks after the read, is out.
 *
 * Synchronous reads. A read through libuv's thread pool costs two thread hops (futex wake, eventfd
 * wake): most of the daemon CPU of a 4 KiB READ from a cached file. Reads from the page cache take
 * microseconds, so they run on the main thread. A read that took longer than {@link SLOW_READ_MS}
 * waited for the disk, or was preempted (on a busy machine, a time slice is a few ms): after
 * {@link SLOW_STRIKES} slow reads in a row, that descriptor's reads go to the thread pool for
 * {@link ASYNC_FOR_MS}, so a cold file does not stall every other request behind its I/O. (Node has no preadv2(RWF_NOWAIT), which
 * would ask the question without the one blocking read.)
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';

/** READs smaller than this take a plain allocation (Node's pool serves them cheaply). */
export const POOLED_READ_MIN = 64 * 1024;
/** Spare buffers kept; more are allocated while more large READs run at once (ASYNC_READ). */
const MAX_SPARE = 8;
/** A synchronous read slower than this waited for I/O (a cached 1 MiB pread takes ~0.1–0.3 ms). */
export const SLOW_READ_MS = 2;
/** Slow synchronous reads in a row that send a descriptor's reads to the thread pool. */
export const SLOW_STRIKES = 2;
/** How long a descriptor's reads then stay on the thread pool. */
export const ASYNC_FOR_MS = 1000;

export class BackingReader {
  readonly #spare: Buffer[] = [];
  /**
   * Descriptor → its state: a negative number counts slow synchronous reads in a row (−1, −2, …); a
   * positive one is the performance.now() until which its reads go to the thread pool.
   */
  readonly #slow = new Map<number, number>();

  /**
   * Reads up to `size` bytes of `fd` at `offset`: the bytes read, as a view that stays valid until the
   * next turn of the event loop (the reply must be written by then), or a promise of it.
   */
  read(fd: number, size: number, offset: number | bigint): Buffer | Promise<Buffer> {
    const pooled = size >= POOLED_READ_MIN;
    const buf = pooled ? this.#take(size) : Buffer.allocUnsafe(size);
    const start = performance.now();
    const slow = this.#slow.get(fd);
    if (slow === undefined || slow < 0 || start >= slow) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, size, offset);
      } catch (e) {
        if (pooled) this.#give(buf);
        throw e;
      }
      const end = performance.now();
      if (end - start > SLOW_READ_MS) {
        const strikes = slow !== undefined && slow < 0 ? 1 - slow : 1;
        this.#slow.set(fd, strikes >= SLOW_STRIKES ? end + ASYNC_FOR_MS : -strikes);
      } else if (slow !== undefined) {
        this.#slow.delete(fd);
      }
      // Back at once: a synchronous handler's reply is written before the handler's caller returns
      // (src/session/core.ts #dispatch → #finish → the sink, which writes or copies the bytes), and the
      // next take is in a later READ's handler. Waiting for the event loop's next turn instead made
      // every READ of a burst served by busy polling (up to 2 ms without a turn) allocate a fresh
      // buffer, as the fuse-native adapter measured (src/fuse-native/filesystem.ts ReadBuffers).
      if (pooled) this.#give(buf);
      return n === buf.length ? buf : buf.subarray(0, n);
    }
    return new Promise<Buffer>((resolve, reject) => {
      fs.read(fd, buf, 0, size, offset, (err, n) => {
        if (err) {
          if (pooled) this.#give(buf);
          reject(err);
        } else {
          resolve(n === buf.length ? buf : buf.subarray(0, n));
          if (pooled) this.#returnLater(buf);
        }
      });
    });
  }

  /** The descriptor was closed: forget its state (its number will be reused). */
  forget(fd: number): void {
    this.#slow.delete(fd);
  }

  #take(size: number): Buffer {
    for (;;) {
      const b = this.#spare.pop();
      if (b === undefined) return Buffer.allocUnsafeSlow(size);
      if (b.length >= size) return b;
      // Smaller than asked (a later mount agreed a larger max_read): drop it.
    }
  }

  #give(b: Buffer): void {
    if (this.#spare.length < MAX_SPARE) this.#spare.push(b);
  }

  #returnLater(b: Buffer): void {
    setImmediate(() => this.#give(b));
  }
}
