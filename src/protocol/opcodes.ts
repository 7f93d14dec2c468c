/**
 * The protocol as a table: one row per opcode of FUSE 7.45, holding everything the rest of tsfuse needs
 * to know about it — number, name, the minor that introduced it, the low-level handler that serves it,
 * the request decoder, the reply encoder, whether it is answered at all, and what to answer when the
 * filesystem has no handler. Dispatch, tracing and the tests all read this table; adding an opcode means
 * adding a row.
 */
import * as D from './requests.ts';
import * as R from './replies.ts';
import { packDirents, packDirentsPlus, type DirEntry, type DirEntryPlus } from './dirent.ts';
import { encodeInitOut, type InitOutFields } from './init.ts';
import { Direntplus } from './structs.ts';
import type { Negotiated } from './negotiated.ts';
import type { U64 } from './u64.ts';
import type { Ino } from './ids.ts';
import { ROOT_ID } from './constants.ts';

const ENOSYS = 38;
const ERANGE = 34;
const EIO = 5;
const S_IFDIR = 0o040000;
/** fs/fuse/dir.c fuse_readlink_folio reads at most PAGE_SIZE − 1 bytes; a longer reply fails with EIO. */
const READLINK_MAX = D.PATH_MAX_BYTES - 1;

/** Body parts of a successful reply (no out-header), or a positive errno to answer with instead. */
export type Encoded = readonly Uint8Array[] | number;

export interface OpcodeRow<Req = any, Res = any> {
  readonly code: number;
  /** The kernel's name without `FUSE_`. */
  readonly name: string;
  /** The protocol minor that introduced the opcode (fuse_kernel.h changelog; 0 for 7.1 and earlier). */
  readonly minMinor: number;
  /** The low-level handler that serves it; undefined for requests the session answers itself. */
  readonly method?: string;
  /** Decodes the body. Problems are left on the reader (`r.error`); never throws. */
  readonly decode: D.Decoder<Req>;
  /** Encodes a handler's result. May throw TypeError for an impossible result (the session answers EIO). */
  readonly encodeReply: (res: Res, req: Req, n: Negotiated) => Encoded;
  /** The kernel expects no reply (FORGET, BATCH_FORGET, INTERRUPT's own frame, NOTIFY_REPLY). */
  readonly noReply?: true;
  /** Answer when the filesystem has no handler: an errno, or a synthesized result. */
  readonly absent: number | ((req: Req, n: Negotiated) => Res);
  /** Served by the session itself rather than a filesystem handler. */
  readonly session?: 'init' | 'interrupt' | 'destroy' | 'notify-reply';
  /**
   * With `allow_root`, requests from users other than the owner and root are refused with EACCES, except
   * these: the kernel sends them for files already open, or on its own (libfuse's deny_others list).
   */
  readonly anyCaller?: true;
  /** Node ids in a successful result whose lookup reference the kernel did not take (READDIRPLUS). */
  readonly droppedLookups?: (res: Res, req: Req) => U64[];
}

const empty: Encoded = Object.freeze([]) as readonly Uint8Array[];
const none = (): Encoded => empty;
const entry = (res: R.EntryReply): Encoded => [R.encodeEntryOut(res)];
const attr = (res: R.AttrReply, req: { ino: Ino }): Encoded => [R.encodeAttrOut(res, req.ino)];
const open = (res: R.OpenReply | undefined): Encoded => [R.encodeOpenOut(res ?? {})];

function row<Req, Res>(r: OpcodeRow<Req, Res>): OpcodeRow<Req, Res> {
  return Object.freeze(r);
}

/** Entries of a READDIRPLUS result for which the kernel takes no lookup reference. */
export function unsentLookups(entries: readonly DirEntryPlus[], size: number): U64[] {
  const out: U64[] = [];
  let used = 0;
  let full = false;
  for (const e of entries) {
    // Only lengths and the dot names matter here: no need to encode string names again.
    const name = e.name;
    const length = typeof name === 'string' ? Buffer.byteLength(name) : name.byteLength;
    const rec = (Direntplus.size + length + 7) & ~7;
    if (!full && used + rec <= size) used += rec;
    else full = true;
    const dots = typeof name === 'string'
      ? name === '.' || name === '..'
      : (length === 1 || length === 2) && name[0] === 0x2e && name[length - 1] === 0x2e;
    // fs/fuse/readdir.c fuse_direntplus_link: "." and ".." and node id 0 are not linked.
    const ino = e.entry.ino;
    if ((full || dots) && ino !== 0 && ino !== 0n) out.push(ino);
  }
  return out;
}

export const OPCODES: readonly OpcodeRow[] = Object.freeze([
  row<D.LookupRequest, R.EntryReply>({ code: 1, name: 'LOOKUP', minMinor: 0, method: 'lookup', decode: D.decodeLookup, encodeReply: entry, absent: ENOSYS }),
  // FORGET and BATCH_FORGET reach the same handler with the same shape: a list of (node, count).
  row<D.BatchForgetRequest, void>({ code: 2, name: 'FORGET', anyCaller: true, minMinor: 0, method: 'forget', decode: (r, ino, n, h) => ({ items: [D.decodeForget(r, ino, n, h)] }), encodeReply: none, noReply: true, absent: () => undefined }),
  row<D.GetattrRequest, R.AttrReply>({
    code: 3, name: 'GETATTR', minMinor: 0, method: 'getattr', decode: D.decodeGetattr, encodeReply: attr,
    // Without a getattr handler the root still needs attributes for the mount to be usable.
    absent: (req) => {
      if (req.ino === ROOT_ID) return { attr: { mode: S_IFDIR | 0o755, nlink: 2 } };
      throw Object.assign(new Error('ENOSYS'), { code: 'ENOSYS', errno: ENOSYS });
    },
  }),
  row<D.SetattrRequest, R.AttrReply>({ code: 4, name: 'SETATTR', minMinor: 0, method: 'setattr', decode: D.decodeSetattr, encodeReply: attr, absent: ENOSYS }),
  row<D.InodeRequest, R.BytesLike>({ code: 5, name: 'READLINK', minMinor: 0, method: 'readlink', decode: D.decodeInode, encodeReply: (res) => R.encodeData(res, READLINK_MAX), absent: ENOSYS }),
  row<D.SymlinkRequest, R.EntryReply>({ code: 6, name: 'SYMLINK', minMinor: 0, method: 'symlink', decode: D.decodeSymlink, encodeReply: entry, absent: ENOSYS }),
  row<D.MknodRequest, R.EntryReply>({ code: 8, name: 'MKNOD', minMinor: 0, method: 'mknod', decode: D.decodeMknod, encodeReply: entry, absent: ENOSYS }),
  row<D.MkdirRequest, R.EntryReply>({ code: 9, name: 'MKDIR', minMinor: 0, method: 'mkdir', decode: D.decodeMkdir, encodeReply: entry, absent: ENOSYS }),
  row<D.EntryNameRequest, void>({ code: 10, name: 'UNLINK', minMinor: 0, method: 'unlink', decode: D.decodeEntryName, encodeReply: none, absent: ENOSYS }),
  row<D.EntryNameRequest, void>({ code: 11, name: 'RMDIR', minMinor: 0, method: 'rmdir', decode: D.decodeEntryName, encodeReply: none, absent: ENOSYS }),
  row<D.RenameRequest, void>({ code: 12, name: 'RENAME', minMinor: 0, method: 'rename', decode: D.decodeRename, encodeReply: none, absent: ENOSYS }),
  row<D.LinkRequest, R.EntryReply>({ code: 13, name: 'LINK', minMinor: 0, method: 'link', decode: D.decodeLink, encodeReply: entry, absent: ENOSYS }),
  row<D.OpenRequest, R.OpenReply | undefined>({ code: 14, name: 'OPEN', minMinor: 0, method: 'open', decode: D.decodeOpen, encodeReply: open, absent: () => ({}) }),
  row<D.ReadRequest, R.BytesLike | readonly Uint8Array[]>({ code: 15, name: 'READ', anyCaller: true, minMinor: 0, method: 'read', decode: D.decodeRead, encodeReply: (res, req) => R.encodeData(res, req.size), absent: ENOSYS }),
  row<D.WriteRequest, number>({
    code: 16, name: 'WRITE', anyCaller: true, minMinor: 0, method: 'write', decode: D.decodeWrite,
    encodeReply: (res, req) => (Number.isInteger(res) && res >= 0 && res <= req.size ? [R.encodeWriteOut(res)] : badResult(`write must return a byte count 0..${req.size}, got ${String(res)}`)),
    absent: ENOSYS,
  }),
  row<D.InodeRequest, R.StatfsReply>({ code: 17, name: 'STATFS', minMinor: 0, method: 'statfs', decode: D.decodeInode, encodeReply: (res) => [R.encodeStatfsOut(res)], absent: () => ({ namelen: 255, bsize: 512 }) }),
  row<D.ReleaseRequest, void>({ code: 18, name: 'RELEASE', anyCaller: true, minMinor: 0, method: 'release', decode: D.decodeRelease, encodeReply: none, absent: () => undefined }),
  row<D.FsyncRequest, void>({ code: 20, name: 'FSYNC', anyCaller: true, minMinor: 0, method: 'fsync', decode: D.decodeFsync, encodeReply: none, absent: ENOSYS }),
  row<D.SetxattrRequest, void>({ code: 21, name: 'SETXATTR', minMinor: 0, method: 'setxattr', decode: D.decodeSetxattr, encodeReply: none, absent: ENOSYS }),
  row<D.GetxattrRequest, R.BytesLike>({ code: 22, name: 'GETXATTR', minMinor: 0, method: 'getxattr', decode: D.decodeGetxattr, encodeReply: (res, req) => xattr(R.asBytes(res), req.size), absent: ENOSYS }),
  row<D.ListxattrRequest, readonly R.BytesLike[] | Uint8Array>({ code: 23, name: 'LISTXATTR', minMinor: 0, method: 'listxattr', decode: D.decodeListxattr, encodeReply: (res, req) => xattr(R.joinXattrNames(res), req.size), absent: ENOSYS }),
  row<D.RemovexattrRequest, void>({ code: 24, name: 'REMOVEXATTR', minMinor: 0, method: 'removexattr', decode: D.decodeRemovexattr, encodeReply: none, absent: ENOSYS }),
  row<D.FlushRequest, void>({ code: 25, name: 'FLUSH', minMinor: 0, method: 'flush', decode: D.decodeFlush, encodeReply: none, absent: ENOSYS }),
  row<D.InitRequest, InitOutFields>({ code: 26, name: 'INIT', anyCaller: true, minMinor: 0, session: 'init', decode: D.decodeInit, encodeReply: (res, req) => [encodeInitOut(res, req.minor)], absent: EIO }),
  row<D.OpenRequest, R.OpenReply | undefined>({ code: 27, name: 'OPENDIR', minMinor: 0, method: 'opendir', decode: D.decodeOpen, encodeReply: open, absent: () => ({}) }),
  row<D.ReadRequest, readonly DirEntry[]>({ code: 28, name: 'READDIR', anyCaller: true, minMinor: 0, method: 'readdir', decode: D.decodeRead, encodeReply: (res, req) => [packDirents(res, req.size).data], absent: ENOSYS }),
  row<D.ReleaseRequest, void>({ code: 29, name: 'RELEASEDIR', anyCaller: true, minMinor: 0, method: 'releasedir', decode: D.decodeRelease, encodeReply: none, absent: () => undefined }),
  row<D.FsyncRequest, void>({ code: 30, name: 'FSYNCDIR', anyCaller: true, minMinor: 2, method: 'fsyncdir', decode: D.decodeFsync, encodeReply: none, absent: ENOSYS }),
  row<D.LockRequest, R.LockReply>({ code: 31, name: 'GETLK', minMinor: 7, method: 'getlk', decode: D.decodeLock(false), encodeReply: (res) => [R.encodeLkOut(res)], absent: ENOSYS }),
  row<D.LockRequest, void>({ code: 32, name: 'SETLK', minMinor: 7, method: 'setlk', decode: D.decodeLock(false), encodeReply: none, absent: ENOSYS }),
  row<D.LockRequest, void>({ code: 33, name: 'SETLKW', minMinor: 7, method: 'setlk', decode: D.decodeLock(true), encodeReply: none, absent: ENOSYS }),
  row<D.AccessRequest, void>({ code: 34, name: 'ACCESS', minMinor: 3, method: 'access', decode: D.decodeAccess, encodeReply: none, absent: ENOSYS }),
  row<D.CreateRequest, R.CreateReply>({ code: 35, name: 'CREATE', minMinor: 3, method: 'create', decode: D.decodeCreate, encodeReply: (res) => R.encodeCreateOut(res), absent: ENOSYS }),
  row<D.InterruptRequest, void>({ code: 36, name: 'INTERRUPT', anyCaller: true, minMinor: 7, session: 'interrupt', decode: D.decodeInterrupt, encodeReply: none, noReply: true, absent: () => undefined }),
  row<D.BmapRequest, U64>({ code: 37, name: 'BMAP', minMinor: 8, method: 'bmap', decode: D.decodeBmap, encodeReply: (res) => [R.encodeBmapOut(res)], absent: ENOSYS }),
  row<D.EmptyRequest, void>({ code: 38, name: 'DESTROY', anyCaller: true, minMinor: 8, session: 'destroy', decode: D.decodeEmpty, encodeReply: none, absent: () => undefined }),
  row<D.IoctlRequest, R.IoctlReply>({ code: 39, name: 'IOCTL', minMinor: 11, method: 'ioctl', decode: D.decodeIoctl, encodeReply: (res, req) => R.encodeIoctlOut(res, req.outSize), absent: ENOSYS }),
  row<D.PollRequest, number>({ code: 40, name: 'POLL', minMinor: 11, method: 'poll', decode: D.decodePoll, encodeReply: (res) => [R.encodePollOut(res)], absent: ENOSYS }),
  row<D.NotifyReplyRequest, void>({
    code: 41, name: 'NOTIFY_REPLY', anyCaller: true, minMinor: 15, session: 'notify-reply', noReply: true, encodeReply: none, absent: () => undefined,
    decode: D.decodeNotifyReply,
  }),
  row<D.BatchForgetRequest, void>({ code: 42, name: 'BATCH_FORGET', anyCaller: true, minMinor: 16, method: 'forget', decode: D.decodeBatchForget, encodeReply: none, noReply: true, absent: () => undefined }),
  row<D.FallocateRequest, void>({ code: 43, name: 'FALLOCATE', minMinor: 19, method: 'fallocate', decode: D.decodeFallocate, encodeReply: none, absent: ENOSYS }),
  row<D.ReadRequest, readonly DirEntryPlus[]>({ code: 44, name: 'READDIRPLUS', anyCaller: true, minMinor: 21, method: 'readdirplus', decode: D.decodeRead, encodeReply: (res, req) => [packDirentsPlus(res, req.size).data], droppedLookups: (res, req) => unsentLookups(res, req.size), absent: ENOSYS }),
  row<D.RenameRequest, void>({ code: 45, name: 'RENAME2', minMinor: 23, method: 'rename', decode: D.decodeRename2, encodeReply: none, absent: ENOSYS }),
  row<D.LseekRequest, U64>({ code: 46, name: 'LSEEK', minMinor: 24, method: 'lseek', decode: D.decodeLseek, encodeReply: (res) => [R.encodeLseekOut(res)], absent: ENOSYS }),
  row<D.CopyFileRangeRequest, number>({
    code: 47, name: 'COPY_FILE_RANGE', minMinor: 28, method: 'copyFileRange', decode: D.decodeCopyFileRange,
    // The 32-bit reply (fuse_write_out) cannot say more than 4 GiB − 1; the kernel asks for no more.
    encodeReply: (res) => (Number.isInteger(res) && res >= 0 && res <= 0xffff_ffff ? [R.encodeWriteOut(res)] : badResult(`copyFileRange must return 0..2^32-1 bytes here, got ${String(res)}`)),
    absent: ENOSYS,
  }),
  row<D.SetupmappingRequest, void>({ code: 48, name: 'SETUPMAPPING', minMinor: 31, decode: D.decodeSetupmapping, encodeReply: none, absent: ENOSYS }),
  row<D.RemovemappingRequest, void>({ code: 49, name: 'REMOVEMAPPING', minMinor: 31, decode: D.decodeRemovemapping, encodeReply: none, absent: ENOSYS }),
  row<D.InodeRequest, void>({ code: 50, name: 'SYNCFS', minMinor: 34, method: 'syncfs', decode: D.decodeSyncfs, encodeReply: none, absent: ENOSYS }),
  row<D.TmpfileRequest, R.CreateReply>({ code: 51, name: 'TMPFILE', minMinor: 37, method: 'tmpfile', decode: D.decodeTmpfile, encodeReply: (res) => R.encodeCreateOut(res), absent: ENOSYS }),
  row<D.StatxRequest, R.StatxReply>({ code: 52, name: 'STATX', minMinor: 39, method: 'statx', decode: D.decodeStatx, encodeReply: (res, req) => [R.encodeStatxOut(res, req.ino)], absent: ENOSYS }),
  row<D.CopyFileRangeRequest, U64>({ code: 53, name: 'COPY_FILE_RANGE_64', minMinor: 45, method: 'copyFileRange', decode: D.decodeCopyFileRange, encodeReply: (res) => [R.encodeCopyFileRangeOut(res)], absent: ENOSYS }),
  row<D.CuseInitRequest, void>({ code: 4096, name: 'CUSE_INIT', minMinor: 11, decode: D.decodeCuseInit, encodeReply: none, absent: ENOSYS }),
]);

function xattr(data: Uint8Array, size: number): Encoded {
  const r = R.encodeXattrData(data, size);
  return r === 'ERANGE' ? ERANGE : r;
}

function badResult(message: string): never {
  throw new TypeError(message);
}

/** Row by opcode number: a dense array for the common range and a map for CUSE_INIT. */
const BY_CODE: (OpcodeRow | undefined)[] = [];
const BY_NAME = new Map<string, OpcodeRow>();
for (const r of OPCODES) {
  if (r.code < 1024) BY_CODE[r.code] = r;
  BY_NAME.set(r.name, r);
}
const CUSE_INIT_ROW = BY_NAME.get('CUSE_INIT');

export function opcodeRow(code: number): OpcodeRow | undefined {
  return code < 1024 ? BY_CODE[code] : code === 4096 ? CUSE_INIT_ROW : undefined;
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
