/**
 * The filesystem-level `-o` options (attr_timeout, entry_timeout, negative_timeout, kernel_cache,
 * direct_io, uid/gid/umask, …) applied to a low-level filesystem by wrapping only the methods an option
 * touches, so a filesystem mounted without them pays nothing. `writeback_cache`, `auto_cache` and the
 * size limits become INIT requests instead (see `initWantsFrom`).
 */
import type { FsOptions } from '../mount/options.ts';
import type { LowLevelOperations, RequestContext } from './lowlevel.ts';
import type { EntryReply, AttrReply, OpenReply, Attr, CreateReply, StatxReply, StatxData } from '../protocol/replies.ts';
import type { DirEntryPlus } from '../protocol/dirent.ts';
import type { InitWants } from '../protocol/init.ts';
import type { InitFlagName } from '../protocol/constants.ts';
import { OpenFlags, StatxMask } from '../protocol/constants.ts';
import { OPCODES, type ReplyShape } from '../protocol/opcodes.ts';
import { PRE_INIT } from '../protocol/negotiated.ts';
import { errnoOf, Errno } from '../errors.ts';

/** INIT requests that follow from the options. */
export function initWantsFrom(fs: Partial<FsOptions>): InitWants & { want: InitFlagName[] } {
  const want: InitFlagName[] = [];
  if (fs.writebackCache) want.push('WRITEBACK_CACHE');
  // libfuse's auto_cache keeps the page cache while mtime/size are unchanged; the kernel does exactly
  // that itself with AUTO_INVAL_DATA, which tsfuse asks for only here (it costs a GETATTR per read once
  // attributes expire; see BASE_CAPABILITIES in src/ops/capabilities.ts).
  if (fs.autoCache) want.push('AUTO_INVAL_DATA');
  return {
    want,
    ...(fs.maxWrite !== undefined && { maxWrite: fs.maxWrite }),
    ...(fs.maxBackground !== undefined && { maxBackground: fs.maxBackground }),
    ...(fs.congestionThreshold !== undefined && { congestionThreshold: fs.congestionThreshold }),
  };
}

type Rewrite = (result: unknown) => unknown;
type Handler = (req: unknown, ctx: RequestContext) => unknown;

/**
 * Applies `f` to a handler's result, staying synchronous when the handler was (a sync reply skips a
 * microtask). A thenable that is not a Promise is adopted, so `f` always sees the settled value.
 */
function mapResult(v: unknown, f: Rewrite): unknown {
  if (v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function') return Promise.resolve(v).then(f);
  return f(v);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/** The methods the session calls besides the request handlers. */
const LIFECYCLE = ['init', 'ready', 'destroy'] as const satisfies readonly (keyof LowLevelOperations)[];

/**
 * Returns `ops` itself when no option changes replies, else a wrapper. Which handlers are wrapped follows
 * from the opcode table alone: each row's reply shape says what its answer carries (entries, attributes,
 * open flags), so no list of method names lives here. Results that do not have the shape (a handler bug)
 * pass through untouched, for the session to report as they were returned.
 *
 * Every method of the wrapper runs with `ops` as `this`, wrapped or not: the session calls methods on the
 * object it was given, and a class whose methods use `#private` fields (or a getter reading them) throws
 * a TypeError when `this` is any other object, even one whose prototype is `ops`.
 */
export function applyFsOptions(ops: LowLevelOperations, fs: Partial<FsOptions>): LowLevelOperations {
  const rewrites = shapeRewrites(fs);
  const negative = fs.negativeTimeout !== undefined && fs.negativeTimeout > 0 ? fs.negativeTimeout : undefined;
  const wrapped: Record<string, unknown> = {};
  let changed = false;
  for (const row of OPCODES) {
    const m = row.method;
    // Rows sharing a handler (SETLK/SETLKW, RENAME/RENAME2, …) are wrapped once, by the first.
    if (m === undefined || Object.hasOwn(wrapped, m)) continue;
    const rewrite = rewrites[row.reply];
    const negativeEntry = row.negativeEntry === true ? negative : undefined;
    if (rewrite === undefined && negativeEntry === undefined) continue;
    const f = ops[m] as Handler | undefined;
    const absent = row.absent;
    let call: Handler;
    if (f !== undefined) call = (req, ctx) => f.call(ops, req, ctx);
    // A synthesized answer (OPEN's fh 0, the root's attributes) gets the options too. No absent answer
    // reads the negotiated state, so the pre-INIT one stands in for it.
    else if (typeof absent === 'function') call = (req) => absent(req, PRE_INIT);
    else continue;
    if (negativeEntry !== undefined) wrapped[m] = negativeLookup(call, negativeEntry, rewrite);
    else if (rewrite !== undefined) wrapped[m] = (req: unknown, ctx: RequestContext) => mapResult(call(req, ctx), rewrite);
    changed = true;
  }
  if (!changed) return ops;
  // The rest of `ops`, read once (getters run on `ops`) and bound to it.
  for (const m of [...LIFECYCLE, ...OPCODES.map((row) => row.method)]) {
    if (m === undefined || Object.hasOwn(wrapped, m)) continue;
    const f: unknown = ops[m];
    if (typeof f === 'function') wrapped[m] = f.bind(ops);
  }
  if (ops.checksPermissions !== undefined) wrapped['checksPermissions'] = ops.checksPermissions;
  return wrapped as LowLevelOperations;
}

/** negative_timeout: cache "no such name" instead of asking again (node id 0 in entry_out). */
function negativeLookup(call: Handler, timeout: number, rewrite: Rewrite | undefined): Handler {
  const onError = (err: unknown): EntryReply => {
    // Node id 0: the kernel reads no attributes (fs/fuse/dir.c fuse_lookup_name).
    if (errnoOf(err) === Errno.ENOENT) return { ino: 0, entryTimeout: timeout, attrTimeout: 0 };
    throw err;
  };
  const onEntry = rewrite ?? ((e: unknown) => e);
  return (req, ctx) => {
    let r: unknown;
    try {
      r = call(req, ctx);
    } catch (err) {
      return onError(err);
    }
    if (isObject(r) && typeof r['then'] === 'function') return Promise.resolve(r).then(onEntry, onError);
    return onEntry(r);
  };
}

/** How each reply shape is rewritten by the options; a shape left out carries nothing an option changes. */
function shapeRewrites(fs: Partial<FsOptions>): Partial<Record<ReplyShape, Rewrite>> {
  const fixAttr = attrFixer(fs);
  const fixStatx = statxFixer(fs);
  const touchesAttr = fs.attrTimeout !== undefined || fixAttr !== undefined;
  const touchesEntries = touchesAttr || fs.entryTimeout !== undefined;
  // kernel_cache and direct_io are about a file's data: libfuse's fuse_lib_open sets them, fuse_lib_opendir does not.
  const openBits = (fs.kernelCache === true ? OpenFlags.KEEP_CACHE : 0) | (fs.directIo === true ? OpenFlags.DIRECT_IO : 0);

  const entry = (e: unknown): unknown => (!isObject(e) ? e : {
    ...e,
    entryTimeout: e['entryTimeout'] ?? fs.entryTimeout,
    attrTimeout: e['attrTimeout'] ?? fs.attrTimeout,
    attr: fixAttr && isObject(e['attr']) ? fixAttr(e['attr'] as unknown as Attr) : e['attr'],
  });
  const attr = (r: unknown): unknown => (!isObject(r) ? r : {
    ...r,
    attrTimeout: (r as Partial<AttrReply>).attrTimeout ?? (r as Partial<AttrReply>).timeout ?? fs.attrTimeout,
    attr: fixAttr && isObject(r['attr']) ? fixAttr(r['attr'] as unknown as Attr) : r['attr'],
  });
  const statx = (r: unknown): unknown => {
    if (!isObject(r)) return r;
    const x = r as Partial<StatxReply>;
    return { ...x, attrTimeout: x.attrTimeout ?? x.timeout ?? fs.attrTimeout, statx: fixStatx && isObject(x.statx) ? fixStatx(x.statx) : x.statx };
  };
  // OPEN answers may be empty (undefined: fh 0, no flags).
  const open = (o: unknown): unknown => (o !== undefined && !isObject(o) ? o : { ...o, flags: ((o as OpenReply | undefined)?.flags ?? 0) | openBits });
  const created = (r: unknown): unknown => {
    if (!isObject(r)) return r;
    const c = r as Partial<CreateReply>;
    return { ...c, entry: touchesEntries ? entry(c.entry) : c.entry, open: openBits !== 0 ? open(c.open) : c.open };
  };
  const entriesPlus = (list: unknown): unknown => (!Array.isArray(list) ? list
    : list.map((d: DirEntryPlus) => (isObject(d) ? { ...d, entry: entry(d.entry) as EntryReply } : d)));

  return {
    ...(touchesEntries && { entry, 'entries-plus': entriesPlus }),
    ...(touchesAttr && { attr, statx }),
    ...(openBits !== 0 && { open }),
    ...((touchesEntries || openBits !== 0) && { create: created }),
  };
}

function attrFixer(fs: Partial<FsOptions>): ((a: Attr) => Attr) | undefined {
  const { uid, gid, umask } = fs;
  if (uid === undefined && gid === undefined && umask === undefined) return undefined;
  return (a) => ({
    ...a,
    ...(uid !== undefined && { uid }),
    ...(gid !== undefined && { gid }),
    // A missing or non-numeric mode is left for the session to refuse, not masked into 0.
    ...(umask !== undefined && typeof a.mode === 'number' && { mode: a.mode & ~umask }),
  });
}

/** uid/gid/umask for a statx answer: forced ids are also marked valid in the mask. */
function statxFixer(fs: Partial<FsOptions>): ((s: StatxData) => StatxData) | undefined {
  const { uid, gid, umask } = fs;
  if (uid === undefined && gid === undefined && umask === undefined) return undefined;
  // A mask that is not a number is a handler bug: left for the session to refuse, not made valid here.
  return (s) => (typeof s.mask !== 'number' ? s : {
    ...s,
    mask: (s.mask | (uid !== undefined ? StatxMask.UID : 0) | (gid !== undefined ? StatxMask.GID : 0)) >>> 0,
    ...(uid !== undefined && { uid }),
    ...(gid !== undefined && { gid }),
    ...(umask !== undefined && typeof s.mode === 'number' && { mode: s.mode & ~umask }),
  });
}
