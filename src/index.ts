/**
 * tsfuse: the Linux FUSE protocol in pure TypeScript. The public API, in one place.
 */
// Errors
export { FuseError, TsfuseError, Errno, errnoName, errnoOf, ERROR_CODES, type ErrorCode } from './errors.ts';
// Mounting and serving
export { mount, type FuseMount, type MountOptions } from './session/fuse-mount.ts';
export { Session, type SessionOptions, type Notifier } from './session/session.ts';
export { SessionCore, deriveCapabilities, REQUEST_CHANNEL, REPLY_CHANNEL, type SessionCoreOptions, type CoreOutput, type RequestMessage, type ReplyMessage } from './session/core.ts';
export { startTrace, formatRequest, formatReply } from './session/trace.ts';
export type { TransportKind } from './session/transport.ts';
export {
  mountDevice, unmount, cleanStaleMount, parseMountOptions, DEFAULT_FSNAME, KNOWN_OPTIONS,
  type MountedDevice, type MountDeviceOptions, type ParsedMountOptions, type FsOptions, type KernelMountOptions,
  type MountOptionsInput, type MountMethod, type UnmountOptions,
} from './mount/index.ts';
// The low-level filesystem interface
export type { LowLevelOperations, RequestContext, InitInfo, MaybePromise, HandlerName } from './ops/lowlevel.ts';
// The protocol: types handlers use, constants, and the codec for experimenters
export {
  ROOT_ID, KERNEL_MAJOR, KERNEL_MINOR, MIN_SUPPORTED_MINOR, OpenFlags, SetattrValid, RenameFlags, IoctlFlags, PollFlags,
  AttrFlags, INIT_FLAGS, NotifyCode, OPCODES, opcodeName, opcodeRow, decodeRequest, negotiateInit, encodeInitOut,
  frameReply, packDirents, packDirentsPlus, hasFlag,
  type U64, type Ino, type Fh, type LockOwner, type Unique, type InitFlagName, type Negotiated, type InitWants,
  type CapabilityAudit, type DecodeError, type OpcodeRow, type DirEntry, type DirEntryPlus, type Attr, type EntryReply,
  type AttrReply, type OpenReply, type CreateReply, type StatfsReply, type LockReply, type IoctlReply, type StatxReply,
  type StatxData, type BytesLike, type InitRequest,
  type LookupRequest, type BatchForgetRequest, type ForgetRequest, type GetattrRequest, type SetattrRequest, type SetTime,
  type Timespec, type InodeRequest, type SymlinkRequest, type MknodRequest, type MkdirRequest, type EntryNameRequest,
  type RenameRequest, type LinkRequest, type OpenRequest, type ReadRequest, type WriteRequest, type ReleaseRequest,
  type FsyncRequest, type SetxattrRequest, type GetxattrRequest, type ListxattrRequest, type RemovexattrRequest,
  type FlushRequest, type LockRequest, type FileLock, type AccessRequest, type CreateRequest, type BmapRequest,
  type IoctlRequest, type PollRequest, type FallocateRequest, type LseekRequest, type CopyFileRangeRequest,
  type TmpfileRequest, type StatxRequest, type RequestExtensions, type SecurityContext,
} from './protocol/index.ts';
