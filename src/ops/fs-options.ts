/**
 * The filesystem-level `-o` options (attr_timeout, entry_timeout, negative_timeout, kernel_cache,
 * direct_io, uid/gid/umask, …) applied to a low-level filesystem by wrapping only the methods an option
 * touches, so a filesystem mounted without them pays nothing. `writeback_cache`, `auto_cache` and the
 * size limits become INIT requests instead (see `initWantsFrom`).
 */
import type { FsOptions } from '../mount/options.ts';
import type { LowLevelOperations, RequestContext } from './lowlevel.ts';
import type { EntryReply, AttrReply, OpenReply, Attr, CreateReply } from '../protocol/replies.ts';
import type { DirEntryPlus } from '../protocol/dirent.ts';
import type { InitWants } from '../protocol/init.ts';
import type { InitFlagName } from '../protocol/constants.ts';
import { OpenFlags } from '../protocol/constants.ts';
import { errnoOf, Errno } from '../errors.ts';

type EntryMethod = 'lookup' | 'mknod' | 'mkdir' | 'symlink' | 'link';
type AttrMethod = 'getattr' | 'setattr';
type OpenMethod = 'open' | 'create';

/** INIT requests that follow from the options. */
export function initWantsFrom(fs: Partial<FsOptions>): InitWants & { want: InitFlagName[] } {
  const want: InitFlagName[] = [];
  if (fs.writebackCache) want.push('WRITEBACK_CACHE');
  // libfuse's auto_cache keeps the page cache while mtime/size are unchanged; the kernel does exactly
  // that itself with AUTO_INVAL_DATA, which tsfuse asks for by default anyway.
  if (fs.autoCache) want.push('AUTO_INVAL_DATA');
  return {
    want,
    ...(fs.maxWrite !== undefined && { maxWrite: fs.maxWrite }),
    ...(fs.maxBackground !== undefined && { maxBackground: fs.maxBackground }),
    ...(fs.congestionThreshold !== undefined && { congestionThreshold: fs.congestionThreshold }),
  };
}

/** Applies `f` to a handler's result, staying synchronous when the handler was (a sync reply skips a microtask). */
function mapResult<T, U>(v: T | Promise<T>, f: (x: T) => U): U | Promise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** Returns `ops` itself when no option changes replies, else a wrapper. */
export function applyFsOptions(ops: LowLevelOperations, fs: Partial<FsOptions>): LowLevelOperations {
  const fixAttr = attrFixer(fs);
  const touchesEntries = fs.attrTimeout !== undefined || fs.entryTimeout !== undefined || fixAttr !== undefined;
  const touchesOpen = fs.kernelCache === true || fs.directIo === true;
  const negative = fs.negativeTimeout !== undefined && fs.negativeTimeout > 0 ? fs.negativeTimeout : undefined;
  if (!touchesEntries && !touchesOpen && negative === undefined) return ops;

  const wrapped: LowLevelOperations = Object.create(ops) as LowLevelOperations;
  const entry = (e: EntryReply): EntryReply => ({
    ...e,
    entryTimeout: e.entryTimeout ?? fs.entryTimeout,
    attrTimeout: e.attrTimeout ?? fs.attrTimeout,
    attr: fixAttr ? fixAttr(e.attr) : e.attr,
  });
  if (touchesEntries) {
    for (const m of ['mknod', 'mkdir', 'symlink', 'link'] as EntryMethod[]) {
      const f = ops[m] as ((req: unknown, ctx: RequestContext) => EntryReply | Promise<EntryReply>) | undefined;
      if (f) (wrapped as Record<EntryMethod, unknown>)[m] = (req: unknown, ctx: RequestContext) => mapResult(f.call(ops, req, ctx), entry);
    }
    for (const m of ['getattr', 'setattr'] as AttrMethod[]) {
      const f = ops[m] as ((req: unknown, ctx: RequestContext) => AttrReply | Promise<AttrReply>) | undefined;
      if (f) {
        (wrapped as Record<AttrMethod, unknown>)[m] = (req: unknown, ctx: RequestContext) => mapResult(f.call(ops, req, ctx),
          (r: AttrReply) => ({ ...r, timeout: r.timeout ?? fs.attrTimeout, attr: fixAttr ? fixAttr(r.attr) : r.attr }));
      }
    }
    if (ops.readdirplus) {
      const f = ops.readdirplus;
      wrapped.readdirplus = (req, ctx) => mapResult(f.call(ops, req, ctx), (list) => list.map((d: DirEntryPlus) => ({ ...d, entry: entry(d.entry) })));
    }
  }
  if (ops.lookup && (touchesEntries || negative !== undefined)) {
    const f = ops.lookup;
    // negative_timeout: cache "no such name" instead of asking again (node id 0 in entry_out).
    const onError = (err: unknown): EntryReply => {
      if (negative !== undefined && errnoOf(err) === Errno.ENOENT) return { ino: 0, entryTimeout: negative, attrTimeout: 0, attr: { mode: 0 } };
      throw err;
    };
    const onEntry = (e: EntryReply): EntryReply => (touchesEntries ? entry(e) : e);
    wrapped.lookup = (req, ctx) => {
      let r: EntryReply | Promise<EntryReply>;
      try {
        r = f.call(ops, req, ctx);
      } catch (err) {
        return onError(err);
      }
      return r instanceof Promise ? r.then(onEntry, onError) : onEntry(r);
    };
  }
  if (touchesOpen) {
    const extra = (fs.kernelCache ? OpenFlags.KEEP_CACHE : 0) | (fs.directIo ? OpenFlags.DIRECT_IO : 0);
    const open = (o: OpenReply | void): OpenReply => ({ ...(o ?? {}), flags: ((o ?? {}).flags ?? 0) | extra });
    const fOpen = ops.open;
    wrapped.open = (req, ctx) => (fOpen ? mapResult(fOpen.call(ops, req, ctx), open) : open(undefined));
    for (const m of ['create', 'tmpfile'] as const) {
      const f = ops[m] as ((q: unknown, c: RequestContext) => CreateReply | Promise<CreateReply>) | undefined;
      if (f) {
        (wrapped as Record<OpenMethod | 'tmpfile', unknown>)[m] = (req: unknown, ctx: RequestContext) => mapResult(f.call(ops, req, ctx),
          (r: CreateReply) => ({ entry: touchesEntries ? entry(r.entry) : r.entry, open: open(r.open) }));
      }
    }
  }
  return wrapped;
}

function attrFixer(fs: Partial<FsOptions>): ((a: Attr) => Attr) | undefined {
  const { uid, gid, umask } = fs;
  if (uid === undefined && gid === undefined && umask === undefined) return undefined;
  return (a) => ({
    ...a,
    ...(uid !== undefined && { uid }),
    ...(gid !== undefined && { gid }),
    ...(umask !== undefined && { mode: a.mode & ~umask }),
  });
}
