/**
 * FUSE over io_uring (protocol 7.42, Linux >= 6.14, `transport: 'uring'`): after INIT, requests come
 * through ring entries instead of read(2) on /dev/fuse, and each reply is one io_uring command that also
 * asks for the next request (COMMIT_AND_FETCH). A prototype for issue #8; bench/uring.ts measures it
 * against the epoll transport and bench/RESULTS.md has the numbers.
 *
 * How the kernel does it (fs/fuse/dev_uring.c):
 *  - INIT still comes through read(2), and the ring can only be set up once INIT is answered
 *    (fuse_uring_cmd: EAGAIN until fc->initialized). The INIT reply must carry OVER_IO_URING, which the
 *    kernel offers only while /sys/module/fuse/parameters/enable_uring is Y.
 *  - The ring has one queue per possible CPU; a request goes to the queue of the CPU its caller runs on
 *    (fuse_uring_task_to_queue). Each entry is registered with an IORING_OP_URING_CMD on the /dev/fuse
 *    descriptor (FUSE_IO_URING_CMD_REGISTER) naming two buffers: a 288-byte header and a payload of at
 *    least max(max_write, max_pages pages). The kernel switches to the ring once every queue has an entry
 *    (fuse_uring_do_register, is_ring_ready); until then requests keep coming through read(2).
 *  - A request fills the header (fuse_in_header in `in_out`, the first argument in `op_in`) and the
 *    payload (the other arguments, `payload_sz` bytes), then completes the entry's command.
 *  - The reply goes into the same buffers (fuse_out_header in `in_out`, the body in the payload) and is
 *    committed with COMMIT_AND_FETCH and the request's unique as commit_id, which re-arms the entry.
 *  - FORGET, BATCH_FORGET and INTERRUPT still come through read(2) (fuse_io_uring_ops), and notifications
 *    are still written to /dev/fuse (the ring refuses unique 0: fuse_uring_out_header_has_err). So this
 *    transport keeps an ordinary transport on /dev/fuse for those, and for INIT.
 *
 * Frames handed to the session are the bytes read(2) would have given: the header, the first argument
 * and the payload are laid out next to each other in front of the payload buffer. Frames up to
 * COPY_LIMIT are copied (the entry is re-armed by the reply, and the kernel may then write the next
 * request into it); larger ones (WRITE) are lent, and their reply is committed only once the handler
 * has released the frame, since committing hands the buffers back to the kernel.
 */
import { closeSync, readFileSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { TsfuseError } from '../errors.ts';
import { hasFlag, type Negotiated } from '../protocol/negotiated.ts';
import type { RequestSink } from './context.ts';
import type { FrameHandler, Transport } from './transport.ts';
import {
  CmdReq, ENABLE_URING_PARAMETER, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, FUSE_IO_URING_CMD_REGISTER, IN_HEADER_SIZE,
  IORING_OP_URING_CMD, MIN_PAYLOAD, OUT_HEADER_SIZE, ReqHeader, Sqe,
} from './uring/abi.ts';
import { IoUring, loadLibc, type Libc } from './uring/ring.ts';
import { watchEventFd, type EventFdWatch } from './uring/eventfd-watch.ts';

/** Same threshold and reason as the epoll transport's COPY_LIMIT (src/session/transport.ts). */
const COPY_LIMIT = 16 * 1024;
/**
 * Entries per queue: requests one CPU's callers can have in the daemon at once (more wait in the kernel).
 * Each holds a payload buffer of max_write (1 MiB by default), so fewer on machines with many CPUs.
 */
const MAX_DEPTH = 4;
const MAX_ENTRIES = 32;
/**
 * Each entry's memory: the 288-byte fuse_uring_req_header at 0, then room to lay a frame's fuse_in_header
 * and first argument (40 + 128 bytes) in front of the payload, which starts here.
 */
const PAYLOAD_OFFSET = 512;
/** Errors with which the kernel ends an entry's command when the connection goes (fuse_uring_entry_teardown, fuse_uring_cancel). */
const TEARDOWN_ERRNOS: ReadonlySet<number> = new Set([107 /* ENOTCONN */, 103 /* ECONNABORTED */, 125 /* ECANCELED */, 19 /* ENODEV */]);
const EIO = 5;

/** Where an entry is: the kernel holds its command, or a request in it waits for the daemon's reply. */
const EntryState = Object.freeze({ Registering: 0, InKernel: 1, InDaemon: 2, Dead: 3 });
type EntryState = (typeof EntryState)[keyof typeof EntryState];

interface RingEntry {
  readonly index: number;
  readonly qid: number;
  /** Header at 0, frame room, payload at PAYLOAD_OFFSET (see PAYLOAD_OFFSET). */
  readonly memory: Buffer;
  /** struct iovec[2] naming the header and the payload, for REGISTER. */
  readonly iovecs: Buffer;
  state: EntryState;
  /** The request's frame is lent to the session (not yet released). */
  lent: boolean;
  /** A reply that came while the frame was lent: committed at release. */
  deferred: Buffer | undefined;
  readonly ownedSink: RequestSink;
  readonly lentSink: RequestSink;
}

/**
 * Why the io_uring transport cannot run here, checked before anything is mounted: undefined when it can
 * be tried (the kernel may still refuse at INIT or at registration, which then fails the mount).
 */
export function uringUnavailable(): string | undefined {
  const c = loadLibc();
  if (typeof c === 'string') return c;
  let setting: string;
  try {
    setting = readFileSync(ENABLE_URING_PARAMETER, 'latin1').trim();
  } catch {
    return `this kernel has no FUSE over io_uring (${ENABLE_URING_PARAMETER} is missing): it needs Linux >= 6.14 built with CONFIG_FUSE_IO_URING`;
  }
  if (setting !== 'Y' && setting !== '1') {
    return `FUSE over io_uring is switched off: ${ENABLE_URING_PARAMETER} is ${setting}; as root, \`echo Y > ${ENABLE_URING_PARAMETER}\` turns it on for mounts made from then on`;
  }
  return undefined;
}

/** The number of possible CPUs (the kernel's num_possible_cpus(), one ring queue each). */
function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'latin1').trim();
  let n = 0;
  for (const range of text.split(',')) {
    const [a, b] = range.split('-');
    n += b === undefined ? 1 : Number(b) - Number(a) + 1;
  }
  if (!Number.isInteger(n) || n < 1) throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', `cannot read the possible CPUs from /sys/devices/system/cpu/possible ('${text}')`);
  return n;
}

function errnoText(errno: number): string {
  try { return getSystemErrorName(-errno); } catch { return `errno ${errno}`; }
}

/**
 * Creates the io_uring transport on `fd`, with `device()` making the transport that still carries INIT,
 * FORGET, INTERRUPT and notifications. Throws ERR_FUSE_URING_UNAVAILABLE saying what is missing, before
 * anything touches `fd`.
 */
export function createUringTransport(fd: number, device: () => Transport): UringTransport {
  const why = uringUnavailable();
  if (why !== undefined) throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', why);
  return new UringTransport(fd, device, loadLibc() as Libc);
}

export class UringTransport implements Transport {
  readonly kind = 'uring';
  readonly wants = Object.freeze(['OVER_IO_URING'] as const);
  readonly #fd: number;
  readonly #device: Transport;
  readonly #libc: Libc;
  readonly #queues: number;
  readonly #depth: number;
  #ring: IoUring | undefined;
  #watch: EventFdWatch | undefined;
  #entries: RingEntry[] = [];
  #payloadSize = 0;
  #onFrame: FrameHandler | undefined;
  #end: ((err: NodeJS.ErrnoException | undefined) => void) | undefined;
  #closed = false;
  #registering = false;
  #flushScheduled = false;
  #ringRequests = 0;
  #deviceRequests = 0;
  readonly #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (err: Error) => void;
  readonly #onCompletion = (index: number, res: number): void => this.#completed(index, res);
  readonly #flush = (): void => { this.#flushScheduled = false; this.#submit(); };

  constructor(fd: number, device: () => Transport, c: Libc) {
    this.#fd = fd;
    this.#libc = c;
    this.#queues = possibleCpus();
    this.#depth = Math.max(1, Math.min(MAX_DEPTH, Math.floor(MAX_ENTRIES / this.#queues)));
    this.#ready = new Promise<void>((resolve, reject) => { this.#resolveReady = resolve; this.#rejectReady = reject; });
    // Nobody may be waiting (a Session that is never asked whether it is initialized).
    this.#ready.catch(() => {});
    // Set up now, so that a kernel without io_uring fails before INIT rather than after.
    this.#ring = new IoUring(c, this.#queues * this.#depth);
    try {
      this.#device = device();
    } catch (e) {
      closeSync(this.#ring.eventFd);
      this.#ring.close();
      throw e;
    }
  }

  /** Requests that came through the ring, and through read(2) on /dev/fuse (INIT, FORGET, INTERRUPT). */
  get counts(): { readonly ring: number; readonly device: number } {
    return { ring: this.#ringRequests, device: this.#deviceRequests };
  }

  /** Resolves once every ring entry is registered (the kernel serves requests through the ring); rejects with why not. */
  ready(): Promise<void> { return this.#ready; }

  start(onFrame: FrameHandler, onClose: (err: NodeJS.ErrnoException | undefined) => void): void {
    this.#onFrame = onFrame;
    let ended = false;
    this.#end = (err) => {
      if (ended) return;
      ended = true;
      this.close();
      onClose(err);
    };
    this.#device.start((frame, sink) => { this.#deviceRequests++; onFrame(frame, sink); }, (err) => this.#end?.(err));
  }

  serve(bufferSize: number | undefined, negotiated?: Negotiated): void {
    this.#device.serve(bufferSize, negotiated);
    if (negotiated === undefined || this.#registering || this.#closed) return;
    this.#registering = true;
    if (!hasFlag(negotiated, 'OVER_IO_URING')) {
      this.#rejectReady(new TsfuseError('ERR_FUSE_URING_UNAVAILABLE',
        `the kernel did not offer OVER_IO_URING at INIT (protocol 7.${negotiated.minor}): it needs Linux >= 6.14 with CONFIG_FUSE_IO_URING, ` +
        `and ${ENABLE_URING_PARAMETER} set to Y when the filesystem is mounted`));
      return;
    }
    // fs/fuse/dev_uring.c fuse_uring_create sizes the payload max(FUSE_MIN_READ_BUFFER, max_write, max_pages pages).
    this.#payloadSize = Math.max(MIN_PAYLOAD, negotiated.maxWrite, negotiated.maxPages * 4096);
    // Called before the INIT reply is written; the kernel accepts registrations only once it has processed
    // that reply (fuse_uring_cmd answers EAGAIN before fc->initialized), which a microtask later it has.
    queueMicrotask(() => {
      try {
        this.#register();
      } catch (e) {
        this.#rejectReady(e as Error);
      }
    });
  }

  write(iov: readonly Uint8Array[]): string | 0 { return this.#device.write(iov); }
  writeAsync(iov: readonly Uint8Array[]): Promise<string | 0> { return this.#device.writeAsync(iov); }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectReady(new TsfuseError('ERR_INVALID_STATE', 'the io_uring transport was closed before its ring was ready'));
    this.#device.close();
    // Closing the ring cancels the entries' commands, which hold references to /dev/fuse: only then can
    // the kernel release the connection.
    if (this.#watch !== undefined) this.#watch.close();
    else if (this.#ring !== undefined) { try { closeSync(this.#ring.eventFd); } catch { /* gone */ } }
    this.#ring?.close();
    this.#ring = undefined;
    for (const e of this.#entries) e.state = EntryState.Dead;
  }

  /** Registers every entry in one io_uring_enter; the outcome of each is known when it returns. */
  #register(): void {
    const ring = this.#ring;
    if (ring === undefined || this.#closed) return;
    this.#watch = watchEventFd(ring.eventFd, () => ring === this.#ring && this.#drain(), (err) => this.#end?.(err as NodeJS.ErrnoException));
    const size = PAYLOAD_OFFSET + this.#payloadSize;
    // Queue by queue, one entry each first: the ring is ready as soon as every queue has one.
    for (let round = 0; round < this.#depth; round++) {
      for (let qid = 0; qid < this.#queues; qid++) {
        const entry = this.#newEntry(this.#entries.length, qid, size);
        this.#entries.push(entry);
        const at = ring.prepare();
        if (at === undefined) throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', 'the io_uring submission queue is smaller than the ring entries');
        const sqes = ring.sqes;
        sqes[at + Sqe.OPCODE] = IORING_OP_URING_CMD;
        sqes.writeInt32LE(this.#fd, at + Sqe.FD);
        sqes.writeUInt32LE(FUSE_IO_URING_CMD_REGISTER, at + Sqe.CMD_OP);
        sqes.writeBigUInt64LE(this.#libc.address(entry.iovecs), at + Sqe.ADDR);
        sqes.writeUInt32LE(2, at + Sqe.LEN);
        sqes.writeUInt32LE(entry.index, at + Sqe.USER_DATA);
        sqes.writeUInt16LE(qid, at + Sqe.CMD + CmdReq.QID);
      }
    }
    const err = ring.submit();
    if (err !== 0) throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', `submitting the ring registrations failed with ${errnoText(-err)}`);
    // A refused registration completes at once with its error; an accepted one stays with the kernel
    // until a request arrives. So every failure is in the CQ ring now.
    const refused: number[] = [];
    ring.drain((index, res) => {
      const e = this.#entries[index];
      if (e?.state === EntryState.Registering && res < 0) { e.state = EntryState.Dead; refused.push(res); }
      else this.#completed(index, res);
    });
    if (refused.length > 0) {
      const res = refused[0]!;
      const hint = res === -95 ? ` (${ENABLE_URING_PARAMETER} was switched off before the ring was set up)`
        : res === -22 ? ' (the kernel wants other buffer sizes or a different queue count)' : '';
      throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', `the kernel refused ${refused.length} of ${this.#entries.length} io_uring ring registrations: ${errnoText(res)}${hint}`);
    }
    for (const e of this.#entries) if (e.state === EntryState.Registering) e.state = EntryState.InKernel;
    this.#resolveReady();
  }

  #newEntry(index: number, qid: number, size: number): RingEntry {
    const memory = Buffer.allocUnsafeSlow(size);
    memory.fill(0, 0, PAYLOAD_OFFSET);
    const iovecs = Buffer.alloc(32);
    const base = this.#libc.address(memory);
    iovecs.writeBigUInt64LE(base, 0);
    iovecs.writeBigUInt64LE(BigInt(ReqHeader.SIZE), 8);
    iovecs.writeBigUInt64LE(base + BigInt(PAYLOAD_OFFSET), 16);
    iovecs.writeBigUInt64LE(BigInt(this.#payloadSize), 24);
    const entry: RingEntry = {
      index, qid, memory, iovecs, state: EntryState.Registering, lent: false, deferred: undefined,
      ownedSink: Object.freeze({ reply: (iov: readonly Uint8Array[]) => this.#reply(entry, iov) }),
      lentSink: Object.freeze({ reply: (iov: readonly Uint8Array[]) => this.#reply(entry, iov), release: () => this.#release(entry) }),
    };
    return entry;
  }

  #drain(): void {
    this.#ring?.drain(this.#onCompletion);
  }

  /** One completion: a request in the entry (res 0), or the end of the entry's command. */
  #completed(index: number, res: number): void {
    const e = this.#entries[index];
    if (e === undefined || e.state === EntryState.Dead || this.#closed) return;
    if (res < 0) {
      e.state = EntryState.Dead;
      // The connection is going (unmount, abort): /dev/fuse reports it and ends the session.
      if (TEARDOWN_ERRNOS.has(-res)) return;
      this.#end?.(Object.assign(new Error(`the kernel ended io_uring ring entry ${index} with ${errnoText(res)}`), { code: errnoText(res) }) as NodeJS.ErrnoException);
      return;
    }
    e.state = EntryState.InDaemon;
    this.#deliver(e);
  }

  /** Lays the request out as read(2) would have returned it and hands it to the session. */
  #deliver(e: RingEntry): void {
    const m = e.memory;
    const len = m.readUInt32LE(ReqHeader.IN_OUT);
    const payloadSize = m.readUInt32LE(ReqHeader.ENT_PAYLOAD_SZ);
    // fuse_in_header.len counts every argument; those not in the payload are the first one, in op_in.
    const opIn = len - IN_HEADER_SIZE - payloadSize;
    if (payloadSize > this.#payloadSize || opIn < 0 || opIn > ReqHeader.OP_IN_SIZE) {
      this.#answerMalformed(e);
      return;
    }
    const start = PAYLOAD_OFFSET - IN_HEADER_SIZE - opIn;
    m.copy(m, start, ReqHeader.IN_OUT, ReqHeader.IN_OUT + IN_HEADER_SIZE);
    if (opIn > 0) m.copy(m, start + IN_HEADER_SIZE, ReqHeader.OP_IN, ReqHeader.OP_IN + opIn);
    this.#ringRequests++;
    const onFrame = this.#onFrame!;
    if (len <= COPY_LIMIT) {
      const frame = Buffer.allocUnsafe(len);
      m.copy(frame, 0, start, start + len);
      onFrame(frame, e.ownedSink);
    } else {
      e.lent = true;
      onFrame(m.subarray(start, start + len), e.lentSink);
    }
  }

  /** A request whose lengths do not add up: answered EIO, the way the core answers a malformed frame. */
  #answerMalformed(e: RingEntry): void {
    const reply = Buffer.alloc(OUT_HEADER_SIZE);
    reply.writeUInt32LE(OUT_HEADER_SIZE, 0);
    reply.writeInt32LE(-EIO, 4);
    e.memory.copy(reply, 8, ReqHeader.IN_OUT + 8, ReqHeader.IN_OUT + 16);
    this.#commit(e, [reply]);
  }

  #reply(e: RingEntry, iov: readonly Uint8Array[]): string | 0 {
    if (this.#closed || e.state === EntryState.Dead) return 'EBADF';
    if (e.state !== EntryState.InDaemon || e.deferred !== undefined) return 'EINVAL';
    let total = 0;
    for (const part of iov) total += part.byteLength;
    if (total < OUT_HEADER_SIZE || total - OUT_HEADER_SIZE > this.#payloadSize) return 'EINVAL';
    if (e.lent) {
      // The reply would overwrite the frame the handler may still read (an early EINTR after an interrupt).
      e.deferred = Buffer.concat(iov as Uint8Array[], total);
      return 0;
    }
    return this.#commit(e, iov);
  }

  #release(e: RingEntry): void {
    e.lent = false;
    const deferred = e.deferred;
    if (deferred === undefined) return;
    e.deferred = undefined;
    if (e.state === EntryState.InDaemon && !this.#closed) this.#commit(e, [deferred]);
  }

  /** Writes the reply into the entry's buffers and queues its COMMIT_AND_FETCH. */
  #commit(e: RingEntry, iov: readonly Uint8Array[]): string | 0 {
    const ring = this.#ring;
    if (ring === undefined) return 'EBADF';
    const m = e.memory;
    let header = 0;
    let payload = 0;
    for (const part of iov) {
      let from = 0;
      if (header < OUT_HEADER_SIZE) {
        from = Math.min(OUT_HEADER_SIZE - header, part.byteLength);
        m.set(from === part.byteLength ? part : part.subarray(0, from), ReqHeader.IN_OUT + header);
        header += from;
      }
      if (from < part.byteLength) {
        m.set(from === 0 ? part : part.subarray(from), PAYLOAD_OFFSET + payload);
        payload += part.byteLength - from;
      }
    }
    m.writeUInt32LE(payload, ReqHeader.ENT_PAYLOAD_SZ);
    const at = ring.prepare();
    if (at === undefined) return 'EAGAIN';
    const sqes = ring.sqes;
    sqes[at + Sqe.OPCODE] = IORING_OP_URING_CMD;
    sqes.writeInt32LE(this.#fd, at + Sqe.FD);
    sqes.writeUInt32LE(FUSE_IO_URING_CMD_COMMIT_AND_FETCH, at + Sqe.CMD_OP);
    sqes.writeUInt32LE(e.index, at + Sqe.USER_DATA);
    // commit_id: the request's unique, as the kernel wrote it into fuse_uring_ent_in_out.
    m.copy(sqes, at + Sqe.CMD + CmdReq.COMMIT_ID, ReqHeader.ENT_COMMIT_ID, ReqHeader.ENT_COMMIT_ID + 8);
    sqes.writeUInt16LE(e.qid, at + Sqe.CMD + CmdReq.QID);
    e.state = EntryState.InKernel;
    // Replies settled in the same turn go to the kernel in one io_uring_enter.
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    return 0;
  }

  #submit(): void {
    const ring = this.#ring;
    if (ring === undefined) return;
    const err = ring.submit();
    if (err !== 0) {
      if (err === 11 /* EAGAIN */ || err === 16 /* EBUSY */) { setImmediate(this.#flush); return; }
      this.#end?.(Object.assign(new Error(`io_uring_enter(2) failed with ${errnoText(-err)}`), { code: errnoText(-err) }) as NodeJS.ErrnoException);
      return;
    }
    // A commit fetches the next request in the same call when one is queued: serve it without waiting
    // for the eventfd to wake us.
    this.#drain();
  }
}
