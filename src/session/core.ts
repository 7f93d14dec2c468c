/**
 * The protocol core of a session, free of any transport: frames in through `handleFrame`, each with the
 * sink its reply goes back through; notifications out through the session-level writer it was given. It
 * performs INIT, dispatches every opcode through the table (src/protocol/opcodes.ts), answers each
 * request exactly once whatever its handler does, maps thrown errors to errnos, wires FUSE_INTERRUPT to
 * AbortSignals, and implements the notifications.
 *
 * Every call into filesystem code (handlers, forget after READDIRPLUS, init, ready, destroy, thenables'
 * `then`) goes through a guard: a throw, a rejection or an invalid result becomes an errno reply (EIO
 * for anything that names none) and a warning, never an exception out of `handleFrame`.
 */
import { channel } from 'node:diagnostics_channel';
import { decodeRequest } from '../protocol/decode.ts';
import { FrameReader, describeDecodeError } from '../protocol/reader.ts';
import { frameReply, type InHeaderFields } from '../protocol/header.ts';
import { negotiateInit, encodeInitOut, type InitWants, type CapabilityAudit, type InitOutFields } from '../protocol/init.ts';
import { PRE_INIT, type Negotiated } from '../protocol/negotiated.ts';
import { opcodeRow, opcodeByName, type OpcodeRow, type Encoded } from '../protocol/opcodes.ts';
import type { InitRequest, InterruptRequest, NotifyReplyRequest, BatchForgetRequest } from '../protocol/requests.ts';
import type { Ino, Unique } from '../protocol/ids.ts';
import * as N from '../protocol/notify.ts';
import type { U64 } from '../protocol/u64.ts';
import type { BytesLike } from '../protocol/replies.ts';
import type { InitFlagName } from '../protocol/constants.ts';
import { Errno, FuseError, TsfuseError, errnoOf, errnoFromName } from '../errors.ts';
import type { LowLevelOperations } from '../ops/lowlevel.ts';
import { deriveCapabilities } from '../ops/capabilities.ts';
import { InflightRequest, type RequestSink } from './context.ts';
import { checkRequestNames, prepareListing, describeValue } from './validate.ts';

/** diagnostics_channel names; subscribe to trace every frame (see src/session/trace.ts). */
export const REQUEST_CHANNEL = 'tsfuse:request';
export const REPLY_CHANNEL = 'tsfuse:reply';
/** Raw frames both ways, as bytes ({@link FrameMessage}); what recorders subscribe to (src/record/recorder.ts). */
export const FRAME_CHANNEL = 'tsfuse:frame';
const requestChannel = channel(REQUEST_CHANNEL);
const replyChannel = channel(REPLY_CHANNEL);
const frameChannel = channel(FRAME_CHANNEL);
/** Each request with its reply and stage times, for explain mode ({@link ExplainMessage}, src/explain/live.ts). */
export const EXPLAIN_CHANNEL = 'tsfuse:explain';
const explainChannel = channel(EXPLAIN_CHANNEL);

/**
 * One message on the {@link EXPLAIN_CHANNEL}: a request as it arrives (before its handler runs), then
 * its reply as written with the time each daemon-side stage took. Published only while someone
 * subscribes; the session then takes one timestamp per stage, and nothing at all otherwise.
 */
export interface ExplainMessage {
  /** {@link SessionCore.id} of the session. */
  readonly session: number;
  readonly kind: 'request' | 'reply';
  /** The request frame, borrowed (copy to keep): on a `'reply'`, the request it answers, still intact. */
  readonly request: Buffer;
  /** The reply frame as written (out-header, then the body parts). Absent: a request, or an opcode without reply. */
  readonly reply?: readonly Uint8Array[];
  /** What INIT agreed when the frame was handled (the decoders' layouts depend on it). */
  readonly negotiated: Negotiated;
  /** On a `'reply'`: nanoseconds (session clock) spent decoding, in the handler, encoding, and writing. */
  readonly stages?: { readonly decodeNs: number; readonly handlerNs: number; readonly encodeNs: number; readonly writeNs: number };
}

/** Session-clock times of one explained request's stages; only while explaining. */
interface ExplainStamps {
  readonly frame: Buffer;
  readonly received: bigint;
  readonly decoded: bigint;
  /** After the request message's subscribers ran: their formatting is nobody's stage. */
  handlerStart: bigint;
  settled?: bigint;
  encoded?: bigint;
}

/**
 * Time for a session: the interrupt grace, RETRIEVE timeouts, latencies and frame timestamps. A replay
 * passes a virtual clock so that all of these are decided by the recording, not by the machine.
 */
export interface SessionClock {
  /** Monotonic nanoseconds (any origin). */
  now(): bigint;
  /** Calls `fn` once after `ms`; the handle goes to {@link clearTimeout}. Must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The machine's clock: process.hrtime and unref'd timers. */
export const SYSTEM_CLOCK: SessionClock = Object.freeze({
  now: () => process.hrtime.bigint(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
});

let lastSessionId = 0;

export type { RequestSink };

export interface RequestMessage {
  /** {@link SessionCore.id} of the session that read it: the channels are process-wide. */
  readonly session: number;
  readonly header: InHeaderFields;
  readonly name: string;
  readonly args: unknown;
}
export interface ReplyMessage {
  /** {@link SessionCore.id} of the session that answered. */
  readonly session: number;
  readonly unique: U64;
  readonly opcode: number;
  readonly name: string;
  /** 0 or a positive errno. */
  readonly error: number;
  /** Body bytes (without the out-header). */
  readonly bodyLength: number;
  /** Nanoseconds from the request's arrival to its reply. */
  readonly latencyNs: number;
  /** The reply body (without the out-header), borrowed: valid only while subscribers run. Absent without a reply. */
  readonly body?: readonly Uint8Array[];
}

/**
 * One frame on the {@link FRAME_CHANNEL}: a request as read (INIT and NOTIFY_REPLY included, malformed
 * ones too), a reply as written (each write attempt: a refused reply retried as EIO appears twice), or a
 * notification as written. The bytes are borrowed: copy them before the subscriber returns.
 */
export interface FrameMessage {
  /** {@link SessionCore.id} of the session. */
  readonly session: number;
  readonly direction: 'request' | 'reply' | 'notify';
  /** The session clock's {@link SessionClock.now} when the frame was read or written. */
  readonly time: bigint;
  /** The whole frame (header included), as the iovecs of one read or writev. */
  readonly iov: readonly Uint8Array[];
  /** 0, or the errno name the write failed with (the kernel did not take it). Requests: always 0. */
  readonly writeError: string | 0;
}

export interface SessionCoreOptions {
  /** INIT settings derived from the mount options (maxWrite, maxBackground, …). */
  readonly wants?: InitWants;
  /** Capabilities to ask for in addition to those tsfuse derives from the implemented methods. */
  readonly capabilities?: readonly InitFlagName[];
  /**
   * After FUSE_INTERRUPT aborts a handler's signal, how long to wait for the handler to settle before
   * answering EINTR anyway, so a caller is never left hanging. Defaults to 100 ms.
   */
  readonly interruptGraceMs?: number;
  /**
   * `allow_root`: answer EACCES to requests from anyone but this uid and root (the kernel was mounted
   * with allow_other, so only the session can refuse them). Defaults to undefined: no check.
   */
  readonly ownerOnly?: number;
  /** Where warnings go (handler errors that are not errnos, invalid results, malformed frames). Defaults to process.emitWarning. */
  readonly onWarning?: (message: string, cause?: unknown) => void;
  /**
   * Debugging aid: once a request's handler has settled, overwrite the request frame with
   * {@link POISON_BYTE}, so a handler that keeps a borrowed view (`req.name`, `req.data`, …) past its end
   * reads an obvious pattern instead of, some day, the bytes of a later request. Costs a fill per request.
   * Defaults to false, or true when the environment has `TSFUSE_POISON=1`.
   */
  readonly poisonLentBuffers?: boolean;
  /**
   * The clock for the interrupt grace, RETRIEVE timeouts, latencies and frame timestamps; a replay passes
   * a virtual one so that it is deterministic. Defaults to {@link SYSTEM_CLOCK}.
   */
  readonly clock?: SessionClock;
  /**
   * Start as if INIT had been answered with these settings, and call `ready()` a microtask later (before
   * any frame can arrive): for a session taken over from another process (src/handoff), to which the
   * kernel sends no second INIT (it sends INIT once per connection, fs/fuse/inode.c fuse_send_init).
   * Absent: wait for INIT.
   */
  readonly adopted?: { readonly negotiated: Negotiated; readonly audit: readonly CapabilityAudit[] };
}

/** What a poisoned frame is filled with (see {@link SessionCoreOptions.poisonLentBuffers}). */
export const POISON_BYTE = 0xa5;

/** The session-level side of the core: the default reply writer, notifications, and INIT's outcome. */
export interface CoreOutput {
  /** Writes a frame synchronously; returns 0 or the errno name. Replies go here when `handleFrame` gets no sink. */
  write(iov: readonly Uint8Array[]): string | 0;
  /** Writes a frame without blocking the event loop (notifications). */
  writeAsync(iov: readonly Uint8Array[]): Promise<string | 0>;
  /**
   * Called once INIT is decided, before its reply is written (so before the kernel can send anything
   * sized by it): with the agreed settings, or undefined when INIT did not succeed.
   */
  initDecided?(negotiated: Negotiated | undefined): void;
}

/** The notifications a filesystem can send to the kernel (see SessionCore for each). */
export type Notifier = Pick<SessionCore, 'invalInode' | 'invalEntry' | 'expireEntry' | 'delete' | 'store' | 'retrieve' | 'pollWakeup' | 'resend' | 'incEpoch' | 'prune'>;

/** The capability requests tsfuse derives from which handlers a filesystem implements (from the opcode table). */
export { deriveCapabilities };

/** Where INIT stands (plain constants: Node's type stripping takes no enums). */
const InitState = { None: 0, Pending: 1, Done: 2, Failed: 3 } as const;
type InitState = (typeof InitState)[keyof typeof InitState];

/** The largest errno the kernel takes in a reply (fs/fuse/dev.c fuse_dev_do_write refuses error ≤ −512). */
const MAX_REPLY_ERRNO = 511;
/** Write errors that mean nobody waits for the reply any more, so there is nothing to retry. */
function gone(err: string): boolean {
  // ENOENT: the kernel no longer waits for this request (interrupted and answered, or aborted).
  return err === 'ENOENT' || err === 'ENODEV' || err === 'EBADF';
}

const NATIVE_THEN = Promise.prototype.then;
const BATCH_FORGET_ROW = opcodeByName('BATCH_FORGET')!;
/** The header of the forget the core sends itself after READDIRPLUS (no frame, no reply). */
const INTERNAL_HEADER: InHeaderFields = Object.freeze({
  len: 0, opcode: BATCH_FORGET_ROW.code, unique: 0 as Unique, resend: false, uniqueLo: 0, uniqueHi: 0, nodeid: 0 as Ino,
  uid: 0, gid: 0, pid: 0, totalExtlen: 0,
});
const NO_REPLY_SINK: RequestSink = Object.freeze({ reply: () => 0 as const });

export class SessionCore {
  readonly #ops: LowLevelOperations;
  readonly #out: CoreOutput;
  readonly #defaultSink: RequestSink;
  readonly #reader = new FrameReader();
  readonly #inflight = new Map<U64, InflightRequest>();
  readonly #retrieves = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: unknown }>();
  readonly #options: SessionCoreOptions;
  readonly #warn: (message: string, cause?: unknown) => void;
  readonly #poison: boolean;
  readonly #clock: SessionClock;
  /** This session's number in the diagnostics channels' messages (1, 2, … per process). */
  readonly id: number = ++lastSessionId;
  /** Stage times of requests being explained, by their header object (dropped with it). */
  readonly #explained = new WeakMap<InHeaderFields, ExplainStamps>();
  #negotiated: Negotiated = PRE_INIT;
  #audit: readonly CapabilityAudit[] = [];
  #init: InitState = InitState.None;
  #nextNotifyUnique = 1;
  #destroyed = false;
  #resolveInit!: (n: Negotiated) => void;
  #rejectInit!: (e: Error) => void;
  /** Resolves with the agreed settings once INIT is answered; rejects if INIT fails. */
  readonly initialized: Promise<Negotiated>;
  /** The notifications, as handed to `ready()` and `FuseMount.notify`: only the notification methods. */
  readonly notifier: Notifier;

  constructor(ops: LowLevelOperations, out: CoreOutput, options: SessionCoreOptions = {}) {
    this.#ops = ops;
    this.#out = out;
    this.#defaultSink = Object.freeze({ reply: (iov: readonly Uint8Array[]) => out.write(iov) });
    this.#options = options;
    this.#poison = options.poisonLentBuffers ?? process.env['TSFUSE_POISON'] === '1';
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    const warn = options.onWarning ?? ((message, cause) => process.emitWarning(cause instanceof Error ? `${message}: ${cause.stack ?? cause.message}` : message, 'TsfuseWarning'));
    // A warning sink is user code too: it must not turn a warning into an exception out of handleFrame.
    this.#warn = (message, cause) => { try { warn(message, cause); } catch { /* nowhere left to report it */ } };
    this.initialized = new Promise((resolve, reject) => { this.#resolveInit = resolve; this.#rejectInit = reject; });
    this.initialized.catch(() => { /* observed by whoever awaits it */ });
    this.notifier = Object.freeze({
      invalInode: this.invalInode.bind(this), invalEntry: this.invalEntry.bind(this), expireEntry: this.expireEntry.bind(this),
      delete: this.delete.bind(this), store: this.store.bind(this), retrieve: this.retrieve.bind(this),
      pollWakeup: this.pollWakeup.bind(this), resend: this.resend.bind(this), incEpoch: this.incEpoch.bind(this), prune: this.prune.bind(this),
    });
    if (options.adopted !== undefined) {
      this.#negotiated = options.adopted.negotiated;
      this.#audit = options.adopted.audit;
      this.#init = InitState.Done;
      this.#resolveInit(this.#negotiated);
      // Not from this constructor: whoever is building the core (a Session, whose backing files read it
      // through ready()'s info) must be done first. Calling it here once left kernel passthrough off in
      // every restarted passthrough daemon.
      queueMicrotask(() => this.#ready());
    }
  }

  get negotiated(): Negotiated { return this.#negotiated; }
  get audit(): readonly CapabilityAudit[] { return this.#audit; }
  get destroyed(): boolean { return this.#destroyed; }
  /** Requests handed to handlers and not yet answered. */
  get pending(): number { return this.#inflight.size; }

  /**
   * Handles one request frame. Never throws. Its reply goes out through `sink.reply` (defaults to the
   * session-level `write`). Decoded byte fields are views of `frame`; when the transport lends the
   * frame's memory, `sink.release` is called once the handler has settled and the reply is out.
   */
  handleFrame(frame: Buffer, sink: RequestSink = this.#defaultSink): void {
    if (frameChannel.hasSubscribers) frameChannel.publish({ session: this.id, direction: 'request', time: this.#clock.now(), iov: [frame], writeError: 0 } satisfies FrameMessage);
    // Explain mode: the one check per frame; every later stamp looks for this request's record.
    const received = explainChannel.hasSubscribers ? this.#clock.now() : undefined;
    const d = decodeRequest(frame, this.#negotiated, this.#reader);
    if (received !== undefined) this.#explainRequest(frame, d.header, received);
    if ('error' in d) {
      const h = d.header;
      this.#warn(`malformed request${h ? ` ${opcodeRowName(h.opcode)} (unique ${String(h.unique)})` : ''}: ${describeDecodeError(d.error)}`);
      if (h && !opcodeRow(h.opcode)?.noReply) {
        const errno = d.error.kind === 'unknown-opcode' ? Errno.ENOSYS : d.error.kind === 'invalid' ? Errno.EINVAL : Errno.EIO;
        this.#send(sink, h, opcodeRowName(h.opcode), errno, EMPTY, undefined);
      }
      this.#done(frame, sink);
      return;
    }
    const { header, row } = d;
    const refusal = this.#refusal(header, row, d.args);
    if (refusal !== 0) {
      if (!row.noReply) this.#send(sink, header, row.name, refusal, EMPTY, undefined);
      this.#done(frame, sink);
      return;
    }
    let started: bigint | undefined;
    if (requestChannel.hasSubscribers) {
      started = this.#clock.now();
      requestChannel.publish({ session: this.id, header, name: row.name, args: d.args } satisfies RequestMessage);
    }
    const req = new InflightRequest(header, row, d.args, d.extensions, sink, started);
    const running = this.#dispatch(req);
    if (sink.release !== undefined || this.#poison) {
      if (running === undefined) { this.#done(frame, sink); return; }
      const done = (): void => this.#done(frame, sink);
      void running.then(done, done);
    }
  }

  /** The handler settled: the frame's memory may go back to the transport (poisoned first, if asked). */
  #done(frame: Buffer, sink: RequestSink): void {
    if (this.#poison) frame.fill(POISON_BYTE);
    sink.release?.();
  }

  /**
   * Requests no handler may see: 0 to go ahead, else the errno to answer (after a warning). The kernel
   * sends nothing but INIT until INIT is answered, and INIT only once (fs/fuse/inode.c fuse_send_init);
   * libfuse answers both cases EIO (fuse_session_process_buf).
   */
  #refusal(header: InHeaderFields, row: OpcodeRow, args: unknown): number {
    if (row.session === 'init') {
      if (this.#init === InitState.None) return 0;
      this.#warn(`refused a second INIT (unique ${String(header.unique)}): the session is already ${this.#init === InitState.Failed ? 'failed' : 'initialized'}`);
      return Errno.EIO;
    }
    if (this.#init !== InitState.Done) {
      this.#warn(`refused ${row.name} (unique ${String(header.unique)}) before INIT${row.noReply ? '' : ' with EIO'}`);
      return Errno.EIO;
    }
    const problem = checkRequestNames(row, args);
    if (problem !== undefined) {
      this.#warn(`refused ${row.name} (unique ${String(header.unique)}) with EINVAL: ${problem}`);
      return Errno.EINVAL;
    }
    return 0;
  }

  /** Runs the request; returns a promise while its handler is still working. */
  #dispatch(req: InflightRequest): Promise<unknown> | undefined {
    const row = req.row;
    const owner = this.#options.ownerOnly;
    if (owner !== undefined && req.header.uid !== owner && req.header.uid !== 0 && !row.anyCaller) {
      this.#replyError(req, Errno.EACCES);
      return undefined;
    }
    if (row.session !== undefined) return this.#sessionOp(row.session, req);
    const method = row.method;
    const fn: unknown = method === undefined ? undefined : this.#ops[method];
    if (typeof fn !== 'function') { this.#absent(req); return undefined; }
    let result: unknown;
    try {
      result = fn.call(this.#ops, req.args, req);
      // Reading `then` and calling it run user code too (a getter, a hand-made thenable): both stay in the guard.
      if ((typeof result === 'object' && result !== null) || typeof result === 'function') {
        const then = (result as { then?: unknown }).then;
        if (typeof then === 'function') {
          if (!row.noReply) this.#inflight.set(req.header.unique, req);
          const onValue = (v: unknown): void => this.#finish(req, v);
          const onError = (e: unknown): void => this.#fail(req, e);
          if (then === NATIVE_THEN) return NATIVE_THEN.call(result, onValue, onError);
          return new Promise((resolve, reject) => { then.call(result, resolve, reject); }).then(onValue, onError);
        }
      }
    } catch (e) {
      this.#fail(req, e);
      return undefined;
    }
    this.#finish(req, result);
    return undefined;
  }

  #absent(req: InflightRequest): void {
    const absent = req.row.absent;
    if (typeof absent === 'number') { this.#replyError(req, absent); return; }
    let v: unknown;
    try {
      v = absent(req.args, this.#negotiated);
    } catch (e) {
      this.#fail(req, e);
      return;
    }
    this.#finish(req, v);
  }

  #finish(req: InflightRequest, value: unknown): void {
    if (!this.#settle(req)) return;
    const row = req.row;
    if (row.noReply) { this.#traceNoReply(req); return; }
    let body: Encoded;
    // Listings only: what was packed, and what the handler gave that was not (skipped or ended).
    let packed: unknown = EMPTY;
    let unpacked: unknown = EMPTY;
    try {
      // A READDIR answered with pre-packed records skips the listing (the row's encoder checks them).
      if (row.reply === 'entries-plus' || (row.reply === 'entries' && !(value instanceof Uint8Array))) {
        const listing = prepareListing(value, (req.args as { offset: U64 }).offset, row.reply === 'entries-plus');
        if (listing.stalled !== undefined) {
          this.#warn(`${handlerName(row)} returned a listing that does not advance: ${listing.stalled}; ending the listing (answering no entries)`);
          body = EMPTY;
          unpacked = value;
        } else {
          packed = listing.entries;
          unpacked = listing.skipped;
          body = row.encodeReply(listing.entries, req.args, this.#negotiated);
        }
      } else {
        body = row.encodeReply(value, req.args, this.#negotiated);
      }
      if (typeof body !== 'number') checkParts(body);
    } catch (e) {
      this.#warn(`${handlerName(row)} returned an invalid result: ${errorMessage(e)}; answering EIO`);
      body = Errno.EIO;
    }
    const err = typeof body === 'number' ? this.#reply(req, body, EMPTY) : this.#reply(req, 0, body);
    if (row.droppedLookups !== undefined) {
      if (err === 0 && typeof body !== 'number') this.#forgetDropped(row, packed, body, unpacked);
      else this.#forgetDropped(row, EMPTY, EMPTY, value);
    }
  }

  /**
   * Hands back, through the filesystem's forget, the lookups a READDIRPLUS result carried that the
   * kernel did not take: entries packed but not linked (dots) or that did not fit, per the row; and every
   * entry of `unpacked` (skipped before `req.offset`, or all of them when no listing went out). The same
   * guarded dispatch as a BATCH_FORGET frame.
   */
  #forgetDropped(row: OpcodeRow, packed: unknown, sent: readonly Uint8Array[], unpacked: unknown): void {
    if (typeof this.#ops.forget !== 'function') return;
    let inos: U64[];
    try {
      inos = Array.isArray(packed) && packed.length > 0 ? row.droppedLookups!(packed, sent) : [];
      if (Array.isArray(unpacked) && unpacked.length > 0) inos = inos.concat(row.droppedLookups!(unpacked, EMPTY));
    } catch (e) {
      this.#warn(`could not work out which lookups of a ${row.name} result the kernel did not take`, e);
      return;
    }
    if (inos.length === 0) return;
    const args: BatchForgetRequest = { items: inos.map((ino) => ({ ino: ino as Ino, nlookup: 1 })) };
    this.#dispatch(new InflightRequest(INTERNAL_HEADER, BATCH_FORGET_ROW, args, undefined, NO_REPLY_SINK, undefined));
  }

  #fail(req: InflightRequest, e: unknown): void {
    if (req.settled) return;
    const row = req.row;
    if (row.noReply) {
      this.#settle(req);
      this.#warn(`${handlerName(row)} failed (${describeValue(e)}); ${row.name} has no reply to carry an error`, e);
      this.#traceNoReply(req);
      return;
    }
    let errno = errnoOf(e);
    if (errno === undefined) {
      this.#warn(`${handlerName(row)} threw ${describeValue(e)}, which names no errno; answering EIO`, e);
      errno = Errno.EIO;
    } else if (errno > MAX_REPLY_ERRNO) {
      this.#warn(`${handlerName(row)} threw errno ${errno}, which the kernel does not take (1..${MAX_REPLY_ERRNO}); answering EIO`, e);
      errno = Errno.EIO;
    }
    this.#replyError(req, errno);
  }

  #replyError(req: InflightRequest, errno: number): void {
    if (!this.#settle(req)) return;
    if (req.row.noReply) { this.#traceNoReply(req); return; }
    this.#reply(req, errno, EMPTY);
  }

  /** Marks the request answered; false if it already was. */
  #settle(req: InflightRequest): boolean {
    if (!req.settle()) return false;
    if (explainChannel.hasSubscribers) { const x = this.#explained.get(req.header); if (x !== undefined) x.settled = this.#clock.now(); }
    // A resent request reuses its unique: a late answer to the first delivery must not drop the second.
    // (Empty while every handler answers synchronously: no lookup then.)
    if (this.#inflight.size !== 0 && this.#inflight.get(req.header.unique) === req) this.#inflight.delete(req.header.unique);
    return true;
  }

  #reply(req: InflightRequest, errno: number, body: readonly Uint8Array[]): string | 0 {
    return this.#send(req.sink, req.header, req.row.name, errno, body, req.started);
  }

  /**
   * Writes one reply through `sink`. A write the kernel (or Node, before the syscall) refuses for any
   * reason but "nobody waits any more" is retried once as a bare EIO, so the caller is answered even
   * when a reply cannot be built as asked (fs/fuse/dev.c fuse_dev_do_write leaves the request waiting
   * when it refuses the out-header).
   */
  #send(sink: RequestSink, h: InHeaderFields, name: string, errno: number, body: readonly Uint8Array[], started: bigint | undefined): string | 0 {
    const explained = explainChannel.hasSubscribers ? this.#explained.get(h) : undefined;
    if (explained !== undefined) explained.encoded = this.#clock.now();
    let err = this.#write(sink, frameReply(h.uniqueLo, h.uniqueHi, errno, body));
    if (err !== 0 && !gone(err)) {
      if (errno === Errno.EIO && body.length === 0) {
        this.#warn(`writing the ${name} reply (unique ${String(h.unique)}) failed: ${err}`);
      } else {
        this.#warn(`writing the ${name} reply (unique ${String(h.unique)}) failed: ${err}; answering EIO instead`);
        errno = Errno.EIO;
        body = EMPTY;
        err = this.#write(sink, frameReply(h.uniqueLo, h.uniqueHi, errno, body));
        if (err !== 0 && !gone(err)) this.#warn(`writing the EIO reply to ${name} (unique ${String(h.unique)}) failed too: ${err}`);
      }
    }
    if (replyChannel.hasSubscribers) {
      let bodyLength = 0;
      for (const b of body) bodyLength += b.byteLength;
      const latencyNs = started !== undefined ? Number(this.#clock.now() - started) : 0;
      replyChannel.publish({ session: this.id, unique: h.unique, opcode: h.opcode, name, error: errno, bodyLength, latencyNs, body } satisfies ReplyMessage);
    }
    // The same bytes as the last write (frameReply is pure), rebuilt only for the explainer.
    if (explained !== undefined) this.#explainReply(h, explained, frameReply(h.uniqueLo, h.uniqueHi, errno, body));
    return err;
  }

  /** Writes one reply frame through `sink`, and shows it on the frame channel. */
  #write(sink: RequestSink, iov: readonly Uint8Array[]): string | 0 {
    const err = write(sink, iov);
    if (frameChannel.hasSubscribers) frameChannel.publish({ session: this.id, direction: 'reply', time: this.#clock.now(), iov, writeError: err } satisfies FrameMessage);
    return err;
  }

  #traceNoReply(req: InflightRequest): void {
    if (explainChannel.hasSubscribers) { const x = this.#explained.get(req.header); if (x !== undefined) this.#explainReply(req.header, x, undefined); }
    if (replyChannel.hasSubscribers && req.header !== INTERNAL_HEADER) {
      replyChannel.publish({ session: this.id, unique: req.header.unique, opcode: req.header.opcode, name: req.row.name, error: 0, bodyLength: -1, latencyNs: req.started !== undefined ? Number(this.#clock.now() - req.started) : 0 } satisfies ReplyMessage);
    }
  }

  /** Explain mode: publishes a request as it arrives, and starts its stage record (when it has a header). */
  #explainRequest(frame: Buffer, header: InHeaderFields | undefined, received: bigint): void {
    const decoded = this.#clock.now();
    const x: ExplainStamps = { frame, received, decoded, handlerStart: decoded };
    if (header !== undefined) this.#explained.set(header, x);
    explainChannel.publish({ session: this.id, kind: 'request', request: frame, negotiated: this.#negotiated } satisfies ExplainMessage);
    x.handlerStart = this.#clock.now();
  }

  /** Explain mode: publishes a request's reply (undefined: it has none) with its stage times. */
  #explainReply(h: InHeaderFields, x: ExplainStamps, reply: readonly Uint8Array[] | undefined): void {
    this.#explained.delete(h);
    const written = this.#clock.now();
    const settled = x.settled ?? x.handlerStart;
    const encoded = x.encoded ?? written;
    const stages = { decodeNs: Number(x.decoded - x.received), handlerNs: Number(settled - x.handlerStart), encodeNs: Number(encoded - settled), writeNs: Number(written - encoded) };
    explainChannel.publish({ session: this.id, kind: 'reply', request: x.frame, ...(reply !== undefined && { reply }), negotiated: this.#negotiated, stages } satisfies ExplainMessage);
  }

  /* ---- requests the session answers itself ------------------------------------------------------ */

  #sessionOp(op: NonNullable<OpcodeRow['session']>, req: InflightRequest): Promise<void> | undefined {
    switch (op) {
      case 'init': return this.#initialize(req);
      case 'interrupt': this.#interrupt(req.args as InterruptRequest); this.#settle(req); this.#traceNoReply(req); return undefined;
      case 'destroy': return this.#destroy(req);
      case 'notify-reply': this.#notifyReply(req.args as NotifyReplyRequest); this.#settle(req); this.#traceNoReply(req); return undefined;
    }
  }

  async #initialize(req: InflightRequest): Promise<void> {
    const kernel = req.args as InitRequest;
    this.#init = InitState.Pending;
    try {
      const base = this.#options.wants ?? {};
      let wants: InitWants = {
        ...base,
        want: [...new Set([...deriveCapabilities(this.#ops), ...(this.#options.capabilities ?? []), ...(base.want ?? [])])],
      };
      if (this.#ops.init) wants = (await this.#ops.init({ kernel, wants })) ?? wants;
      const outcome = negotiateInit(kernel, wants);
      if (outcome.ok) {
        this.#negotiated = outcome.negotiated;
        this.#audit = outcome.audit;
        this.#init = InitState.Done;
        this.#initDecided(outcome.negotiated);
        this.#initReply(req, outcome.reply);
        this.#resolveInit(outcome.negotiated);
        this.#ready();
      } else if (outcome.kind === 'major-retry') {
        // The kernel offered a newer major: it sends INIT again with ours (fs/fuse/inode.c process_init_reply).
        this.#init = InitState.None;
        this.#initDecided(undefined);
        this.#initReply(req, outcome.reply);
      } else {
        this.#init = InitState.Failed;
        this.#initDecided(undefined);
        this.#replyError(req, Errno.EPROTO);
        this.#rejectInit(new TsfuseError(outcome.kind === 'too-old' ? 'ERR_FUSE_KERNEL_TOO_OLD' : 'ERR_FUSE_PROTOCOL', outcome.message));
      }
    } catch (e) {
      this.#init = InitState.Failed;
      this.#initDecided(undefined);
      this.#fail(req, e);
      this.#rejectInit(new TsfuseError('ERR_FUSE_PROTOCOL', `INIT failed: ${(e as Error)?.message ?? describeValue(e)}`, { cause: e }));
    }
  }

  #initDecided(n: Negotiated | undefined): void {
    try {
      this.#out.initDecided?.(n);
    } catch (e) {
      this.#warn('preparing the transport for what INIT agreed failed', e);
    }
  }

  #initReply(req: InflightRequest, reply: InitOutFields): void {
    if (!this.#settle(req)) return;
    this.#reply(req, 0, [encodeInitOut(reply, (req.args as InitRequest).minor)]);
  }

  /** Tells the filesystem INIT is done; its `ready` may throw or reject without harm. */
  #ready(): void {
    const ready = this.#ops.ready;
    if (typeof ready !== 'function') return;
    try {
      const r: unknown = ready.call(this.#ops, { negotiated: this.#negotiated, audit: this.#audit, notify: this.notifier });
      if (typeof r === 'object' && r !== null && typeof (r as { then?: unknown }).then === 'function') {
        Promise.resolve(r).catch((e: unknown) => this.#warn('the ready() handler failed', e));
      }
    } catch (e) {
      this.#warn('the ready() handler failed', e);
    }
  }

  #interrupt(args: InterruptRequest): void {
    // decodeInterrupt strips the RESEND bit from the target, so it matches header.unique.
    const target = this.#inflight.get(args.target);
    // Unknown: already answered (interrupts only follow requests we have read). Nothing to do.
    if (target === undefined || target.settled || target.interrupted) return;
    // The EINTR goes back through the target's own sink, the way the target came.
    target.interrupt(this.#options.interruptGraceMs ?? 100, () => this.#replyError(target, Errno.EINTR), this.#clock);
  }

  async #destroy(req: InflightRequest): Promise<void> {
    this.#destroyed = true;
    try {
      await this.#ops.destroy?.();
    } catch (e) {
      this.#warn('destroy handler failed', e);
    }
    this.#finish(req, undefined);
  }

  #notifyReply(args: NotifyReplyRequest): void {
    const key = Number(args.notifyUnique);
    const waiter = this.#retrieves.get(key);
    if (!waiter) return;
    this.#retrieves.delete(key);
    this.#clock.clearTimeout(waiter.timer);
    // Copy: the data is a view of the frame, and the caller keeps it.
    waiter.resolve(Buffer.from(args.data));
  }

  /** Calls the filesystem's destroy handler once if DESTROY never came (plain unmount). */
  async shutdown(): Promise<void> {
    for (const w of this.#retrieves.values()) { this.#clock.clearTimeout(w.timer); w.reject(new TsfuseError('ERR_INVALID_STATE', 'the session closed before the kernel answered RETRIEVE')); }
    this.#retrieves.clear();
    this.#rejectInit(new TsfuseError('ERR_INVALID_STATE', 'the session closed before INIT'));
    if (this.#destroyed) return;
    this.#destroyed = true;
    try { await this.#ops.destroy?.(); } catch (e) { this.#warn('destroy handler failed', e); }
  }

  /* ---- notifications --------------------------------------------------------------------------- */

  async #notify(name: string, iov: Uint8Array[]): Promise<void> {
    const time = frameChannel.hasSubscribers ? this.#clock.now() : undefined;
    const err = await this.#out.writeAsync(iov);
    if (frameChannel.hasSubscribers) frameChannel.publish({ session: this.id, direction: 'notify', time: time ?? this.#clock.now(), iov, writeError: err } satisfies FrameMessage);
    // The transport answers EBADF once it is closed: the mount is gone, nothing can be notified.
    if (err === 'EBADF') throw new TsfuseError('ERR_INVALID_STATE', `notification ${name} after the session closed`);
    if (err !== 0) {
      const errno = errnoFromName(err);
      throw errno !== undefined ? new FuseError(errno, `notification ${name} failed: ${err}`) : new TsfuseError('ERR_FUSE_NOTIFY', `notification ${name} failed: ${err}`);
    }
  }

  /** Drop cached attributes of `ino` and, unless `offset` < 0, its cached data in [offset, offset+length) (length 0: to the end). */
  invalInode(ino: U64, offset: number | bigint = 0, length: number | bigint = 0): Promise<void> {
    return this.#notify('INVAL_INODE', N.encodeNotifyInvalInode(ino, offset, length));
  }
  /** Drop the cached name `name` in `parent`. */
  invalEntry(parent: U64, name: BytesLike): Promise<void> {
    return this.#notify('INVAL_ENTRY', N.encodeNotifyInvalEntry(parent, name, false));
  }
  /** Mark the cached name expired without dropping it (FUSE_EXPIRE_ONLY, 7.38). */
  expireEntry(parent: U64, name: BytesLike): Promise<void> {
    return this.#notify('INVAL_ENTRY', N.encodeNotifyInvalEntry(parent, name, true));
  }
  /** Tell the kernel `name` in `parent` (node `child`) was deleted. */
  delete(parent: U64, child: U64, name: BytesLike): Promise<void> {
    return this.#notify('DELETE', N.encodeNotifyDelete(parent, child, name));
  }
  /** Put `data` into the kernel's cache of `ino` at `offset`. */
  store(ino: U64, offset: U64, data: Uint8Array): Promise<void> {
    return this.#notify('STORE', N.encodeNotifyStore(ino, offset, data));
  }
  /** Read back up to `size` bytes the kernel caches for `ino` at `offset`. */
  async retrieve(ino: U64, offset: U64, size: number, timeoutMs = 5000): Promise<Buffer> {
    const unique = this.#nextNotifyUnique++;
    const result = new Promise<Buffer>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#retrieves.delete(unique);
        reject(new TsfuseError('ERR_FUSE_NOTIFY', `the kernel did not answer RETRIEVE within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#retrieves.set(unique, { resolve, reject, timer });
    });
    try {
      await this.#notify('RETRIEVE', N.encodeNotifyRetrieve(unique, ino, offset, size));
    } catch (e) {
      const w = this.#retrieves.get(unique);
      if (w) { this.#clock.clearTimeout(w.timer); this.#retrieves.delete(unique); }
      throw e;
    }
    return result;
  }
  /** Wake the poller that passed `kh` in a POLL request. */
  pollWakeup(kh: U64): Promise<void> {
    return this.#notify('POLL', N.encodeNotifyPoll(kh));
  }
  /** Ask the kernel to resend every request still waiting for an answer (7.40). */
  resend(): Promise<void> {
    return this.#notify('RESEND', N.encodeNotifyResend());
  }
  /** Bump the epoch: every cached dentry is revalidated (7.44). */
  incEpoch(): Promise<void> {
    return this.#notify('INC_EPOCH', N.encodeNotifyIncEpoch());
  }
  /** Ask the kernel to forget these unused inodes (7.45). */
  prune(inos: readonly U64[]): Promise<void> {
    return this.#notify('PRUNE', N.encodeNotifyPrune(inos));
  }
}

const EMPTY: readonly Uint8Array[] = Object.freeze([]) as readonly Uint8Array[];

function opcodeRowName(code: number): string {
  return opcodeRow(code)?.name ?? `OPCODE_${code}`;
}

/** `LOOKUP: lookup()`: the opcode and the handler that served it, for warnings. */
function handlerName(row: OpcodeRow): string {
  return row.method === undefined ? row.name : `${row.name}: ${row.method}()`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : describeValue(e);
}

/** Calls a sink's writer; a writer that throws (Node's argument checks, a test double) reports its error code. */
function write(sink: RequestSink, iov: readonly Uint8Array[]): string | 0 {
  try {
    return sink.reply(iov);
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : 'EIO';
  }
}

/** The last check before writev: every part an encoder produced must be bytes. */
function checkParts(parts: readonly Uint8Array[]): void {
  if (!Array.isArray(parts)) throw new TypeError(`the encoder produced ${describeValue(parts)} instead of byte parts`);
  for (let i = 0; i < parts.length; i++) {
    if (!(parts[i] instanceof Uint8Array)) throw new TypeError(`reply part ${i}: expected bytes, got ${describeValue(parts[i])}`);
  }
}
