/**
 * The protocol as a table: one row per opcode of FUSE 7.45, holding everything the rest of tsfuse needs
 * to know about it — number, name, the minor that introduced it, the low-level handler that serves it,
 * the request's fixed struct, the request decoder, the reply's shape and encoder, whether it is answered
 * at all, what to answer when the filesystem has no handler, and the INIT capabilities a handler implies.
 * Dispatch, tracing, the `-o` options (src/ops/fs-options.ts), capability derivation
 * (src/ops/capabilities.ts) and the tests all read this table; adding an opcode means adding a row and
 * its two functions (decoder and encoder).
 */
import * as D from './requests.ts';
import * as R from './replies.ts';
import * as S from './structs.ts';
import { packDirents, packDirentsPlus, countDirentsPlus, unsentLookups, type DirEntry, type DirEntryPlus } from './dirent.ts';
import { checkPackedDirents } from './dirent-writer.ts';

/** A readdir handler's pre-packed records (src/protocol/dirent-writer.ts), sent as they are once checked. */
function packedDirents(data: Uint8Array, req: D.ReadRequest): Uint8Array {
  const problem = checkPackedDirents(data, req.size, req.offset);
  if (problem !== undefined) throw new TypeError(`packed entries: ${problem}`);
  return data;
}
import { encodeInitOut, type InitOutFields } from './init.ts';
import type { Negotiated } from './negotiated.ts';
import type { StructLayout } from './layout.ts';
import type { U64 } from './u64.ts';
import type { Ino } from './ids.ts';
import { ROOT_ID, S_IFDIR, type InitFlagName } from './constants.ts';
import type { HandlerName } from '../ops/lowlevel.ts';

const ENOSYS = 38;
const ERANGE = 34;
const EIO = 5;
/** fs/fuse/dir.c fuse_readlink_folio reads at most PAGE_SIZE − 1 bytes; a longer reply fails with EIO. */
const READLINK_MAX = D.PATH_MAX_BYTES - 1;
/** fuse_write_out.size is a u32: COPY_FILE_RANGE (not _64) cannot report more. */
const U32_MAX = 0xffff_ffff;

/** Body parts of a successful reply (no out-header), or a positive errno to answer with instead. */
export type Encoded = readonly Uint8Array[] | number;

/**
 * What a successful reply carries, by the struct(s) of its body. Code that rewrites results by what they
 * contain (the `-o` options) keys on this, never on opcode or method names.
 */
export type ReplyShape =
  /** No body (or, with `noReply`, no reply at all). */
  | 'none'
  /** fuse_entry_out: node id, entry and attribute timeouts, attributes. */
  | 'entry'
  /** fuse_attr_out: attribute timeout and attributes. */
  | 'attr'
  /** fuse_statx_out: attribute timeout and statx attributes (7.39). */
  | 'statx'
  /** fuse_open_out of a regular file: fh and FOPEN_* flags about file data. */
  | 'open'
  /** fuse_open_out of a directory: FOPEN_* flags about file data (kernel_cache, direct_io) do not apply. */
  | 'open-dir'
  /** fuse_entry_out then fuse_open_out (CREATE, TMPFILE). */
  | 'create'
  /** fuse_dirent records. */
  | 'entries'
  /** fuse_direntplus records: each an entry_out and a dirent. */
  | 'entries-plus'
  /** Raw bytes (file data, a symlink target). */
  | 'data'
  /** An xattr value or name list, or fuse_getxattr_out for a size probe. */
  | 'xattr'
  /** fuse_write_out: a 32-bit byte count. */
  | 'write'
  | 'statfs' | 'lock' | 'init' | 'bmap' | 'ioctl' | 'poll' | 'lseek'
  /** fuse_copy_file_range_out: a 64-bit byte count (7.45). */
  | 'copy-64';

/**
 * What a NUL-terminated string in a request may hold. None is ever empty or holds a NUL: the decoder
 * stops at the first NUL, so one inside shows as bytes left over after the last string.
 */
export type NameRule =
  /**
   * A directory entry name: no '/', and not "." or "..": the VFS answers every create, link, rename and
   * remove of a dot name itself (fs/namei.c), so those never come.
   */
  | 'entry'
  /**
   * A LOOKUP name: an entry name, or "." / "..", which come from an NFS-exported mount (FUSE_EXPORT_SUPPORT):
   * fs/fuse/inode.c fuse_get_parent looks up "..", fuse_get_dentry looks up ".".
   */
  | 'lookup'
  /** TMPFILE's name: always "/" (fs/namei.c vfs_tmpfile allocates the unnamed file's dentry with slash_name). */
  | 'tmpfile'
  /** A symlink target: a path, not a name ('/' and dot names allowed). */
  | 'path'
  /** An extended attribute name (`user.x`): not a directory entry, so '/' and dots are allowed. */
  | 'xattr';

/** One NUL-terminated string of a request: the request field that holds it, and its rule. */
export interface NameField<Req = any> {
  readonly field: keyof Req & string;
  readonly rule: NameRule;
  /** A counted field that follows this string and ends the body (SETXATTR's value). Absent: the string ends the body, or another follows. */
  readonly followedBy?: keyof Req & string;
}

export interface OpcodeRow<Req = any, Res = any> {
  readonly code: number;
  /** The kernel's name without `FUSE_`. */
  readonly name: string;
  /** What the kernel asks for, in one sentence (the explain mode's first line for each frame, `tsfuse show`). */
  readonly summary: string;
  /** The protocol minor that introduced the opcode (fuse_kernel.h changelog; 0 for 7.1 and earlier). */
  readonly minMinor: number;
  /** The low-level handler that serves it; undefined for requests the session answers itself. */
  readonly method?: HandlerName;
  /**
   * The struct at the start of the body, as the kernel sends it at 7.45 with every capability granted
   * (older minors and ungranted capabilities may send a shorter compat form, which the decoder accepts).
   * Absent: the body has no fixed part.
   */
  readonly fixed?: StructLayout;
  /**
   * The NUL-terminated strings that follow the fixed part, in order, and what each may hold as the kernel
   * sends it; the session refuses any other before a handler sees it (src/session/validate.ts). Absent: none.
   */
  readonly names?: readonly NameField<Req>[];
  /** Decodes the body. Problems are left on the reader (`r.error`); never throws. */
  readonly decode: D.Decoder<Req>;
  /** What a successful reply carries. */
  readonly reply: ReplyShape;
  /** Encodes a handler's result. May throw TypeError for an impossible result (the session answers EIO). */
  readonly encodeReply: (res: Res, req: Req, n: Negotiated) => Encoded;
  /** The kernel expects no reply (FORGET, BATCH_FORGET, INTERRUPT's own frame, NOTIFY_REPLY). */
  readonly noReply?: true;
  /** Answer when the filesystem has no handler: an errno, or a synthesized result. */
  readonly absent: number | ((req: Req, n: Negotiated) => Res);
  /** INIT capabilities to ask for when the filesystem implements `method`. */
  readonly implies?: readonly InitFlagName[];
  /**
   * ENOENT may instead be answered with a negative entry (node id 0) that the kernel caches for
   * entry_valid (fs/fuse/dir.c fuse_lookup_name): what the `negative_timeout` option does.
   */
  readonly negativeEntry?: true;
  /** Served by the session itself rather than a filesystem handler. */
  readonly session?: 'init' | 'interrupt' | 'destroy' | 'notify-reply';
  /**
   * With `allow_root`, requests from users other than the owner and root are refused with EACCES, except
   * these: the kernel sends them for files already open, or on its own (libfuse's deny_others list).
   */
  readonly anyCaller?: true;
  /**
   * Node ids in a successful result whose lookup reference the kernel did not take, given the body parts
   * that were sent (READDIRPLUS: what did not fit, and "." / "..").
   */
  readonly droppedLookups?: (res: Res, sent: readonly Uint8Array[]) => U64[];
}

const empty: Encoded = Object.freeze([]) as readonly Uint8Array[];
const none = (): Encoded => empty;
const entry = (res: R.EntryReply): Encoded => [R.encodeEntryOut(res)];
const attr = (res: R.AttrReply, req: { ino: Ino }): Encoded => [R.encodeAttrOut(res, req.ino)];
const open = (res: R.OpenReply | undefined): Encoded => [R.encodeOpenOut(res ?? {})];
const created = (res: R.CreateReply): Encoded => R.encodeCreateOut(res);

/** The capabilities that make lock handlers reachable: POSIX_LOCKS for fcntl locks, FLOCK_LOCKS for flock(2). */
const LOCKS: readonly InitFlagName[] = Object.freeze(['POSIX_LOCKS', 'FLOCK_LOCKS']);
/** The one name of the requests that create or remove a directory entry. */
const ENTRY_NAME: readonly NameField<{ name: unknown }>[] = [{ field: 'name', rule: 'entry' }];
const RENAME_NAMES: readonly NameField<D.RenameRequest>[] = [{ field: 'name', rule: 'entry' }, { field: 'newName', rule: 'entry' }];

function row<Req, Res>(r: OpcodeRow<Req, Res>): OpcodeRow<Req, Res> {
  if (r.implies) Object.freeze(r.implies);
  if (r.names) { for (const n of r.names) Object.freeze(n); Object.freeze(r.names); }
  return Object.freeze(r);
}

export const OPCODES: readonly OpcodeRow[] = Object.freeze([
  row<D.LookupRequest, R.EntryReply>({ code: 1, name: 'LOOKUP', summary: 'Find a name in a directory: the kernel wants the node id and attributes behind it (path walks, open, stat of an uncached name).', minMinor: 0, method: 'lookup', names: [{ field: 'name', rule: 'lookup' }], decode: D.decodeLookup, reply: 'entry', encodeReply: entry, absent: ENOSYS, negativeEntry: true }),
  // FORGET and BATCH_FORGET reach the same handler with the same shape: a list of (node, count).
  row<D.BatchForgetRequest, void>({ code: 2, name: 'FORGET', summary: 'The kernel dropped nlookup references to a node (inode evicted from its cache); no reply.', anyCaller: true, minMinor: 0, method: 'forget', fixed: S.ForgetIn, decode: (r, ino, n, h) => ({ items: [D.decodeForget(r, ino, n, h)] }), reply: 'none', encodeReply: none, noReply: true, absent: () => undefined }),
  row<D.GetattrRequest, R.AttrReply>({
    code: 3, name: 'GETATTR', summary: 'Attributes of a node (stat, or revalidating cached attributes whose timeout ran out).', minMinor: 0, method: 'getattr', fixed: S.GetattrIn, decode: D.decodeGetattr, reply: 'attr', encodeReply: attr,
    // Without a getattr handler the root still needs attributes for the mount to be usable.
    absent: (req) => {
      if (req.ino === ROOT_ID) return { attr: { mode: S_IFDIR | 0o755, nlink: 2 } };
      throw Object.assign(new Error('ENOSYS'), { code: 'ENOSYS', errno: ENOSYS });
    },
  }),
  row<D.SetattrRequest, R.AttrReply>({ code: 4, name: 'SETATTR', summary: 'Change attributes: the FATTR_* bits in valid say which (chmod, chown, truncate, utimes).', minMinor: 0, method: 'setattr', fixed: S.SetattrIn, decode: D.decodeSetattr, reply: 'attr', encodeReply: attr, absent: ENOSYS }),
  row<D.InodeRequest, R.BytesLike>({ code: 5, name: 'READLINK', summary: 'The target of a symbolic link.', minMinor: 0, method: 'readlink', decode: D.decodeInode, reply: 'data', encodeReply: (res) => R.encodeData(res, READLINK_MAX), absent: ENOSYS }),
  row<D.SymlinkRequest, R.EntryReply>({ code: 6, name: 'SYMLINK', summary: 'Create a symbolic link named name pointing at target.', minMinor: 0, method: 'symlink', names: [{ field: 'name', rule: 'entry' }, { field: 'target', rule: 'path' }], decode: D.decodeSymlink, reply: 'entry', encodeReply: entry, absent: ENOSYS }),
  row<D.MknodRequest, R.EntryReply>({ code: 8, name: 'MKNOD', summary: 'Create a file node (regular file without CREATE, device, fifo, socket).', minMinor: 0, method: 'mknod', fixed: S.MknodIn, names: ENTRY_NAME, decode: D.decodeMknod, reply: 'entry', encodeReply: entry, absent: ENOSYS }),
  row<D.MkdirRequest, R.EntryReply>({ code: 9, name: 'MKDIR', summary: 'Create a directory.', minMinor: 0, method: 'mkdir', fixed: S.MkdirIn, names: ENTRY_NAME, decode: D.decodeMkdir, reply: 'entry', encodeReply: entry, absent: ENOSYS }),
  row<D.EntryNameRequest, void>({ code: 10, name: 'UNLINK', summary: 'Remove a name (and the file with it when no other link remains).', minMinor: 0, method: 'unlink', names: ENTRY_NAME, decode: D.decodeEntryName, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.EntryNameRequest, void>({ code: 11, name: 'RMDIR', summary: 'Remove an empty directory.', minMinor: 0, method: 'rmdir', names: ENTRY_NAME, decode: D.decodeEntryName, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.RenameRequest, void>({ code: 12, name: 'RENAME', summary: 'Move a name to another name, maybe in another directory.', minMinor: 0, method: 'rename', fixed: S.RenameIn, names: RENAME_NAMES, decode: D.decodeRename, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.LinkRequest, R.EntryReply>({ code: 13, name: 'LINK', summary: 'Give an existing node another name (hard link).', minMinor: 0, method: 'link', fixed: S.LinkIn, names: [{ field: 'newName', rule: 'entry' }], decode: D.decodeLink, reply: 'entry', encodeReply: entry, absent: ENOSYS }),
  row<D.OpenRequest, R.OpenReply | undefined>({ code: 14, name: 'OPEN', summary: 'Open a file: the reply hands back a file handle (fh) and FOPEN_* caching flags.', minMinor: 0, method: 'open', fixed: S.OpenIn, decode: D.decodeOpen, reply: 'open', encodeReply: open, absent: () => ({}) }),
  row<D.ReadRequest, R.BytesLike | readonly Uint8Array[]>({ code: 15, name: 'READ', summary: 'Read up to size bytes at offset from an open file.', anyCaller: true, minMinor: 0, method: 'read', fixed: S.ReadIn, decode: D.decodeRead, reply: 'data', encodeReply: (res, req) => R.encodeData(res, req.size), absent: ENOSYS }),
  row<D.WriteRequest, number>({
    code: 16, name: 'WRITE', summary: 'Write the bytes that follow at offset to an open file; the reply says how many were taken.', anyCaller: true, minMinor: 0, method: 'write', fixed: S.WriteIn, decode: D.decodeWrite, reply: 'write',
    encodeReply: (res, req) => (Number.isInteger(res) && res >= 0 && res <= req.size ? [R.encodeWriteOut(res)] : badResult(`write must return a byte count 0..${req.size}, got ${String(res)}`)),
    absent: ENOSYS,
  }),
  // Absent: libfuse's answer, an empty filesystem with NAME_MAX (255) names and 512-byte blocks.
  row<D.InodeRequest, R.StatfsReply>({ code: 17, name: 'STATFS', summary: 'Filesystem statistics (statfs, df).', minMinor: 0, method: 'statfs', decode: D.decodeInode, reply: 'statfs', encodeReply: (res) => [R.encodeStatfsOut(res)], absent: () => ({ namelen: 255, bsize: 512 }) }),
  row<D.ReleaseRequest, void>({ code: 18, name: 'RELEASE', summary: 'The last descriptor of an open file was closed: free its file handle. Sent after the close returned.', anyCaller: true, minMinor: 0, method: 'release', fixed: S.ReleaseIn, decode: D.decodeRelease, reply: 'none', encodeReply: none, absent: () => undefined }),
  row<D.FsyncRequest, void>({ code: 20, name: 'FSYNC', summary: 'Flush a file\'s data (and metadata unless FDATASYNC) to stable storage (fsync, fdatasync).', anyCaller: true, minMinor: 0, method: 'fsync', fixed: S.FsyncIn, decode: D.decodeFsync, reply: 'none', encodeReply: none, absent: ENOSYS }),
  // The extended fuse_setxattr_in is only sent once SETXATTR_EXT is granted, so implementing setxattr asks for it.
  row<D.SetxattrRequest, void>({ code: 21, name: 'SETXATTR', summary: 'Set an extended attribute.', minMinor: 0, method: 'setxattr', fixed: S.SetxattrIn, names: [{ field: 'name', rule: 'xattr', followedBy: 'value' }], decode: D.decodeSetxattr, reply: 'none', encodeReply: none, absent: ENOSYS, implies: ['SETXATTR_EXT'] }),
  row<D.GetxattrRequest, R.BytesLike>({ code: 22, name: 'GETXATTR', summary: 'Read an extended attribute (size 0: only its length).', minMinor: 0, method: 'getxattr', fixed: S.GetxattrIn, names: [{ field: 'name', rule: 'xattr' }], decode: D.decodeGetxattr, reply: 'xattr', encodeReply: (res, req) => xattr(R.asBytes(res), req.size), absent: ENOSYS }),
  // LISTXATTR's body is a fuse_getxattr_in too (the size of the caller's buffer).
  row<D.ListxattrRequest, readonly R.BytesLike[] | Uint8Array>({ code: 23, name: 'LISTXATTR', summary: 'List extended attribute names (size 0: only the list\'s length).', minMinor: 0, method: 'listxattr', fixed: S.GetxattrIn, decode: D.decodeListxattr, reply: 'xattr', encodeReply: (res, req) => xattr(R.joinXattrNames(res), req.size), absent: ENOSYS }),
  row<D.RemovexattrRequest, void>({ code: 24, name: 'REMOVEXATTR', summary: 'Remove an extended attribute.', minMinor: 0, method: 'removexattr', names: [{ field: 'name', rule: 'xattr' }], decode: D.decodeRemovexattr, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.FlushRequest, void>({ code: 25, name: 'FLUSH', summary: 'A descriptor of an open file is being closed (close(2) waits for this answer).', minMinor: 0, method: 'flush', fixed: S.FlushIn, decode: D.decodeFlush, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.InitRequest, InitOutFields>({ code: 26, name: 'INIT', summary: 'The first request: protocol version and capabilities offered; the reply says what the filesystem takes.', anyCaller: true, minMinor: 0, session: 'init', fixed: S.InitIn, decode: D.decodeInit, reply: 'init', encodeReply: (res, req) => [encodeInitOut(res, req.minor)], absent: EIO }),
  row<D.OpenRequest, R.OpenReply | undefined>({ code: 27, name: 'OPENDIR', summary: 'Open a directory for listing: the reply hands back a file handle.', minMinor: 0, method: 'opendir', fixed: S.OpenIn, decode: D.decodeOpen, reply: 'open-dir', encodeReply: open, absent: () => ({}) }),
  row<D.ReadRequest, readonly DirEntry[] | Uint8Array>({ code: 28, name: 'READDIR', summary: 'List directory entries from offset, filling at most size bytes.', anyCaller: true, minMinor: 0, method: 'readdir', fixed: S.ReadIn, decode: D.decodeRead, reply: 'entries', encodeReply: (res, req) => [res instanceof Uint8Array ? packedDirents(res, req) : packDirents(res, req.size).data], absent: ENOSYS }),
  row<D.ReleaseRequest, void>({ code: 29, name: 'RELEASEDIR', summary: 'The last descriptor of an open directory was closed: free its file handle.', anyCaller: true, minMinor: 0, method: 'releasedir', fixed: S.ReleaseIn, decode: D.decodeRelease, reply: 'none', encodeReply: none, absent: () => undefined }),
  row<D.FsyncRequest, void>({ code: 30, name: 'FSYNCDIR', summary: 'Flush a directory to stable storage.', anyCaller: true, minMinor: 2, method: 'fsyncdir', fixed: S.FsyncIn, decode: D.decodeFsync, reply: 'none', encodeReply: none, absent: ENOSYS }),
  // Without POSIX_LOCKS the kernel keeps fcntl locks local and never sends GETLK/SETLK (fs/fuse/file.c fuse_file_lock).
  row<D.LockRequest, R.LockReply>({ code: 31, name: 'GETLK', summary: 'Test for a conflicting POSIX lock (fcntl F_GETLK).', minMinor: 7, method: 'getlk', fixed: S.LkIn, decode: D.decodeLock(false), reply: 'lock', encodeReply: (res) => [R.encodeLkOut(res)], absent: ENOSYS, implies: ['POSIX_LOCKS'] }),
  // SETLK also carries flock(2) locks, which need FLOCK_LOCKS (fs/fuse/file.c fuse_file_flock).
  row<D.LockRequest, void>({ code: 32, name: 'SETLK', summary: 'Take or release a lock without waiting (fcntl F_SETLK, flock with LOCK_NB).', minMinor: 7, method: 'setlk', fixed: S.LkIn, decode: D.decodeLock(false), reply: 'none', encodeReply: none, absent: ENOSYS, implies: LOCKS }),
  row<D.LockRequest, void>({ code: 33, name: 'SETLKW', summary: 'Take a lock, waiting until it is free (fcntl F_SETLKW, flock).', minMinor: 7, method: 'setlk', fixed: S.LkIn, decode: D.decodeLock(true), reply: 'none', encodeReply: none, absent: ENOSYS, implies: LOCKS }),
  row<D.AccessRequest, void>({ code: 34, name: 'ACCESS', summary: 'Check permissions (access(2), chdir) when the kernel does not check modes itself.', minMinor: 3, method: 'access', fixed: S.AccessIn, decode: D.decodeAccess, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.CreateRequest, R.CreateReply>({ code: 35, name: 'CREATE', summary: 'Create and open a file in one step (open with O_CREAT): the reply is an entry and a file handle.', minMinor: 3, method: 'create', fixed: S.CreateIn, names: ENTRY_NAME, decode: D.decodeCreate, reply: 'create', encodeReply: created, absent: ENOSYS }),
  row<D.InterruptRequest, void>({ code: 36, name: 'INTERRUPT', summary: 'The caller of an earlier request got a signal: abandon that request if possible; no reply.', anyCaller: true, minMinor: 7, session: 'interrupt', fixed: S.InterruptIn, decode: D.decodeInterrupt, reply: 'none', encodeReply: none, noReply: true, absent: () => undefined }),
  row<D.BmapRequest, U64>({ code: 37, name: 'BMAP', summary: 'Map a file block to a device block (FIBMAP; block-device filesystems only).', minMinor: 8, method: 'bmap', fixed: S.BmapIn, decode: D.decodeBmap, reply: 'bmap', encodeReply: (res) => [R.encodeBmapOut(res)], absent: ENOSYS }),
  row<D.EmptyRequest, void>({ code: 38, name: 'DESTROY', summary: 'The filesystem is being unmounted: the last request of a session.', anyCaller: true, minMinor: 8, session: 'destroy', decode: D.decodeEmpty, reply: 'none', encodeReply: none, absent: () => undefined }),
  // Without HAS_IOCTL_DIR the kernel answers ENOTTY to ioctls on directories itself.
  row<D.IoctlRequest, R.IoctlReply>({ code: 39, name: 'IOCTL', summary: 'An ioctl(2) on an open file.', minMinor: 11, method: 'ioctl', fixed: S.IoctlIn, decode: D.decodeIoctl, reply: 'ioctl', encodeReply: (res, req) => R.encodeIoctlOut(res, req.outSize), absent: ENOSYS, implies: ['HAS_IOCTL_DIR'] }),
  row<D.PollRequest, number>({ code: 40, name: 'POLL', summary: 'Readiness of an open file for poll/select/epoll.', minMinor: 11, method: 'poll', fixed: S.PollIn, decode: D.decodePoll, reply: 'poll', encodeReply: (res) => [R.encodePollOut(res)], absent: ENOSYS }),
  row<D.NotifyReplyRequest, void>({
    code: 41, name: 'NOTIFY_REPLY', summary: 'The data a RETRIEVE notification asked for (sent by the kernel; no reply).', anyCaller: true, minMinor: 15, session: 'notify-reply', noReply: true, reply: 'none', encodeReply: none, absent: () => undefined,
    fixed: S.NotifyRetrieveIn, decode: D.decodeNotifyReply,
  }),
  row<D.BatchForgetRequest, void>({ code: 42, name: 'BATCH_FORGET', summary: 'Several FORGETs in one frame: reference counts dropped for many nodes; no reply.', anyCaller: true, minMinor: 16, method: 'forget', fixed: S.BatchForgetIn, decode: D.decodeBatchForget, reply: 'none', encodeReply: none, noReply: true, absent: () => undefined }),
  row<D.FallocateRequest, void>({ code: 43, name: 'FALLOCATE', summary: 'Allocate, punch or zero a byte range of an open file (fallocate(2)).', minMinor: 19, method: 'fallocate', fixed: S.FallocateIn, decode: D.decodeFallocate, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.ReadRequest, readonly DirEntryPlus[]>({
    code: 44, name: 'READDIRPLUS', summary: 'List directory entries together with each entry\'s lookup answer (node id and attributes).', anyCaller: true, minMinor: 21, method: 'readdirplus', fixed: S.ReadIn, decode: D.decodeRead, reply: 'entries-plus',
    encodeReply: (res, req) => [packDirentsPlus(res, req.size).data],
    // What fit is read back from the bytes sent, so the packer's decision is the only one.
    droppedLookups: (res, sent) => unsentLookups(res, sent[0] === undefined ? 0 : countDirentsPlus(sent[0])),
    absent: ENOSYS, implies: ['DO_READDIRPLUS', 'READDIRPLUS_AUTO'],
  }),
  row<D.RenameRequest, void>({ code: 45, name: 'RENAME2', summary: 'Rename with flags (RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT).', minMinor: 23, method: 'rename', fixed: S.Rename2In, names: RENAME_NAMES, decode: D.decodeRename2, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.LseekRequest, U64>({ code: 46, name: 'LSEEK', summary: 'Find data or holes in a file (lseek SEEK_DATA / SEEK_HOLE).', minMinor: 24, method: 'lseek', fixed: S.LseekIn, decode: D.decodeLseek, reply: 'lseek', encodeReply: (res) => [R.encodeLseekOut(res)], absent: ENOSYS }),
  row<D.CopyFileRangeRequest, number>({
    code: 47, name: 'COPY_FILE_RANGE', summary: 'Copy a byte range between two open files inside the filesystem (copy_file_range(2)).', minMinor: 28, method: 'copyFileRange', fixed: S.CopyFileRangeIn, decode: D.decodeCopyFileRange, reply: 'write',
    // The 32-bit reply (fuse_write_out) cannot say more than 4 GiB − 1; the kernel asks for no more.
    encodeReply: (res) => (Number.isInteger(res) && res >= 0 && res <= U32_MAX ? [R.encodeWriteOut(res)] : badResult(`copyFileRange must return 0..2^32-1 bytes here, got ${String(res)}`)),
    absent: ENOSYS,
  }),
  row<D.SetupmappingRequest, void>({ code: 48, name: 'SETUPMAPPING', summary: 'Map a file range into the DAX window (virtio-fs).', minMinor: 31, fixed: S.SetupmappingIn, decode: D.decodeSetupmapping, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.RemovemappingRequest, void>({ code: 49, name: 'REMOVEMAPPING', summary: 'Remove DAX window mappings (virtio-fs).', minMinor: 31, fixed: S.RemovemappingIn, decode: D.decodeRemovemapping, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.InodeRequest, void>({ code: 50, name: 'SYNCFS', summary: 'Flush the whole filesystem (syncfs(2), sync).', minMinor: 34, method: 'syncfs', fixed: S.SyncfsIn, decode: D.decodeSyncfs, reply: 'none', encodeReply: none, absent: ENOSYS }),
  row<D.TmpfileRequest, R.CreateReply>({ code: 51, name: 'TMPFILE', summary: 'Create an unnamed file in a directory and open it (O_TMPFILE).', minMinor: 37, method: 'tmpfile', fixed: S.CreateIn, names: [{ field: 'name', rule: 'tmpfile' }], decode: D.decodeTmpfile, reply: 'create', encodeReply: created, absent: ENOSYS }),
  row<D.StatxRequest, R.StatxReply>({ code: 52, name: 'STATX', summary: 'Extended attributes of a node, by a mask of wanted fields (statx(2)).', minMinor: 39, method: 'statx', fixed: S.StatxIn, decode: D.decodeStatx, reply: 'statx', encodeReply: (res, req) => [R.encodeStatxOut(res, req.ino)], absent: ENOSYS }),
  row<D.CopyFileRangeRequest, U64>({ code: 53, name: 'COPY_FILE_RANGE_64', summary: 'copy_file_range with a 64-bit byte count in the reply.', minMinor: 45, method: 'copyFileRange', fixed: S.CopyFileRangeIn, decode: D.decodeCopyFileRange, reply: 'copy-64', encodeReply: (res) => [R.encodeCopyFileRangeOut(res)], absent: ENOSYS }),
  row<D.CuseInitRequest, void>({ code: 4096, name: 'CUSE_INIT', summary: 'The first request of a character device in userspace (CUSE), instead of INIT.', minMinor: 11, fixed: S.CuseInitIn, decode: D.decodeCuseInit, reply: 'none', encodeReply: none, absent: ENOSYS }),
]);

function xattr(data: Uint8Array, size: number): Encoded {
  const r = R.encodeXattrData(data, size);
  return r === 'ERANGE' ? ERANGE : r;
}

function badResult(message: string): never {
  throw new TypeError(message);
}

/** Opcodes below this index a dense array; the few above it (CUSE_INIT) a map. */
const DENSE_CODES = 1024;
const BY_CODE: (OpcodeRow | undefined)[] = [];
const HIGH_CODES = new Map<number, OpcodeRow>();
const BY_NAME = new Map<string, OpcodeRow>();
for (const r of OPCODES) {
  if (r.code < DENSE_CODES) BY_CODE[r.code] = r;
  else HIGH_CODES.set(r.code, r);
  BY_NAME.set(r.name, r);
}

export function opcodeRow(code: number): OpcodeRow | undefined {
  return code < DENSE_CODES ? BY_CODE[code] : HIGH_CODES.get(code);
}

export function opcodeByName(name: string): OpcodeRow | undefined {
  return BY_NAME.get(name);
}

/** `Opcode.LOOKUP === 1` … for code that needs the numbers; derived from the table. */
export const Opcode: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(OPCODES.map((r) => [r.name, r.code])));

/** The kernel's name for an opcode number (`'LOOKUP'`), or `'OPCODE_<n>'`. */
export function opcodeName(code: number): string {
  return opcodeRow(code)?.name ?? `OPCODE_${code}`;
}
