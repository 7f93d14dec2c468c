/**
 * Calling a fuse-native style operation: the user's function takes a callback, `cb(status, …results)`,
 * where `status` is 0 (or null/undefined) for success and a negative errno for failure. The path layer
 * wants a value or a promise, so each call is bridged here, in one place: status → thrown errno, the
 * per-operation timeout fuse-native applies (ETIMEDOUT when the callback is late), and callbacks after
 * the first ignored.
 *
 * A callback called before the operation returns (a synchronous filesystem) yields a plain value: no
 * promise and no timer, so such filesystems pay nothing for the bridge.
 */
import { BAD_ERROR_ERRNO, TIMEOUT_ERRNO } from './errno.ts';

/** The callback a fuse-native operation receives. */
export type FuseNativeCallback = (status?: unknown, ...results: unknown[]) => void;

/** Turns what the callback received into the operation's result; throws for a failure. */
export type Finish<R> = (status: unknown, a: unknown, b: unknown) => R;

/**
 * What a status means when it is not success: a number is an errno, negative as fuse-native documents
 * or positive (accepted too); one outside ±999 is ERANGE, as libfuse 2 makes it ("fuse: bad error
 * value"). Anything else (an `Error` from `fs`, an errno name) is left for the path layer's single errno
 * mapping (`errnoOf`), which answers EIO with a warning for values that name no errno.
 */
export function failureOf(status: unknown): unknown {
  if (typeof status === 'number' && Number.isInteger(status) && (status >= 1000 || status <= -1000)) return -BAD_ERROR_ERRNO;
  return status;
}

/** True for the statuses that mean success: 0, null, undefined and false (fuse-native checks `if (err)` in places). */
export function succeeded(status: unknown): boolean {
  return status === 0 || status === null || status === undefined || status === false;
}

/** The finish of operations that return nothing but a status. */
export const statusOnly: Finish<void> = (status) => {
  if (!succeeded(status)) throw failureOf(status);
};

/** Milliseconds between checks for late callbacks: a call fails at most this long after its timeout. */
const TICK_MS = 10;

interface Expiring {
  /** The call's time is up: fail it with ETIMEDOUT. */
  expire(): void;
}

/**
 * The timeouts of calls still waiting for their callback. A Node timer per call (fuse-native's default
 * gives every operation 15 s) costs a setTimeout and a clearTimeout, ~0.7 µs per operation measured on
 * Node 20 and 26; here a call is an entry in the set of its deadline's 10 ms slot (~0.1 µs), and one
 * interval, running only while calls wait, fails those whose slot has passed. No call fails early.
 */
class Deadlines {
  readonly #slots = new Map<number, Set<Expiring>>();
  #waiting = 0;
  /** The oldest slot not yet expired. */
  #next = 0;
  #timer: NodeJS.Timeout | undefined;

  /** Fails `call` once `ms` have passed, unless {@link remove}d first; returns what `remove` takes. */
  add(call: Expiring, ms: number): Set<Expiring> {
    const now = performance.now();
    if (this.#timer === undefined) {
      this.#next = Math.floor(now / TICK_MS);
      this.#timer = setInterval(() => this.#tick(), TICK_MS);
    }
    const slot = Math.ceil((now + ms) / TICK_MS);
    let calls = this.#slots.get(slot);
    if (calls === undefined) {
      calls = new Set();
      this.#slots.set(slot, calls);
    }
    calls.add(call);
    this.#waiting++;
    return calls;
  }

  remove(call: Expiring, calls: Set<Expiring>): void {
    if (calls.delete(call)) this.#waiting--;
  }

  #tick(): void {
    const current = Math.floor(performance.now() / TICK_MS);
    for (; this.#next <= current; this.#next++) {
      const calls = this.#slots.get(this.#next);
      if (calls === undefined) continue;
      this.#slots.delete(this.#next);
      for (const call of calls) {
        this.#waiting--;
        call.expire();
      }
    }
    if (this.#waiting === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#slots.clear();
    }
  }
}

const deadlines = new Deadlines();

/**
 * Runs `start(cb)` and returns what `finish` makes of the callback's arguments: directly when the
 * callback came before `start` returned, else as a promise that rejects with ETIMEDOUT after
 * `timeoutMs` (0: never; it may come up to 10 ms later). An exception thrown by `start` before the
 * callback fails the request (the session answers it EIO and warns); fuse-native would have crashed the
 * process.
 */
export function invoke<R>(timeoutMs: number, start: (cb: FuseNativeCallback) => void, finish: Finish<R>): R | Promise<R> {
  let done = false;
  let waiting = false; // set once start() has returned without the callback
  let ok = true;
  let value: R | undefined;
  let error: unknown;
  let resolve: ((v: R) => void) | undefined;
  let reject: ((e: unknown) => void) | undefined;
  let expiring: Expiring | undefined;
  let slot: Set<Expiring> | undefined;

  const cb: FuseNativeCallback = (status, a, b) => {
    if (done) return; // a second call, or one after the timeout answered: fuse-native ignores it too
    done = true;
    if (slot !== undefined) deadlines.remove(expiring!, slot);
    try {
      value = finish(status, a, b);
    } catch (e) {
      ok = false;
      error = e;
    }
    if (!waiting) return;
    if (ok) resolve!(value as R);
    else reject!(error);
  };

  try {
    start(cb);
  } catch (e) {
    if (!done) {
      done = true;
      throw e;
    }
    process.emitWarning(`a fuse-native operation threw after calling its callback: ${String(e)}`, 'TsfuseWarning');
  }
  if (done) {
    if (ok) return value as R;
    throw error;
  }
  waiting = true;
  return new Promise<R>((res, rej) => {
    resolve = res;
    reject = rej;
    if (timeoutMs > 0) {
      expiring = {
        expire() {
          if (done) return;
          done = true;
          rej(-TIMEOUT_ERRNO);
        },
      };
      slot = deadlines.add(expiring, timeoutMs);
    }
  });
}
