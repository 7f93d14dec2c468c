/**
 * The kernel ABI of FUSE over io_uring (protocol 7.42, Linux >= 6.14) and the slice of io_uring's own ABI
 * the transport uses, as numbers. Sources: include/uapi/linux/fuse.h (struct fuse_uring_req_header,
 * fuse_uring_ent_in_out, fuse_uring_cmd_req, enum fuse_uring_cmd), include/uapi/linux/io_uring.h, and
 * fs/fuse/dev_uring.c for how the kernel fills and reads the buffers. Offsets are for 64-bit little-endian
 * Linux (the only targets {@link URING_ARCHES} accepts).
 */

/** 64-bit little-endian Linux targets: the io_uring syscall numbers below and every layout here match them. */
export const URING_ARCHES: readonly string[] = ['x64', 'arm64', 'riscv64', 'loong64'];

/** Where the kernel's switch lives (fs/fuse/dev_uring.c: module_param enable_uring, 0644, default N). */
export const ENABLE_URING_PARAMETER = '/sys/module/fuse/parameters/enable_uring';

// ---- io_uring (include/uapi/linux/io_uring.h) -------------------------------------------------------

/** Syscall numbers: io_uring came after the syscall tables were unified, so they are 425..427 everywhere. */
export const SYS_IO_URING_SETUP = 425;
export const SYS_IO_URING_ENTER = 426;
export const SYS_IO_URING_REGISTER = 427;

/** IORING_SETUP_SQE128: 128-byte SQEs, whose last 80 bytes carry a uring_cmd's command (fuse_uring_cmd fails EINVAL without). */
export const IORING_SETUP_SQE128 = 1 << 10;
/** IORING_FEAT_SINGLE_MMAP (5.4): the SQ and CQ rings share one mapping. */
export const IORING_FEAT_SINGLE_MMAP = 1 << 0;
export const IORING_ENTER_GETEVENTS = 1 << 0;
export const IORING_REGISTER_EVENTFD = 4;
export const IORING_OFF_SQ_RING = 0;
export const IORING_OFF_SQES = 0x1000_0000;
/** enum io_uring_op: IORING_OP_URING_CMD (5.19), a command for the file's own ->uring_cmd. */
export const IORING_OP_URING_CMD = 46;

/** struct io_uring_params: 120 bytes; sq_off at 40 and cq_off at 80 (40 bytes each). */
export const Params = Object.freeze({
  SIZE: 120,
  SQ_ENTRIES: 0, CQ_ENTRIES: 4, FLAGS: 8, FEATURES: 20,
  SQ_OFF: 40, CQ_OFF: 80,
});
/** struct io_sqring_offsets, relative to Params.SQ_OFF. */
export const SqOffsets = Object.freeze({ HEAD: 0, TAIL: 4, RING_MASK: 8, RING_ENTRIES: 12, FLAGS: 16, DROPPED: 20, ARRAY: 24 });
/** struct io_cqring_offsets, relative to Params.CQ_OFF. */
export const CqOffsets = Object.freeze({ HEAD: 0, TAIL: 4, RING_MASK: 8, RING_ENTRIES: 12, OVERFLOW: 16, CQES: 20 });

/** struct io_uring_sqe with IORING_SETUP_SQE128: 128 bytes; a uring_cmd's `cmd` area starts at 48 (80 bytes). */
export const Sqe = Object.freeze({
  SIZE: 128,
  OPCODE: 0, FLAGS: 1, IOPRIO: 2, FD: 4,
  /** u32 cmd_op (in the union with `off`). */
  CMD_OP: 8,
  ADDR: 16, LEN: 24, OP_FLAGS: 28, USER_DATA: 32,
  CMD: 48,
});
/** struct io_uring_cqe: user_data u64, res s32, flags u32. */
export const Cqe = Object.freeze({ SIZE: 16, USER_DATA: 0, RES: 8, FLAGS: 12 });

// ---- FUSE over io_uring (include/uapi/linux/fuse.h, 7.42) -------------------------------------------

/** enum fuse_uring_cmd, in sqe->cmd_op. */
export const FUSE_IO_URING_CMD_REGISTER = 1;
export const FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2;

/**
 * struct fuse_uring_cmd_req in the SQE's `cmd` area (offsets relative to Sqe.CMD): flags u64, commit_id
 * u64 (the unique of the request being answered), qid u16, 6 bytes of padding.
 */
export const CmdReq = Object.freeze({ FLAGS: 0, COMMIT_ID: 8, QID: 16 });

/**
 * struct fuse_uring_req_header, iov[0] of a REGISTER: 288 bytes.
 *  - in_out (128): the request's fuse_in_header on fetch; the reply's fuse_out_header on commit.
 *  - op_in (128): the request's first argument, its per-opcode struct (fs/fuse/dev_uring.c
 *    fuse_uring_args_to_ring); zero bytes long for opcodes without one (the kernel's fuse_set_zero_arg0).
 *  - ring_ent_in_out (32): fuse_uring_ent_in_out { flags u64, commit_id u64, payload_sz u32, padding u32,
 *    reserved u64 }; payload_sz is how much of the payload buffer is valid, in both directions.
 */
export const ReqHeader = Object.freeze({
  SIZE: 288,
  IN_OUT: 0, IN_OUT_SIZE: 128,
  OP_IN: 128, OP_IN_SIZE: 128,
  ENT_FLAGS: 256, ENT_COMMIT_ID: 264, ENT_PAYLOAD_SZ: 272,
});

/** fuse_in_header is 40 bytes, fuse_out_header 16; both start with `len` (u32) and have `unique` (u64) at 8. */
export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
/** FUSE_MIN_READ_BUFFER: the kernel never sizes a ring payload below it (fs/fuse/dev_uring.c fuse_uring_create). */
export const MIN_PAYLOAD = 8192;
