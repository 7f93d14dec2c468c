/**
 * Per-request state: what the session needs to answer a request exactly once, and the context its
 * handler sees. One object per request serves both, so a request costs one allocation: handlers get it
 * typed as the narrow, read-only {@link RequestContext}, and everything the session changes while the
 * request runs (settled, the interrupt timer, the AbortController) is `#private`. The AbortController is
 * created only if someone asks for the signal or the kernel interrupts the request.
 */
import type { RequestContext } from '../ops/lowlevel.ts';
import type { InHeaderFields, RequestExtensions } from '../protocol/header.ts';
import type { OpcodeRow } from '../protocol/opcodes.ts';
import type { Unique } from '../protocol/ids.ts';
import type { SessionClock } from './core.ts';

/**
 * Where one request's reply goes, given with its frame: replies go back the way their request came
 * (clone_fd queues and FUSE-over-io_uring require it); notifications use the session's own writer.
 */
export interface RequestSink {
  /** Writes this request's reply in one writev; returns 0 or the errno name the write failed with. */
  readonly reply: (iov: readonly Uint8Array[]) => string | 0;
  /** Present when the frame's memory is lent: called once the handler has settled and the reply is out. */
  readonly release?: (() => void) | undefined;
}

export class InflightRequest implements RequestContext {
  readonly header: InHeaderFields;
  readonly row: OpcodeRow;
  readonly args: unknown;
  readonly extensions: RequestExtensions | undefined;
  readonly sink: RequestSink;
  /** process.hrtime.bigint() at arrival, only while tracing. */
  readonly started: bigint | undefined;
  #settled = false;
  #interruptTimer: { readonly clock: SessionClock; readonly handle: unknown } | undefined;
  #controller: AbortController | undefined;

  constructor(header: InHeaderFields, row: OpcodeRow, args: unknown, extensions: RequestExtensions | undefined, sink: RequestSink, started: bigint | undefined) {
    this.header = header;
    this.row = row;
    this.args = args;
    this.extensions = extensions;
    this.sink = sink;
    this.started = started;
  }

  get uid(): number { return this.header.uid; }
  get gid(): number { return this.header.gid; }
  get pid(): number { return this.header.pid; }
  get unique(): Unique { return this.header.unique; }
  get opcode(): number { return this.header.opcode; }
  get resend(): boolean { return this.header.resend; }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** The reply went out (or was decided); later results are dropped. */
  get settled(): boolean { return this.#settled; }

  get interrupted(): boolean {
    return this.#controller?.signal.aborted ?? false;
  }

  /** Marks the request answered; false if it already was (the caller must then not reply). */
  settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    if (this.#interruptTimer !== undefined) this.#interruptTimer.clock.clearTimeout(this.#interruptTimer.handle);
    return true;
  }

  /**
   * Aborts the signal with an AbortError (`code: 'ABORT_ERR'`), as Node's own APIs do, and calls
   * `onGraceOver` if the request is still unanswered after `graceMs` of `clock`.
   */
  interrupt(graceMs: number, onGraceOver: () => void, clock: SessionClock): void {
    this.#controller ??= new AbortController();
    const reason = new DOMException(`${this.row.name} request ${String(this.header.unique)} was interrupted`, 'AbortError');
    this.#controller.abort(reason);
    if (this.#settled) return;
    this.#interruptTimer = { clock, handle: clock.setTimeout(onGraceOver, graceMs) };
  }
}
