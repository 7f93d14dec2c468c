/**
 * Per-request state: the context handlers see, and what the session needs to answer exactly once.
 * One object per request; the AbortController is created only if someone asks for the signal or the
 * kernel interrupts the request.
 */
import type { RequestContext } from '../ops/lowlevel.ts';
import type { InHeaderFields, RequestExtensions } from '../protocol/header.ts';
import type { OpcodeRow } from '../protocol/opcodes.ts';
import type { Unique } from '../protocol/ids.ts';

export class Request implements RequestContext {
  readonly header: InHeaderFields;
  readonly row: OpcodeRow;
  readonly args: unknown;
  readonly extensions: RequestExtensions | undefined;
  /** Set once the reply has gone out (or was decided); later results are dropped. */
  settled = false;
  /** process.hrtime.bigint() at arrival, only while tracing. */
  started: bigint | undefined;
  interruptTimer: NodeJS.Timeout | undefined;
  #controller: AbortController | undefined;

  constructor(header: InHeaderFields, row: OpcodeRow, args: unknown, extensions: RequestExtensions | undefined) {
    this.header = header;
    this.row = row;
    this.args = args;
    this.extensions = extensions;
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

  get interrupted(): boolean {
    return this.#controller?.signal.aborted ?? false;
  }

  /** Aborts the signal with an AbortError (`code: 'ABORT_ERR'`), as Node's own APIs do. */
  interrupt(): void {
    this.#controller ??= new AbortController();
    const reason = new DOMException(`${this.row.name} request ${String(this.header.unique)} was interrupted`, 'AbortError');
    this.#controller.abort(reason);
  }
}
