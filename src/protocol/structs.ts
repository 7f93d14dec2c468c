/**
 * Every struct of the FUSE kernel ABI, protocol 7.45 (Linux 6.18), with the minor that gave it its
 * current shape. Field names are the C names. Sizes newer than a machine's `<linux/fuse.h>` are checked
 * by test/protocol/c-layout.test.ts against the values written in the comments here, which come from
 * libfuse's include/fuse_kernel.h at 7.45.
 */
import { defineStruct } from './layout.ts';

/** 40 bytes. `total_extlen` (in 8-byte units) took a padding slot in 7.38. */
export const InHeader = defineStruct('fuse_in_header', 38, [
  ['len', 'u32'], ['opcode', 'u32'], ['unique', 'u64'], ['nodeid', 'u64'], ['uid', 'u32'], ['gid', 'u32'],
  ['pid', 'u32'], ['total_extlen', 'u16'], ['padding', 'u16'],
]);
/** 16 bytes. */
export const OutHeader = defineStruct('fuse_out_header', 0, [['len', 'u32'], ['error', 'i32'], ['unique', 'u64']]);

/** 88 bytes; `padding` became `flags` (FUSE_ATTR_SUBMOUNT, FUSE_ATTR_DAX) in 7.32. */
export const Attr = defineStruct('fuse_attr', 32, [
  ['ino', 'u64'], ['size', 'u64'], ['blocks', 'u64'], ['atime', 'u64'], ['mtime', 'u64'], ['ctime', 'u64'],
  ['atimensec', 'u32'], ['mtimensec', 'u32'], ['ctimensec', 'u32'], ['mode', 'u32'], ['nlink', 'u32'],
  ['uid', 'u32'], ['gid', 'u32'], ['rdev', 'u32'], ['blksize', 'u32'], ['flags', 'u32'],
]);
/** 16 bytes (7.39). */
export const SxTime = defineStruct('fuse_sx_time', 39, [['tv_sec', 'i64'], ['tv_nsec', 'u32'], ['__reserved', 'i32']]);
/** 256 bytes (7.39). */
export const Statx = defineStruct('fuse_statx', 39, [
  ['mask', 'u32'], ['blksize', 'u32'], ['attributes', 'u64'], ['nlink', 'u32'], ['uid', 'u32'], ['gid', 'u32'],
  ['mode', 'u16'], ['__spare0', 'u16', 1], ['ino', 'u64'], ['size', 'u64'], ['blocks', 'u64'],
  ['attributes_mask', 'u64'], ['atime', SxTime], ['btime', SxTime], ['ctime', SxTime], ['mtime', SxTime],
  ['rdev_major', 'u32'], ['rdev_minor', 'u32'], ['dev_major', 'u32'], ['dev_minor', 'u32'], ['__spare2', 'u64', 14],
]);
/** 80 bytes; 48 before 7.4 (FUSE_COMPAT_STATFS_SIZE). */
export const Kstatfs = defineStruct('fuse_kstatfs', 4, [
  ['blocks', 'u64'], ['bfree', 'u64'], ['bavail', 'u64'], ['files', 'u64'], ['ffree', 'u64'], ['bsize', 'u32'],
  ['namelen', 'u32'], ['frsize', 'u32'], ['padding', 'u32'], ['spare', 'u32', 6],
]);
/** 24 bytes. */
export const FileLock = defineStruct('fuse_file_lock', 0, [['start', 'u64'], ['end', 'u64'], ['type', 'u32'], ['pid', 'u32']]);

/** 128 bytes; 120 before 7.9 (FUSE_COMPAT_ENTRY_OUT_SIZE). */
export const EntryOut = defineStruct('fuse_entry_out', 9, [
  ['nodeid', 'u64'], ['generation', 'u64'], ['entry_valid', 'u64'], ['attr_valid', 'u64'],
  ['entry_valid_nsec', 'u32'], ['attr_valid_nsec', 'u32'], ['attr', Attr],
]);
export const ForgetIn = defineStruct('fuse_forget_in', 0, [['nlookup', 'u64']]);
/** 7.16 */
export const ForgetOne = defineStruct('fuse_forget_one', 16, [['nodeid', 'u64'], ['nlookup', 'u64']]);
/** 7.16 */
export const BatchForgetIn = defineStruct('fuse_batch_forget_in', 16, [['count', 'u32'], ['dummy', 'u32']]);
/** 7.9 */
export const GetattrIn = defineStruct('fuse_getattr_in', 9, [['getattr_flags', 'u32'], ['dummy', 'u32'], ['fh', 'u64']]);
/** 104 bytes; 96 before 7.9 (FUSE_COMPAT_ATTR_OUT_SIZE). */
export const AttrOut = defineStruct('fuse_attr_out', 9, [
  ['attr_valid', 'u64'], ['attr_valid_nsec', 'u32'], ['dummy', 'u32'], ['attr', Attr],
]);
/** 24 bytes (7.39). */
export const StatxIn = defineStruct('fuse_statx_in', 39, [
  ['getattr_flags', 'u32'], ['reserved', 'u32'], ['fh', 'u64'], ['sx_flags', 'u32'], ['sx_mask', 'u32'],
]);
/** 288 bytes (7.39). */
export const StatxOut = defineStruct('fuse_statx_out', 39, [
  ['attr_valid', 'u64'], ['attr_valid_nsec', 'u32'], ['flags', 'u32'], ['spare', 'u64', 2], ['stat', Statx],
]);
/** 16 bytes; 8 before 7.12 (FUSE_COMPAT_MKNOD_IN_SIZE). */
export const MknodIn = defineStruct('fuse_mknod_in', 12, [['mode', 'u32'], ['rdev', 'u32'], ['umask', 'u32'], ['padding', 'u32']]);
export const MkdirIn = defineStruct('fuse_mkdir_in', 12, [['mode', 'u32'], ['umask', 'u32']]);
export const RenameIn = defineStruct('fuse_rename_in', 0, [['newdir', 'u64']]);
/** 7.23 */
export const Rename2In = defineStruct('fuse_rename2_in', 23, [['newdir', 'u64'], ['flags', 'u32'], ['padding', 'u32']]);
export const LinkIn = defineStruct('fuse_link_in', 0, [['oldnodeid', 'u64']]);
/** 88 bytes; ctime fields since 7.23. */
export const SetattrIn = defineStruct('fuse_setattr_in', 23, [
  ['valid', 'u32'], ['padding', 'u32'], ['fh', 'u64'], ['size', 'u64'], ['lock_owner', 'u64'], ['atime', 'u64'],
  ['mtime', 'u64'], ['ctime', 'u64'], ['atimensec', 'u32'], ['mtimensec', 'u32'], ['ctimensec', 'u32'],
  ['mode', 'u32'], ['unused4', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['unused5', 'u32'],
]);
/** `unused` became `open_flags` (FUSE_OPEN_KILL_SUIDGID) in 7.33. */
export const OpenIn = defineStruct('fuse_open_in', 33, [['flags', 'u32'], ['open_flags', 'u32']]);
/** `padding` became `open_flags` in 7.33. */
export const CreateIn = defineStruct('fuse_create_in', 33, [['flags', 'u32'], ['mode', 'u32'], ['umask', 'u32'], ['open_flags', 'u32']]);
/** `padding` became `backing_id` in 7.40 (FOPEN_PASSTHROUGH). */
export const OpenOut = defineStruct('fuse_open_out', 40, [['fh', 'u64'], ['open_flags', 'u32'], ['backing_id', 'i32']]);
export const ReleaseIn = defineStruct('fuse_release_in', 8, [['fh', 'u64'], ['flags', 'u32'], ['release_flags', 'u32'], ['lock_owner', 'u64']]);
export const FlushIn = defineStruct('fuse_flush_in', 7, [['fh', 'u64'], ['unused', 'u32'], ['padding', 'u32'], ['lock_owner', 'u64']]);
/** 40 bytes since 7.9 (lock_owner, flags). */
export const ReadIn = defineStruct('fuse_read_in', 9, [
  ['fh', 'u64'], ['offset', 'u64'], ['size', 'u32'], ['read_flags', 'u32'], ['lock_owner', 'u64'], ['flags', 'u32'], ['padding', 'u32'],
]);
/** 40 bytes; 24 before 7.9 (FUSE_COMPAT_WRITE_IN_SIZE). */
export const WriteIn = defineStruct('fuse_write_in', 9, [
  ['fh', 'u64'], ['offset', 'u64'], ['size', 'u32'], ['write_flags', 'u32'], ['lock_owner', 'u64'], ['flags', 'u32'], ['padding', 'u32'],
]);
export const WriteOut = defineStruct('fuse_write_out', 0, [['size', 'u32'], ['padding', 'u32']]);
export const StatfsOut = defineStruct('fuse_statfs_out', 4, [['st', Kstatfs]]);
export const FsyncIn = defineStruct('fuse_fsync_in', 0, [['fh', 'u64'], ['fsync_flags', 'u32'], ['padding', 'u32']]);
/** 16 bytes with FUSE_SETXATTR_EXT (7.33); 8 otherwise (FUSE_COMPAT_SETXATTR_IN_SIZE). */
export const SetxattrIn = defineStruct('fuse_setxattr_in', 33, [['size', 'u32'], ['flags', 'u32'], ['setxattr_flags', 'u32'], ['padding', 'u32']]);
export const GetxattrIn = defineStruct('fuse_getxattr_in', 0, [['size', 'u32'], ['padding', 'u32']]);
export const GetxattrOut = defineStruct('fuse_getxattr_out', 0, [['size', 'u32'], ['padding', 'u32']]);
/** lk_flags since 7.9. */
export const LkIn = defineStruct('fuse_lk_in', 9, [['fh', 'u64'], ['owner', 'u64'], ['lk', FileLock], ['lk_flags', 'u32'], ['padding', 'u32']]);
export const LkOut = defineStruct('fuse_lk_out', 0, [['lk', FileLock]]);
export const AccessIn = defineStruct('fuse_access_in', 0, [['mask', 'u32'], ['padding', 'u32']]);
/** 64 bytes since 7.36 (flags2); 16 bytes before, which the kernel still sends to old daemons' peers. */
export const InitIn = defineStruct('fuse_init_in', 36, [
  ['major', 'u32'], ['minor', 'u32'], ['max_readahead', 'u32'], ['flags', 'u32'], ['flags2', 'u32'], ['unused', 'u32', 11],
]);
/**
 * 64 bytes at 7.45: max_stack_depth (7.40) and request_timeout (7.43) took `unused` slots.
 * Older minors expect 8 bytes (< 7.5, FUSE_COMPAT_INIT_OUT_SIZE) or 24 bytes (< 7.23, FUSE_COMPAT_22_INIT_OUT_SIZE).
 */
export const InitOut = defineStruct('fuse_init_out', 43, [
  ['major', 'u32'], ['minor', 'u32'], ['max_readahead', 'u32'], ['flags', 'u32'], ['max_background', 'u16'],
  ['congestion_threshold', 'u16'], ['max_write', 'u32'], ['time_gran', 'u32'], ['max_pages', 'u16'],
  ['map_alignment', 'u16'], ['flags2', 'u32'], ['max_stack_depth', 'u32'], ['request_timeout', 'u16'], ['unused', 'u16', 11],
]);
export const CuseInitIn = defineStruct('cuse_init_in', 0, [['major', 'u32'], ['minor', 'u32'], ['unused', 'u32'], ['flags', 'u32']]);
export const CuseInitOut = defineStruct('cuse_init_out', 0, [
  ['major', 'u32'], ['minor', 'u32'], ['unused', 'u32'], ['flags', 'u32'], ['max_read', 'u32'], ['max_write', 'u32'],
  ['dev_major', 'u32'], ['dev_minor', 'u32'], ['spare', 'u32', 10],
]);
export const InterruptIn = defineStruct('fuse_interrupt_in', 0, [['unique', 'u64']]);
export const BmapIn = defineStruct('fuse_bmap_in', 0, [['block', 'u64'], ['blocksize', 'u32'], ['padding', 'u32']]);
export const BmapOut = defineStruct('fuse_bmap_out', 0, [['block', 'u64']]);
/** 7.11 */
export const IoctlIn = defineStruct('fuse_ioctl_in', 11, [
  ['fh', 'u64'], ['flags', 'u32'], ['cmd', 'u32'], ['arg', 'u64'], ['in_size', 'u32'], ['out_size', 'u32'],
]);
/** 7.16 */
export const IoctlIovec = defineStruct('fuse_ioctl_iovec', 16, [['base', 'u64'], ['len', 'u64']]);
export const IoctlOut = defineStruct('fuse_ioctl_out', 11, [['result', 'i32'], ['flags', 'u32'], ['in_iovs', 'u32'], ['out_iovs', 'u32']]);
/** `padding` became `events` in 7.21. */
export const PollIn = defineStruct('fuse_poll_in', 21, [['fh', 'u64'], ['kh', 'u64'], ['flags', 'u32'], ['events', 'u32']]);
export const PollOut = defineStruct('fuse_poll_out', 11, [['revents', 'u32'], ['padding', 'u32']]);
export const NotifyPollWakeupOut = defineStruct('fuse_notify_poll_wakeup_out', 11, [['kh', 'u64']]);
/** 7.19 */
export const FallocateIn = defineStruct('fuse_fallocate_in', 19, [['fh', 'u64'], ['offset', 'u64'], ['length', 'u64'], ['mode', 'u32'], ['padding', 'u32']]);
/** 24 bytes; the name follows, then padding to 8. */
export const Dirent = defineStruct('fuse_dirent', 0, [['ino', 'u64'], ['off', 'u64'], ['namelen', 'u32'], ['type', 'u32']]);
/** 152 bytes before the name (7.21). */
export const Direntplus = defineStruct('fuse_direntplus', 21, [['entry_out', EntryOut], ['dirent', Dirent]]);
/** 7.12 */
export const NotifyInvalInodeOut = defineStruct('fuse_notify_inval_inode_out', 12, [['ino', 'u64'], ['off', 'i64'], ['len', 'i64']]);
/** `padding` became `flags` (FUSE_EXPIRE_ONLY) in 7.38. */
export const NotifyInvalEntryOut = defineStruct('fuse_notify_inval_entry_out', 38, [['parent', 'u64'], ['namelen', 'u32'], ['flags', 'u32']]);
/** 7.18 */
export const NotifyDeleteOut = defineStruct('fuse_notify_delete_out', 18, [['parent', 'u64'], ['child', 'u64'], ['namelen', 'u32'], ['padding', 'u32']]);
/** 7.15 */
export const NotifyStoreOut = defineStruct('fuse_notify_store_out', 15, [['nodeid', 'u64'], ['offset', 'u64'], ['size', 'u32'], ['padding', 'u32']]);
/** 7.15 */
export const NotifyRetrieveOut = defineStruct('fuse_notify_retrieve_out', 15, [
  ['notify_unique', 'u64'], ['nodeid', 'u64'], ['offset', 'u64'], ['size', 'u32'], ['padding', 'u32'],
]);
/** 7.15; the same size as fuse_write_in, which it stands in for. */
export const NotifyRetrieveIn = defineStruct('fuse_notify_retrieve_in', 15, [
  ['dummy1', 'u64'], ['offset', 'u64'], ['size', 'u32'], ['dummy2', 'u32'], ['dummy3', 'u64'], ['dummy4', 'u64'],
]);
/** 16 bytes (7.45); `count` node ids (u64) follow. */
export const NotifyPruneOut = defineStruct('fuse_notify_prune_out', 45, [['count', 'u32'], ['padding', 'u32'], ['spare', 'u64']]);
/** 16 bytes (7.40), the argument of FUSE_DEV_IOC_BACKING_OPEN. */
export const BackingMap = defineStruct('fuse_backing_map', 40, [['fd', 'i32'], ['flags', 'u32'], ['padding', 'u64']]);
/** 7.24 */
export const LseekIn = defineStruct('fuse_lseek_in', 24, [['fh', 'u64'], ['offset', 'u64'], ['whence', 'u32'], ['padding', 'u32']]);
export const LseekOut = defineStruct('fuse_lseek_out', 24, [['offset', 'u64']]);
/** 56 bytes (7.28). */
export const CopyFileRangeIn = defineStruct('fuse_copy_file_range_in', 28, [
  ['fh_in', 'u64'], ['off_in', 'u64'], ['nodeid_out', 'u64'], ['fh_out', 'u64'], ['off_out', 'u64'], ['len', 'u64'], ['flags', 'u64'],
]);
/** 8 bytes (7.45), the reply of COPY_FILE_RANGE_64. */
export const CopyFileRangeOut = defineStruct('fuse_copy_file_range_out', 45, [['bytes_copied', 'u64']]);
/** 40 bytes (7.31, virtio-fs DAX). */
export const SetupmappingIn = defineStruct('fuse_setupmapping_in', 31, [
  ['fh', 'u64'], ['foffset', 'u64'], ['len', 'u64'], ['flags', 'u64'], ['moffset', 'u64'],
]);
/** 4 bytes (7.31); `count` fuse_removemapping_one follow. */
export const RemovemappingIn = defineStruct('fuse_removemapping_in', 31, [['count', 'u32']]);
export const RemovemappingOne = defineStruct('fuse_removemapping_one', 31, [['moffset', 'u64'], ['len', 'u64']]);
/** 7.34 */
export const SyncfsIn = defineStruct('fuse_syncfs_in', 34, [['padding', 'u64']]);
/** 7.36: the security-context extension header and each context. */
export const SecctxHeader = defineStruct('fuse_secctx_header', 36, [['size', 'u32'], ['nr_secctx', 'u32']]);
export const Secctx = defineStruct('fuse_secctx', 36, [['size', 'u32'], ['padding', 'u32']]);
/** 7.38: every request extension starts with this. */
export const ExtHeader = defineStruct('fuse_ext_header', 38, [['size', 'u32'], ['type', 'u32']]);
/** 7.38: FUSE_EXT_GROUPS payload; `nr_groups` u32 gids follow. */
export const SuppGroups = defineStruct('fuse_supp_groups', 38, [['nr_groups', 'u32']]);
/** 7.42: io_uring entry header pieces. */
export const UringEntInOut = defineStruct('fuse_uring_ent_in_out', 42, [
  ['flags', 'u64'], ['commit_id', 'u64'], ['payload_sz', 'u32'], ['padding', 'u32'], ['reserved', 'u64'],
]);
export const UringReqHeader = defineStruct('fuse_uring_req_header', 42, [
  ['in_out', 'u8', 128], ['op_in', 'u8', 128], ['ring_ent_in_out', UringEntInOut],
]);
export const UringCmdReq = defineStruct('fuse_uring_cmd_req', 42, [['flags', 'u64'], ['commit_id', 'u64'], ['qid', 'u16'], ['padding', 'u8', 6]]);

/** All layouts, for the C layout test and for documentation tools. */
export const ALL_STRUCTS = Object.freeze([
  InHeader, OutHeader, Attr, SxTime, Statx, Kstatfs, FileLock, EntryOut, ForgetIn, ForgetOne, BatchForgetIn, GetattrIn,
  AttrOut, StatxIn, StatxOut, MknodIn, MkdirIn, RenameIn, Rename2In, LinkIn, SetattrIn, OpenIn, CreateIn, OpenOut,
  ReleaseIn, FlushIn, ReadIn, WriteIn, WriteOut, StatfsOut, FsyncIn, SetxattrIn, GetxattrIn, GetxattrOut, LkIn, LkOut,
  AccessIn, InitIn, InitOut, CuseInitIn, CuseInitOut, InterruptIn, BmapIn, BmapOut, IoctlIn, IoctlIovec, IoctlOut,
  PollIn, PollOut, NotifyPollWakeupOut, FallocateIn, Dirent, Direntplus, NotifyInvalInodeOut, NotifyInvalEntryOut,
  NotifyDeleteOut, NotifyStoreOut, NotifyRetrieveOut, NotifyRetrieveIn, NotifyPruneOut, BackingMap, LseekIn, LseekOut,
  CopyFileRangeIn, CopyFileRangeOut, SetupmappingIn, RemovemappingIn, RemovemappingOne, SyncfsIn, SecctxHeader,
  Secctx, ExtHeader, SuppGroups, UringEntInOut, UringReqHeader, UringCmdReq,
]);
