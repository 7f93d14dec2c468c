/**
 * The per-call pieces every path operation shares: the {@link PathContext} built from the request's
 * context, and the one place thrown values become the errors the session understands.
 */
import type { RequestContext } from '../lowlevel.ts';
import type { PathContext } from './types.ts';
import { FuseError } from '../../errors.ts';

/** A request's context as a path filesystem sees it; the AbortSignal is still created only on first use. */
export class PathCtx implements PathContext {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  readonly umask: number;
  readonly #ctx: RequestContext;

  constructor(ctx: RequestContext, umask = 0) {
    this.uid = ctx.uid;
    this.gid = ctx.gid;
    this.pid = ctx.pid;
    this.umask = umask;
    this.#ctx = ctx;
  }

  get signal(): AbortSignal { return this.#ctx.signal; }
}

/**
 * What a path filesystem threw, as the session's single errno mapping (`errnoOf`) reads it: an errno name
 * string (`throw 'ENOENT'`) becomes a FuseError; a string that names no errno becomes the TsfuseError
 * that says so (answered EIO, with a warning). Everything else is left as it is.
 */
export function asError(e: unknown): unknown {
  if (typeof e !== 'string') return e;
  try {
    return new FuseError(e);
  } catch (err) {
    return err;
  }
}

/** A value now, or later. */
export type Maybe<T> = T | Promise<T>;

/** Whether `v` is a promise or another thenable (what `await` would wait for). */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<unknown>).then === 'function';
}

/**
 * `f` of `v`: at once when `v` is a value, once it settles when it is a promise (or thenable). The path
 * layer's steps are chained with it, so a filesystem that answers synchronously gets its reply out
 * synchronously too: the session then writes it without a promise, a microtask hop or an in-flight entry
 * per step (bench/fuse-native.ts, the stat workload).
 */
export function then<T, R>(v: T | PromiseLike<T>, f: (value: T) => Maybe<R>): Maybe<R> {
  if (isThenable(v)) return Promise.resolve(v).then(f);
  return f(v);
}

const rethrow = (e: unknown): never => { throw asError(e); };

/** Wraps a handler so that whatever it throws (or rejects with) goes through {@link asError}; sync stays sync. */
export function guard<A, R>(f: (req: A, ctx: RequestContext) => Maybe<R>): (req: A, ctx: RequestContext) => Maybe<R> {
  return (req, ctx) => {
    let r: Maybe<R>;
    try {
      r = f(req, ctx);
    } catch (e) {
      throw asError(e);
    }
    return isThenable(r) ? Promise.resolve(r).then(undefined, rethrow) : r;
  };
}
