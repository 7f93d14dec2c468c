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

/** Wraps a handler so that whatever it throws goes through {@link asError}. */
export function guard<A, R>(f: (req: A, ctx: RequestContext) => Promise<R>): (req: A, ctx: RequestContext) => Promise<R> {
  return async (req, ctx) => {
    try {
      return await f(req, ctx);
    } catch (e) {
      throw asError(e);
    }
  };
}
