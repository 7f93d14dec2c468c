/**
 * Reusable buffers for the passthrough's large READs. A fresh `Buffer.allocUnsafe(1 MiB)` per READ is
 * a fresh mapping each time (the kernel faults in and zeroes 256 pages), and as external memory it
 * drives V8 into major collections: bench/profile.ts measured ~2.3 ms of daemon CPU per MiB read that
 * way, more than half of it in V8's marker and sweeper. A READ instead borrows a buffer here and
 * replies with a view of it; the buffer comes back once the reply is out.
 *
 * When is the reply out? The session writes a READ's reply synchronously in the reaction to the
 * handler's promise (src/session/core.ts #finish through the sink's writev), so by the next turn of
 * the event loop it has been written: `returnLater` gives the buffer back from a `setImmediate`.
 * Nothing can start a new READ in between (READs start from frame callbacks, which the event loop runs
 * only after the current callback and its microtasks).
 */

/** READs smaller than this take a plain allocation (Node's pool serves them cheaply). */
export const POOLED_READ_MIN = 64 * 1024;
/** Spare buffers kept; more are allocated while more large READs run at once (ASYNC_READ). */
const MAX_SPARE = 8;

export class ReadBuffers {
  readonly #spare: Buffer[] = [];

  /** A buffer of at least `size` bytes (contents undefined), to hand back with {@link returnLater} or {@link give}. */
  take(size: number): Buffer {
    for (;;) {
      const b = this.#spare.pop();
      if (b === undefined) break;
      if (b.length >= size) return b;
      // Smaller than asked: the negotiated max_read grew since (never in practice); drop it.
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /** Back into the pool at once: the buffer was not handed to anyone. */
  give(b: Buffer): void {
    if (this.#spare.length < MAX_SPARE) this.#spare.push(b);
  }

  /** Back into the pool on the next turn of the event loop, after the reply that holds a view of it is written. */
  returnLater(b: Buffer): void {
    setImmediate(() => this.give(b));
  }
}
