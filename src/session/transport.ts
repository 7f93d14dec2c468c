/**
 * Moving frames between /dev/fuse and the session. The session core never touches the fd: it gets
 * frames through `start(onFrame)` and hands replies to `write`, so the same core runs over /dev/fuse,
 * over the in-process fake kernel (src/testing), or a future io_uring transport.
 *
 * Two ways to read /dev/fuse from Node without blocking the event loop (numbers: bench/transport.ts):
 *  - `epoll`: wrap the fd in a libuv pipe handle, so reads happen on the main thread when epoll says a
 *    request is waiting: no thread hop, one read(2) and one writev(2) per request, like a one-threaded
 *    C daemon. libuv exposes no public constructor for a stream over a character device, so this uses
 *    `process.binding('pipe_wrap')`, present on Node 20 through 26.
 *  - `worker`: a worker thread blocks in read(2) and posts each frame to the main thread. Slower (a
 *    thread hop per request) but only public APIs; the fallback when the binding is unavailable.
 * Reading through libuv's thread pool (`fs.read`) is not offered: each outstanding read holds a pool
 * thread, so a daemon that uses async `fs` on its own mount can deadlock the pool.
 */
import fs from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { getSystemErrorName } from 'node:util';
import type { RequestSink } from './context.ts';
import type { Negotiated } from '../protocol/negotiated.ts';
import type { InitFlagName } from '../protocol/constants.ts';
import { createUringTransport } from './uring-transport.ts';
import { pollRead } from './poll-read.ts';
import { Errno } from '../errors.ts';

export interface Transport {
  readonly kind: string;
  /**
   * Starts delivering frames, each with the sink its reply goes back through. A frame comes either owned
   * by the receiver (`sink.release` undefined) or lent: its memory is the transport's, and the receiver
   * calls `release` once it no longer needs it. `onClose` is called once, with the error that ended
   * reading (ENODEV after unmount).
   */
  start(onFrame: FrameHandler, onClose: (err: NodeJS.ErrnoException | undefined) => void): void;
  /**
   * INIT has been decided: read every later frame into buffers of `bufferSize` bytes (what INIT agreed
   * needs; undefined keeps the current size). Called before the INIT reply is written, so no request
   * sized by the new maxWrite can meet a smaller buffer (fs/fuse/dev.c fuse_dev_do_read fails a request
   * that does not fit with EIO). Until then, a transport reads nothing after an INIT frame.
   * `negotiated` is what INIT agreed (undefined when it failed).
   */
  serve(bufferSize: number | undefined, negotiated?: Negotiated): void;
  /** INIT capabilities this transport needs (io_uring: OVER_IO_URING). Absent: none. */
  readonly wants?: readonly InitFlagName[];
  /** Resolves once the transport serves what INIT agreed; rejects with why it cannot. Absent: ready once INIT is. */
  ready?(): Promise<void>;
  /** Writes one reply or notification in one writev. Returns 0, or the errno name the kernel answered. */
  write(iov: readonly Uint8Array[]): string | 0;
  /** Like write, but off the main thread: for notifications that may block in the kernel. */
  writeAsync(iov: readonly Uint8Array[]): Promise<string | 0>;
  /** Stops reading and closes the fd (idempotent). */
  close(): void;
  /**
   * Stops reading without closing: every frame read so far has been delivered, later ones stay queued in
   * the kernel, and replies can still be written. For a handoff to another process (src/handoff).
   * Absent: this transport cannot stop reading short of closing (the worker blocks in read(2)).
   */
  pause?(): void;
  /** Reads again after {@link pause}. */
  resume?(): void;
  /**
   * How to tell that every request handed over has been answered, for a transport that busy-polls (it
   * polls only then: a request still in a handler holds its client back, so nothing more would come).
   * Absent: the transport does not poll.
   */
  watchIdle?(isIdle: () => boolean): void;
  /** Frames taken by busy polling rather than after a wake-up (see watchIdle). Absent: the transport does not poll. */
  readonly framesPolled?: number;
  /**
   * Busy polling from now on only while `mayPoll()` holds, asked before each read (other readers share
   * the queue: clone queues, whose forwarded frames wait while this thread spins). Absent: the transport
   * does not poll.
   */
  pollOnlyWhile?(mayPoll: () => boolean): void;
  /** Whether it busy-polls now (a window above 0, and what {@link pollOnlyWhile} set allows). Absent: the transport does not poll. */
  readonly busyPolling?: boolean;
}

/** `'uring'`: FUSE over io_uring after INIT (src/session/uring-transport.ts; Node >= 26, Linux >= 6.14, enable_uring). */
export type TransportKind = 'epoll' | 'worker' | 'uring';
export type FrameHandler = (frame: Buffer, sink: RequestSink) => void;

/** The opcode of FUSE_INIT, after which a transport waits for `serve()` (see Transport.serve). */
const FUSE_INIT = 26;
/** fuse_in_header.opcode is the u32 at byte 4. */
const OPCODE_OFFSET = 4;

/**
 * Frames up to this size are copied out of the read buffer (cheap: small copies come from Node's
 * buffer pool); larger ones (WRITE, SETXATTR) are lent, and the next read goes into another buffer.
 * bench/experiments.ts: copying every frame cost ~500 µs of CPU per 1 MiB WRITE and halved write speed.
 */
const COPY_LIMIT = 16 * 1024;
/** The longest the epoll transport keeps the thread in one busy poll (see EpollTransport #poll), ms. */
const MAX_POLL_MS = 2;
/** Read buffers kept for reuse after they come back; more are allocated while many big requests are in flight. */
const MAX_SPARE_BUFFERS = 4;

/**
 * How long, by default, the epoll transport keeps reading /dev/fuse itself after a request (µs) before it
 * sleeps in epoll again. bench/core-ab.ts, do-nothing daemon, stat(2) in a loop on this 2-vCPU VM: 9.3 k
 * stat/s at 49 µs CPU per stat without, 24 k/s at 41 µs with 50 µs (libfuse's null_ll: 10.8 k/s, 34 µs).
 */
export const DEFAULT_BUSY_POLL_US = 50;

export function createTransport(fd: number, bufferSize: number, kind?: TransportKind, busyPollUs = DEFAULT_BUSY_POLL_US): Transport {
  // FORGET and INTERRUPT only come through /dev/fuse once the ring serves: nothing to wait for there.
  if (kind === 'uring') return createUringTransport(fd, () => createTransport(fd, bufferSize, undefined, 0));
  if (kind !== 'worker') {
    const t = EpollTransport.tryCreate(fd, bufferSize, busyPollUs);
    if (t) return t;
    if (kind === 'epoll') throw new Error('the epoll transport needs process.binding("pipe_wrap"), which this Node lacks');
  }
  return new WorkerTransport(fd, bufferSize);
}

abstract class FdWriter {
  protected closed = false;
  // A plain field, not a parameter property: Node's built-in type stripping rejects those.
  protected readonly fd: number;
  /** The sink of every frame the receiver owns: one object for all of them, no allocation per request. */
  protected readonly ownedSink: RequestSink;
  constructor(fd: number) {
    this.fd = fd;
    this.ownedSink = Object.freeze({ reply: (iov: readonly Uint8Array[]) => this.write(iov) });
  }

  abstract close(): void;

  /** Wraps `onClose` so the transport closes and reports the end exactly once, whichever event comes first. */
  protected endOnce(onClose: (err: NodeJS.ErrnoException | undefined) => void): (err: NodeJS.ErrnoException | undefined) => void {
    let ended = false;
    return (err) => {
      if (ended) return;
      ended = true;
      this.close();
      onClose(err);
    };
  }

  write(iov: readonly Uint8Array[]): string | 0 {
    if (this.closed) return 'EBADF';
    try {
      fs.writevSync(this.fd, iov as Uint8Array[]);
      return 0;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? 'EIO';
    }
  }

  writeAsync(iov: readonly Uint8Array[]): Promise<string | 0> {
    if (this.closed) return Promise.resolve('EBADF');
    return new Promise((resolve) => {
      fs.writev(this.fd, iov as Uint8Array[], (err) => resolve(err ? (err.code ?? 'EIO') : 0));
    });
  }
}

interface PipeHandle {
  open(fd: number): number;
  /** StreamBase: read into this buffer from now on (what net.Socket's `onread` option uses). */
  useUserBuffer?(buf: Uint8Array): void;
  /**
   * StreamBase: write the chunks (all bytes) in one writev(2) when the fd takes them at once
   * (uv_try_write), else queue an asynchronous write bound to `req`. Returns 0 or a negative errno.
   */
  writev?(req: object, chunks: readonly Uint8Array[], allBuffers: true): number;
}
type PipeCtor = new (type: number) => PipeHandle;

/** Node's stream_wrap binding: the request object of a StreamBase write, and where it reports how a write went. */
interface StreamWrapBinding {
  WriteWrap: new () => { oncomplete?: (status: number) => void };
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

/**
 * Replies through the pipe handle's own writev rather than fs.writevSync: the same one writev(2), without
 * fs's argument checks, its error-context object and, on Node 20, two trace-category lookups by name
 * per call (node_file.cc FS_SYNC_TRACE_BEGIN/END). valgrind, do-nothing daemon, Node 20: the native
 * side of a reply went from ~2 600 to ~1 800 instructions, ~770 of them the lookups (bench/RESULTS.md,
 * "Per-request cost"); about 0.1 µs a reply writing to /dev/null. A write to
 * /dev/fuse is taken whole or refused at once (fs/fuse/dev.c fuse_dev_do_write never blocks, never
 * takes part of a reply), so libuv's uv_try_write answers every reply synchronously.
 */
interface DirectWriter {
  readonly binding: StreamWrapBinding;
  /** The request object handed to every write; replaced if a write was ever queued (never, for /dev/fuse). */
  req: object;
}

/** libuv's EPIPE: what uv_try_write answers on a handle that is not writable. */
const UV_EPIPE = -32;

function newWriteReq(binding: StreamWrapBinding): object {
  const req = new binding.WriteWrap();
  // Called only for a queued write; its outcome has nobody to go to (the reply was counted as sent).
  req.oncomplete = () => {};
  return req;
}

/**
 * One read(2) of a non-blocking fd through fs (no node:ffi in use: ./poll-read.ts): the byte count, or
 * minus the errno. Every empty read throws EAGAIN as an Error, and capturing its stack is most of what
 * that costs (Node 20, --cpu-prof of a stat loop: 8.7 % of the daemon's samples in readSync's own code):
 * no stack for these.
 */
function readNonBlocking(fd: number, buffer: Buffer): number {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fs.readSync(fd, buffer, 0, buffer.length, null);
  } catch (e) {
    // Node's errno is libuv's: minus the Linux errno.
    const errno = (e as NodeJS.ErrnoException).errno;
    return typeof errno === 'number' && errno < 0 ? errno : -Errno.EIO;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

class EpollTransport extends FdWriter implements Transport {
  readonly kind = 'epoll';
  #socket: net.Socket | undefined;
  readonly #handle: PipeHandle;
  #bufferSize: number;
  /** The buffer for the next read after the current one. */
  #buffer: Buffer;
  /** The buffer libuv reads into now: the last one handed to it. */
  #reading: Buffer;
  /** Lent buffers that came back, for the next large frames (only ones of the current size). */
  readonly #spare: Buffer[] = [];

  /** Present when the handle can write itself (see DirectWriter); else replies go through fs.writevSync. */
  #direct: DirectWriter | undefined;

  static tryCreate(fd: number, bufferSize: number, busyPollUs: number): EpollTransport | undefined {
    let Pipe: PipeCtor;
    let SOCKET: number;
    const bindings = process as unknown as { binding(name: string): unknown };
    try {
      const binding = bindings.binding('pipe_wrap') as { Pipe: PipeCtor; constants: { SOCKET: number } };
      Pipe = binding.Pipe;
      SOCKET = binding.constants.SOCKET;
    } catch {
      return undefined;
    }
    const handle = new Pipe(SOCKET);
    if (handle.open(fd) !== 0) return undefined;
    let direct: DirectWriter | undefined;
    try {
      const binding = bindings.binding('stream_wrap') as StreamWrapBinding;
      if (typeof handle.writev === 'function' && typeof binding.WriteWrap === 'function' && binding.streamBaseState instanceof Int32Array && typeof binding.kLastWriteWasAsync === 'number') {
        direct = { binding, req: newWriteReq(binding) };
      }
    } catch {
      // No stream_wrap binding: fs.writevSync it is.
    }
    return new EpollTransport(fd, handle, bufferSize, direct, busyPollUs);
  }

  private constructor(fd: number, handle: PipeHandle, bufferSize: number, direct: DirectWriter | undefined, busyPollUs: number) {
    super(fd);
    this.#busyPollMs = Number.isFinite(busyPollUs) && busyPollUs > 0 ? busyPollUs / 1000 : 0;
    this.#handle = handle;
    this.#direct = direct;
    this.#bufferSize = bufferSize;
    this.#buffer = Buffer.allocUnsafeSlow(bufferSize);
    this.#reading = this.#buffer;
  }

  /** Set by {@link pollOnlyWhile}: busy polling only while it returns true. */
  #mayPoll: (() => boolean) | undefined;
  /** How long to keep reading after a frame before sleeping in epoll again (ms; 0: never). */
  #busyPollMs: number;
  /** INIT is decided: frames of any size may be read (see Transport.serve). */
  #serving = false;
  #paused = false;
  #idle: () => boolean = () => false;

  #framesPolled = 0;

  watchIdle(isIdle: () => boolean): void { this.#idle = isIdle; }
  get framesPolled(): number { return this.#framesPolled; }

  pollOnlyWhile(mayPoll: () => boolean): void { this.#mayPoll = mayPoll; }
  get busyPolling(): boolean { return this.#busyPollMs > 0 && (this.#mayPoll?.() ?? true); }

  /**
   * Busy polling: after a frame, while every request handed over has been answered (a synchronous
   * handler's reply is already written), reads /dev/fuse itself (non-blocking: libuv's pipe handle set
   * O_NONBLOCK) for up to `busyPoll` µs, restarting the window at each frame, instead of going back to
   * sleep in epoll. A client waiting for each reply (stat in a loop, a readdir's next page, the GETATTR
   * after a LOOKUP) sends its next request within microseconds, and on a virtual machine waking a
   * sleeping reader on another vCPU (fs/fuse/dev.c fuse_dev_wake_and_unlock → an IPI through the
   * hypervisor) costs more than the request itself. The event loop gets the thread back at least every
   * MAX_POLL_MS, so timers, signals and other I/O are never starved. Between empty reads it yields the
   * CPU (poll-read.ts yieldCpu), so a client just woken on this CPU is not kept waiting behind the poll.
   */
  #poll(deliver: (buffer: Buffer, nread: number) => void): void {
    const start = performance.now();
    let deadline = start + this.#busyPollMs;
    const libc = pollRead();
    // The buffer whose address `pointer` is (the read buffer changes when a large frame is lent out).
    let addressed: Buffer | undefined;
    let pointer = 0n;
    const mayPoll = this.#mayPoll;
    while (!this.closed && !this.#paused && this.#idle() && (mayPoll === undefined || mayPoll())) {
      const buffer = this.#buffer;
      let n: number;
      if (libc !== undefined) {
        if (buffer !== addressed) { addressed = buffer; pointer = libc.pointerOf(buffer); }
        n = libc.read(this.fd, pointer, buffer.length);
      } else {
        n = readNonBlocking(this.fd, buffer);
      }
      if (n < 0) {
        // EAGAIN: nothing yet. Anything else (ENODEV after unmount) libuv meets and reports on its next read.
        if (n !== -Errno.EAGAIN || performance.now() > deadline) return;
        libc?.yieldCpu();
        continue;
      }
      if (n === 0) return;
      this.#framesPolled++;
      deliver(buffer, n);
      const now = performance.now();
      if (now - start > MAX_POLL_MS) return;
      deadline = now + this.#busyPollMs;
    }
  }

  serve(bufferSize: number | undefined): void {
    this.#serving = true;
    if (bufferSize === undefined || bufferSize === this.#bufferSize) return;
    this.#bufferSize = bufferSize;
    this.#buffer = Buffer.allocUnsafeSlow(bufferSize);
    this.#spare.length = 0;
    // Node asks `onread.buffer` for the next read's buffer right after each frame's callback, so the
    // buffer for the read after INIT was chosen before INIT was decided: hand libuv the new one now
    // (Node's stream_base_commons onStreamRead / net.js initSocketHandle do the same through this call).
    if (this.#socket !== undefined && typeof this.#handle.useUserBuffer === 'function') {
      this.#handle.useUserBuffer(this.#buffer);
      this.#reading = this.#buffer;
    }
  }

  start(onFrame: FrameHandler, onClose: (err: NodeJS.ErrnoException | undefined) => void): void {
    const end = this.endOnce(onClose);
    const spare = this.#spare;
    const reply = this.ownedSink.reply;
    const deliver = (buffer: Buffer, nread: number): void => {
      if (nread <= COPY_LIMIT) {
        const frame = Buffer.allocUnsafe(nread);
        buffer.copy(frame, 0, 0, nread);
        onFrame(frame, this.ownedSink);
      } else {
        this.#buffer = spare.pop() ?? Buffer.allocUnsafeSlow(this.#bufferSize);
        const release = (): void => { if (spare.length < MAX_SPARE_BUFFERS && buffer.length === this.#bufferSize) spare.push(buffer); };
        onFrame(buffer.subarray(0, nread), { reply, release });
      }
    };
    const socket = new net.Socket({
      handle: this.#handle as never,
      readable: true,
      writable: false,
      onread: {
        // Called after every frame (and once at the start): the buffer libuv reads the next frame into.
        buffer: () => (this.#reading = this.#buffer),
        // Not the buffer Node passes: after serve() swapped it, Node's own record is one read behind.
        callback: (nread: number) => {
          deliver(this.#reading, nread);
          if (this.#busyPollMs > 0 && this.#serving && !this.#paused) this.#poll(deliver);
          return true;
        },
      },
    } as net.SocketConstructorOpts);
    this.#socket = socket;
    socket.on('error', (err: NodeJS.ErrnoException) => end(err));
    socket.on('end', () => end(undefined));
    socket.on('close', () => end(undefined));
  }

  override write(iov: readonly Uint8Array[]): string | 0 {
    const direct = this.#direct;
    if (direct === undefined || this.closed) return super.write(iov);
    // The handle takes only bytes (a C++ CHECK, not an exception): anything else goes the checked way.
    for (let i = 0; i < iov.length; i++) if (!(iov[i] instanceof Uint8Array)) return super.write(iov);
    const err = this.#handle.writev!(direct.req, iov, true);
    if (direct.binding.streamBaseState[direct.binding.kLastWriteWasAsync] !== 0) {
      // Queued by libuv (the fd would have blocked; /dev/fuse never does): the request object belongs to
      // that write until libuv finishes it, so later writes get a new one.
      direct.req = newWriteReq(direct.binding);
      return 0;
    }
    if (err === UV_EPIPE) {
      // libuv's answer for a handle it opened read-only (uv_pipe_open looks at the fd's access mode),
      // before any syscall: let the kernel say what is wrong, through fs, from now on.
      this.#direct = undefined;
      return super.write(iov);
    }
    return err === 0 ? 0 : getSystemErrorName(err);
  }

  // libuv stops reading between two read(2)s (uv_read_stop), so no frame is read and left undelivered.
  pause(): void { this.#paused = true; this.#socket?.pause(); }
  resume(): void { this.#paused = false; this.#socket?.resume(); }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Destroying the socket closes the libuv handle, which closes the fd.
    if (this.#socket) this.#socket.destroy();
    else fs.closeSync(this.fd);
  }
}

/**
 * The worker's loop: block in read(2), post each frame, stop on a hard error. After an INIT frame it
 * reads nothing until the main thread has decided INIT (control[0] counts decided INITs) and takes the
 * buffer size INIT agreed from control[1]: a read already blocked with the old buffer could otherwise
 * receive a WRITE of the new maxWrite, which the kernel would fail.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { fd, size, control } = workerData;
const ctl = new Int32Array(control);
let buf = Buffer.allocUnsafeSlow(size);
let inits = 0;
for (;;) {
  let n;
  try { n = fs.readSync(fd, buf, 0, buf.length, null); }
  catch (e) {
    if (e.code === 'EINTR' || e.code === 'EAGAIN' || e.code === 'ENOENT') continue;
    parentPort.postMessage({ error: e.code, message: e.message });
    break;
  }
  // One read buffer for the life of the worker; each frame crosses to the main thread as a
  // right-sized copy whose memory is transferred, not cloned again.
  const frame = new Uint8Array(n);
  frame.set(buf.subarray(0, n));
  parentPort.postMessage(frame, [frame.buffer]);
  if (n >= ${OPCODE_OFFSET + 4} && buf.readUInt32LE(${OPCODE_OFFSET}) === ${FUSE_INIT}) {
    inits++;
    for (let v; (v = Atomics.load(ctl, 0)) < inits;) Atomics.wait(ctl, 0, v);
    const agreed = Atomics.load(ctl, 1);
    if (agreed !== buf.length) buf = Buffer.allocUnsafeSlow(agreed);
  }
}
`;

class WorkerTransport extends FdWriter implements Transport {
  readonly kind = 'worker';
  #worker: Worker | undefined;
  readonly #bufferSize: number;
  /** [INITs decided, agreed buffer size], shared with the worker (see WORKER_SOURCE). */
  readonly #control = new Int32Array(new SharedArrayBuffer(8));
  constructor(fd: number, bufferSize: number) {
    super(fd);
    this.#bufferSize = bufferSize;
    this.#control[1] = bufferSize;
  }

  serve(bufferSize: number | undefined): void {
    if (bufferSize !== undefined) Atomics.store(this.#control, 1, bufferSize);
    Atomics.add(this.#control, 0, 1);
    Atomics.notify(this.#control, 0);
  }

  start(onFrame: FrameHandler, onClose: (err: NodeJS.ErrnoException | undefined) => void): void {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { fd: this.fd, size: this.#bufferSize, control: this.#control.buffer } });
    // Not unref'd: like the epoll handle, a live mount keeps the process alive.
    this.#worker = worker;
    const end = this.endOnce(onClose);
    worker.on('message', (m: Uint8Array | { error: string; message: string }) => {
      if (m instanceof Uint8Array) onFrame(Buffer.from(m.buffer, m.byteOffset, m.byteLength), this.ownedSink);
      else end(Object.assign(new Error(m.message), { code: m.error }) as NodeJS.ErrnoException);
    });
    worker.on('error', (e) => end(e as NodeJS.ErrnoException));
    worker.on('exit', () => end(undefined));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // The worker exits on its own once reads fail with ENODEV; closing the fd under a blocked read is
    // safe on Linux (the read keeps its file reference until it returns).
    try { fs.closeSync(this.fd); } catch { /* already closed */ }
    void this.#worker?.terminate();
  }
}
