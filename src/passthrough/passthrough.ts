/**
 * The passthrough filesystem: mirrors a directory (SOURCE), written only on the public low-level API,
 * in the manner of libfuse's passthrough_ll.
 *
 *  - Node ids are ours (src/passthrough/nodes.ts); the inode number users see is the backing st_ino.
 *  - Every request resolves one name below an O_PATH descriptor (`/proc/self/fd/N/name`, the name as
 *    bytes): no PATH_MAX limit, non-UTF-8 names round-trip, and no request reaches outside SOURCE — "." and
 *    ".." and names with '/' are refused, the last component is never followed (lstat, O_NOFOLLOW), and a
 *    rename's two directories are both nodes of ours.
 *  - File handles are real descriptors of the backing files (fh = the fd); directory handles hold a
 *    snapshot of the listing, taken at offset 0, so telldir/seekdir offsets stay valid; a directory
 *    unchanged since its last snapshot is not listed again (./listing.ts ListingCache).
 *  - Errors are the backing system calls' own (Node's SystemError carries the errno).
 *  - As root, what a caller creates is owned by the caller (chown after create, as passthrough_ll does
 *    with setfsuid); as an ordinary user, files are created as that user.
 *
 * Mount it with `default_permissions`: permission checks are left to the kernel, as in passthrough_ll
 * (the daemon, when root, could do anything asked of it).
 *
 * xattrs, fallocate, lseek (SEEK_DATA/SEEK_HOLE) and copy_file_range call libc through node:ffi on
 * Node >= 26 (./ffi-ops.ts). Without node:ffi they are left to the kernel's defaults: xattrs (→
 * EOPNOTSUPP), fallocate (→ EOPNOTSUPP; glibc's posix_fallocate then writes zeros), lseek (→ the
 * kernel's generic lseek: no holes reported), copy_file_range (→ the kernel copies by splice).
 *
 * Not implemented, each answered by the kernel's own default: locks (→ the kernel's local locks), access (→ the kernel's
 * default_permissions checks), flush (→ success: the daemon buffers nothing, and Node has no dup(2) to
 * emulate close(2) on the backing file).
 *
 * Kernel passthrough (Node >= 26, root, Linux >= 6.9; option `kernelPassthrough`): each open of a regular
 * file is answered with FOPEN_PASSTHROUGH and a backing id registered for the node's O_PATH descriptor
 * (src/session/backing.ts), so the kernel reads, writes and mmaps the backing file itself and no READ or
 * WRITE reaches the daemon; attributes still come from GETATTR, answered from the backing file as always
 * (the kernel updates the size after a passthrough write itself: fs/fuse/passthrough.c
 * fuse_passthrough_end_write). One backing id per node, shared by its opens and closed after the last
 * RELEASE: the kernel refuses (EIO to open(2)) a second backing file, or an open without passthrough,
 * for an inode that is open in passthrough (fs/fuse/iomode.c fuse_file_io_open).
 *
 * Node limits, documented where they bite: without node:ffi, times are set to the microsecond, or within
 * ~120 ns where libuv >= 1.52 keeps nanoseconds (attr.ts utimeArg), and an omitted time (UTIME_OMIT) is
 * re-set from its current value; RENAME_NOREPLACE is emulated and
 * RENAME_EXCHANGE refused with EINVAL (special.ts), d_ino of a plain READDIR costs an lstat per entry
 * (Node's readdir does not return it) unless getdents64 is reachable through node:ffi (./getdents.ts).
 */
import * as fs from 'node:fs';
import type { LowLevelOperations, RequestContext } from '../ops/lowlevel.ts';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_ISGID } from '../ops/file-mode.ts';
import type * as P from '../protocol/index.ts';
import { FuseError, TsfuseError } from '../errors.ts';
import { RenameFlags, INVALID_UIDGID, OpenFlags, OpenInFlags, WriteFlags } from '../protocol/constants.ts';
import { backingSupport, type BackingFiles } from '../session/backing.ts';
import { hasFlag } from '../protocol/negotiated.ts';
import { NodeTable, identityOf, keyOf, O_PATH, type ExportedNodes, type PassthroughNode } from './nodes.ts';
import type { HandoffExportContext, HandoffImportContext } from '../handoff/types.ts';
import { attrOf, direntType, timeToSet, u64 } from './attr.ts';
import { atCalls, openSameInode, AT_FDCWD, AT_REMOVEDIR, type StatResult } from './at-calls.ts';
import { makeSpecial, renameNoReplace } from './special.ts';
import { byDescriptor } from './by-descriptor.ts';
import { ffiOperations, ffiSetTimes } from './ffi-ops.ts';
import { BackingReader } from './reads.ts';
import { OpenFiles } from './open-files.ts';
import { dropSetIds } from './set-ids.ts';
import { ListingCache, takeListing, namedListing, exportListing, namesOnlyPage, type Listing, type ListingSource } from './listing.ts';
import type { RecoveryJournal } from '../handoff/supervisor-journal.ts';
import { HANDLE_DIR, HANDLE_FILE, forgotRecord, nodeRecord, openRecord, recordOfNode, releaseRecord, replayJournal, type JournaledHandle } from './recovery.ts';

const C = fs.constants;
/** Flags of OPEN/CREATE not passed on to the backing open: creation is CREATE's job, O_NOFOLLOW would
 * refuse the /proc magic link, and O_DIRECT would demand aligned buffers our reads do not have (the
 * kernel side of the mount still honours O_DIRECT). */
const OPEN_STRIP = C.O_CREAT | C.O_EXCL | C.O_NOCTTY | C.O_NOFOLLOW | C.O_DIRECT;
const DT_DIR = 4;
const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
/** sizeof(struct fuse_direntplus) (fuse_entry_out 128 + fuse_dirent 24). */
const DIRENTPLUS_SIZE = 152;
const align8 = (n: number): number => (n + 7) & ~7;
/** The largest WRITE made synchronously (see `write`); larger ones go through libuv's thread pool. */
const SYNC_WRITE_MAX = 64 * 1024;
/** Open flags whose writes wait for the disk (O_SYNC includes O_DSYNC's bit). */
const SYNCED_WRITES = C.O_DSYNC | C.O_SYNC;
const BIG = { bigint: true } as const;
/**
 * Names-only READDIRPLUS entries a page carries at most (entryTimeout 0): the kernel asks for the rest
 * with READDIR, whose records are 6× smaller and cut from the packed snapshot (the path layer measured
 * the same trade: src/ops/path/layer.ts BARE_PAGE_LIMIT).
 */
const NAMES_ONLY_PAGE_LIMIT = 16;

export interface PassthroughOptions {
  /** Seconds the kernel may cache names. Absent: the mount's `entry_timeout`, else 1. */
  readonly entryTimeout?: number;
  /** Seconds the kernel may cache attributes. Absent: the mount's `attr_timeout`, else 1. */
  readonly attrTimeout?: number;
  /**
   * Give what a caller creates to the caller (uid, and gid unless the directory is setgid). Needs root.
   * Defaults to true when the daemon runs as root, else false.
   */
  readonly preserveOwnership?: boolean;
  /**
   * Implement READDIRPLUS (listings carry attributes; the kernel then chooses per directory). With
   * `entryTimeout` 0 its pages carry names only (node id 0: no lookup, no node), as the entries could not
   * be cached anyway. Defaults to true.
   */
  readonly readdirplus?: boolean;
  /**
   * Let the kernel read and write the backing files itself (FUSE passthrough; see the top of this file).
   * `'auto'`: when it can — Node >= 26 (node:ffi), root, a kernel that grants PASSTHROUGH, no
   * `writeback_cache` — else the daemon serves reads and writes, silently. `true`: always; creating the
   * filesystem fails without node:ffi (ERR_FUSE_NEEDS_FFI) or root (EPERM), mounting fails if the kernel
   * refuses PASSTHROUGH, and an open fails with the kernel's errno if its file cannot be passed through
   * (ELOOP: the backing file is on a stacked filesystem). `false`: never. Defaults to `'auto'`.
   */
  readonly kernelPassthrough?: 'auto' | boolean;
  /**
   * Keep the listing of a directory that has not changed since (same ctime, mtime, inode and size, and
   * last changed over 2 s before it was listed) and serve the next listing from it without reading the
   * directory again (./listing.ts ListingCache). Turn it off when SOURCE's timestamps cannot
   * be trusted to move on every change (a network filesystem caching attributes, a clock set back).
   * Defaults to true.
   */
  readonly cacheListings?: boolean;
  /**
   * Serve extended attributes (getxattr, setxattr, listxattr, removexattr; Node >= 26). `false` leaves
   * them unimplemented, as libfuse's passthrough_ll does without `-o xattr`: users get EOPNOTSUPP. Before
   * a write(2) the kernel looks for `security.capability` (file_remove_privs); with xattrs that is a
   * GETXATTR once per file, after which the kernel marks the inode as having nothing to remove
   * (HANDLE_KILLPRIV_V2, ./set-ids.ts; before it, once per write(2), which made 1 MiB sequential writes
   * 0.69× native: bench/RESULTS.md); without them the kernel stops asking after the first ENOSYS.
   * Capabilities on SOURCE's files are removed on write either way: by the backing filesystem, whose
   * write path checks them itself. Defaults to true.
   */
  readonly xattrs?: boolean;
}

/** The passthrough's operations, plus `close()` to release every backing descriptor. */
export type PassthroughOperations = LowLevelOperations & {
  /** Closes every descriptor; idempotent. The mount must be gone (or going) by then. */
  close(): void;
  /** Nodes the kernel holds (root included); for tests and leak checks. */
  readonly nodeCount: number;
  /** Open file and directory handles; for tests and leak checks. */
  readonly handleCount: number;
  /** Planned handoff (src/handoff/types.ts): node ids, lookup counts, handles and their descriptors. */
  exportState(ctx: HandoffExportContext): unknown;
  importState(state: unknown, ctx: HandoffImportContext): void;
  /**
   * Crash recovery (src/handoff/supervisor-journal.ts RecoveryHooks): node ids and handles are
   * journaled (./recovery.ts); a daemon restarted after a crash resolves those the kernel still holds.
   */
  attachRecoveryJournal(journal: RecoveryJournal, recovered: readonly Buffer[] | undefined): void;
};

/** What the passthrough hands over in a planned handoff (descriptors as handoff tokens, nodes by id). */
interface ExportedPassthrough {
  readonly version: 1;
  readonly nodes: ExportedNodes;
  /** [fh, descriptor token, node id, passthrough]. */
  readonly files: readonly (readonly [number, number, number, boolean])[];
  /** [fh, node id, listing snapshot as [name, type]]. */
  readonly dirs: readonly (readonly [number, number, readonly (readonly [Buffer, number])[] | undefined])[];
  readonly nextDirHandle: number;
  /** [node id, backing id, passthrough opens, daemon opens]. */
  readonly opens: readonly (readonly [number, number, number, number])[];
}

/** `passthrough`: opened with FOPEN_PASSTHROUGH, holding a reference on the node's backing id. */
interface FileHandle { readonly fd: number; readonly node: PassthroughNode; readonly passthrough: boolean }
/** A node's kernel-passthrough state: its backing id while open in passthrough, and its opens of each kind. */
interface NodeOpens { backingId: number; passthrough: number; daemon: number }
/** A directory handle: its listing, taken at offset 0 (./listing.ts). */
interface DirHandle { readonly node: PassthroughNode; listing: Listing | undefined }

/**
 * File handles: `fd + 2^24 × (flags + 2^21 × generation)`, exact as a Number. The descriptor makes a
 * handle unique in this process; the open flags that matter for I/O let a process that never saw the
 * open (a successor after a handoff or a crash, which holds other descriptor numbers) open the file
 * again as it was opened; the generation steps past a handle number still held from a predecessor.
 */
const FH_FD_LIMIT = 2 ** 24;
const FH_FLAG_BITS = 2 ** 21;
/** The flags kept in a handle (all below 2^21): access mode, O_APPEND, O_DSYNC, O_SYNC, O_NOATIME. */
const FH_FLAGS = 0o3 | C.O_APPEND | C.O_DSYNC | C.O_SYNC | (C.O_NOATIME ?? 0o1000000);

function fileHandleOf(fd: number, flags: number, taken: ReadonlyMap<number, unknown>): number {
  if (fd >= FH_FD_LIMIT) throw new FuseError('EMFILE', `descriptor ${fd} is beyond what a file handle can carry`);
  for (let generation = 0; generation < 256; generation++) {
    const fh = fd + FH_FD_LIMIT * ((flags & FH_FLAGS) + FH_FLAG_BITS * generation);
    if (!taken.has(fh)) return fh;
  }
  throw new FuseError('EMFILE', 'no free file handle number');
}

/** The open flags a file handle carries (see {@link fileHandleOf}). */
export function fileHandleFlags(fh: number): number {
  return Math.floor(fh / FH_FD_LIMIT) % FH_FLAG_BITS;
}

/**
 * WRITE's data into the open file `fd`. Small writes land in the page cache: written here,
 * synchronously, as reads are (./reads.ts). A trip through libuv's thread pool cost ~20 µs of CPU per
 * 4 KiB write against ~1.4 µs for the write itself (Node 20 and 26, tmpfs). Large writes, and files
 * opened O_SYNC/O_DSYNC (each write waits for the disk), stay off the event loop.
 */
function writeAt(fd: number, req: P.WriteRequest): number | Promise<number> {
  if (req.data.byteLength <= SYNC_WRITE_MAX && (fileHandleFlags(req.fh as number) & SYNCED_WRITES) === 0) {
    return fs.writeSync(fd, req.data, 0, req.data.byteLength, req.offset as number);
  }
  return new Promise<number>((resolve, reject) => {
    fs.write(fd, req.data, 0, req.data.byteLength, req.offset as number, (err, n) => {
      if (err) reject(err);
      else resolve(n);
    });
  });
}

/**
 * "." and "..", and names with '/' or NUL: refused in every request (the kernel never sends them; a
 * crafted frame could). A NUL would cut the name short in the C calls of ./at-calls.ts.
 */
function checkName(name: Buffer): void {
  if (name.byteLength === 0 || name.includes(0x2f) || name.includes(0) || name.equals(DOT) || name.equals(DOTDOT)) {
    throw new FuseError('EINVAL', `refused name ${JSON.stringify(name.toString())}`);
  }
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

const ENOENT = 2;
/**
 * The error of a failed call of ./at-calls.ts (minus the errno). ENOENT is one shared, frozen error: a
 * LOOKUP of a missing name precedes every create, and an Error per answer (with its stack trace) cost
 * more than the statx.
 */
const NO_ENTRY = Object.freeze(new FuseError('ENOENT'));
function errnoError(negativeErrno: number): FuseError {
  return negativeErrno === -ENOENT ? NO_ENTRY : new FuseError(-negativeErrno);
}

/** A BigIntStats as ./at-calls.ts gives a stat (without node:ffi); each field made when asked for. */
class NodeStat implements StatResult {
  readonly #st: fs.BigIntStats;
  constructor(st: fs.BigIntStats) { this.#st = st; }
  get key(): string { return keyOf(this.#st); }
  get dev(): P.U64 { return u64(this.#st.dev); }
  get ino(): P.U64 { return u64(this.#st.ino); }
  get mode(): number { return Number(this.#st.mode); }
  get uid(): number { return Number(this.#st.uid); }
  get gid(): number { return Number(this.#st.gid); }
  get attr(): P.Attr { return attrOf(this.#st); }
}

/**
 * A passthrough of `source` (a directory). Mount the result with `mount(mountpoint, ops,
 * { options: 'default_permissions' })`, and call `close()` after unmounting.
 */
export function createPassthrough(source: string, options: PassthroughOptions = {}): PassthroughOperations {
  const nodes = new NodeTable(source);
  // Mirrored into the handle table that lets clone-queue workers answer READ/WRITE (./worker-reads.ts),
  // and indexed by node (./open-files.ts).
  const files = new OpenFiles<PassthroughNode, FileHandle>();
  const reader = new BackingReader();
  const dirs = new Map<number, DirHandle>();
  let nextDirHandle = 1;
  let closed = false;
  const preserveOwnership = options.preserveOwnership ?? process.geteuid?.() === 0;
  const { entryTimeout, attrTimeout } = options;
  const kernelPassthrough = options.kernelPassthrough ?? 'auto';
  if (kernelPassthrough === true) {
    const missing = backingSupport();
    if (missing !== undefined) throw new TsfuseError('ERR_FUSE_NEEDS_FFI', `kernelPassthrough: true: ${missing}. Use 'auto' to fall back to serving reads and writes.`);
    if (process.geteuid?.() !== 0) throw new FuseError('EPERM', "kernelPassthrough: true needs root: registering backing files needs CAP_SYS_ADMIN. Use 'auto' to fall back to serving reads and writes.");
  }
  /** Whether INIT should ask for PASSTHROUGH: what can be known before mounting. */
  const wantPassthrough = kernelPassthrough === true ||
    (kernelPassthrough === 'auto' && process.geteuid?.() === 0 && backingSupport() === undefined);
  /** The session's backing files, from ready(). */
  let backing: BackingFiles | undefined;
  /** Whether new opens are passed through: set by ready(), cleared in 'auto' mode when registering proves impossible. */
  let passthroughOn = false;
  /** Nodes opened while kernel passthrough was on. */
  const opens = new Map<PassthroughNode, NodeOpens>();
  /** The crash-recovery journal while the mount is supervised (./recovery.ts); else undefined. */
  let journal: RecoveryJournal | undefined;

  const nodeOf = (id: P.U64): PassthroughNode => {
    const node = nodes.get(id);
    if (node === undefined) throw new FuseError('ESTALE', `unknown node ${String(id)}`);
    return node;
  };
  const dirOf = (id: P.U64): PassthroughNode => {
    const node = nodeOf(id);
    if (node.type !== S_IFDIR) throw new FuseError('ENOTDIR');
    return node;
  };
  const at = (dir: PassthroughNode, name: Buffer): Buffer => Buffer.concat([dir.prefix, name]);
  const fileOf = (fh: P.U64): FileHandle => {
    const h = typeof fh === 'number' ? files.get(fh) : undefined;
    if (h === undefined) throw new FuseError('EBADF');
    return h;
  };
  /** The descriptor of an open file of `node` (GETATTR/SETATTR with FATTR_FH), or undefined. */
  const handleFd = (fh: P.U64 | undefined, node: PassthroughNode): number | undefined => {
    const h = typeof fh === 'number' ? files.get(fh) : undefined;
    return h !== undefined && h.node === node ? h.fd : undefined;
  };
  // Replies built without spreading: they are made for every LOOKUP and GETATTR.
  const entry = (node: PassthroughNode, attr: P.Attr): P.EntryReply => {
    if (entryTimeout === undefined) return attrTimeout === undefined ? { ino: node.id, attr } : { ino: node.id, attr, attrTimeout };
    return attrTimeout === undefined ? { ino: node.id, attr, entryTimeout } : { ino: node.id, attr, entryTimeout, attrTimeout };
  };
  const attrReply = (attr: P.Attr): P.AttrReply => (attrTimeout === undefined ? { attr } : { attr, attrTimeout });
  /** System calls relative to a node's descriptor, through node:ffi (Node >= 26); else undefined (./at-calls.ts). */
  const atc = atCalls();
  /** The inode `fd` holds (any descriptor, O_PATH too). */
  const statFd = (fd: number): StatResult => {
    if (atc === undefined) return new NodeStat(fs.fstatSync(fd, BIG));
    const st = atc.statFd(fd);
    if (typeof st === 'number') throw errnoError(st);
    return st;
  };
  /** `name` in `dir`, a last symlink not followed; undefined when there is no such name. */
  const statAt = (dir: PassthroughNode, name: Buffer): StatResult | undefined => {
    if (atc === undefined) {
      const st = fs.lstatSync(at(dir, name), { bigint: true, throwIfNoEntry: false });
      return st === undefined ? undefined : new NodeStat(st);
    }
    const st = atc.statAt(dir.fd, name);
    if (typeof st !== 'number') return st;
    if (st === -ENOENT) return undefined;
    throw errnoError(st);
  };
  /** `name` in `dir` opened with `flags` (O_PATH, or O_CREAT with `mode`): the descriptor. */
  const openAt = (dir: PassthroughNode, name: Buffer, flags: number, mode = 0): number => {
    if (atc === undefined) return fs.openSync(at(dir, name), flags, mode);
    const fd = atc.openAt(dir.fd, name, flags, mode);
    if (fd < 0) throw errnoError(fd);
    return fd;
  };
  /** An O_PATH descriptor of the inode the open file `fd` holds (its magic link, followed to the inode). */
  const reopenPath = (fd: number): number => {
    if (atc === undefined) return fs.openSync(`/proc/self/fd/${fd}`, O_PATH);
    const r = atc.openAt(AT_FDCWD, Buffer.from(`/proc/self/fd/${fd}`), O_PATH, 0);
    if (r < 0) throw errnoError(r);
    return r;
  };
  /**
   * An O_PATH descriptor of the file CREATE just opened as `fd` under `name` in `dir`, and its stat when
   * known. By name, checked against `fd`'s identity: procfs's entry for a just-opened descriptor is new,
   * or stale since the number's previous file closed (fs/proc/fd.c tid_fd_revalidate), so reopening its
   * magic link first allocates a dentry and an inode there (proc_lookupfd): 10–20 µs per create measured,
   * against ~2 µs for a name in the directory just searched. The magic link when the name no longer
   * names that file (replaced or removed in SOURCE meanwhile).
   */
  const createdPath = (dir: PassthroughNode, name: Buffer, fd: number): [number, StatResult | undefined] => {
    const same = atc === undefined ? undefined : openSameInode(atc, dir.fd, name, fd);
    return same === undefined ? [reopenPath(fd), undefined] : [same.fd, same.st];
  };
  /**
   * Runs `use` with a name of `node`, for the calls Node only offers by path (readlink, link) when
   * node:ffi is missing (./by-descriptor.ts). Any name the node was seen under may be gone or name
   * another inode by now (another client unlinked or replaced it; the daemon's own record may only
   * say where the node was last looked up): each is checked, newest first, and dropped if stale. When
   * none is left, the directories they were in are searched for the inode (a rename made in SOURCE
   * directly). ENOENT when the inode has no name there: as for link(2) of an unlinked file.
   */
  const byName = <T>(node: PassthroughNode, use: (path: Buffer) => T): T => {
    if (node === nodes.root) throw new FuseError('ENOENT');
    const dirs = new Set<PassthroughNode>();
    for (const { parent, name } of nodes.namesOf(node)) {
      if (parent.fd >= 0) {
        const path = at(parent, name);
        const st = fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
        if (st !== undefined && keyOf(st) === node.key) return use(path);
        dirs.add(parent);
      }
      nodes.unnamed(node, parent, name);
    }
    for (const dir of dirs) {
      for (const d of fs.readdirSync(dir.self, { withFileTypes: true, encoding: 'buffer' })) {
        if (d.isDirectory()) continue;
        const path = at(dir, d.name);
        const st = fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
        if (st === undefined || keyOf(st) !== node.key) continue;
        nodes.rename(node, dir, d.name);
        return use(path);
      }
    }
    throw new FuseError('ENOENT', 'no name of this inode is known');
  };
  /** After a by-name call: the name must still be this node's inode. */
  const sameInode = (path: Buffer, node: PassthroughNode): fs.BigIntStats => {
    const st = fs.lstatSync(path, BIG);
    if (keyOf(st) !== node.key) throw new FuseError('ENOENT', 'the name now names another file');
    return st;
  };

  /**
   * One lookup of `name` in `parent`, counted. A node the table holds needs one statx by name; a new one
   * needs its O_PATH descriptor, and the inode's identity from that descriptor (the name may be replaced
   * between a stat and an open). So where `parent`'s recent lookups found new inodes, the name is opened
   * first (openat, statx of the descriptor: two calls, and a close when the inode is known after all);
   * elsewhere it is stat'ed first (one call for a known node, three for a new one). In-process (FakeKernel,
   * tmpfs, Node 26): a new file's LOOKUP 9.1 → 6.6 µs opened first; a known directory's 4.8 → 8.5 µs.
   */
  const lookupEntry = (parent: PassthroughNode, name: Buffer): P.EntryReply => {
    let fd = -1;
    let st: StatResult | undefined;
    if (parent.opensFirst) {
      try {
        fd = openAt(parent, name, O_PATH | C.O_NOFOLLOW);
      } catch (e) {
        const code = errCode(e);
        if (code === 'ENOENT') throw NO_ENTRY;
        // Out of descriptors: a known node can still be found by name.
        if (code !== 'EMFILE' && code !== 'ENFILE') throw e;
      }
    }
    if (fd < 0) {
      st = statAt(parent, name);
      if (st === undefined) throw NO_ENTRY;
      const known = nodes.find(st);
      if (known !== undefined) {
        parent.countLookup(false);
        return entry(nodes.adoptKnown(known, parent, name), st.attr);
      }
      fd = openAt(parent, name, O_PATH | C.O_NOFOLLOW);
    }
    try {
      st = statFd(fd);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    // adopt keeps `fd` for a new node, and closes it when the inode was a node already.
    const node = nodes.adopt(fd, st, parent, name);
    parent.countLookup(node.fd === fd);
    return entry(node, st.attr);
  };

  /**
   * The end of every create-like request: the new inode (`parent`/`name`, or the open descriptor `openFd`
   * of a file CREATE made) gets the caller as owner when `owner` (as root) and exactly the permission bits
   * in `mode` when given (our own umask, and a chown's clearing of setuid/setgid, undone). Then it becomes
   * a node with one lookup.
   */
  const finishCreate = (parent: PassthroughNode, name: Buffer, mode: number | undefined, owner: RequestContext | undefined, openFd?: number): P.EntryReply => {
    // By name, the last component is not followed; the file CREATE opened is the one checked for.
    const [fd, known] = openFd === undefined ? [openAt(parent, name, O_PATH | C.O_NOFOLLOW), undefined] : createdPath(parent, name, openFd);
    try {
      const self = `/proc/self/fd/${fd}`;
      let st = known ?? statFd(fd);
      let changed = false;
      if (owner !== undefined && preserveOwnership && owner.uid !== INVALID_UIDGID && owner.gid !== INVALID_UIDGID) {
        // Only a caller other than the daemon's own user can need a chown.
        const parentSetgid = st.uid !== owner.uid || st.gid !== owner.gid ? (statFd(parent.fd).mode & S_ISGID) !== 0 : false;
        const gid = parentSetgid ? st.gid : owner.gid;
        if (st.uid !== owner.uid || st.gid !== gid) {
          // Through the file CREATE opened, else the magic link: either changes this inode, even when it is
          // a symlink, and follows nothing else (the open file spares a first walk of the new descriptor's
          // procfs entry: see createdPath).
          if (openFd !== undefined) fs.fchownSync(openFd, owner.uid, gid);
          else fs.chownSync(self, owner.uid, gid);
          st = statFd(fd);
          changed = true;
        }
      }
      if (mode !== undefined) {
        const have = st.mode & 0o7777;
        // A directory made in a setgid directory inherits S_ISGID: keep it.
        const want = (mode & 0o7777) | ((st.mode & S_IFMT) === S_IFDIR ? have & S_ISGID : 0);
        if (have !== want) {
          if (openFd !== undefined) fs.fchmodSync(openFd, want);
          else fs.chmodSync(self, want);
          changed = true;
        }
      }
      if (changed) st = statFd(fd);
      return entry(nodes.adopt(fd, st, parent, name), st.attr);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  };

  /** Snapshots of directories unchanged since they were listed (./listing.ts). */
  const listings = options.cacheListings === false ? undefined : new ListingCache();
  /**
   * Where a directory's listing comes from (./listing.ts): "." and ".." by stat, other entries' inode
   * numbers by lstat when Node's readdir is the lister (it drops d_ino); getdents64 gives them itself.
   */
  const listingSource = (node: PassthroughNode): ListingSource => ({
    path: node.self,
    inoOf: (i, name) => {
      if (i < 2) return dotIno(node, name);
      const st = fs.lstatSync(at(node, name), { throwIfNoEntry: false });
      if (st === undefined) return undefined;
      return st.ino > Number.MAX_SAFE_INTEGER ? u64(fs.lstatSync(at(node, name), BIG).ino) : st.ino;
    },
    readdir: () => fs.readdirSync(node.self, { withFileTypes: true, encoding: 'buffer' }).map((d) => ({ name: d.name, type: direntType(d) })),
  });
  const dirHandle = (fh: P.U64, offset: P.U64): { h: DirHandle; listing: Listing; start: number } => {
    const h = typeof fh === 'number' ? dirs.get(fh) : undefined;
    if (h === undefined) throw new FuseError('EBADF');
    // Offset 0 is a fresh start (opendir or rewinddir): POSIX wants entries added since to show up.
    if (offset === 0 || h.listing === undefined) h.listing = listings === undefined ? takeListing(listingSource(h.node)) : listings.take(h.node.key, listingSource(h.node));
    return { h, listing: h.listing, start: Number(offset) };
  };
  /** st_ino of "." and ".." (".." of SOURCE is SOURCE itself: nothing above it is shown). */
  const dotIno = (node: PassthroughNode, name: Buffer): P.U64 => {
    const path = name.equals(DOT) || node === nodes.root ? node.self : Buffer.concat([node.prefix, DOTDOT]);
    return u64(fs.statSync(path, BIG).ino);
  };

  /** Registers `node`'s O_PATH descriptor as its backing file: the id, or 0 to serve this open from the daemon. */
  const registerBacking = (node: PassthroughNode): number => {
    try {
      return backing!.backingOpen(node.fd);
    } catch (e) {
      if (kernelPassthrough === true) throw e;
      // EPERM (no CAP_SYS_ADMIN) and a missing node:ffi hold for every file: stop trying. Others
      // (ELOOP: a stacked backing filesystem) are this file's.
      const code = errCode(e);
      if (code === 'EPERM' || code === 'ERR_FUSE_NEEDS_FFI' || code === 'ERR_INVALID_STATE') passthroughOn = false;
      return 0;
    }
  };

  /**
   * Records the open file `fd` of `node` and answers the open: with FOPEN_PASSTHROUGH and the node's
   * backing id (registered at the node's first such open) while kernel passthrough is on and the node is
   * not open without it, else plain. Throws only with `kernelPassthrough: true`, when the file cannot be
   * passed through.
   */
  const opened = (fd: number, node: PassthroughNode, flags: number): P.OpenReply => {
    const fh = fileHandleOf(fd, flags, files);
    let o = opens.get(node);
    if (o === undefined) {
      if (!passthroughOn) {
        files.set(fh, { fd, node, passthrough: false });
        return { fh };
      }
      o = { backingId: 0, passthrough: 0, daemon: 0 };
      opens.set(node, o);
    }
    if (o.backingId === 0 && o.daemon === 0 && passthroughOn) {
      try {
        o.backingId = registerBacking(node);
      } catch (e) {
        if (o.passthrough === 0 && o.daemon === 0) opens.delete(node);
        throw e;
      }
    }
    if (o.backingId !== 0) {
      o.passthrough++;
      files.set(fh, { fd, node, passthrough: true });
      return { fh, flags: OpenFlags.PASSTHROUGH, backingId: o.backingId };
    }
    o.daemon++;
    files.set(fh, { fd, node, passthrough: false });
    return { fh };
  };

  /** The end of an open file: the node's backing id goes with its last passthrough open. */
  const released = (h: FileHandle): void => {
    const o = opens.get(h.node);
    if (o === undefined) return;
    if (!h.passthrough) o.daemon--;
    else if (--o.passthrough === 0) {
      const id = o.backingId;
      o.backingId = 0;
      // The kernel released its file before sending RELEASE (fs/fuse/file.c fuse_file_release), and an
      // OPEN that named the id has been answered: nothing can still look the id up.
      try { backing?.backingClose(id); } catch { /* the session is closing: the kernel frees every id */ }
    }
    if (o.passthrough === 0 && o.daemon === 0) opens.delete(h.node);
  };

  /** Everything live, as journal records: what a compacted journal holds. */
  function* journalSnapshot(): Generator<Buffer> {
    for (const n of nodes.exportNodes(() => -1).nodes) {
      if (n.id !== 1 && n.parent !== undefined && n.name !== undefined) yield nodeRecord(n.id, n.parent, n.key, n.name);
    }
    for (const j of nodes.journaledNodes()) yield nodeRecord(j.id, j.parent, j.key, j.name);
    // A handle whose file could not be opened again after a crash (fd -1) is recorded with node 0.
    for (const [fh, h] of files) yield openRecord(HANDLE_FILE, fh, h.fd < 0 ? 0 : h.node.id, h.passthrough ? opens.get(h.node)?.backingId ?? 0 : 0);
    for (const [fh, h] of dirs) yield openRecord(HANDLE_DIR, fh, h.node.id, 0);
  }
  const journalAppend = (record: Buffer): void => {
    if (journal === undefined) return;
    journal.append(record);
    if (journal.wantsCompaction) journal.rewrite(journalSnapshot());
  };
  /** Journals a file handle before the OPEN/CREATE reply that hands it out. */
  const journalOpened = (reply: P.OpenReply, nodeId: number): P.OpenReply => {
    if (journal !== undefined) journalAppend(openRecord(HANDLE_FILE, reply.fh as number, nodeId, reply.backingId ?? 0));
    return reply;
  };
  /**
   * A handle a crashed daemon handed out: opened again from its node (resolved from the journal) with the
   * flags the handle carries; one that cannot be (its file was unlinked or moved in SOURCE while no
   * daemon ran) stays reserved, answering EBADF, so that no new handle takes its number.
   */
  const recoverHandle = (h: JournaledHandle): void => {
    const node = h.node === 0 ? undefined : nodes.get(h.node);
    if (h.kind === HANDLE_DIR) {
      if (node?.type === S_IFDIR) dirs.set(h.fh, { node, listing: undefined });
      nextDirHandle = Math.max(nextDirHandle, h.fh + 1);
      return;
    }
    let fd = -1;
    if (node?.type === S_IFREG) {
      try { fd = fs.openSync(node.self, fileHandleFlags(h.fh)); } catch { /* lost */ }
    }
    if (fd < 0 || node === undefined) {
      files.set(h.fh, { fd: -1, node: nodes.root, passthrough: false });
      return;
    }
    files.set(h.fh, { fd, node, passthrough: h.backingId !== 0 });
    // The kernel's backing ids outlive the daemon (they are the connection's): keep counting their opens.
    const o = opens.get(node) ?? { backingId: 0, passthrough: 0, daemon: 0 };
    if (h.backingId !== 0) { o.backingId = h.backingId; o.passthrough++; } else o.daemon++;
    opens.set(node, o);
  };
  /**
   * Whether a request the kernel resent after a crash (RESEND) failed with `code` only because the dead
   * daemon had carried it out before dying unanswered: a create finding its name taken (EEXIST), an
   * unlink or rename finding its name gone (ENOENT). Taken as done. (Another process making or removing
   * that very name during the crash would look the same.)
   */
  const resentAndDone = (e: unknown, ctx: RequestContext, code: string): boolean => ctx.resend && errCode(e) === code;
  /** Looks `name` up again without counting it, so that the journal has the node's name (a resent rename). */
  const relearn = (parent: PassthroughNode, name: Buffer): void => {
    try {
      const e = lookupEntry(parent, name);
      nodes.forget(e.ino, 1);
    } catch { /* gone again: nothing to learn */ }
  };

  const ops: PassthroughOperations = {
    get nodeCount() { return nodes.size; },
    get handleCount() { return files.size + dirs.size; },
    workerIo: files.table,

    close() {
      if (closed) return;
      closed = true;
      for (const h of files.values()) {
        try { fs.closeSync(h.fd); } catch { /* already closed */ }
      }
      files.clear();
      // No backingClose: after unmount the device descriptor is gone, and the kernel freed every id with the connection.
      opens.clear();
      dirs.clear();
      nodes.clear();
    },

    destroy() { ops.close(); },

    // Planned handoff (src/handoff): every descriptor travels (the successor opens the same inodes and
    // files again, with the same flags), and with them the node ids, lookup counts and handles.
    exportState(ctx) {
      const pass = (fd: number): number => ctx.passFd(fd);
      const state: ExportedPassthrough = {
        version: 1,
        nodes: nodes.exportNodes(pass),
        files: [...files].map(([fh, h]) => [fh, pass(h.fd), h.node.id, h.passthrough] as const),
        dirs: [...dirs].map(([fh, h]) => [fh, h.node.id, h.listing === undefined ? undefined : exportListing(h.listing)] as const),
        nextDirHandle,
        // Backing ids belong to the connection, which stays: the successor closes them as the files close.
        opens: [...opens].map(([node, o]) => [node.id, o.backingId, o.passthrough, o.daemon] as const),
      };
      return state;
    },

    importState(data, ctx) {
      const state = data as ExportedPassthrough;
      if (state?.version !== 1) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `not a passthrough state this version can import (version ${String(state?.version)})`);
      nodes.importNodes(state.nodes, (token) => ctx.fd(token));
      const node = (id: number): PassthroughNode => {
        const n = nodes.get(id);
        if (n === undefined) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `the passthrough state names node ${id} but does not hold it`);
        return n;
      };
      for (const [fh, token, id, passthrough] of state.files) files.set(fh, { fd: ctx.fd(token), node: node(id), passthrough });
      for (const [fh, id, entries] of state.dirs) {
        const dir = node(id);
        dirs.set(fh, { node: dir, listing: entries === undefined ? undefined : namedListing(entries, listingSource(dir)) });
      }
      nextDirHandle = state.nextDirHandle;
      for (const [id, backingId, passthrough, daemon] of state.opens) opens.set(node(id), { backingId, passthrough, daemon });
    },

    attachRecoveryJournal(j, recovered) {
      journal = j;
      nodes.observer = {
        named: (node) => {
          const r = recordOfNode(node);
          if (r !== undefined) journalAppend(r);
        },
        dropped: (node) => j.appendLazy(forgotRecord(node.id)),
      };
      if (recovered === undefined) return;
      const replay = replayJournal(recovered);
      nodes.recover(replay.nodes.values());
      for (const h of replay.handles.values()) recoverHandle(h);
      j.rewrite(journalSnapshot());
    },

    init({ wants: asked }) {
      // The daemon removes set-id bits itself (./set-ids.ts): in return no write(2) waits for a GETXATTR.
      // OPEN truncates with the backing open's own O_TRUNC: no SETATTR round trip after an open(O_TRUNC).
      const wants = { ...asked, want: [...(asked.want ?? []), 'HANDLE_KILLPRIV_V2' as const, 'ATOMIC_O_TRUNC' as const] };
      if (!wantPassthrough) return wants;
      if (wants.want?.includes('WRITEBACK_CACHE') || wants.require?.includes('WRITEBACK_CACHE')) {
        if (kernelPassthrough === 'auto') return wants;
        throw new TsfuseError('ERR_FUSE_INVALID_OPTION', 'kernelPassthrough: true cannot be combined with writeback_cache: ' +
          'the kernel passes nothing through on a mount with WRITEBACK_CACHE (fs/fuse/inode.c process_init_reply)');
      }
      return kernelPassthrough === true
        ? { ...wants, require: [...(wants.require ?? []), 'PASSTHROUGH'] }
        : { ...wants, want: [...(wants.want ?? []), 'PASSTHROUGH'] };
    },

    ready(info) {
      backing = info.backing;
      // With `true`, INIT required PASSTHROUGH: an unavailable backing then fails each open with its reason.
      passthroughOn = wantPassthrough && backing !== undefined && hasFlag(info.negotiated, 'PASSTHROUGH') &&
        (kernelPassthrough === true || backing.unavailable === undefined);
    },

    lookup(req) {
      const parent = dirOf(req.parent);
      checkName(req.name);
      return lookupEntry(parent, req.name);
    },

    forget(req) {
      for (const item of req.items) nodes.forget(item.ino, item.nlookup);
    },

    getattr(req) {
      const node = nodeOf(req.ino);
      return attrReply(statFd(handleFd(req.fh, node) ?? node.fd).attr);
    },

    setattr(req, ctx) {
      const node = nodeOf(req.ino);
      const fd = handleFd(req.fh, node);
      // A chown is judged by the group the file had (fs/open.c chown_common).
      const before = req.killSuidgid && req.gid !== undefined ? statFd(fd ?? node.fd) : undefined;
      if (req.mode !== undefined) {
        if (fd !== undefined) fs.fchmodSync(fd, req.mode & 0o7777);
        else fs.chmodSync(node.self, req.mode & 0o7777);
      }
      if (req.uid !== undefined || req.gid !== undefined) {
        const uid = req.uid ?? -1;
        const gid = req.gid ?? -1;
        if (fd !== undefined) fs.fchownSync(fd, uid, gid);
        else fs.chownSync(node.self, uid, gid);
      }
      if (req.size !== undefined) {
        if (fd !== undefined) fs.ftruncateSync(fd, Number(req.size));
        else {
          // truncate(2) by path is refused for anything but regular files; reopening the inode through
          // its magic link would block on a FIFO, so check first.
          if (node.type === S_IFDIR) throw new FuseError('EISDIR');
          if (node.type !== S_IFREG) throw new FuseError('EINVAL');
          const wfd = fs.openSync(node.self, C.O_WRONLY);
          try { fs.ftruncateSync(wfd, Number(req.size)); } finally { fs.closeSync(wfd); }
        }
      }
      const exactTimes = ffiSetTimes(); // to the nanosecond, with a real UTIME_OMIT (./ffi-ops.ts); Node >= 26
      if (exactTimes !== undefined && (req.atime !== undefined || req.mtime !== undefined)) exactTimes(node.self, req.atime, req.mtime);
      else if (req.atime !== undefined || req.mtime !== undefined) {
        const cur = req.atime === undefined || req.mtime === undefined ? fs.fstatSync(fd ?? node.fd, BIG) : undefined;
        const a = timeToSet(req.atime, cur?.atimeNs ?? 0n);
        const m = timeToSet(req.mtime, cur?.mtimeNs ?? 0n);
        if (fd !== undefined) fs.futimesSync(fd, a, m);
        else fs.utimesSync(node.self, a, m); // the magic link: a symlink node's own times
      }
      const reply = (): P.AttrReply => attrReply(statFd(fd ?? node.fd).attr);
      // Truncation by a caller without CAP_FSETID, or a chown; or a SETATTR that sets nothing, which is how
      // a passed-through write(2) by such a caller asks (./set-ids.ts). Never with a mode: that is the caller's own.
      const drop = node.type === S_IFREG && req.mode === undefined && (req.killSuidgid || (req.valid === 0 && ctx.uid !== 0));
      const pending = drop ? dropSetIds(fd ?? node.fd, node.self, ctx, before) : undefined;
      return pending === undefined ? reply() : pending.then(reply);
    },

    readlink(req) {
      const node = nodeOf(req.ino);
      if (node.type !== S_IFLNK) throw new FuseError('EINVAL');
      const direct = byDescriptor();
      if (direct !== undefined) return direct.readlink(node.fd);
      return byName(node, (path) => {
        const target = fs.readlinkSync(path, { encoding: 'buffer' });
        sameInode(path, node);
        return target;
      });
    },

    symlink(req, ctx) {
      const parent = dirOf(req.parent);
      checkName(req.name);
      try {
        if (atc === undefined) fs.symlinkSync(req.target, at(parent, req.name));
        else {
          const r = atc.symlinkAt(req.target, parent.fd, req.name);
          if (r < 0) throw errnoError(r);
        }
      } catch (e) { if (!resentAndDone(e, ctx, 'EEXIST')) throw e; }
      return finishCreate(parent, req.name, undefined, ctx);
    },

    async mknod(req, ctx) {
      const parent = dirOf(req.parent);
      checkName(req.name);
      const type = req.mode & S_IFMT;
      if (type === S_IFREG || type === 0) {
        try {
          fs.closeSync(fs.openSync(at(parent, req.name), C.O_RDONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, req.mode & 0o7777));
        } catch (e) { if (!resentAndDone(e, ctx, 'EEXIST')) throw e; }
      } else {
        try { await makeSpecial(parent.fd, parent.prefix, req.name, req.mode, req.rdev); } catch (e) { if (!resentAndDone(e, ctx, 'EEXIST')) throw e; }
      }
      return finishCreate(parent, req.name, req.mode, ctx);
    },

    mkdir(req, ctx) {
      const parent = dirOf(req.parent);
      checkName(req.name);
      try {
        if (atc === undefined) fs.mkdirSync(at(parent, req.name), { mode: req.mode & 0o7777 });
        else {
          const r = atc.mkdirAt(parent.fd, req.name, req.mode & 0o7777);
          if (r < 0) throw errnoError(r);
        }
      } catch (e) { if (!resentAndDone(e, ctx, 'EEXIST')) throw e; }
      return finishCreate(parent, req.name, req.mode, ctx);
    },

    unlink(req, ctx) {
      const parent = dirOf(req.parent);
      checkName(req.name);
      // Forget the name now, so stale names do not crowd live ones out of the node's bounded list.
      const st = statAt(parent, req.name);
      try {
        if (atc === undefined) fs.unlinkSync(at(parent, req.name));
        else {
          const r = atc.unlinkAt(parent.fd, req.name, 0);
          if (r < 0) throw errnoError(r);
        }
      } catch (e) { if (resentAndDone(e, ctx, 'ENOENT')) return; throw e; }
      const gone = st === undefined ? undefined : nodes.find(st);
      if (st !== undefined && gone !== undefined) {
        nodes.unnamed(gone, parent, req.name);
        if (st.attr.nlink === 1) nodes.lastLinkRemoved(gone);
      }
    },

    rmdir(req, ctx) {
      const parent = dirOf(req.parent);
      checkName(req.name);
      try {
        if (atc === undefined) fs.rmdirSync(at(parent, req.name));
        else {
          const r = atc.unlinkAt(parent.fd, req.name, AT_REMOVEDIR);
          if (r < 0) throw errnoError(r);
        }
      } catch (e) { if (!resentAndDone(e, ctx, 'ENOENT')) throw e; }
    },

    rename(req, ctx) {
      const parent = dirOf(req.parent);
      const newParent = dirOf(req.newParent);
      checkName(req.name);
      checkName(req.newName);
      if ((req.flags & ~RenameFlags.NOREPLACE) !== 0) {
        throw new FuseError('EINVAL', 'RENAME_EXCHANGE and RENAME_WHITEOUT need renameat2, which Node does not offer');
      }
      const from = at(parent, req.name);
      const to = at(newParent, req.newName);
      let fromStat: fs.BigIntStats;
      try {
        fromStat = fs.lstatSync(from, BIG);
      } catch (e) {
        // Renamed by the crashed daemon, which may have died before journaling the new name.
        if (resentAndDone(e, ctx, 'ENOENT') && fs.lstatSync(to, { throwIfNoEntry: false }) !== undefined) return relearn(newParent, req.newName);
        throw e;
      }
      const moved = nodes.find(identityOf(fromStat));
      if (req.flags & RenameFlags.NOREPLACE) renameNoReplace(from, to);
      else fs.renameSync(from, to);
      if (moved !== undefined) {
        nodes.unnamed(moved, parent, req.name);
        nodes.rename(moved, newParent, req.newName);
      }
    },

    link(req) {
      const node = nodeOf(req.ino);
      const newParent = dirOf(req.newParent);
      checkName(req.newName);
      if (node.type === S_IFDIR) throw new FuseError('EPERM');
      const to = at(newParent, req.newName);
      // By the node's descriptor when node:ffi allows, else by a name it still has (the soak's ENOENT:
      // the one remembered name had been unlinked while the inode kept others).
      const direct = byDescriptor();
      if (direct !== undefined) direct.link(node.fd, to);
      else byName(node, (from) => fs.linkSync(from, to));
      let st: fs.BigIntStats;
      try {
        st = sameInode(to, node);
      } catch (e) {
        if (errCode(e) === 'ENOENT') fs.rmSync(to, { force: true });
        throw e;
      }
      return entry(nodes.adoptKnown(node, newParent, req.newName), attrOf(st));
    },

    open(req, ctx) {
      const node = nodeOf(req.ino);
      // The kernel opens only regular files here (fs/fuse/inode.c fuse_init_inode gives FIFOs and device
      // nodes to the VFS); reopening anything else through the magic link could block or misbehave.
      if (node.type === S_IFDIR) throw new FuseError('EISDIR');
      if (node.type === S_IFLNK) throw new FuseError('ELOOP');
      if (node.type !== S_IFREG) throw new FuseError('ENXIO');
      const fd = fs.openSync(node.self, req.flags & ~OPEN_STRIP);
      const answer = (): P.OpenReply => journalOpened(opened(fd, node, req.flags), node.id);
      const failed = (e: unknown): never => {
        fs.closeSync(fd);
        throw e;
      };
      try {
        // O_TRUNC by a caller without CAP_FSETID (./set-ids.ts).
        const pending = (req.openFlags & OpenInFlags.KILL_SUIDGID) !== 0 ? dropSetIds(fd, node.self, ctx) : undefined;
        return pending === undefined ? answer() : pending.then(answer).catch(failed);
      } catch (e) {
        return failed(e);
      }
    },

    create(req, ctx) {
      const parent = dirOf(req.parent);
      checkName(req.name);
      const flags = (req.flags & ~OPEN_STRIP) | C.O_CREAT | C.O_NOFOLLOW;
      let fd: number;
      let created = true;
      try {
        fd = openAt(parent, req.name, flags | C.O_EXCL, req.mode & 0o7777);
      } catch (e) {
        // Without O_EXCL an existing file is opened, and keeps its owner and mode.
        if (errCode(e) !== 'EEXIST' || ((req.flags & C.O_EXCL) !== 0 && !resentAndDone(e, ctx, 'EEXIST'))) throw e;
        fd = openAt(parent, req.name, flags & ~C.O_CREAT);
        created = false;
      }
      let e: P.EntryReply;
      try {
        e = created ? finishCreate(parent, req.name, req.mode, ctx, fd) : finishCreate(parent, req.name, undefined, undefined, fd);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      const answer = (): P.CreateReply => ({ entry: e, open: journalOpened(opened(fd, nodeOf(e.ino), req.flags), e.ino as number) });
      const failed = (err: unknown): never => {
        // An error reply carries no entry: the lookup finishCreate counted is not the kernel's to forget.
        nodes.forget(e.ino, 1);
        fs.closeSync(fd);
        throw err;
      };
      try {
        // An existing file truncated by a caller without CAP_FSETID (./set-ids.ts); a new one keeps the mode asked for.
        const pending = !created && (req.openFlags & OpenInFlags.KILL_SUIDGID) !== 0 ? dropSetIds(fd, nodeOf(e.ino).self, ctx) : undefined;
        return pending === undefined ? answer() : pending.then(answer).catch(failed);
      } catch (err) {
        return failed(err);
      }
    },

    read(req) {
      // src/passthrough/reads.ts: reused buffers, synchronous while the backing pages are cached.
      return reader.read(fileOf(req.fh).fd, req.size, req.offset);
    },

    write(req, ctx) {
      const { fd, node } = fileOf(req.fh);
      // A caller without CAP_FSETID: the set-id bits go before the data lands, as in fs/inode.c file_remove_privs (./set-ids.ts).
      if ((req.writeFlags & WriteFlags.KILL_SUIDGID) !== 0) {
        const pending = dropSetIds(fd, node.self, ctx);
        if (pending !== undefined) return pending.then(() => writeAt(fd, req));
      }
      return writeAt(fd, req);
    },

    release(req) {
      const h = fileOf(req.fh);
      files.delete(req.fh as number);
      // A passed-through handle's RELEASE is journaled before its backing id can close: lost, a restarted
      // daemon would count the handle open and answer the next OPEN of its file with that closed id, which
      // the kernel fails with EIO (fs/fuse/iomode.c fuse_file_io_open). Losing any other costs a stale entry.
      if (h.passthrough) journal?.append(releaseRecord(HANDLE_FILE, req.fh as number));
      else journal?.appendLazy(releaseRecord(HANDLE_FILE, req.fh as number));
      released(h);
      reader.forget(h.fd);
      fs.closeSync(h.fd);
    },

    fsync(req) {
      const { fd } = fileOf(req.fh);
      return new Promise<void>((resolve, reject) => {
        (req.datasync ? fs.fdatasync : fs.fsync)(fd, (err) => (err ? reject(err) : resolve()));
      });
    },

    opendir(req) {
      const node = dirOf(req.ino);
      const fh = nextDirHandle++;
      dirs.set(fh, { node, listing: undefined });
      if (journal !== undefined) journalAppend(openRecord(HANDLE_DIR, fh, node.id, 0));
      return { fh };
    },

    readdir(req) {
      // Packed records, cut from the snapshot (./listing.ts).
      const { listing, start } = dirHandle(req.fh, req.offset);
      return listing.page(start, req.size);
    },

    releasedir(req) {
      if (typeof req.fh === 'number' && dirs.delete(req.fh)) journal?.appendLazy(releaseRecord(HANDLE_DIR, req.fh));
    },

    async fsyncdir(req) {
      const node = dirOf(req.ino);
      const fd = fs.openSync(node.self, C.O_RDONLY | C.O_DIRECTORY);
      try {
        await new Promise<void>((resolve, reject) => {
          (req.datasync ? fs.fdatasync : fs.fsync)(fd, (err) => (err ? reject(err) : resolve()));
        });
      } finally {
        fs.closeSync(fd);
      }
    },

    statfs(req) {
      const node = nodes.get(req.ino) ?? nodes.root;
      const s = fs.statfsSync(node.self);
      // Node's statfs has no f_namelen or f_frsize: 255 and the block size are right for the usual filesystems.
      return { blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, bsize: s.bsize, frsize: s.bsize, namelen: 255 };
    },
  };

  if (options.readdirplus ?? true) {
    ops.readdirplus = (req) => {
      const { h, listing, start } = dirHandle(req.fh, req.offset);
      // With entryTimeout 0 the dentries a lookup here would make die at once, and a later stat looks
      // the name up again anyway: names only (node id 0), no lstat and no node per entry.
      if (entryTimeout === 0) return namesOnlyPage(listing, start, req.size, NAMES_ONLY_PAGE_LIMIT);
      const out: P.DirEntryPlus[] = [];
      let used = 0;
      for (let i = start; i < listing.length; i++) {
        const name = listing.name(i);
        used += align8(DIRENTPLUS_SIZE + name.byteLength);
        // Stop at what fits: a lookup made for an entry that is not sent would only be forgotten again.
        if (used > req.size) break;
        if (i < 2) {
          // "." and "..": no lookup (the kernel takes no reference for them), node id 0, d_ino only.
          out.push({ name, offset: i + 1, type: DT_DIR, entry: { ino: 0, attr: { ino: dotIno(h.node, name), mode: S_IFDIR } } });
          continue;
        }
        let ent: P.EntryReply;
        try {
          ent = lookupEntry(h.node, name);
        } catch (err) {
          if (errCode(err) === 'ENOENT') continue; // removed since the snapshot
          // Entries already counted must reach the kernel: send them, the error comes with the next call.
          if (out.some((o) => o.entry.ino !== 0)) break;
          throw err;
        }
        out.push({ name, offset: i + 1, type: listing.type(i), entry: ent });
      }
      return out;
    };
  }
  // xattrs, fallocate, lseek, copy_file_range through libc (Node >= 26); absent without node:ffi, so the
  // kernel's defaults apply (./ffi-ops.ts).
  const viaLibc = ffiOperations({ node: nodeOf, fileFd: (fh) => fileOf(fh).fd, openFd: (node) => files.descriptorOf(node) });
  if (viaLibc !== undefined && options.xattrs === false) {
    const { getxattr: _g, setxattr: _s, listxattr: _l, removexattr: _r, ...rest } = viaLibc;
    Object.assign(ops, rest);
  } else Object.assign(ops, viaLibc);
  return ops;
}
