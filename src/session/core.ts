/**
 * The protocol core of a session, free of any transport: frames in through `handleFrame`, replies and
 * notifications out through the `write` functions it was given. It performs INIT, dispatches every
 * opcode through the table (src/protocol/opcodes.ts), answers each request exactly once, maps thrown
 * errors to errnos, wires FUSE_INTERRUPT to AbortSignals, and implements the notifications.
 */
import { channel } from 'node:diagnostics_channel';
import { decodeRequest } from '../protocol/decode.ts';
import { FrameReader, describeDecodeError } from '../protocol/reader.ts';
import { frameReply, type InHeaderFields } from '../protocol/header.ts';
import { negotiateInit, encodeInitOut, type InitWants, type CapabilityAudit, type InitOutFields } from '../protocol/init.ts';
import { PRE_INIT, type Negotiated } from '../protocol/negotiated.ts';
import { opcodeRow, type OpcodeRow, type Encoded } from '../protocol/opcodes.ts';
import type { InitRequest, InterruptRequest, NotifyReplyRequest, BatchForgetRequest } from '../protocol/requests.ts';
import * as N from '../protocol/notify.ts';
import type { U64 } from '../protocol/u64.ts';
import type { BytesLike } from '../protocol/replies.ts';
import type { InitFlagName } from '../protocol/constants.ts';
import { Errno, FuseError, TsfuseError, errnoOf, errnoFromName } from '../errors.ts';
import type { LowLevelOperations } from '../ops/lowlevel.ts';
import { Request } from './context.ts';

/** diagnostics_channel names; subscribe to trace every frame (see src/session/trace.ts). */
export const REQUEST_CHANNEL = 'tsfuse:request';
export const REPLY_CHANNEL = 'tsfuse:reply';
const requestChannel = channel(REQUEST_CHANNEL);
const replyChannel = channel(REPLY_CHANNEL);

export interface RequestMessage {
  readonly header: InHeaderFields;
  readonly name: string;
  readonly args: unknown;
}
export interface ReplyMessage {
  readonly unique: U64;
  readonly opcode: number;
  readonly name: string;
  /** 0 or a positive errno. */
  readonly error: number;
  /** Body bytes (without the out-header). */
  readonly bodyLength: number;
  /** Nanoseconds from the request's arrival to its reply. */
  readonly latencyNs: number;
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
}

export interface CoreOutput {
  /** Writes a frame synchronously; returns 0 or the errno name. */
  write(iov: readonly Uint8Array[]): string | 0;
  /** Writes a frame without blocking the event loop (notifications). */
  writeAsync(iov: readonly Uint8Array[]): Promise<string | 0>;
}

/** The capability requests tsfuse derives from which handlers a filesystem implements. */
export function deriveCapabilities(ops: LowLevelOperations): InitFlagName[] {
  const caps: InitFlagName[] = [
    'ASYNC_READ', 'BIG_WRITES', 'PARALLEL_DIROPS', 'AUTO_INVAL_DATA', 'ASYNC_DIO', 'HAS_EXPIRE_ONLY', 'HAS_RESEND',
  ];
  if (ops.getlk || ops.setlk) caps.push('POSIX_LOCKS');
  if (ops.setlk) caps.push('FLOCK_LOCKS');
  if (ops.readdirplus) caps.push('DO_READDIRPLUS', 'READDIRPLUS_AUTO');
  if (ops.ioctl) caps.push('HAS_IOCTL_DIR');
  if (ops.setxattr) caps.push('SETXATTR_EXT');
  return caps;
}

export class SessionCore {
  readonly #ops: LowLevelOperations;
  readonly #out: CoreOutput;
  readonly #reader = new FrameReader();
  readonly #inflight = new Map<U64, Request>();
  readonly #retrieves = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #options: SessionCoreOptions;
  readonly #warn: (message: string, cause?: unknown) => void;
  #negotiated: Negotiated = PRE_INIT;
  #audit: readonly CapabilityAudit[] = [];
  #nextNotifyUnique = 1;
  #destroyed = false;
  #resolveInit!: (n: Negotiated) => void;
  #rejectInit!: (e: Error) => void;
  /** Resolves with the agreed settings once INIT is answered; rejects if INIT fails. */
  readonly initialized: Promise<Negotiated>;

  constructor(ops: LowLevelOperations, out: CoreOutput, options: SessionCoreOptions = {}) {
    this.#ops = ops;
    this.#out = out;
    this.#options = options;
    this.#warn = options.onWarning ?? ((message, cause) => process.emitWarning(cause instanceof Error ? `${message}: ${cause.stack ?? cause.message}` : message, 'TsfuseWarning'));
    this.initialized = new Promise((resolve, reject) => { this.#resolveInit = resolve; this.#rejectInit = reject; });
    this.initialized.catch(() => { /* observed by whoever awaits it */ });
  }

  get negotiated(): Negotiated { return this.#negotiated; }
  get audit(): readonly CapabilityAudit[] { return this.#audit; }
  get destroyed(): boolean { return this.#destroyed; }
  /** Requests handed to handlers and not yet answered. */
  get pending(): number { return this.#inflight.size; }

  /**
   * Handles one request frame. Never throws. Decoded byte fields are views of `frame`; when the transport
   * lends the frame's memory, `release` is called once the handler has settled and the reply is out.
   */
  handleFrame(frame: Buffer, release?: () => void): void {
    const d = decodeRequest(frame, this.#negotiated, this.#reader);
    if ('error' in d) {
      const h = d.header;
      this.#warn(`malformed request${h ? ` ${opcodeRowName(h.opcode)} (unique ${String(h.unique)})` : ''}: ${describeDecodeError(d.error)}`);
      if (h && !opcodeRow(h.opcode)?.noReply) {
        const errno = d.error.kind === 'unknown-opcode' ? Errno.ENOSYS : d.error.kind === 'invalid' ? Errno.EINVAL : Errno.EIO;
        this.#send(h, opcodeRowName(h.opcode), errno, EMPTY, undefined);
      }
      release?.();
      return;
    }
    const req = new Request(d.header, d.row, d.args, d.extensions);
    if (requestChannel.hasSubscribers) {
      req.started = process.hrtime.bigint();
      requestChannel.publish({ header: d.header, name: d.row.name, args: d.args } satisfies RequestMessage);
    }
    const running = this.#dispatch(req);
    if (release !== undefined) {
      if (running === undefined) release();
      else void running.then(release, release);
    }
  }

  /** Runs the request; returns a promise while its handler is still working. */
  #dispatch(req: Request): Promise<unknown> | undefined {
    const row = req.row;
    const owner = this.#options.ownerOnly;
    if (owner !== undefined && req.header.uid !== owner && req.header.uid !== 0 && !row.anyCaller) {
      this.#replyError(req, Errno.EACCES);
      return undefined;
    }
    if (row.session !== undefined) return this.#sessionOp(row.session, req);
    const method = row.method as keyof LowLevelOperations | undefined;
    const fn = method === undefined ? undefined : (this.#ops[method] as ((a: unknown, c: Request) => unknown) | undefined);
    if (fn === undefined) { this.#absent(req); return undefined; }
    let result: unknown;
    try {
      result = fn.call(this.#ops, req.args, req);
    } catch (e) {
      this.#fail(req, e);
      return undefined;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      this.#inflight.set(req.header.unique, req);
      return (result as Promise<unknown>).then((v) => this.#finish(req, v), (e) => this.#fail(req, e));
    }
    this.#finish(req, result);
    return undefined;
  }

  #absent(req: Request): void {
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

  #finish(req: Request, value: unknown): void {
    if (req.settled) return;
    this.#settle(req);
    const row = req.row;
    if (row.noReply) { this.#traceNoReply(req); return; }
    let encoded: Encoded;
    try {
      encoded = row.encodeReply(value, req.args, this.#negotiated);
    } catch (e) {
      this.#warn(`${row.name} handler returned an invalid result (${describeValue(value)}); answering EIO`, e);
      this.#send(req.header, row.name, Errno.EIO, EMPTY, req);
      return;
    }
    if (typeof encoded === 'number') { this.#send(req.header, row.name, encoded, EMPTY, req); return; }
    const err = this.#send(req.header, row.name, 0, encoded, req);
    if (err === 0 && row.droppedLookups && this.#ops.forget) {
      const dropped = row.droppedLookups(value, req.args);
      if (dropped.length) this.#ops.forget({ items: dropped.map((ino) => ({ ino, nlookup: 1 })) } as unknown as BatchForgetRequest);
    }
  }

  #fail(req: Request, e: unknown): void {
    if (req.settled) return;
    let errno = errnoOf(e);
    if (errno === undefined) {
      this.#warn(`${req.row.name} handler threw a non-errno error; answering EIO`, e);
      errno = Errno.EIO;
    }
    this.#replyError(req, errno);
  }

  #replyError(req: Request, errno: number): void {
    if (req.settled) return;
    this.#settle(req);
    if (req.row.noReply) return;
    this.#send(req.header, req.row.name, errno, EMPTY, req);
  }

  #settle(req: Request): void {
    req.settled = true;
    if (req.interruptTimer) clearTimeout(req.interruptTimer);
    // A resent request reuses its unique: a late answer to the first delivery must not drop the second.
    if (this.#inflight.get(req.header.unique) === req) this.#inflight.delete(req.header.unique);
  }

  #send(h: InHeaderFields, name: string, errno: number, body: readonly Uint8Array[], req: Request | undefined): string | 0 {
    const iov = frameReply(h.uniqueLo, h.uniqueHi, errno, body);
    const err = this.#out.write(iov);
    if (replyChannel.hasSubscribers) {
      let bodyLength = 0;
      for (const b of body) bodyLength += b.byteLength;
      const latencyNs = req?.started !== undefined ? Number(process.hrtime.bigint() - req.started) : 0;
      replyChannel.publish({ unique: h.unique, opcode: h.opcode, name, error: errno, bodyLength, latencyNs } satisfies ReplyMessage);
    }
    // ENOENT: the kernel no longer waits for this request (interrupted and answered, or aborted).
    if (err !== 0 && err !== 'ENOENT' && err !== 'ENODEV' && err !== 'EBADF') this.#warn(`writing the ${name} reply failed: ${err}`);
    return err;
  }

  #traceNoReply(req: Request): void {
    if (replyChannel.hasSubscribers) {
      replyChannel.publish({ unique: req.header.unique, opcode: req.header.opcode, name: req.row.name, error: 0, bodyLength: -1, latencyNs: req.started !== undefined ? Number(process.hrtime.bigint() - req.started) : 0 } satisfies ReplyMessage);
    }
  }

  /* ---- requests the session answers itself ------------------------------------------------------ */

  #sessionOp(op: NonNullable<OpcodeRow['session']>, req: Request): Promise<void> | undefined {
    switch (op) {
      case 'init': return this.#init(req);
      case 'interrupt': this.#interrupt(req.args as InterruptRequest); this.#settle(req); this.#traceNoReply(req); return undefined;
      case 'destroy': return this.#destroy(req);
      case 'notify-reply': this.#notifyReply(req.args as NotifyReplyRequest); this.#settle(req); this.#traceNoReply(req); return undefined;
    }
  }

  async #init(req: Request): Promise<void> {
    const kernel = req.args as InitRequest;
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
        this.#finishWith(req, outcome.reply);
        this.#resolveInit(outcome.negotiated);
        this.#ops.ready?.(outcome.negotiated, outcome.audit);
      } else if (outcome.kind === 'major-retry') {
        this.#finishWith(req, outcome.reply);
      } else {
        this.#replyError(req, Errno.EPROTO);
        this.#rejectInit(new TsfuseError(outcome.kind === 'too-old' ? 'ERR_FUSE_KERNEL_TOO_OLD' : 'ERR_FUSE_PROTOCOL', outcome.message));
      }
    } catch (e) {
      this.#fail(req, e);
      this.#rejectInit(new TsfuseError('ERR_FUSE_PROTOCOL', `INIT failed: ${(e as Error).message}`, { cause: e }));
    }
  }

  #finishWith(req: Request, reply: InitOutFields): void {
    this.#settle(req);
    this.#send(req.header, 'INIT', 0, [encodeInitOut(reply, (req.args as InitRequest).minor)], req);
  }

  #interrupt(args: InterruptRequest): void {
    // decodeInterrupt strips the RESEND bit from the target, so it matches header.unique.
    const target = this.#inflight.get(args.target);
    // Unknown: already answered (interrupts only follow requests we have read). Nothing to do.
    if (target === undefined || target.settled || target.interrupted) return;
    target.interrupt();
    const grace = this.#options.interruptGraceMs ?? 100;
    target.interruptTimer = setTimeout(() => this.#replyError(target, Errno.EINTR), grace);
    target.interruptTimer.unref();
  }

  async #destroy(req: Request): Promise<void> {
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
    clearTimeout(waiter.timer);
    // Copy: the data is a view of the frame, and the caller keeps it.
    waiter.resolve(Buffer.from(args.data));
  }

  /** Calls the filesystem's destroy handler once if DESTROY never came (plain unmount). */
  async shutdown(): Promise<void> {
    for (const w of this.#retrieves.values()) { clearTimeout(w.timer); w.reject(new TsfuseError('ERR_INVALID_STATE', 'the session closed before the kernel answered RETRIEVE')); }
    this.#retrieves.clear();
    this.#rejectInit(new TsfuseError('ERR_INVALID_STATE', 'the session closed before INIT'));
    if (this.#destroyed) return;
    this.#destroyed = true;
    try { await this.#ops.destroy?.(); } catch (e) { this.#warn('destroy handler failed', e); }
  }

  /* ---- notifications --------------------------------------------------------------------------- */

  async #notify(name: string, iov: Uint8Array[]): Promise<void> {
    const err = await this.#out.writeAsync(iov);
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
      const timer = setTimeout(() => {
        this.#retrieves.delete(unique);
        reject(new TsfuseError('ERR_FUSE_NOTIFY', `the kernel did not answer RETRIEVE within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#retrieves.set(unique, { resolve, reject, timer });
    });
    try {
      await this.#notify('RETRIEVE', N.encodeNotifyRetrieve(unique, ino, offset, size));
    } catch (e) {
      const w = this.#retrieves.get(unique);
      if (w) { clearTimeout(w.timer); this.#retrieves.delete(unique); }
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

function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? `array(${v.length})` : 'object';
  return typeof v;
}
