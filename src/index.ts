/**
 * tsfuse: the Linux FUSE protocol in pure TypeScript. What a filesystem author needs, in one place:
 * mounting, the low-level interface with its request and reply types, errors, constants and helpers.
 * The codec itself (decoders, encoders, the opcode table, INIT negotiation) and the transport-free
 * session core are for experimenters, in `tsfuse/protocol`; a fake kernel for tests is `tsfuse/testing`.
 */
// Errors
export { FuseError, TsfuseError, Errno, errnoName, errnoOf, ERROR_CODES, type ErrorCode } from './errors.ts';
// Mounting and serving
export { mount, type FuseMount, type MountOptions } from './session/fuse-mount.ts';
export { Session, type SessionOptions, type SessionPhase, type Notifier } from './session/session.ts';
export type { StatsSnapshot, OpcodeStats, LatencySummary } from './session/stats.ts';
export type { BackingFiles } from './session/backing.ts';
export type { HandoffHooks, HandoffExportContext, HandoffImportContext, HandoffResult } from './handoff/types.ts';
export type { HandoffOptions } from './handoff/predecessor.ts';
export type { RecoveryHooks, RecoveryJournal } from './handoff/supervisor-journal.ts';
export { SUPERVISOR_DEFAULTS, type SuperviseOptions } from './handoff/supervisor.ts';
export type { TransportKind } from './session/transport.ts';
export type { RecordTarget, RecordingSink } from './record/recorder.ts';
export type { RecordingMetadata } from './record/format.ts';
export {
  mountDevice, unmount, cleanStaleMount, parseMountOptions, DEFAULT_FSNAME, KNOWN_OPTIONS,
  type MountedDevice, type MountDeviceOptions, type ParsedMountOptions, type FsOptions, type KernelMountOptions,
  type MountOptionsInput, type MountOptionsObject, type AtimeMode, type MountMethod, type UnmountOptions,
} from './mount/index.ts';
// Tracing: the diagnostics channels and the `-d` formatter
export { startTrace, formatRequest, formatReply } from './session/trace.ts';
export { limitYoungGeneration } from './session/young-generation.ts';
export { REQUEST_CHANNEL, REPLY_CHANNEL, type RequestMessage, type ReplyMessage } from './session/core.ts';
export type { InHeaderFields } from './protocol/header.ts';
export { opcodeName } from './protocol/opcodes.ts';
// The low-level filesystem interface
export type {
  LowLevelOperations, RequestContext, InitInfo, ReadyInfo, MaybePromise, HandlerName, ReaddirResult, ReaddirplusResult,
  UnnumberedDirEntry, UnnumberedDirEntryPlus,
} from './ops/lowlevel.ts';
export { HandleDescriptors, HANDLE_DESCRIPTORS_DEFAULTS, type HandleDescriptorsOptions } from './ops/handle-descriptors.ts';
// The path-based filesystem interface, served through the low-level one
export { pathOperations } from './ops/path/layer.ts';
export type {
  PathFilesystem, PathOperations, PathLayerOptions, PathStat, PathContext, PathDirEntry, PathListing, PathOpenResult,
  PathStatfs, PathLock, PathNotifier, Timestamp, AnyStat,
} from './ops/path/types.ts';
// Filesystems that ship with tsfuse (and that `tsfuse memfs` / `tsfuse passthrough` serve)
export { createMemfs, parseMemfsSize, Memfs, type MemfsOptions } from './memfs/index.ts';
export {
  createPassthrough, servePassthrough, passthroughMountOptions, PASSTHROUGH_MOUNT_OPTIONS, type PassthroughOptions, type PassthroughOperations,
} from './passthrough/index.ts';
// Helpers for handlers
export { attrFromStats } from './ops/stats.ts';
export { checkAccess, callerGroups, setIdsToDrop, F_OK, R_OK, W_OK, X_OK, type Caller, type AccessAttr } from './ops/permissions.ts';
export {
  S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO, S_ISUID, S_ISGID, S_ISVTX,
  DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK, dtFromMode,
} from './ops/file-mode.ts';
// Constants and flag sets found in requests and replies
export {
  ROOT_ID, OpenFlags, SetattrValid, RenameFlags, IoctlFlags, PollFlags, AttrFlags, ReleaseFlags, GetattrFlags, LockFlags,
  WriteFlags, ReadFlags, FsyncFlags, OpenInFlags, SetxattrFlags, type InitFlagName,
} from './protocol/constants.ts';
export { hasFlag, type Negotiated } from './protocol/negotiated.ts';
export type { InitWants, CapabilityAudit } from './protocol/init.ts';
export type { U64 } from './protocol/u64.ts';
export type { Ino, Fh, LockOwner, Unique } from './protocol/ids.ts';
export type { RequestExtensions, SecurityContext } from './protocol/header.ts';
// What handlers return
export type {
  Attr, EntryReply, AttrReply, OpenReply, CreateReply, StatfsReply, LockReply, IoctlReply, IoctlIovec, StatxReply,
  StatxData, StatxTime, BytesLike, TimeLike,
} from './protocol/replies.ts';
export type { DirEntry, DirEntryPlus } from './protocol/dirent.ts';
export { DirentWriter } from './protocol/dirent-writer.ts';
// What handlers receive
export type {
  InitRequest, LookupRequest, BatchForgetRequest, ForgetRequest, GetattrRequest, SetattrRequest, SetTime, Timespec,
  InodeRequest, SymlinkRequest, MknodRequest, MkdirRequest, EntryNameRequest, RenameRequest, LinkRequest, OpenRequest,
  ReadRequest, WriteRequest, ReleaseRequest, FsyncRequest, SetxattrRequest, GetxattrRequest, ListxattrRequest,
  RemovexattrRequest, FlushRequest, LockRequest, FileLock, AccessRequest, CreateRequest, BmapRequest, IoctlRequest,
  PollRequest, FallocateRequest, LseekRequest, CopyFileRangeRequest, TmpfileRequest, StatxRequest,
} from './protocol/requests.ts';
