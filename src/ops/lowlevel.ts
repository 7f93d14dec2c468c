/**
 * The low-level (inode-based) filesystem interface, the TypeScript counterpart of `fuse_lowlevel.h`.
 *
 * Every method is optional and may be sync or async. Each receives the decoded request and a
 * {@link RequestContext} (caller ids, an AbortSignal wired to FUSE_INTERRUPT), and returns the reply:
 * the session encodes it, so a handler cannot reply twice or forget to. Throw a `FuseError('ENOENT')`
 * or any Node `SystemError` to answer with an errno; anything else thrown becomes EIO (logged), and the
 * daemon keeps serving. Each method's doc says what happens when it is absent.
 *
 * Byte fields of a request (`name`, `data`, `value`, …) are borrowed views of the request frame, valid
 * until the handler settles; copy them (`Buffer.from(req.name)`) to keep them longer.
 *
 * Lookup counting: every successful LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, CREATE and TMPFILE reply, and
 * every READDIRPLUS entry the kernel receives (except "." and ".."), adds one to the node's lookup
 * count; FORGET subtracts. Entries of a readdirplus result that did not fit in the kernel's buffer are
 * handed straight back through `forget`, so the count stays exact without extra work.
 *
 * Names: how long the kernel may cache something is `entryTimeout` / `attrTimeout`, in seconds, in every
 * reply and option that has one (`-o entry_timeout=` / `attr_timeout=`); tsfuse's own waits are in
 * milliseconds and end in `Ms` (`initTimeoutMs`, `interruptGraceMs`). The kernel's lock owner id is
 * `lockOwner` in every request that carries one.
 */
import type * as P from '../protocol/index.ts';
import type { RequestExtensions } from '../protocol/header.ts';
import type { DirentWriter } from '../protocol/dirent-writer.ts';
import type { Negotiated } from '../protocol/negotiated.ts';
import type { InitWants } from '../protocol/init.ts';
import type { Notifier } from '../session/session.ts';
import type { BackingFiles } from '../session/backing.ts';
import type { HandleDescriptors } from './handle-descriptors.ts';

/** Sync or async. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * An entry of a whole listing, which carries no `offset`: the session numbers the entries 1, 2, … and
 * sends those after `req.offset`. A plain name stands for `{ name }`.
 */
export type UnnumberedDirEntry =
  | P.BytesLike
  | {
    readonly name: P.BytesLike;
    /** Absent: FUSE_UNKNOWN_INO (0xffffffff), as libfuse reports entries without an inode number. */
    readonly ino?: P.U64;
    /** DT_* type. Absent: derived from `mode`, else DT_UNKNOWN. */
    readonly type?: number;
    readonly mode?: number;
    readonly offset?: undefined;
  };

/** A readdirplus entry of a whole listing: no `offset` (see {@link UnnumberedDirEntry}). */
export interface UnnumberedDirEntryPlus {
  readonly name: P.BytesLike;
  readonly entry: P.EntryReply;
  readonly type?: number;
  readonly offset?: undefined;
}

/**
 * What {@link LowLevelOperations.readdir} returns: the entries after `req.offset`, each with its offset;
 * the whole listing without offsets; or the reply's records already packed. One form per result.
 */
export type ReaddirResult = readonly P.DirEntry[] | readonly UnnumberedDirEntry[] | Uint8Array;

/** What {@link LowLevelOperations.readdirplus} returns: entries with offsets, or the whole listing without. */
export type ReaddirplusResult = readonly P.DirEntryPlus[] | readonly UnnumberedDirEntryPlus[];

/** Who is asking, and the means to stop early. */
export interface RequestContext {
  /** Caller's fsuid/fsgid (FUSE_INVALID_UIDGID, 0xffffffff, on idmapped mounts without a mapping). */
  readonly uid: number;
  readonly gid: number;
  /** Caller's thread group id (0 for requests the kernel makes on its own, e.g. writeback). */
  readonly pid: number;
  readonly unique: P.Unique;
  readonly opcode: number;
  /** The kernel resent this request (RESEND notification, 7.40). */
  readonly resend: boolean;
  /** Security contexts and supplementary groups, when the kernel sent extensions. */
  readonly extensions: RequestExtensions | undefined;
  /**
   * Aborted when the kernel interrupts the request (the caller got a signal). `signal.reason` is an
   * `AbortError`; rejecting with it answers EINTR. Created on first access, so unused signals cost nothing.
   */
  readonly signal: AbortSignal;
}

/** What the filesystem is told at INIT, and may adjust. */
export interface InitInfo {
  /** What the kernel offered. */
  readonly kernel: P.InitRequest;
  /** The request tsfuse derived from the implemented methods and the mount options. */
  readonly wants: InitWants;
}

/** What {@link LowLevelOperations.ready} receives once INIT is answered. */
export interface ReadyInfo {
  /** What the kernel and the filesystem agreed. */
  readonly negotiated: Negotiated;
  /** Each capability asked for, and whether the kernel granted it. */
  readonly audit: readonly P.CapabilityAudit[];
  /**
   * Notifications to the kernel (cache invalidation, store/retrieve, poll wakeup, …), the same object as
   * `FuseMount.notify`: keep it to notify from inside the handlers. Do not await an invalidation inside
   * the handler of a request that holds the same node's lock (say, `invalEntry(parent, …)` inside a lookup
   * in `parent`): the kernel takes that lock to apply it, so both wait for each other (libfuse's
   * fuse_lowlevel.h gives the same warning). Send it without awaiting, or after replying.
   */
  readonly notify: Notifier;
  /**
   * Kernel passthrough: register backing files and answer OPEN/CREATE with their ids (src/session/backing.ts),
   * the same object as `FuseMount.backing`. Check `backing.unavailable` first. Absent only when a bare
   * `SessionCore` (no descriptor: tests, replays) calls `ready`.
   */
  readonly backing?: BackingFiles;
}

export interface LowLevelOperations {
  /**
   * This filesystem decides every access itself (see `checkAccess` and `callerGroups`). Only read at
   * mount: with `allow_other` and without `default_permissions`, `mount()` then does not warn, and lets
   * the kernel cache entries and attributes for 0 seconds unless `entry_timeout`/`attr_timeout` are given,
   * because the kernel would otherwise reuse one caller's permission decision for every user of a cached
   * entry. Defaults to false.
   */
  readonly checksPermissions?: boolean;
  /**
   * Opt-in to clone queues: which open file handles are plain descriptors, so that with `-o clone_fd`
   * (Node >= 26) worker threads answer READ (and WRITE, if the table says so) of those handles with
   * pread(2)/pwrite(2) on their own /dev/fuse queues, without calling `read`/`write` (see
   * {@link HandleDescriptors} for the contract). Only read at mount. Absent: `clone_fd` has no effect,
   * and `max_threads` caps the requests in handlers at once.
   */
  readonly workerIo?: HandleDescriptors;
  /** Called with INIT; return adjusted wants (capabilities, maxWrite, …). Absent: the derived wants are used. */
  init?(info: InitInfo): MaybePromise<InitWants | void>;
  /** Called once after INIT is answered, with what was agreed and the notifier. Absent: nothing. */
  ready?(info: ReadyInfo): void;
  /** DESTROY or unmount: the filesystem is going away. Absent: nothing. */
  destroy?(): MaybePromise<void>;

  /** Look up `name` in `parent`. Absent: ENOSYS. Return `{ ino: 0, entryTimeout }` to cache a negative entry. */
  lookup?(req: P.LookupRequest, ctx: RequestContext): MaybePromise<P.EntryReply>;
  /** FORGET and BATCH_FORGET: drop lookup references. No reply. Absent: ignored. */
  forget?(req: P.BatchForgetRequest): void;
  /** Absent: the root (node 1) gets a 0755 directory; other nodes ENOSYS. */
  getattr?(req: P.GetattrRequest, ctx: RequestContext): MaybePromise<P.AttrReply>;
  /** chmod/chown/truncate/utimes; only the fields whose FATTR bit is set are present. Absent: ENOSYS. */
  setattr?(req: P.SetattrRequest, ctx: RequestContext): MaybePromise<P.AttrReply>;
  /** Absent: ENOSYS. */
  readlink?(req: P.InodeRequest, ctx: RequestContext): MaybePromise<P.BytesLike>;
  /** Absent: ENOSYS. */
  symlink?(req: P.SymlinkRequest, ctx: RequestContext): MaybePromise<P.EntryReply>;
  /** Absent: ENOSYS. */
  mknod?(req: P.MknodRequest, ctx: RequestContext): MaybePromise<P.EntryReply>;
  /** Absent: ENOSYS. */
  mkdir?(req: P.MkdirRequest, ctx: RequestContext): MaybePromise<P.EntryReply>;
  /** Absent: ENOSYS. */
  unlink?(req: P.EntryNameRequest, ctx: RequestContext): MaybePromise<void>;
  /** Absent: ENOSYS. */
  rmdir?(req: P.EntryNameRequest, ctx: RequestContext): MaybePromise<void>;
  /** RENAME and RENAME2 (`flags`: RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT). Absent: ENOSYS. */
  rename?(req: P.RenameRequest, ctx: RequestContext): MaybePromise<void>;
  /** Absent: ENOSYS. */
  link?(req: P.LinkRequest, ctx: RequestContext): MaybePromise<P.EntryReply>;
  /** Absent: success with fh 0 (like libfuse). */
  open?(req: P.OpenRequest, ctx: RequestContext): MaybePromise<P.OpenReply | void>;
  /** Return at most `req.size` bytes (more are cut); fewer means end of file unless direct I/O. Absent: ENOSYS. */
  read?(req: P.ReadRequest, ctx: RequestContext): MaybePromise<P.BytesLike | readonly Uint8Array[]>;
  /** Return the number of bytes written. `req.data` is valid until the handler settles. Absent: ENOSYS. */
  write?(req: P.WriteRequest, ctx: RequestContext): MaybePromise<number>;
  /** Absent: zeros, with namelen 255 and bsize 512. */
  statfs?(req: P.InodeRequest, ctx: RequestContext): MaybePromise<P.StatfsReply>;
  /** Last close of an open file. Absent: success. */
  release?(req: P.ReleaseRequest, ctx: RequestContext): MaybePromise<void>;
  /** Absent: ENOSYS, which the kernel remembers and treats as success from then on. */
  fsync?(req: P.FsyncRequest, ctx: RequestContext): MaybePromise<void>;
  /** Absent: ENOSYS (the kernel then answers EOPNOTSUPP to every xattr call). */
  setxattr?(req: P.SetxattrRequest, ctx: RequestContext): MaybePromise<void>;
  /** Return the value; the size probe (`size` 0) and ERANGE are handled for you. Absent: ENOSYS. */
  getxattr?(req: P.GetxattrRequest, ctx: RequestContext): MaybePromise<P.BytesLike>;
  /** Return the names; the size probe and ERANGE are handled for you. Absent: ENOSYS. */
  listxattr?(req: P.ListxattrRequest, ctx: RequestContext): MaybePromise<readonly P.BytesLike[] | Uint8Array>;
  /** Absent: ENOSYS. */
  removexattr?(req: P.RemovexattrRequest, ctx: RequestContext): MaybePromise<void>;
  /** Every close(2) of a file descriptor. Absent: ENOSYS, which the kernel remembers and treats as success. */
  flush?(req: P.FlushRequest, ctx: RequestContext): MaybePromise<void>;
  /** Absent: success with fh 0. */
  opendir?(req: P.OpenRequest, ctx: RequestContext): MaybePromise<P.OpenReply | void>;
  /**
   * Return the entries after `req.offset`, each with the offset of the entry after it (an opaque cookie
   * the kernel hands back as `req.offset` to continue; it need not increase); those that fit in
   * `req.size` are sent. An entry whose offset is 0 or equals `req.offset` (a handler that ignores
   * `req.offset`) would make the reader ask for the same place forever: the listing is ended there, with
   * no entries and a warning naming the handler.
   * Or return the whole listing with no `offset` on any entry, plain names allowed (`['.', '..', 'a']`):
   * the entries are numbered 1, 2, … and those after `req.offset` are sent (simple, but the listing is
   * rebuilt for every READDIR of a large directory). Entries without `ino` (plain names) are reported
   * with FUSE_UNKNOWN_INO, 0xffffffff. Mixing the two forms is an invalid result (EIO and a warning).
   * readdirplus takes both forms too, with `{ name, entry }` objects.
   * Or return the reply's bytes already packed (struct fuse_dirent records, at most `req.size` bytes;
   * {@link DirentWriter} packs them): no object per entry, for large directories. They are checked as
   * the kernel would (names 1..255 bytes without '/', whole records, no offset 0 or `req.offset`) and a
   * bad packing is answered EIO with a warning. Absent: ENOSYS.
   */
  readdir?(req: P.ReadRequest, ctx: RequestContext): MaybePromise<ReaddirResult>;
  /** Like readdir, each entry with its lookup answer. Implementing it turns on READDIRPLUS. Absent: ENOSYS. */
  readdirplus?(req: P.ReadRequest, ctx: RequestContext): MaybePromise<ReaddirplusResult>;
  /** Absent: success. */
  releasedir?(req: P.ReleaseRequest, ctx: RequestContext): MaybePromise<void>;
  /** Absent: ENOSYS (remembered, then success). */
  fsyncdir?(req: P.FsyncRequest, ctx: RequestContext): MaybePromise<void>;
  /** POSIX lock test. Implementing getlk/setlk turns on POSIX_LOCKS. Absent: ENOSYS (the kernel does local locking). */
  getlk?(req: P.LockRequest, ctx: RequestContext): MaybePromise<P.LockReply>;
  /** SETLK/SETLKW (`sleep`) and flock (`flock`). Implementing it turns on FLOCK_LOCKS too. Absent: ENOSYS. */
  setlk?(req: P.LockRequest, ctx: RequestContext): MaybePromise<void>;
  /** Absent: ENOSYS, which the kernel remembers and treats as "allowed". */
  access?(req: P.AccessRequest, ctx: RequestContext): MaybePromise<void>;
  /** Create and open. Absent: ENOSYS (the kernel falls back to MKNOD + OPEN). */
  create?(req: P.CreateRequest, ctx: RequestContext): MaybePromise<P.CreateReply>;
  /** Absent: ENOSYS. */
  bmap?(req: P.BmapRequest, ctx: RequestContext): MaybePromise<P.U64>;
  /** Absent: ENOSYS (the caller sees ENOTTY). */
  ioctl?(req: P.IoctlRequest, ctx: RequestContext): MaybePromise<P.IoctlReply>;
  /** Return the ready events; with POLL_SCHEDULE_NOTIFY, wake the poller later with `notify.pollWakeup(kh)`. Absent: ENOSYS (default poll mask). */
  poll?(req: P.PollRequest, ctx: RequestContext): MaybePromise<number>;
  /** Absent: ENOSYS (the caller sees EOPNOTSUPP). */
  fallocate?(req: P.FallocateRequest, ctx: RequestContext): MaybePromise<void>;
  /** SEEK_DATA/SEEK_HOLE (and others); return the new offset. Absent: ENOSYS (the kernel seeks generically). */
  lseek?(req: P.LseekRequest, ctx: RequestContext): MaybePromise<P.U64>;
  /** COPY_FILE_RANGE and COPY_FILE_RANGE_64; return bytes copied. Absent: ENOSYS (the kernel copies by read/write). */
  copyFileRange?(req: P.CopyFileRangeRequest, ctx: RequestContext): MaybePromise<number>;
  /** Absent: ENOSYS (remembered, then success). */
  syncfs?(req: P.InodeRequest, ctx: RequestContext): MaybePromise<void>;
  /** O_TMPFILE. Absent: ENOSYS (the caller sees EOPNOTSUPP). */
  tmpfile?(req: P.TmpfileRequest, ctx: RequestContext): MaybePromise<P.CreateReply>;
  /** Absent: ENOSYS (the kernel falls back to GETATTR). */
  statx?(req: P.StatxRequest, ctx: RequestContext): MaybePromise<P.StatxReply>;
}

/** The names of the request handlers (every method but the lifecycle ones). */
export type HandlerName = Exclude<keyof LowLevelOperations, 'init' | 'ready' | 'destroy' | 'checksPermissions'>;
