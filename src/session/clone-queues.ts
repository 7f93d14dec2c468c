/**
 * Clone queues (`-o clone_fd`, FUSE_DEV_IOC_CLONE): more /dev/fuse descriptors of the same connection,
 * each read by a worker thread that answers READ (and WRITE) of the handles a filesystem mapped to
 * descriptors ({@link HandleDescriptors}) itself, with pread(2)/pwrite(2), and forwards every other
 * request to the main thread, where the session core answers it on the clone it came from.
 *
 * How the kernel shares the work (fs/fuse/dev.c): every clone gets its own `fuse_dev` with its own
 * processing list, but all of them, and the main descriptor, read the connection's one input queue
 * (fuse_dev_do_read takes the next pending request, whoever reads), and a reply must be written to the
 * descriptor whose processing list holds its request (fuse_dev_do_write looks the unique up there).
 * So the main thread's epoll transport keeps reading as before, and the workers take what they can; a
 * worker that can answer almost nothing of what it reads stops reading for a while (see BACKOFF_WINDOW).
 *
 * Why workers answer READ themselves rather than pass frames to the main thread: handlers run on the
 * main thread, so a queue whose frames are forwarded only adds a thread hop per request to the thread
 * that is already the bottleneck (bench/RESULTS.md "Several reader queues": 0.70–0.88× one queue), while
 * a READ answered in the worker never touches it (4.6× random-read IOPS with 4 clients, 2 cores).
 *
 * Each worker reads its clone without blocking and waits in epoll_wait(2) (node:ffi) on the clone and an
 * eventfd, so that the main thread can wake it to pause (a handoff: every frame it read is answered or
 * delivered before it acknowledges, ordered behind them on its message port), to resume, or to stop.
 * A worker only ends by itself when its clone fails (ENODEV after unmount); the main thread owns and
 * closes the clone descriptors, after their worker has exited, so a number is never reused under one.
 *
 * Needs node:ffi (Node >= 26) for the ioctl, eventfd and epoll; {@link cloneQueueSupport} says why not.
 */
import fs from 'node:fs';
import { availableParallelism, endianness } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DevIoctl, WriteFlags } from '../protocol/constants.ts';
import type { Negotiated } from '../protocol/negotiated.ts';
import { HASH_MULTIPLIER, PROBE_WINDOW, SLOT_INTS, TABLE_HEADER, type HandleDescriptors } from '../ops/handle-descriptors.ts';
import type { RequestSink } from './context.ts';
import { bindLibc, signature as sig } from '../ffi.ts';
import { Errno } from '../errors.ts';

/** What clone queues deliver to the main thread: the session core's frame handler. */
export type CloneFrameHandler = (frame: Buffer, sink: RequestSink) => void;

/** More worker queues than this are not started, whatever `max_threads` says (each is a thread and a descriptor). */
export const MAX_CLONE_QUEUES = 64;

/** Opcodes the workers look at (src/protocol/opcodes.ts rows 15, 16, 36). */
const READ = 15;
const WRITE = 16;
const INTERRUPT = 36;

/**
 * The workers' shared control words: [state, pause epoch, back-offs so far, workers reading] (see
 * {@link CloneQueues.backoffs} and {@link CloneQueues.readingWorkers}).
 */
const State = { Run: 0, Pause: 1, Stop: 2 } as const;
const CONTROL_WORDS = 4;

/**
 * A worker that forwarded nearly every frame it read stops reading for a while: each frame it cannot
 * answer (stat's LOOKUP and GETATTR, say) costs a hop to the main thread on top of the handling there,
 * and with 4 stat clients two workers halved the throughput of one queue (bench/RESULTS.md "Several
 * reader queues"). While it sleeps the main queue reads those frames itself. It counts frames in
 * windows of BACKOFF_WINDOW; a window with at least BACKOFF_FORWARDED forwarded sends it to sleep for
 * BACKOFF_MIN_MS, doubled after each such window up to BACKOFF_MAX_MS, and a window with fewer starts
 * the count again. So a workload of READs keeps its workers, and a metadata one gives them one window
 * of frames per BACKOFF_MAX_MS.
 */
const BACKOFF_WINDOW = 64;
const BACKOFF_FORWARDED = 60;
const BACKOFF_MIN_MS = 5;
const BACKOFF_MAX_MS = 100;

/**
 * When an INTERRUPT is delivered again (ms after the first): its target may have been read by another
 * queue and still be on its way to the main thread (a worker's message port), and the core ignores an
 * INTERRUPT for a request it does not know. A request already answered or interrupted ignores the copy.
 */
const INTERRUPT_REDELIVERY_MS = [0, 10, 100] as const;

interface Libc {
  /** ioctl(fd, request, arg): the result, or minus the errno. */
  ioctl(fd: number, request: bigint, arg: Buffer): number;
  /** eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): the descriptor, or minus the errno. */
  eventfd(): number;
}

/** Architectures with the generic ioctl encoding (as src/session/backing.ts) and the generic eventfd flags. */
const SUPPORTED_ARCHES: readonly string[] = ['x64', 'arm64', 'riscv64', 'loong64', 's390x'];
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const FUSE_DEV_IOC_CLONE = BigInt(DevIoctl.CLONE);

let libc: Libc | string | undefined;

function bindCloneCalls(): Libc | string {
  if (!SUPPORTED_ARCHES.includes(process.arch)) return `clone queues call ioctl(2) through node:ffi, supported on ${SUPPORTED_ARCHES.join('/')} Linux, not '${process.arch}'`;
  const libc = bindLibc('clone queues need', {
    ioctl: sig(['int32', 'uint64', 'buffer'], 'int32'),
    eventfd: sig(['uint32', 'int32'], 'int32'),
  }, 'for FUSE_DEV_IOC_CLONE');
  if (typeof libc === 'string') return libc;
  const { fn: { ioctl, eventfd }, errno } = libc;
  return {
    ioctl: (fd, request, arg) => { const r = ioctl(fd, request, arg) as number; return r >= 0 ? r : -errno(); },
    eventfd: () => { const r = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) as number; return r >= 0 ? r : -errno(); },
  };
}

/** Why this process cannot start clone queues (Node < 26, node:ffi off, another architecture), or undefined. */
export function cloneQueueSupport(): string | undefined {
  libc ??= bindCloneCalls();
  return typeof libc === 'string' ? libc : undefined;
}

/** What decides whether a mount gets clone queues; see {@link planCloneQueues}. */
export interface CloneQueuePlanInput {
  /** `-o clone_fd`. */
  readonly cloneFd: boolean;
  /** `-o max_threads=N`. */
  readonly maxThreads: number | undefined;
  /** The filesystem's opt-in ({@link LowLevelOperations.workerIo}). */
  readonly workerIo: HandleDescriptors | undefined;
  /**
   * Something needs to see every request on the main thread (debug trace, recording, explain mode), or
   * the mount is supervised: a crashed process's clones end the requests they hold with ECONNABORTED
   * (fs/fuse/dev.c fuse_dev_release) instead of leaving them for RESEND.
   */
  readonly mainThreadOnly?: string | undefined;
  /** Defaults to os.availableParallelism(). */
  readonly cpus?: number;
  /** Defaults to {@link cloneQueueSupport}(). */
  readonly support?: string | undefined;
}

/** Worker queues to start (0: none), and why not when none. */
export interface CloneQueuePlan {
  readonly workers: number;
  readonly workerIo: HandleDescriptors | undefined;
  /** Why there are no clone queues; undefined when there are, or when clone_fd was not asked for. */
  readonly reason: string | undefined;
}

/**
 * libfuse's semantics, for a filesystem that opts in: `clone_fd` asks for a queue per worker thread,
 * `max_threads=N` says how many workers (capped at {@link MAX_CLONE_QUEUES}); `clone_fd` alone starts one
 * per CPU. The main thread's queue comes on top. Without `clone_fd`, or for a filesystem that does not
 * opt in, or without node:ffi: no clone queue, and `max_threads` caps the requests in handlers at once.
 */
export function planCloneQueues(input: CloneQueuePlanInput): CloneQueuePlan {
  const none = (reason: string | undefined): CloneQueuePlan => ({ workers: 0, workerIo: undefined, reason });
  if (!input.cloneFd) return none(undefined);
  if (input.workerIo === undefined) return none('the filesystem does not opt in (it declares no workerIo handle table)');
  if (input.mainThreadOnly !== undefined) return none(input.mainThreadOnly);
  const why = 'support' in input ? input.support : cloneQueueSupport();
  if (why !== undefined) return none(why);
  const workers = Math.min(input.maxThreads ?? input.cpus ?? availableParallelism(), MAX_CLONE_QUEUES);
  return { workers, workerIo: input.workerIo, reason: undefined };
}

/**
 * The worker's program (CommonJS, run with `eval`). workerData: the clone `fd`, the `wake` eventfd,
 * `control` (see State), its `index`, the read buffer `size`, the handle `table`, `writes`, and
 * `writeInSize` (fuse_write_in: 40 bytes, 24 before 7.9). Frames it does not answer cross to the main
 * thread as right-sized transferred copies; `{ paused: epoch }` acknowledges a pause behind them.
 *
 * Why a READ's descriptor cannot be closed under the worker (no EBADF from a released file): the kernel
 * sends RELEASE only when the last reference to the open file goes (fs/fuse/file.c fuse_file_put, then
 * fuse_release_end), and every READ and WRITE holds one until it is answered (synchronous ones through
 * the struct file of the read(2)/write(2), readahead and async I/O through fuse_file_get in
 * fuse_send_readpages / fuse_async_req_send). The filesystem removes the handle from the table and
 * closes the descriptor in RELEASE, so both outlive every READ that names the handle.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { fd, wake, control, index, size, table, writes, writeInSize } = workerData;
const ffi = process.getBuiltinModule('node:ffi');
const sig = (a, r) => ({ arguments: a, return: r, parameters: a, result: r });
// The clone's reads and replies and the backing files' I/O go through libc with raw pointers to buffers
// that never move (allocUnsafeSlow): fs.readSync answers every empty read with an exception (2.6 µs,
// src/session/poll-read.ts), and each fs call wraps its result and its arguments. Counts are ints, so
// no BigInt is made per request; an offset below 2^53 passes as a Number.
const libc = ffi.dlopen(null, {
  epoll_create1: sig(['int32'], 'int32'),
  epoll_ctl: sig(['int32', 'int32', 'int32', 'buffer'], 'int32'),
  epoll_wait: sig(['int32', 'buffer', 'int32', 'int32'], 'int32'),
  close: sig(['int32'], 'int32'),
  read: sig(['int32', 'pointer', 'uint32'], 'int32'),
  pread64: sig(['int32', 'pointer', 'uint32', 'int64'], 'int32'),
  pwrite64: sig(['int32', 'pointer', 'uint32', 'int64'], 'int32'),
  writev: sig(['int32', 'pointer', 'int32'], 'int32'),
  __errno_location: sig([], 'pointer'),
}).functions;
const errnoAt = libc.__errno_location();
const errno = () => ffi.getInt32(errnoAt);
const EAGAIN = ${Errno.EAGAIN}, EINTR = ${Errno.EINTR}, ENOENT = ${Errno.ENOENT}, ENODEV = ${Errno.ENODEV}, EIO = ${Errno.EIO};
const ctl = new Int32Array(control);
const tbl = new Int32Array(table);
const bits = 31 - Math.clz32(tbl[1]);
const mask = tbl[1] - 1;
// Waiting: epoll on the clone with EPOLLEXCLUSIVE and on the wake-up eventfd. All queues wait on the
// connection's one wait queue (fs/fuse/dev.c fuse_dev_poll: fiq->waitq); a request wakes every plain
// poll(2) waiter there, but only one exclusive one, as it wakes only one reader blocked in read(2)
// (fuse_dev_do_read waits exclusively): without it, each request woke every idle worker and all but one
// read EAGAIN (bench/clone-queues.ts). struct epoll_event is packed (12 bytes) on x86-64, 16 elsewhere.
const EVENT = process.arch === 'x64' ? 12 : 16;
const ep = libc.epoll_create1(0o2000000);
if (ep < 0) throw new Error('epoll_create1 failed');
const ev = Buffer.alloc(EVENT);
ev.writeUInt32LE(1 | (1 << 28), 0);
if (libc.epoll_ctl(ep, 1, fd, ev) !== 0) throw new Error('epoll_ctl(clone) failed');
ev.writeUInt32LE(1, 0);
if (libc.epoll_ctl(ep, 1, wake, ev) !== 0) throw new Error('epoll_ctl(eventfd) failed');
const events = Buffer.alloc(EVENT * 2);
const buf = Buffer.allocUnsafeSlow(size);
const bufAt = ffi.getRawPointer(buf);
let data = Buffer.allocUnsafeSlow(128 * 1024);
const out = Buffer.allocUnsafeSlow(16);
const writeOut = Buffer.allocUnsafeSlow(8);
// struct iovec[2] for writev: the reply header, then the data (READ) or fuse_write_out (WRITE).
const iov = Buffer.allocUnsafeSlow(32);
const iovAt = ffi.getRawPointer(iov);
iov.writeBigUInt64LE(ffi.getRawPointer(out), 0);
iov.writeBigUInt64LE(16n, 8);
// iov[1].iov_len's high half: a reply's data is under 4 GiB, so only the low half changes (reply()).
iov.writeUInt32LE(0, 28);
/** The address iov[1] holds now. */
let iovData = 0n;
const dataAt = () => ffi.getRawPointer(data);
let dataPointer = dataAt();
const writeOutAt = ffi.getRawPointer(writeOut);
/** Where a WRITE's bytes start in buf. */
const writeDataAt = bufAt + BigInt(40 + writeInSize);
// Frames read and forwarded in the current window, and the next back-off (see BACKOFF_WINDOW).
let seen = 0;
let forwarded = 0;
let backoff = ${BACKOFF_MIN_MS};

/** Counts a frame; after a window of mostly forwarded ones, sleeps (a pause or stop wakes it early). */
function counted(wasForwarded) {
  if (wasForwarded) forwarded++;
  if (++seen < ${BACKOFF_WINDOW}) return;
  if (forwarded >= ${BACKOFF_FORWARDED}) {
    Atomics.add(ctl, 2, 1);
    Atomics.sub(ctl, 3, 1);
    Atomics.wait(ctl, 0, ${State.Run}, backoff);
    Atomics.add(ctl, 3, 1);
    backoff = Math.min(backoff * 2, ${BACKOFF_MAX_MS});
  } else {
    backoff = ${BACKOFF_MIN_MS};
  }
  seen = 0;
  forwarded = 0;
}

/** The descriptor of handle (lo, hi), or -1: absent, or the table changed while looking (the seqlock). */
function descriptorOf(lo, hi) {
  const seq = Atomics.load(tbl, 0);
  if ((seq & 1) !== 0) return -1;
  let s = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), ${HASH_MULTIPLIER}) >>> (32 - bits);
  let found = -1;
  for (let i = 0; i < ${PROBE_WINDOW}; i++, s = (s + 1) & mask) {
    const at = ${TABLE_HEADER} + s * ${SLOT_INTS};
    const d = Atomics.load(tbl, at + 2);
    if (d >= 0 && Atomics.load(tbl, at) === lo && Atomics.load(tbl, at + 1) === hi) { found = d; break; }
  }
  return Atomics.load(tbl, 0) === seq ? found : -1;
}

/** errno as a reply's error: 1..511, else EIO. */
function errnoOf(n) {
  return n >= 1 && n <= 511 ? n : EIO;
}

/**
 * One reply on this clone: the header, then \`length\` bytes at \`at\` (none: 0); a refused one (not
 * "nobody waits": ENOENT) is retried as a bare EIO.
 */
function reply(at, length, error) {
  out.writeUInt32LE(16 + length, 0);
  out.writeInt32LE(-error, 4);
  out.writeUInt32LE(buf.readUInt32LE(8), 8);
  out.writeUInt32LE(buf.readUInt32LE(12), 12);
  if (length > 0) {
    // Rewritten only when it changes: writeBigUInt64LE makes BigInts of its own on each call.
    if (at !== iovData) { iov.writeBigUInt64LE(at, 16); iovData = at; }
    iov.writeUInt32LE(length, 24);
  }
  if (libc.writev(fd, iovAt, length > 0 ? 2 : 1) >= 0) return;
  const e = errno();
  if (e === ENOENT || e === ENODEV || (error === EIO && length === 0)) return;
  out.writeUInt32LE(16, 0); out.writeInt32LE(-EIO, 4);
  libc.writev(fd, iovAt, 1);
}

/** A READ (n bytes in buf) answered here; false to forward it. */
function read(n) {
  if (n < 64 || buf.readUInt32LE(0) !== n || buf.readUInt16LE(36) !== 0) return false;
  const d = descriptorOf(buf.readInt32LE(40), buf.readInt32LE(44));
  const offHi = buf.readUInt32LE(52);
  if (d < 0 || offHi >= 0x200000) return false;
  const want = buf.readUInt32LE(56);
  if (want > data.length) { if (want > 64 * 1024 * 1024) return false; data = Buffer.allocUnsafeSlow(want); dataPointer = dataAt(); }
  const got = libc.pread64(d, dataPointer, want, offHi * 4294967296 + buf.readUInt32LE(48));
  if (got < 0) reply(0n, 0, errnoOf(errno()));
  else reply(dataPointer, got, 0);
  return true;
}

/** A WRITE answered here; false to forward it (also one that must remove set-id bits first: the filesystem's job). */
function write(n) {
  if (n < 40 + writeInSize || buf.readUInt16LE(36) !== 0 || (buf.readUInt32LE(60) & ${WriteFlags.KILL_SUIDGID}) !== 0) return false;
  const len = buf.readUInt32LE(56);
  if (buf.readUInt32LE(0) !== n || n !== 40 + writeInSize + len) return false;
  const d = descriptorOf(buf.readInt32LE(40), buf.readInt32LE(44));
  const offHi = buf.readUInt32LE(52);
  if (d < 0 || offHi >= 0x200000) return false;
  const done = libc.pwrite64(d, writeDataAt, len, offHi * 4294967296 + buf.readUInt32LE(48));
  if (done < 0) { reply(0n, 0, errnoOf(errno())); return true; }
  writeOut.writeUInt32LE(done, 0);
  writeOut.writeUInt32LE(0, 4);
  reply(writeOutAt, 8, 0);
  return true;
}

Atomics.add(ctl, 3, 1);
for (;;) {
  const state = Atomics.load(ctl, 0);
  if (state === ${State.Stop}) break;
  if (state === ${State.Pause}) {
    // Everything read so far is answered or already posted: the acknowledgement comes after it.
    parentPort.postMessage({ paused: Atomics.load(ctl, 1) });
    while (Atomics.load(ctl, 0) === ${State.Pause}) Atomics.wait(ctl, 0, ${State.Pause});
    continue;
  }
  const n = libc.read(fd, bufAt, size);
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN) { libc.epoll_wait(ep, events, 2, -1); continue; }
    if (e === EINTR || e === ENOENT) continue;
    parentPort.postMessage({ ended: e === ENODEV ? 'ENODEV' : 'errno ' + e, message: 'reading the clone failed with errno ' + e });
    break;
  }
  const opcode = buf.readUInt32LE(4);
  if ((opcode === ${READ} && read(n)) || (opcode === ${WRITE} && writes && write(n))) { counted(false); continue; }
  const frame = new Uint8Array(n);
  frame.set(buf.subarray(0, n));
  parentPort.postMessage(frame, [frame.buffer]);
  counted(true);
}
Atomics.sub(ctl, 3, 1);
// By libc, not fs: a worker's fs.closeSync of a descriptor it did not open through fs (this one came
// from epoll_create1) makes Node warn "closed but not opened in unmanaged mode".
libc.close(ep);
`;

interface CloneQueue {
  readonly fd: number;
  readonly worker: Worker;
  readonly sink: RequestSink;
  closed: boolean;
  /** The last pause epoch this worker acknowledged. */
  acked: number;
  readonly exited: Promise<void>;
}

export interface CloneQueuesOptions {
  /** The session's /dev/fuse descriptor. */
  readonly deviceFd: number;
  readonly workers: number;
  readonly workerIo: HandleDescriptors;
  /** What INIT agreed (the WRITE layout and the read buffer size). */
  readonly negotiated: Negotiated;
  /** Read buffer size for frames of the agreed maxWrite. */
  readonly bufferSize: number;
  /** Where forwarded frames go (the session core), each with its clone's sink. */
  readonly deliver: CloneFrameHandler;
  readonly onWarning: (message: string, cause?: unknown) => void;
  /**
   * Opens queue `index`'s descriptor (non-blocking; closed by CloneQueues once its worker has exited),
   * or throws. Default: a clone of `deviceFd` (FUSE_DEV_IOC_CLONE). test/session/clone-worker.test.ts
   * gives a socket that carries one frame per read as a clone does, to make the worker's error paths
   * happen on demand.
   */
  readonly openQueue?: (index: number) => number;
}

/** Running clone queues: see the module comment. */
export class CloneQueues {
  readonly #queues: CloneQueue[] = [];
  readonly #deliver: CloneFrameHandler;
  readonly #warn: (message: string, cause?: unknown) => void;
  /** [state, pause epoch, …]: see State. */
  readonly #control: Int32Array;
  readonly #wake: number;
  readonly #wakeBuffer = Buffer.alloc(8);
  #closing: Promise<void> | undefined;

  /**
   * Opens `workers` clones of `deviceFd` and starts a worker on each. Throws (nothing left open) when
   * node:ffi is missing or the first clone cannot be made; later failures warn and start fewer.
   */
  static start(options: CloneQueuesOptions): CloneQueues {
    const c = cloneQueueSupport();
    if (c !== undefined) throw new Error(c);
    return new CloneQueues(options, libc as Libc);
  }

  private constructor(options: CloneQueuesOptions, lib: Libc) {
    this.#deliver = options.deliver;
    this.#warn = options.onWarning;
    const wake = lib.eventfd();
    if (wake < 0) throw new Error(`eventfd failed with errno ${-wake}`);
    this.#wake = wake;
    this.#control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
    const openQueue = options.openQueue ?? ((i: number) => this.#openClone(lib, options.deviceFd, i));
    for (let i = 0; i < options.workers; i++) {
      let fd: number;
      try {
        fd = openQueue(i);
      } catch (e) {
        if (i === 0) { fs.closeSync(wake); throw e; }
        this.#warn(`clone_fd: ${(e as Error).message}; serving with ${this.#queues.length + 1} queue(s)`);
        break;
      }
      this.#queues.push(this.#startWorker(fd, i, options));
    }
  }

  /** A new descriptor on `deviceFd`'s connection (fs/fuse/dev.c fuse_dev_ioctl_clone attaches it), or throws. */
  #openClone(lib: Libc, deviceFd: number, index: number): number {
    let fd: number;
    try {
      fd = fs.openSync('/dev/fuse', fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    } catch (e) {
      throw new Error(`opening /dev/fuse for queue ${index + 1} failed: ${(e as Error).message}`, { cause: e });
    }
    const arg = Buffer.alloc(4);
    if (endianness() === 'LE') arg.writeUInt32LE(deviceFd); else arg.writeUInt32BE(deviceFd);
    const r = lib.ioctl(fd, FUSE_DEV_IOC_CLONE, arg);
    if (r < 0) {
      fs.closeSync(fd);
      throw new Error(`FUSE_DEV_IOC_CLONE failed with errno ${-r}`);
    }
    return fd;
  }

  #startWorker(fd: number, index: number, options: CloneQueuesOptions): CloneQueue {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        fd, wake: this.#wake, control: this.#control.buffer, index, size: options.bufferSize,
        table: options.workerIo.buffer, writes: options.workerIo.writes,
        writeInSize: options.negotiated.minor < 9 ? 24 : 40,
      },
    });
    // The main transport keeps the process alive while the mount is served; a worker must not outlive it.
    worker.unref();
    const queue: CloneQueue = {
      fd, worker, closed: false, acked: 0,
      sink: Object.freeze({
        reply: (iov: readonly Uint8Array[]): string | 0 => {
          if (queue.closed) return 'EBADF';
          try {
            fs.writevSync(fd, iov as Uint8Array[]);
            return 0;
          } catch (e) {
            return (e as NodeJS.ErrnoException).code ?? 'EIO';
          }
        },
      }),
      exited: new Promise<void>((resolve) => worker.once('exit', () => {
        // The worker is gone: its descriptor can no longer be in use, close it (fs/fuse/dev.c
        // fuse_dev_release ends whatever its processing list still holds).
        if (!queue.closed) { queue.closed = true; fs.closeSync(fd); }
        resolve();
      })),
    };
    worker.on('message', (m: Uint8Array | { paused: number } | { ended: string; message: string }) => {
      if (m instanceof Uint8Array) this.deliver(Buffer.from(m.buffer, m.byteOffset, m.byteLength), queue.sink);
      else if ('paused' in m) queue.acked = m.paused;
      else if (m.ended !== 'ENODEV' && this.#closing === undefined) this.#warn(`clone queue ${index + 1} stopped: ${m.message}`);
    });
    worker.on('error', (e) => this.#warn(`clone queue ${index + 1} failed`, e));
    return queue;
  }

  /** Worker queues running (the main thread's queue not included). */
  get workers(): number { return this.#queues.filter((q) => !q.closed).length; }

  /** Times a worker stopped reading because it forwarded nearly every frame (see BACKOFF_WINDOW). */
  get backoffs(): number { return Atomics.load(this.#control, 2); }

  /** Workers reading their clone now: started, and neither backing off nor ended. */
  get readingWorkers(): number { return Atomics.load(this.#control, 3); }

  /** While paused: workers that have not yet acknowledged (each may still hold a frame it read). */
  get pending(): number {
    if (Atomics.load(this.#control, 0) !== State.Pause) return 0;
    const epoch = Atomics.load(this.#control, 1);
    let n = 0;
    for (const q of this.#queues) if (!q.closed && q.acked !== epoch) n++;
    return n;
  }

  /**
   * A frame read by the main queue or a clone, on its way to the core. An INTERRUPT is delivered again a
   * little later (see INTERRUPT_REDELIVERY_MS).
   */
  deliver(frame: Buffer, sink: RequestSink): void {
    if (frame.length < 8 || frame.readUInt32LE(4) !== INTERRUPT) { this.#deliver(frame, sink); return; }
    // A copy: the first delivery's frame may be lent (its memory goes back to the transport).
    const copy = Buffer.from(frame);
    this.#deliver(frame, sink);
    for (const ms of INTERRUPT_REDELIVERY_MS) {
      const again = (): void => { if (this.#closing === undefined) this.#deliver(copy, sink); };
      if (ms === 0) setImmediate(again).unref();
      else setTimeout(again, ms).unref();
    }
  }

  /**
   * Stops the workers reading (a handoff): each acknowledges once what it read is answered or
   * delivered; {@link pending} counts those that have not.
   */
  pause(): void {
    if (this.#closing !== undefined || Atomics.load(this.#control, 0) === State.Pause) return;
    Atomics.add(this.#control, 1, 1);
    Atomics.store(this.#control, 0, State.Pause);
    // Out of epoll_wait(2), and out of a back-off's Atomics.wait.
    this.#kick();
    Atomics.notify(this.#control, 0);
  }

  /** Reads again after {@link pause}. */
  resume(): void {
    if (this.#closing !== undefined || Atomics.load(this.#control, 0) !== State.Pause) return;
    // Drain the eventfd first, or every epoll_wait(2) would return at once from now on.
    try { fs.readSync(this.#wake, this.#wakeBuffer, 0, 8, null); } catch { /* EAGAIN: already 0 */ }
    Atomics.store(this.#control, 0, State.Run);
    Atomics.notify(this.#control, 0);
  }

  /** Stops every worker and closes the clones once they have exited. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      Atomics.store(this.#control, 0, State.Stop);
      Atomics.notify(this.#control, 0);
      this.#kick();
      // Until they have exited, the workers keep the process alive: the main transport has closed, and a
      // program whose last step is `await mount.close()` would otherwise end with that promise unsettled.
      for (const q of this.#queues) q.worker.ref();
      await Promise.all(this.#queues.map((q) => q.exited));
      try { fs.closeSync(this.#wake); } catch { /* closed */ }
    })();
    return this.#closing;
  }

  /** Wakes every worker out of epoll_wait(2): the eventfd stays readable until resume() drains it. */
  #kick(): void {
    if (endianness() === 'LE') this.#wakeBuffer.writeBigUInt64LE(1n); else this.#wakeBuffer.writeBigUInt64BE(1n);
    try { fs.writeSync(this.#wake, this.#wakeBuffer); } catch { /* EAGAIN: already readable */ }
  }
}
