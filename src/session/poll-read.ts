/**
 * read(2) for the epoll transport's busy polling (./transport.ts), through node:ffi when the process
 * already uses it. Busy polling reads an empty, non-blocking /dev/fuse many times per request, and
 * fs.readSync answers each empty read with an exception: 2.6 µs and a few hundred bytes of garbage per
 * try (Node 26, even with no stack trace captured), against 0.4 µs and none for libc's read called with a
 * raw pointer and an int result. Serving a stat loop, polling made 54 % of the bytes the daemon allocated
 * (the passthrough, heap sampling while 5,000 files were stat'ed).
 *
 * It also binds sched_yield(2), which the polling calls after each empty read: see {@link PollRead.yieldCpu}.
 *
 * Never loads node:ffi itself (src/ffi.ts ffiInUse): where it is not in use (Node 20, a filesystem
 * without node:ffi features), the transport keeps fs.readSync.
 */
import { ffiInUse, bindLibcFrom, signature, type FfiModule } from '../ffi.ts';

export interface PollRead {
  /** read(fd, buffer, length): the byte count, or minus the errno. */
  read(fd: number, pointer: bigint, length: number): number;
  /** The address of `buffer`'s bytes, for {@link read} (stable: the transport's buffers are off-heap, allocUnsafeSlow). */
  pointerOf(buffer: Buffer): bigint;
  /**
   * sched_yield(2): lets a task waiting for this CPU run now. The client a reply wakes is queued on the
   * polling thread's CPU when no other CPU is idle (kernel/sched/fair.c select_task_rq_fair finds no idle
   * sibling: say a libuv thread is freeing an unlinked file's blocks on the other), and there it waited
   * until the scheduler preempted the poll. An unlink loop through the passthrough on ext4, 2-vCPU VM,
   * fuse tracepoints (fuse_request_end → the client's next fuse_request_send): medians 21–30 µs without
   * the yield, 6–8 µs with it. With nothing else runnable here, the call returns at once.
   */
  yieldCpu(): void;
}

/** Bound once, for the module's thread; null when node:ffi was in use but read could not be bound. */
let bound: PollRead | null | undefined;

/** The libc read(2) for busy polling, if node:ffi is in use in this process (see above). */
export function pollRead(): PollRead | undefined {
  if (bound !== undefined) return bound ?? undefined;
  const ffi = ffiInUse();
  if (ffi === undefined) return undefined;
  bound = bind(ffi);
  return bound ?? undefined;
}

function bind(ffi: FfiModule): PollRead | null {
  // int, not ssize_t: a frame is at most the read buffer (a few MiB), and an int result is a Number where
  // an i64 would be a BigInt per call. The pointer argument is a BigInt made once per buffer.
  const libc = bindLibcFrom(ffi, 'busy polling needs', { read: signature(['int32', 'pointer', 'uint32'], 'int32'), sched_yield: signature([], 'int32') });
  if (typeof libc === 'string') return null;
  const readFn = libc.fn.read;
  const schedYield = libc.fn.sched_yield;
  const errno = libc.errno;
  return {
    read(fd, pointer, length) {
      const n = readFn(fd, pointer, length) as number;
      return n >= 0 ? n : -errno();
    },
    pointerOf: (buffer) => ffi.getRawPointer(buffer),
    yieldCpu() { schedYield(); },
  };
}
