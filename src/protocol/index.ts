/**
 * The FUSE kernel ABI (7.27 … 7.45) as data and pure functions over bytes. No I/O.
 */
export { type U64, readU64, writeU64, readI64, writeI64, isU64, toU64, isOffT, MAX_OFF_T } from './u64.ts';
export type { Ino, Fh, LockOwner, Unique } from './ids.ts';
export { FrameReader, isDecodeError, describeDecodeError, type DecodeError } from './reader.ts';
export { defineStruct, type StructLayout, type FieldSpec, type ScalarType } from './layout.ts';
export * as structs from './structs.ts';
export {
  KERNEL_MAJOR, KERNEL_MINOR, MIN_SUPPORTED_MINOR, ROOT_ID, MIN_READ_BUFFER, INVALID_UIDGID, NotifyCode, INIT_FLAGS,
  INIT_FLAG_BY_NAME, OpenFlags, SetattrValid, ReleaseFlags, GetattrFlags, LockFlags, WriteFlags, ReadFlags, FsyncFlags,
  PollFlags, AttrFlags, OpenInFlags, StatxMask, SetxattrFlags, InvalEntryFlags, IoctlFlags, IOCTL_MAX_IOV, CuseInitFlags, INIT_EXT,
  SetupmappingFlags, RenameFlags, DevIoctl, Uring, flagNames, type InitFlagName, type InitFlagInfo, type NotifyCodeName,
} from './constants.ts';
export {
  IN_HEADER_SIZE, OUT_HEADER_SIZE, decodeInHeader, decodeExtensions, frameReply, frameNotify,
  type InHeaderFields, type RequestExtensions, type SecurityContext,
} from './header.ts';
export * from './requests.ts';
export * from './replies.ts';
export { packDirents, packDirentsPlus, countDirentsPlus, unsentLookups, type DirEntry, type DirEntryPlus, type PackedDirents } from './dirent.ts';
export { DirentWriter, checkPackedDirents } from './dirent-writer.ts';
export {
  negotiateInit, encodeInitOut, initOutSize, INIT_DEFAULTS, DEFAULT_MAX_PAGES_LIMIT,
  type InitWants, type InitOutcome, type InitOutFields, type CapabilityAudit,
} from './init.ts';
export { type Negotiated, hasFlag, PRE_INIT } from './negotiated.ts';
export * from './notify.ts';
export { OPCODES, opcodeRow, opcodeByName, opcodeName, Opcode, type OpcodeRow, type ReplyShape, type Encoded, type NameRule, type NameField } from './opcodes.ts';
export { decodeRequest, type DecodedRequest } from './decode.ts';
