/**
 * `-o max_threads=N`: at most N requests inside the filesystem's handlers at once. In libfuse it sizes
 * the worker-thread pool of the multi-threaded loop, so a filesystem sees at most N requests at a time;
 * tsfuse runs handlers on the main thread, where a request "runs" from the handler's call until its
 * promise settles, and the limit bounds exactly that. Requests beyond it wait in arrival order (FIFO, so
 * a FORGET never overtakes the LOOKUP it follows). A handler that answers synchronously holds a slot only
 * while it runs. The wrapper is built only when the option is given: a mount without it pays nothing.
 * With clone queues running (`-o clone_fd` for a filesystem that declares `workerIo`, Node >= 26),
 * max_threads counts their worker threads instead, as in libfuse, and mount() builds no limit here
 * (src/session/clone-queues.ts planCloneQueues).
 */
import type { LowLevelOperations, RequestContext } from './lowlevel.ts';
import { OPCODES } from '../protocol/opcodes.ts';

type Handler = (req: unknown, ctx: RequestContext) => unknown;

/** The methods the session calls besides the request handlers: never limited. */
const LIFECYCLE = ['init', 'ready', 'destroy'] as const satisfies readonly (keyof LowLevelOperations)[];

/**
 * `ops` with every request handler limited to `max` at once; `ops` itself when `max` is undefined.
 * Every method runs with `ops` as `this` (see src/ops/fs-options.ts applyFsOptions for why).
 */
export function limitConcurrency(ops: LowLevelOperations, max: number | undefined): LowLevelOperations {
  if (max === undefined) return ops;
  let running = 0;
  const waiting: (() => void)[] = [];
  const finished = (): void => {
    running--;
    const next = waiting.shift();
    if (next !== undefined) next();
  };
  /** Calls the handler now, holding a slot until its result settles. */
  const run = (f: Handler, req: unknown, ctx: RequestContext): unknown => {
    running++;
    let r: unknown;
    try {
      r = f.call(ops, req, ctx);
    } catch (e) {
      finished();
      throw e;
    }
    if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof (r as PromiseLike<unknown>).then === 'function') {
      // Adopted, so that a thenable's `then` runs once here; the session sees the same settlement.
      const p = Promise.resolve(r as PromiseLike<unknown>);
      p.then(finished, finished);
      return p;
    }
    finished();
    return r;
  };
  const limited = (f: Handler): Handler => (req, ctx) => {
    if (running < max && waiting.length === 0) return run(f, req, ctx);
    return new Promise((resolve, reject) => {
      waiting.push(() => {
        try {
          resolve(run(f, req, ctx));
        } catch (e) {
          reject(e);
        }
      });
    });
  };
  const wrapped: Record<string, unknown> = {};
  for (const row of OPCODES) {
    const m = row.method;
    if (m === undefined || Object.hasOwn(wrapped, m)) continue;
    const f: unknown = ops[m];
    if (typeof f === 'function') wrapped[m] = limited(f as Handler);
  }
  for (const m of LIFECYCLE) {
    const f: unknown = ops[m];
    if (typeof f === 'function') wrapped[m] = f.bind(ops);
  }
  if (ops.checksPermissions !== undefined) wrapped['checksPermissions'] = ops.checksPermissions;
  return wrapped as LowLevelOperations;
}
