/**
 * `pathOperations(fs)`: a path filesystem as low-level operations, ready for `mount()`. Built only on the
 * public low-level interface (the go-fuse `fs/bridge.go` shape): every operation resolves node ids to
 * paths through the node table, calls the filesystem with the caller's context, registers what a reply
 * tells the kernel about (new nodes, open handles), and returns the reply.
 *
 * The low-level methods are chosen from what the filesystem implements, so the kernel's own defaults
 * apply where the filesystem has nothing to say (locks stay local, fsync/flush/access stop being sent,
 * xattrs are EOPNOTSUPP); a filesystem with no mutating method gets the mutating requests answered EROFS.
 *
 * Concurrency. Requests run concurrently, as the kernel sends them, and the filesystem sees them so.
 * What paths need is serialized as libfuse's high-level layer does it (./tree-lock.ts): a request that
 * hands the filesystem a path holds every node on it, from computing the path to registering the reply,
 * and RENAME/UNLINK/RMDIR wait for those requests on the names they change (new ones queue behind them).
 * So no request ever works with a path that a concurrent rename of a directory above it has made stale
 * (the kernel alone would allow that: it locks only the directory whose names change). Requests on an
 * open file (read, write, flush, fsync, locks, ioctl, poll, fallocate, lseek, copy_file_range) take no
 * lock, so one blocked on data or a lock never holds up a rename: they carry `fh`, and their path is the
 * one the table had when they started (possibly old by the time the filesystem looks at it). The node
 * table itself changes synchronously, by node identity, after the filesystem has answered.
 */
import type { LowLevelOperations, ReadyInfo, RequestContext } from '../lowlevel.ts';
import type { Notifier } from '../../session/session.ts';
import type { EntryReply, OpenReply, Attr, AttrReply, StatfsReply, LockReply, IoctlReply, StatxReply } from '../../protocol/replies.ts';
import type { DirEntryPlus } from '../../protocol/dirent.ts';
import { Dirent } from '../../protocol/structs.ts';
import { writeU64 } from '../../protocol/u64.ts';
import type { U64 } from '../../protocol/u64.ts';
import type { InitFlagName } from '../../protocol/constants.ts';
import { OpenFlags, PollFlags, RenameFlags } from '../../protocol/constants.ts';
import { O_ACCMODE, O_CREAT, O_EXCL, O_NOCTTY, O_RDONLY, O_TRUNC } from '../../protocol/open-flags.ts';
import { Errno, FuseError, TsfuseError, errnoOf } from '../../errors.ts';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../file-mode.ts';
import type {
  AnyStat, PathFilesystem, PathLayerOptions, PathListing, PathNotifier, PathOpenResult, PathOperations,
} from './types.ts';
import { NodeTable, type ExportedNodes, type PathNode } from './node-table.ts';
import { DirListing, type ListedEntry, type PackedListing } from './dir-listing.ts';
import { attrOf, reportedIno, statxOf, timestampOf, utimeNow } from './attr.ts';
import { childPath, nameCodec } from './names.ts';
import { PathCtx, asError, guard, isThenable, then, type Maybe } from './context.ts';
import { TreeLock, type Held } from './tree-lock.ts';

/** access(2) */
const W_OK = 2;
/** fcntl lock types and flock(2) operations. */
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;
/** The end of a lock that runs to the end of the file (OFFSET_MAX). */
const OFFSET_MAX = (1n << 63n) - 1n;
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
/** struct fuse_dirent without its name; struct fuse_direntplus is a fuse_entry_out (128) before it. */
const DIRENT_SIZE = 24;
/** struct fuse_dirent's fields as u32 indexes (little-endian: a u64's low half comes first). */
const U32_INO = Dirent.off.ino >>> 2;
const U32_OFF = Dirent.off.off >>> 2;
const U32_NAMELEN = Dirent.off.namelen >>> 2;
const U32_TYPE = Dirent.off.type >>> 2;
const DIRENTPLUS_SIZE = 152;
/**
 * New names looked up in a directory after a names-only READDIRPLUS page of it that make its later pages
 * carry attributes (PathLayerOptions.statEntries 'auto'). Two, so that opening one file after an `ls`
 * does not, while `ls -l` (a lookup of every entry) does.
 */
const LOOKUPS_TO_STAT_ENTRIES = 2;
/** What readdir reports as d_ino for an entry whose inode nobody knows yet (libfuse's FUSE_UNKNOWN_INO). */
const UNKNOWN_INO = 0xffff_ffff;

/** The methods whose absence, all together, makes a filesystem read-only. */
const MUTATING = [
  'write', 'create', 'tmpfile', 'mknod', 'mkdir', 'unlink', 'rmdir', 'rename', 'link', 'symlink', 'chmod', 'chown', 'truncate',
  'utimens', 'setxattr', 'removexattr', 'fallocate',
] as const satisfies readonly (keyof PathFilesystem)[];

/** The path layer's part of a handoff state (see ops.exportState). */
interface ExportedLayer {
  readonly version: 1;
  readonly table: ExportedNodes;
  readonly handles: readonly ExportedHandle[];
  readonly nextFh: number;
  readonly fs: unknown;
}
interface ExportedHandle { readonly fh: number; readonly node: number; readonly fsFh: number; readonly listing: readonly string[] | undefined }

interface Handle {
  readonly node: PathNode;
  /** What the filesystem's open/opendir/create returned (0 when it has none). */
  readonly fsFh: number;
  /** Directory handles only: the listing being read. */
  listing: DirListing | undefined;
}

function checkTimeout(name: string, v: unknown): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
    throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${name} must be a non-negative number of seconds, got ${String(v)}`);
  }
}

const align8 = (n: number): number => (n + 7) & ~7;
/** A READDIRPLUS entry sent without attributes (see PathLayerOptions.statEntries). */
const BARE = Symbol('names only');
/**
 * Names-only entries a READDIRPLUS page carries at most: the kernel asks for the rest with READDIR, whose
 * records are 6× smaller and which the layer packs itself. Measured on a real mount, 1000 plain names,
 * Node 20, daemon CPU per listing: a whole 32 KiB page of ~195 names-only entries 550–660 µs, 16 entries
 * 410–430 µs, 2 entries 420–430 µs (each cut costs one more request). A small directory still fits in
 * its one READDIRPLUS page.
 */
const BARE_PAGE_LIMIT = 16;
const NONE: readonly PathNode[] = Object.freeze([]);
/** A READDIR answer with no entries: the end of the listing. */
const NO_RECORDS = Buffer.alloc(0);
/** Bytes a packed listing is allocated beyond its ASCII size: one record of a longest name (NAME_MAX 255 × 3). */
const PACK_SLACK = align8(24 + 255 * 3);

/**
 * The low-level operations that serve `fs`: `mount(mountpoint, pathOperations(fs))`.
 * Throws ERR_INVALID_ARG_VALUE for invalid options.
 */
export function pathOperations(fs: PathFilesystem, options: PathLayerOptions = {}): PathOperations {
  if (fs === null || typeof fs !== 'object') throw new TsfuseError('ERR_INVALID_ARG_VALUE', 'pathOperations needs a filesystem object');
  checkTimeout('entryTimeout', options.entryTimeout);
  checkTimeout('attrTimeout', options.attrTimeout);
  checkTimeout('negativeTimeout', options.negativeTimeout);
  const names = nameCodec(options.nameEncoding ?? 'utf8');
  const useIno = options.useIno ?? true;
  const { entryTimeout, attrTimeout, negativeTimeout } = options;
  const statEntriesOption = options.statEntries ?? 'auto';
  if (statEntriesOption !== 'auto' && statEntriesOption !== 'always' && statEntriesOption !== 'never') {
    throw new TsfuseError('ERR_INVALID_ARG_VALUE', `statEntries must be 'auto', 'always' or 'never', got ${JSON.stringify(statEntriesOption)}`);
  }
  const table = new NodeTable(useIno);
  const handles = new Map<U64, Handle>();
  let nextFh = 1;
  const readOnly = !MUTATING.some((m) => typeof fs[m] === 'function');
  let notifier: Notifier | undefined;
  const treeLock = new TreeLock();

  /**
   * Runs `run` (which computes the paths it hands the filesystem, and registers the reply) holding the
   * paths of `read` and the names of `write`: see the module comment and ./tree-lock.ts.
   */
  const holding = <T>(ctx: RequestContext, read: readonly (PathNode | undefined)[], write: readonly (PathNode | undefined)[], run: () => Maybe<T>): Maybe<T> => {
    const held = treeLock.acquire(read, write, ctx);
    return held instanceof Promise ? held.then((h) => runHolding(h, run)) : runHolding(held, run);
  };
  /** `run()` with `held` taken: released when it returns, or when the promise it returned settles. */
  const runHolding = <T>(held: Held, run: () => Maybe<T>): Maybe<T> => {
    let r: Maybe<T>;
    try {
      r = run();
    } catch (e) {
      treeLock.release(held);
      throw e;
    }
    if (!isThenable(r)) {
      treeLock.release(held);
      return r;
    }
    return Promise.resolve(r).then(
      (v) => { treeLock.release(held); return v; },
      (e: unknown) => { treeLock.release(held); throw e; },
    );
  };

  /* ---- resolving ------------------------------------------------------------------------------- */

  const nodeOf = (ino: U64): PathNode => {
    const node = table.get(ino);
    // The kernel only names nodes it was told about and has not forgotten.
    if (node === undefined) throw new FuseError('ESTALE', `unknown node id ${String(ino)}`);
    return node;
  };
  /** The open handle `fh`, or (a request without one, e.g. after the kernel's own fallbacks) the node with fh 0. */
  const handleOf = (fh: U64 | undefined, ino: U64): Handle => {
    const h = fh === undefined ? undefined : handles.get(fh);
    return h ?? { node: nodeOf(ino), fsFh: 0, listing: undefined };
  };
  /**
   * For a node without a name (unlinked or renamed over while open, or O_TMPFILE): one of its open
   * handles, since its path no longer leads to it. Requests that carry no fh (fstat(2) sends GETATTR
   * without one, fs/fuse/dir.c fuse_getattr; fchmod(2) a SETATTR without FATTR_FH; linkat(2) a LINK)
   * then still reach the right file. A scan of the open handles, done only for such nodes.
   */
  const namelessFh = (node: PathNode): number | undefined => {
    if (node.linked || node.opens === 0) return undefined;
    for (const h of handles.values()) if (h.node === node) return h.fsFh;
    return undefined;
  };
  const addHandle = (node: PathNode, fsFh: number): number => {
    const fh = nextFh++;
    handles.set(fh, { node, fsFh, listing: undefined });
    node.opens++;
    return fh;
  };
  const refused = (): FuseError => new FuseError(readOnly ? 'EROFS' : 'ENOSYS');

  /* ---- calling the filesystem ------------------------------------------------------------------- */

  const stat = (path: string, fsFh: number | undefined, ctx: PathCtx): Maybe<AnyStat> => {
    if (fs.getattr) return fs.getattr(path, fsFh, ctx);
    if (path === '/') return { mode: S_IFDIR | 0o755, nlink: 2 };
    throw new FuseError('ENOENT');
  };
  const vanished = (e: unknown): undefined => {
    const err = asError(e);
    if (errnoOf(err) === Errno.ENOENT) return undefined;
    throw err;
  };
  /** The attributes of a name about to be registered, or undefined if it vanished (ENOENT). */
  const statIfExists = (path: string, ctx: PathCtx): Maybe<AnyStat | undefined> => {
    let st: Maybe<AnyStat>;
    try {
      st = stat(path, undefined, ctx);
    } catch (e) {
      return vanished(e);
    }
    return isThenable(st) ? Promise.resolve(st).then(undefined, vanished) : st;
  };
  const entryOf = (node: PathNode, attr: Attr): EntryReply => ({ ino: node.id, attr, entryTimeout, attrTimeout });
  /** Looks `name` up after a create-style call (or for LOOKUP) and registers the node the reply names. */
  const register = (parent: PathNode, name: string, path: string, ctx: PathCtx, fsFh?: number): Maybe<EntryReply> =>
    then(stat(path, fsFh, ctx), (st) => {
      const attr = attrOf(st, useIno);
      return entryOf(table.remember(parent, name, reportedIno(st), attr.mode), attr);
    });
  const openResult = (r: PathOpenResult): { fsFh: number; flags: number } => {
    if (r === undefined || r === null) return { fsFh: 0, flags: 0 };
    if (typeof r === 'number') return { fsFh: r, flags: 0 };
    if (typeof r !== 'object') throw new TypeError(`open returned ${typeof r}; expected a number, nothing, or { fh, directIo, keepCache, nonSeekable }`);
    const flags = (r.directIo ? OpenFlags.DIRECT_IO : 0) | (r.keepCache ? OpenFlags.KEEP_CACHE : 0) | (r.nonSeekable ? OpenFlags.NONSEEKABLE : 0);
    return { fsFh: r.fh ?? 0, flags };
  };
  const listingOf = (h: Handle, offset: number, ctx: PathCtx): Maybe<DirListing> => {
    // Offset 0 is the first read or a rewind (rewinddir must show changes): take a fresh listing.
    if (offset !== 0 && h.listing !== undefined) return h.listing;
    h.listing?.close();
    h.listing = undefined;
    const path = table.pathOf(h.node);
    let listing: Maybe<PathListing>;
    if (fs.readdir) listing = fs.readdir(path, h.fsFh, ctx);
    else if (path === '/') listing = [];
    else throw new FuseError('ENOSYS');
    return then(listing, (l) => (h.listing = new DirListing(l)));
  };
  /** d_ino of a listed entry, from what the filesystem said or what the table knows. */
  const direntIno = (dir: PathNode, e: ListedEntry): U64 => {
    if (e.name === '.' || e.name === '..') {
      const n = e.name === '.' ? dir : dir.parent ?? dir;
      return n.fsIno ?? n.id;
    }
    const known = table.child(dir, e.name);
    return (useIno && e.stat !== undefined ? reportedIno(e.stat) : undefined) ?? (known !== undefined ? known.fsIno ?? known.id : UNKNOWN_INO);
  };
  /** The file type (S_IFMT bits, 0 if unknown) of a listed entry, likewise. */
  const direntMode = (dir: PathNode, e: ListedEntry): number => {
    if (e.name === '.' || e.name === '..') return S_IFDIR;
    if (e.stat !== undefined) return Number(e.stat.mode) & S_IFMT;
    return table.child(dir, e.name)?.type ?? 0;
  };
  /**
   * Writes the fuse_dirent record of entry `i` (`e`) at `at` of `buf` (`u32` views it from 0) and returns
   * the record's length. The room for it is the caller's to check: the name takes `n` bytes, given
   * (already written) or -1 to write it here.
   */
  const writeRecord = (dir: PathNode, e: ListedEntry, i: number, buf: Buffer, u32: Uint32Array, at: number, written: number): number => {
    const n = written >= 0 ? written : names.write(e.name, buf, at + DIRENT_SIZE);
    const rec = align8(DIRENT_SIZE + n);
    const w = at >>> 2;
    const ino = direntIno(dir, e);
    if (typeof ino === 'number' && ino <= 0xffff_ffff) { u32[w + U32_INO] = ino; u32[w + U32_INO + 1] = 0; } else writeU64(buf, at + Dirent.off.ino, ino);
    u32[w + U32_OFF] = i + 1; // the index of the next entry (listings stay far below 2^32 entries)
    u32[w + U32_OFF + 1] = 0;
    u32[w + U32_NAMELEN] = n;
    u32[w + U32_TYPE] = direntMode(dir, e) >>> 12;
    // The padding after the name goes out as is: zero it.
    for (let p = at + DIRENT_SIZE + n; p < at + rec; p++) buf[p] = 0;
    return rec;
  };
  /**
   * A READDIR page of a listing still being read from an iterable: the entries from `start` that fit in
   * `size` bytes, packed here as the reply's fuse_dirent records (the low-level readdir's pre-packed form)
   * rather than as an object per entry for the session to check and pack: 1000 names cost 4× less so
   * (bench/fuse-native.ts, readdir).
   */
  const packPage = (dir: PathNode, listing: DirListing, start: number, size: number): Buffer => {
    const entries = listing.entries;
    // Its own zero-offset memory, so the fixed fields are written as aligned u32s (records are 8-aligned).
    const buf = Buffer.allocUnsafeSlow(size);
    const u32 = new Uint32Array(buf.buffer, 0, size >>> 2);
    let at = 0;
    for (let i = start; i < entries.length; i++) {
      const e = entries[i]!;
      const name = e.name;
      // A name of `length` UTF-16 units takes at most 3 bytes per unit: measure it only when it might not fit.
      const room = size - at - DIRENT_SIZE;
      if (room <= 0) break;
      let n = -1;
      if (room < name.length * 3 + 8) {
        n = names.byteLength(name);
        if (align8(DIRENT_SIZE + n) > size - at) break;
        names.write(name, buf, at + DIRENT_SIZE);
      }
      at += writeRecord(dir, e, i, buf, u32, at, n);
    }
    return buf.subarray(0, at);
  };
  /**
   * The READDIR records of a whole listing, packed once when its first READDIR page is asked for; every
   * page is then a view of them (libfuse 2's high-level readdir keeps its listing packed alike): one
   * buffer per listing instead of one per request, and no walk over a page's entries per request. The
   * layer's own time for a listing of 1000 names in 3 READDIR pages (its operations called directly,
   * Node 20, interleaved runs on a loaded machine) went from 106–173 µs to 98–113 µs; of what is left,
   * about 38 µs is this packing and 25 µs the DirListing. d_ino and d_type are as the table knew the
   * names then.
   */
  const packListing = (dir: PathNode, listing: DirListing): PackedListing => {
    const entries = listing.entries;
    const ends = new Uint32Array(entries.length);
    // Room for ASCII names (a name takes at least a byte per UTF-16 unit), plus one longest record; grown
    // in the rare case other names need more.
    let cap = PACK_SLACK;
    for (let i = 0; i < entries.length; i++) cap += align8(DIRENT_SIZE + entries[i]!.name.length);
    let buf = Buffer.allocUnsafeSlow(cap);
    let u32 = new Uint32Array(buf.buffer, 0, cap >>> 2);
    const children = dir.children;
    let at = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (cap - at < DIRENT_SIZE + e.name.length * 3 + 8) {
        cap = cap * 2 + e.name.length * 3;
        const bigger = Buffer.allocUnsafeSlow(cap);
        buf.copy(bigger, 0, 0, at);
        buf = bigger;
        u32 = new Uint32Array(buf.buffer, 0, cap >>> 2);
      }
      if (i < 2 || e.stat !== undefined || (children !== undefined && children.has(e.name))) {
        at += writeRecord(dir, e, i, buf, u32, at, -1);
      } else {
        // Most entries: a name nobody looked up yet, without a stat (writeRecord's answer, without its calls).
        const n = names.write(e.name, buf, at + DIRENT_SIZE);
        const w = at >>> 2;
        u32[w + U32_INO] = UNKNOWN_INO;
        u32[w + U32_INO + 1] = 0;
        u32[w + U32_OFF] = i + 1;
        u32[w + U32_OFF + 1] = 0;
        u32[w + U32_NAMELEN] = n;
        u32[w + U32_TYPE] = 0;
        const end = at + align8(DIRENT_SIZE + n);
        for (let p = at + DIRENT_SIZE + n; p < end; p++) buf[p] = 0;
        at = end;
      }
      ends[i] = at;
    }
    return { records: buf, ends };
  };
  /** The page of a packed listing from entry `start`: the records that fit whole in `size` bytes. */
  const packedPage = (packed: PackedListing, start: number, size: number): Buffer => {
    const ends = packed.ends;
    if (start >= ends.length) return NO_RECORDS;
    const begin = start === 0 ? 0 : ends[start - 1]!;
    const limit = begin + size;
    // The last entry whose record ends within the limit (ends only grow).
    let lo = start;
    let hi = ends.length - 1;
    let last = start - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! <= limit) { last = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return last < start ? NO_RECORDS : packed.records.subarray(begin, ends[last]);
  };

  /** Whether READDIRPLUS pages of `dir` call getattr for entries listed without a stat (PathLayerOptions.statEntries). */
  const statEntries = (dir: PathNode): boolean => statEntriesOption === 'always' || (statEntriesOption === 'auto' && entryTimeout !== 0 && dir.statsEntries);
  /** A LOOKUP found a new name in `dir` after a names-only page of it: the second one turns attributes on. */
  const lookedUpAfterListing = (dir: PathNode): void => {
    if (++dir.lookupsAfterListing < LOOKUPS_TO_STAT_ENTRIES) return;
    dir.statsEntries = true;
    dir.bareListing = false;
  };

  /**
   * A close(2) of a descriptor: the filesystem's flush, then (when it keeps POSIX locks) the release of
   * every record lock of the closing process, which POSIX ties to any close of the file and the kernel
   * leaves to the filesystem (fs/locks.c locks_remove_posix finds no local locks when they are remote).
   * libfuse's high-level fuse_flush_common does the same unlock.
   */
  const flushed = async (path: string, fsFh: number, owner: bigint, c: PathCtx): Promise<void> => {
    try {
      if (fs.flush) await fs.flush(path, fsFh, owner, c);
    } finally {
      if (fs.setlk) await fs.setlk(path, fsFh, { type: F_UNLCK, start: 0, end: OFFSET_MAX, pid: c.pid }, owner, false, c);
    }
  };

  const pathNotifier: PathNotifier = {
    async invalidate(path) {
      const node = table.resolve(path);
      if (node === undefined) return;
      await quietly(live().invalInode(node.id, 0, 0));
    },
    async invalidateEntry(path) {
      const slash = path.lastIndexOf('/');
      const name = path.slice(slash + 1);
      if (name === '') return;
      const parent = table.resolve(slash <= 0 ? '/' : path.slice(0, slash));
      if (parent === undefined) return;
      await quietly(live().invalEntry(parent.id, names.encode(name)));
    },
  };
  const live = (): Notifier => {
    if (notifier === undefined) throw new TsfuseError('ERR_INVALID_STATE', 'notifications can be sent only once INIT has been answered');
    return notifier;
  };

  /** A failed LOOKUP: fs/fuse/dir.c fuse_lookup_name caches "no such name" for node id 0 with a timeout. */
  const notFound = (e: unknown): EntryReply => {
    const err = asError(e);
    if (negativeTimeout !== undefined && negativeTimeout > 0 && errnoOf(err) === Errno.ENOENT) return { ino: 0, entryTimeout: negativeTimeout };
    throw err;
  };

  /* ---- the operations --------------------------------------------------------------------------- */

  const ops: { -readonly [K in keyof LowLevelOperations]: LowLevelOperations[K] } & Pick<PathOperations, 'nodeCount' | 'handleCount' | 'exportState' | 'importState'> = {
    get nodeCount() { return table.size; },
    get handleCount() { return handles.size; },
    ...(options.checksPermissions !== undefined && { checksPermissions: options.checksPermissions }),

    ready(info: ReadyInfo) {
      // `ready({ negotiated, audit, notify })`; older cores passed (negotiated, audit) and no notifier.
      const maybe = info as Partial<ReadyInfo> | undefined;
      if (maybe !== undefined && maybe !== null && typeof maybe === 'object' && maybe.notify !== undefined) notifier = maybe.notify;
    },
    async destroy() {
      try {
        await fs.destroy?.();
      } catch (e) {
        throw asError(e);
      }
    },

    lookup: guard((req, ctx) => {
      const parent = nodeOf(req.parent);
      const name = names.decode(req.name);
      const c = new PathCtx(ctx);
      const known = parent.children !== undefined && parent.children.has(name);
      let r: Maybe<EntryReply>;
      try {
        r = holding(ctx, [parent], NONE, () => register(parent, name, childPath(table.pathOf(parent), name), c));
      } catch (e) {
        return notFound(e);
      }
      // A name the kernel did not know, found after a names-only listing of its directory: the reader
      // wants the entries' attributes (see `statEntries`).
      const listed = !known && parent.bareListing;
      if (!isThenable(r)) {
        if (listed) lookedUpAfterListing(parent);
        return r;
      }
      return Promise.resolve(r).then((entry) => { if (listed) lookedUpAfterListing(parent); return entry; }, notFound);
    }),
    forget(req) {
      for (const item of req.items) table.forget(item.ino, Number(item.nlookup));
    },
    getattr: guard((req, ctx) => {
      const h = req.fh === undefined ? undefined : handles.get(req.fh);
      const node = h?.node ?? nodeOf(req.ino);
      const st = holding(ctx, [node], NONE, () => stat(table.pathOf(node), h?.fsFh ?? namelessFh(node), new PathCtx(ctx)));
      return then(st, (s): AttrReply => ({ attr: attrOf(s, useIno), attrTimeout }));
    }),
    opendir: guard((req, ctx) => {
      const node = nodeOf(req.ino);
      const opendir = fs.opendir;
      if (!opendir) return { fh: addHandle(node, 0) };
      const r = holding(ctx, [node], NONE, () => opendir.call(fs, table.pathOf(node), req.flags, new PathCtx(ctx)));
      return then(r, (v) => ({ fh: addHandle(node, openResult(v).fsFh) }));
    }),
    readdir: guard((req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      const start = Number(req.offset);
      const size = (name: string): number => align8(DIRENT_SIZE + names.byteLength(name));
      const listing = holding(ctx, [h.node], NONE, () => then(listingOf(h, start, new PathCtx(ctx)), (l) => then(l.fill(start, req.size, size), () => l)));
      return then(listing, (l) => {
        if (!l.complete) return packPage(h.node, l, start, req.size);
        l.packed ??= packListing(h.node, l);
        return packedPage(l.packed, start, req.size);
      });
    }),
    releasedir: guard((req, ctx) => {
      const h = handles.get(req.fh);
      if (h === undefined) return;
      const closed = (): void => {
        handles.delete(req.fh);
        table.closed(h.node);
      };
      let r: Maybe<void>;
      try {
        h.listing?.close();
        const releasedir = fs.releasedir;
        r = releasedir ? holding(ctx, [h.node], NONE, () => releasedir.call(fs, table.pathOf(h.node), h.fsFh, new PathCtx(ctx))) : undefined;
      } catch (e) {
        closed();
        throw e;
      }
      if (!isThenable(r)) return closed();
      return Promise.resolve(r).then(closed, (e: unknown) => { closed(); throw e; });
    }),

    open: guard((req, ctx) => {
      const node = nodeOf(req.ino);
      if (readOnly && ((req.flags & O_ACCMODE) !== O_RDONLY || (req.flags & O_TRUNC) !== 0)) throw new FuseError('EROFS');
      const open = fs.open;
      const r = open ? holding(ctx, [node], NONE, () => open.call(fs, table.pathOf(node), req.flags, new PathCtx(ctx))) : undefined;
      return then(r, (v): OpenReply => {
        const { fsFh, flags } = openResult(v);
        return { fh: addHandle(node, fsFh), flags };
      });
    }),
    release: guard(async (req, ctx) => {
      const h = handles.get(req.fh);
      if (h === undefined) return;
      try {
        await holding(ctx, [h.node], NONE, async () => {
          const path = table.pathOf(h.node);
          const c = new PathCtx(ctx);
          if (req.flush && ops.flush) await flushed(path, h.fsFh, BigInt(req.lockOwner), c);
          // fs/fuse/file.c fuse_file_release: a flock still held is the daemon's to drop.
          if (req.flockUnlock && fs.flock) await fs.flock(path, h.fsFh, LOCK_UN, BigInt(req.lockOwner), c);
          if (fs.release) await fs.release(path, h.fsFh, req.flags, c);
        });
      } finally {
        handles.delete(req.fh);
        table.closed(h.node);
      }
    }),
  };

  // Locks the filesystem does not implement stay local to the kernel: do not ask for them. (The low-level
  // setlk serves both kinds, so it implies both capabilities.) The hook exists only when it has work, so
  // a filesystem without init and without half the locks has no INIT hook at all. (This once also avoided
  // a core bug, real mounts of ops with an init hook failing right after INIT; that no longer happens.)
  const dropped: InitFlagName[] = [];
  if ((fs.setlk || fs.flock) && !fs.setlk && !fs.getlk) dropped.push('POSIX_LOCKS');
  if ((fs.setlk || fs.getlk) && !fs.flock) dropped.push('FLOCK_LOCKS');
  const added: InitFlagName[] = fs.removesSetIds === true ? ['HANDLE_KILLPRIV_V2'] : [];
  if (fs.init || dropped.length > 0 || added.length > 0) {
    ops.init = async (info) => {
      try {
        await fs.init?.({ notify: pathNotifier });
      } catch (e) {
        throw asError(e);
      }
      if (dropped.length === 0 && added.length === 0) return undefined;
      return { ...info.wants, want: [...(info.wants.want ?? []).filter((f) => !dropped.includes(f)), ...added] };
    };
  }

  // READDIRPLUS whenever there is a getattr; what its pages carry is `statEntries`' choice. Measured on a
  // real mount, 1000 plain names (bench/fuse-native.ts, readdir): a getattr per entry of the first page
  // (~195 entries of 32 KiB) cost 8 µs each and made the listing 2.3× slower than libfuse 2's plain
  // READDIR, while a names-only page (node id 0: fs/fuse/readdir.c fuse_direntplus_link links nothing)
  // costs about what a READDIR page does. For `ls -l` the attributes save a LOOKUP round trip per entry
  // (through the fake kernel, 2000 names: readdir + LOOKUPs 21 µs/entry, readdirplus 8 µs/entry), hence
  // 'auto'. READDIRPLUS_AUTO makes the kernel use it only for the first page and when the reader then
  // looks entries up, so a bare `ls` of a huge directory pays it once. Not at all when no entry could be
  // cached: with entryTimeout 0 (unless statEntries is 'always') the kernel looks every name up again
  // anyway, and a names-only first page is one more request per listing than plain READDIR pages
  // (libfuse 2's only kind): bench/fuse-native.ts, readdir of 1000 names, 8 requests per listing → 7.
  if (fs.getattr && (entryTimeout !== 0 || statEntriesOption === 'always')) {
    const plusSize = (name: string): number => align8(DIRENTPLUS_SIZE + names.byteLength(name));
    /** The page of entries from `start`, with attributes where `statEntries` wants them. */
    const plusPage = (h: Handle, listing: DirListing, start: number, size: number, fresh: number, c: PathCtx): Maybe<DirEntryPlus[]> => {
      // Attributes only for what is likely to fit; whatever the codec then leaves out is forgotten by the
      // session (the low-level contract), so the counts stay exact even when this estimate is off.
      const entries = listing.entries;
      let end = start;
      for (let used = 0; end < entries.length; end++) {
        used += plusSize(entries[end]!.name);
        if (used > size) break;
      }
      const withAttrs = statEntries(h.node);
      const dir = withAttrs ? table.pathOf(h.node) : '';
      // Per entry: its stat (or a promise of it), undefined when it vanished, BARE for names only.
      const stats: (Maybe<AnyStat | undefined> | typeof BARE)[] = [];
      let pending = false;
      let bare = 0;
      try {
        for (let i = start; i < end; i++) {
          const e = entries[i]!;
          let st: Maybe<AnyStat | undefined> | typeof BARE;
          if (e.name === '.' || e.name === '..' || (e.stat !== undefined && i >= fresh)) st = e.stat;
          else if (withAttrs) st = statIfExists(childPath(dir, e.name), c);
          else if (bare === BARE_PAGE_LIMIT) { end = i; break; }
          else { st = BARE; bare++; }
          if (isThenable(st)) pending = true;
          stats.push(st);
        }
      } catch (e) {
        // A getattr failed at once: those already running are abandoned (their failures have nowhere to go).
        for (const st of stats) if (isThenable(st)) Promise.resolve(st).catch(() => {});
        throw e;
      }
      if (bare > 0) h.node.bareListing = true;
      const page = (sts: readonly (AnyStat | undefined | typeof BARE)[]): DirEntryPlus[] => {
        const out: DirEntryPlus[] = [];
        for (let i = start; i < end; i++) {
          const e = entries[i]!;
          const st = sts[i - start];
          if (e.name === '.' || e.name === '..' || st === BARE) {
            // Node id 0: the kernel links nothing (fs/fuse/readdir.c fuse_direntplus_link; it ignores the
            // dot names' entry_out anyway) and takes no lookup; d_ino and d_type come from attr.ino and
            // attr.mode. For the dots an inode number as node id would also have the core hand a lookup
            // back through forget, of whichever node had that id.
            out.push({ name: e.name === '.' || e.name === '..' ? e.name : names.encode(e.name), offset: i + 1, entry: { ino: 0, attr: { ino: direntIno(h.node, e), mode: direntMode(h.node, e) } } });
            continue;
          }
          if (st === undefined) continue; // gone since the listing was taken
          const attr = attrOf(st, useIno);
          const node = table.remember(h.node, e.name, reportedIno(st), attr.mode);
          out.push({ name: names.encode(e.name), offset: i + 1, entry: entryOf(node, attr) });
        }
        return out;
      };
      return pending ? Promise.all(stats).then(page) : page(stats as (AnyStat | undefined | typeof BARE)[]);
    };
    ops.readdirplus = guard((req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      const start = Number(req.offset);
      const c = new PathCtx(ctx);
      // The directory's path is held from the listing to the registration of every entry.
      return holding(ctx, [h.node], NONE, () => {
        const kept = h.listing;
        return then(listingOf(h, start, c), (listing) => {
          // Stats that came with entries read by an earlier request are as old as that request: the kernel
          // would apply them all the same (fs/fuse/inode.c fuse_change_attributes_common trusts attributes
          // when nothing changed the inode since it sent *this* request), undoing a write made in between,
          // and would link a name unlinked in between back into the dcache. Those entries are stat'ed anew.
          const fresh = listing === kept ? listing.entries.length : 0;
          return then(listing.fill(start, req.size, plusSize), () => plusPage(h, listing, start, req.size, fresh, c));
        });
      });
    });
  }

  // Planned handoff (src/handoff): the node table and handles travel with the filesystem's own state, so
  // only a filesystem that can hand over its own (fh values, memory) has the hooks.
  const exportFs = fs.exportState;
  const importFs = fs.importState;
  if (typeof exportFs === 'function' && typeof importFs === 'function') {
    ops.exportState = async (ctx) => {
      const open: ExportedHandle[] = [];
      for (const [fh, h] of handles) {
        // A listing still being pulled from an iterator is read to its end: the iterator cannot travel.
        if (h.listing !== undefined && !h.listing.complete) await h.listing.fill(h.listing.entries.length, Infinity, () => 1);
        open.push({ fh: Number(fh), node: h.node.id, fsFh: h.fsFh, listing: h.listing?.entries.slice(2).map((e) => e.name) });
      }
      const state: ExportedLayer = { version: 1, table: table.exportNodes(), handles: open, nextFh, fs: await exportFs.call(fs, ctx) };
      return state;
    };
    ops.importState = async (data, ctx) => {
      const state = data as ExportedLayer;
      if (state?.version !== 1) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `not a path layer state this version can import (version ${String(state?.version)})`);
      await importFs.call(fs, state.fs, ctx);
      table.importNodes(state.table);
      handles.clear();
      for (const h of state.handles) {
        // Names only: entries read again get fresh attributes (readdirplus stats entries without one).
        handles.set(h.fh, { node: table.get(h.node)!, fsFh: h.fsFh, listing: h.listing === undefined ? undefined : new DirListing(h.listing) });
      }
      nextFh = state.nextFh;
    };
  }

  // STATX is what the kernel sends when statx(2) asks for the birth time (fs/fuse/dir.c
  // fuse_update_get_attr); the same getattr answers it. Absent, the kernel falls back to GETATTR.
  if (fs.getattr) {
    ops.statx = guard((req, ctx) => {
      const h = req.fh === undefined ? undefined : handles.get(req.fh);
      const node = h?.node ?? nodeOf(req.ino);
      const st = holding(ctx, [node], NONE, () => stat(table.pathOf(node), h?.fsFh ?? namelessFh(node), new PathCtx(ctx)));
      return then(st, (s): StatxReply => ({ statx: statxOf(s, attrOf(s, useIno)), attrTimeout }));
    });
  }

  if (readOnly || fs.chmod || fs.chown || fs.truncate || fs.utimens) {
    ops.setattr = guard(async (req, ctx) => {
      if (readOnly) throw new FuseError('EROFS');
      const h = req.fh === undefined ? undefined : handles.get(req.fh);
      const node = h?.node ?? nodeOf(req.ino);
      const fsFh = h?.fsFh ?? namelessFh(node);
      const c = new PathCtx(ctx);
      const st = await holding(ctx, [node], NONE, async () => {
        const path = table.pathOf(node);
        // The order users think in (and chmod(1) … touch(1) would issue): mode, owner, size, times.
        if (req.mode !== undefined) {
          if (!fs.chmod) throw refused();
          await fs.chmod(path, req.mode & 0o7777, fsFh, c);
        }
        if (req.uid !== undefined || req.gid !== undefined) {
          if (!fs.chown) throw refused();
          await fs.chown(path, req.uid ?? -1, req.gid ?? -1, fsFh, c);
        }
        if (req.size !== undefined) {
          if (!fs.truncate) throw refused();
          await fs.truncate(path, Number(req.size), fsFh, c);
        }
        if (req.atime !== undefined || req.mtime !== undefined) {
          if (!fs.utimens) throw refused();
          const t = req.atime === 'now' || req.mtime === 'now' ? utimeNow() : undefined;
          const atime = req.atime === undefined ? undefined : req.atime === 'now' ? t : timestampOf(req.atime);
          const mtime = req.mtime === undefined ? undefined : req.mtime === 'now' ? t : timestampOf(req.mtime);
          await fs.utimens(path, atime, mtime, fsFh, c);
        }
        return stat(path, fsFh, c);
      });
      return { attr: attrOf(st, useIno), attrTimeout };
    });
  }

  if (fs.readlink) {
    const readlink = fs.readlink;
    ops.readlink = guard(async (req, ctx) => {
      const node = nodeOf(req.ino);
      const target = await holding(ctx, [node], NONE, async () => readlink.call(fs, table.pathOf(node), new PathCtx(ctx)));
      return typeof target === 'string' ? names.encode(target) : target;
    });
  }

  if (readOnly || fs.mknod) {
    ops.mknod = guard(async (req, ctx) => {
      const mknod = fs.mknod;
      if (!mknod) throw refused();
      const parent = nodeOf(req.parent);
      const name = names.decode(req.name);
      const c = new PathCtx(ctx, req.umask);
      return holding(ctx, [parent], NONE, async () => {
        const path = childPath(table.pathOf(parent), name);
        await mknod.call(fs, path, req.mode, req.rdev, c);
        return register(parent, name, path, c);
      });
    });
  }
  if (readOnly || fs.mkdir) {
    ops.mkdir = guard(async (req, ctx) => {
      const mkdir = fs.mkdir;
      if (!mkdir) throw refused();
      const parent = nodeOf(req.parent);
      const name = names.decode(req.name);
      const c = new PathCtx(ctx, req.umask);
      return holding(ctx, [parent], NONE, async () => {
        const path = childPath(table.pathOf(parent), name);
        await mkdir.call(fs, path, req.mode & 0o7777, c);
        return register(parent, name, path, c);
      });
    });
  }
  if (readOnly || fs.symlink) {
    ops.symlink = guard(async (req, ctx) => {
      const symlink = fs.symlink;
      if (!symlink) throw refused();
      const parent = nodeOf(req.parent);
      const name = names.decode(req.name);
      const target = names.decode(req.target);
      const c = new PathCtx(ctx);
      return holding(ctx, [parent], NONE, async () => {
        const path = childPath(table.pathOf(parent), name);
        await symlink.call(fs, target, path, c);
        return register(parent, name, path, c);
      });
    });
  }
  if (readOnly || fs.link) {
    ops.link = guard(async (req, ctx) => {
      const link = fs.link;
      if (!link) throw refused();
      const node = nodeOf(req.ino);
      const parent = nodeOf(req.newParent);
      const name = names.decode(req.newName);
      const c = new PathCtx(ctx);
      return holding(ctx, [node, parent], NONE, async () => {
        const path = childPath(table.pathOf(parent), name);
        await link.call(fs, table.pathOf(node), path, namelessFh(node), c);
        const attr = attrOf(await stat(path, undefined, c), useIno);
        // The kernel links the existing inode (fs/fuse/dir.c fuse_link): the reply must name the same node.
        table.link(node, parent, name);
        return entryOf(node, attr);
      });
    });
  }
  // UNLINK and RMDIR take the same steps; only the method differs.
  const removal = (method: 'unlink' | 'rmdir'): LowLevelOperations['unlink'] => guard(async (req, ctx) => {
    const remove = fs[method];
    if (!remove) throw refused();
    const parent = nodeOf(req.parent);
    const name = names.decode(req.name);
    await holding(ctx, [parent], [table.child(parent, name)], async () => {
      await remove.call(fs, childPath(table.pathOf(parent), name), new PathCtx(ctx));
      table.unlink(parent, name);
    });
  });
  if (readOnly || fs.unlink) ops.unlink = removal('unlink');
  if (readOnly || fs.rmdir) ops.rmdir = removal('rmdir');
  if (readOnly || fs.rename) {
    ops.rename = guard(async (req, ctx) => {
      const rename = fs.rename;
      if (!rename) throw refused();
      const parent = nodeOf(req.parent);
      const name = names.decode(req.name);
      const newParent = nodeOf(req.newParent);
      const newName = names.decode(req.newName);
      // Both names change: requests using a path through either node finish first, new ones wait.
      await holding(ctx, [parent, newParent], [table.child(parent, name), table.child(newParent, newName)], async () => {
        await rename.call(fs, childPath(table.pathOf(parent), name), childPath(table.pathOf(newParent), newName), req.flags, new PathCtx(ctx));
        // One node changes its parent and name; every path below it follows.
        if ((req.flags & RenameFlags.EXCHANGE) !== 0) table.exchange(parent, name, newParent, newName);
        else table.rename(parent, name, newParent, newName);
      });
    });
  }
  if (readOnly || fs.create || fs.mknod) {
    ops.create = guard(async (req, ctx) => {
      if (readOnly) throw new FuseError('EROFS');
      const parent = nodeOf(req.parent);
      const name = names.decode(req.name);
      const c = new PathCtx(ctx, req.umask);
      return holding(ctx, [parent], NONE, async () => {
        const path = childPath(table.pathOf(parent), name);
        let r: PathOpenResult;
        if (fs.create) {
          r = await fs.create(path, req.mode, req.flags, c);
        } else if (fs.mknod) {
          // What the kernel does itself when CREATE is missing (fs/fuse/dir.c fuse_atomic_open → fuse_mknod,
          // then an OPEN without the creation flags, fs/fuse/file.c fuse_open).
          await fs.mknod(path, (req.mode & ~S_IFMT) | S_IFREG, 0, c);
          const flags = req.flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
          r = fs.open ? await fs.open(path, flags, c) : undefined;
        } else {
          throw refused();
        }
        const { fsFh, flags } = openResult(r);
        let entry: EntryReply;
        try {
          const st = await stat(path, fsFh, c);
          const attr = attrOf(st, useIno);
          entry = entryOf(table.remember(parent, name, reportedIno(st), attr.mode), attr);
        } catch (e) {
          // Created and opened, but the reply cannot be built: do not leak the filesystem's handle.
          if (fs.release) await Promise.resolve(fs.release(path, fsFh, req.flags, c)).catch(() => {});
          throw e;
        }
        return { entry, open: { fh: addHandle(table.get(entry.ino)!, fsFh), flags } };
      });
    });
  }

  if (readOnly || fs.tmpfile) {
    ops.tmpfile = guard(async (req, ctx) => {
      const tmpfile = fs.tmpfile;
      if (!tmpfile) throw refused();
      // The kernel names the new dentry "/" (fs/namei.c vfs_tmpfile); the file itself has no name.
      const parent = nodeOf(req.parent);
      const c = new PathCtx(ctx, req.umask);
      const r = await holding(ctx, [parent], NONE, async () => tmpfile.call(fs, table.pathOf(parent), req.mode, req.flags, c));
      const { fsFh, flags } = openResult(r);
      let st: AnyStat;
      try {
        st = await stat('', fsFh, c);
      } catch (e) {
        if (fs.release) await Promise.resolve(fs.release('', fsFh, req.flags, c)).catch(() => {});
        throw e;
      }
      const attr = attrOf(st, useIno);
      const node = table.nameless(reportedIno(st), attr.mode);
      return { entry: entryOf(node, attr), open: { fh: addHandle(node, fsFh), flags } };
    });
  }

  if (fs.read) {
    const read = fs.read;
    ops.read = guard((req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      return read.call(fs, table.pathOf(h.node), h.fsFh, req.size, Number(req.offset), new PathCtx(ctx));
    });
  }
  if (readOnly || fs.write) {
    ops.write = guard((req, ctx) => {
      if (!fs.write) throw refused();
      const h = handleOf(req.fh, req.ino);
      return fs.write(table.pathOf(h.node), h.fsFh, req.data, Number(req.offset), new PathCtx(ctx));
    });
  }
  if (fs.flush || fs.setlk) {
    ops.flush = guard(async (req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      await flushed(table.pathOf(h.node), h.fsFh, BigInt(req.lockOwner), new PathCtx(ctx));
    });
  }
  if (fs.fsync) {
    const fsync = fs.fsync;
    ops.fsync = guard(async (req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      await fsync.call(fs, table.pathOf(h.node), req.datasync, h.fsFh, new PathCtx(ctx));
    });
  }
  if (fs.fsyncdir) {
    const fsyncdir = fs.fsyncdir;
    ops.fsyncdir = guard(async (req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      await fsyncdir.call(fs, table.pathOf(h.node), req.datasync, h.fsFh, new PathCtx(ctx));
    });
  }
  if (fs.statfs) {
    const statfs = fs.statfs;
    ops.statfs = guard(async (req, ctx) => {
      const node = nodeOf(req.ino);
      const s = await holding(ctx, [node], NONE, async () => statfs.call(fs, table.pathOf(node), new PathCtx(ctx)));
      if (s === null || typeof s !== 'object') throw new TypeError(`statfs returned ${s === null ? 'null' : typeof s}; expected an object`);
      return s satisfies StatfsReply;
    });
  }
  if (readOnly || fs.access) {
    ops.access = guard(async (req, ctx) => {
      const node = nodeOf(req.ino);
      // Like a read-only mount (fs/namei.c inode_permission): no writing to files, directories or links.
      const t = node.type;
      if (readOnly && (req.mask & W_OK) !== 0 && (t === S_IFREG || t === S_IFDIR || t === S_IFLNK)) throw new FuseError('EROFS');
      const access = fs.access;
      if (access) await holding(ctx, [node], NONE, async () => access.call(fs, table.pathOf(node), req.mask, new PathCtx(ctx)));
    });
  }

  if (readOnly || fs.setxattr) {
    ops.setxattr = guard(async (req, ctx) => {
      const setxattr = fs.setxattr;
      if (!setxattr) throw new FuseError(readOnly ? 'EROFS' : 'ENOTSUP');
      const node = nodeOf(req.ino);
      const name = names.decode(req.name);
      await holding(ctx, [node], NONE, async () => setxattr.call(fs, table.pathOf(node), name, req.value, req.flags, new PathCtx(ctx)));
    });
  }
  if (fs.getxattr) {
    const getxattr = fs.getxattr;
    ops.getxattr = guard(async (req, ctx) => {
      const node = nodeOf(req.ino);
      const name = names.decode(req.name);
      return holding(ctx, [node], NONE, async () => getxattr.call(fs, table.pathOf(node), name, new PathCtx(ctx)));
    });
  }
  if (fs.listxattr || fs.getxattr) {
    ops.listxattr = guard(async (req, ctx) => {
      const listxattr = fs.listxattr;
      if (!listxattr) return [];
      const node = nodeOf(req.ino);
      const list = await holding(ctx, [node], NONE, async () => listxattr.call(fs, table.pathOf(node), new PathCtx(ctx)));
      if (!Array.isArray(list)) throw new TypeError('listxattr must return an array of names');
      return list.map((n: string) => names.encode(n));
    });
  }
  if (readOnly || fs.removexattr) {
    ops.removexattr = guard(async (req, ctx) => {
      const removexattr = fs.removexattr;
      if (!removexattr) throw new FuseError(readOnly ? 'EROFS' : 'ENOTSUP');
      const node = nodeOf(req.ino);
      const name = names.decode(req.name);
      await holding(ctx, [node], NONE, async () => removexattr.call(fs, table.pathOf(node), name, new PathCtx(ctx)));
    });
  }

  if (fs.getlk) {
    const getlk = fs.getlk;
    ops.getlk = guard(async (req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      const l = req.lock;
      const r = await getlk.call(fs, table.pathOf(h.node), h.fsFh, { type: l.type, start: l.start, end: l.end, pid: l.pid }, BigInt(req.lockOwner), new PathCtx(ctx));
      return { type: r.type, start: r.start, end: r.end, pid: r.pid } satisfies LockReply;
    });
  }
  if (fs.setlk || fs.flock) {
    ops.setlk = guard(async (req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      const path = table.pathOf(h.node);
      const l = req.lock;
      if (req.flock) {
        if (!fs.flock) throw new FuseError('ENOSYS');
        // fs/fuse/file.c fuse_file_flock sends flock(2) as a whole-file lock with FUSE_LK_FLOCK.
        let op = l.type === F_RDLCK ? LOCK_SH : l.type === F_WRLCK ? LOCK_EX : LOCK_UN;
        if (!req.sleep && op !== LOCK_UN) op |= LOCK_NB;
        await fs.flock(path, h.fsFh, op, BigInt(req.lockOwner), new PathCtx(ctx));
        return;
      }
      if (!fs.setlk) throw new FuseError('ENOSYS');
      await fs.setlk(path, h.fsFh, { type: l.type, start: l.start, end: l.end, pid: l.pid }, BigInt(req.lockOwner), req.sleep, new PathCtx(ctx));
    });
  }
  if (fs.ioctl) {
    const ioctl = fs.ioctl;
    ops.ioctl = guard(async (req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      const r = await ioctl.call(fs, table.pathOf(h.node), req.cmd, BigInt(req.arg), h.fsFh, req.flags, req.inData, req.outSize, new PathCtx(ctx));
      return r satisfies IoctlReply;
    });
  }
  if (fs.poll) {
    const poll = fs.poll;
    ops.poll = guard(async (req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      const kh = req.kh;
      const wakeup = (req.flags & PollFlags.SCHEDULE_NOTIFY) !== 0 ? () => live().pollWakeup(kh) : undefined;
      return poll.call(fs, table.pathOf(h.node), h.fsFh, req.events, wakeup, new PathCtx(ctx));
    });
  }
  if (readOnly || fs.fallocate) {
    ops.fallocate = guard(async (req, ctx) => {
      if (!fs.fallocate) throw new FuseError(readOnly ? 'EROFS' : 'EOPNOTSUPP');
      const h = handleOf(req.fh, req.ino);
      await fs.fallocate(table.pathOf(h.node), req.mode, Number(req.offset), Number(req.length), h.fsFh, new PathCtx(ctx));
    });
  }
  if (fs.lseek) {
    const lseek = fs.lseek;
    ops.lseek = guard(async (req, ctx) => {
      const h = handleOf(req.fh, req.ino);
      return lseek.call(fs, table.pathOf(h.node), Number(req.offset), req.whence, h.fsFh, new PathCtx(ctx));
    });
  }
  if (fs.copyFileRange) {
    const copy = fs.copyFileRange;
    ops.copyFileRange = guard(async (req, ctx) => {
      const from = handleOf(req.fhIn, req.ino);
      const to = handleOf(req.fhOut, req.inoOut);
      return copy.call(
        fs,
        { path: table.pathOf(from.node), fh: from.fsFh, offset: Number(req.offIn) },
        { path: table.pathOf(to.node), fh: to.fsFh, offset: Number(req.offOut) },
        Number(req.len), Number(req.flags), new PathCtx(ctx),
      );
    });
  }
  return ops;
}

/** Invalidations of something the kernel does not cache answer ENOENT: that is success here. */
async function quietly(p: Promise<void>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (errnoOf(e) !== Errno.ENOENT) throw e;
  }
}

