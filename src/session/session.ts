/**
 * A session: one /dev/fuse descriptor served by one filesystem. It joins a transport (how frames move)
 * and the protocol core (what they mean), and ends when the kernel says the mount is gone (ENODEV).
 */
import { SessionCore, type SessionCoreOptions } from './core.ts';
import { createTransport, type Transport, type TransportKind } from './transport.ts';
import type { LowLevelOperations } from '../ops/lowlevel.ts';
import type { Negotiated } from '../protocol/negotiated.ts';
import type { CapabilityAudit } from '../protocol/init.ts';
import { INIT_DEFAULTS } from '../protocol/init.ts';
import { IN_HEADER_SIZE } from '../protocol/header.ts';
import { MIN_READ_BUFFER } from '../protocol/constants.ts';

export interface SessionOptions extends SessionCoreOptions {
  /** How to read /dev/fuse: `'epoll'` (main thread, fastest) or `'worker'`. Defaults to epoll when available. */
  readonly transport?: TransportKind;
}

/** The notifications a filesystem can send to the kernel (see SessionCore for each). */
export type Notifier = Pick<SessionCore, 'invalInode' | 'invalEntry' | 'expireEntry' | 'delete' | 'store' | 'retrieve' | 'pollWakeup' | 'resend' | 'incEpoch' | 'prune'>;

/** Largest request: a WRITE of maxWrite, or a SETXATTR of a 64 KiB value with its name, plus headers. */
export function readBufferSize(maxWrite: number): number {
  return Math.max(MIN_READ_BUFFER, maxWrite + IN_HEADER_SIZE + 4096, 65536 + 4096 + IN_HEADER_SIZE);
}

export class Session {
  readonly #core: SessionCore;
  readonly #transport: Transport;
  readonly closed: Promise<void>;
  #closing = false;
  #closeError: Error | undefined;

  constructor(fd: number, ops: LowLevelOperations, options: SessionOptions = {}) {
    const maxWrite = options.wants?.maxWrite ?? INIT_DEFAULTS.maxWrite;
    this.#transport = createTransport(fd, readBufferSize(maxWrite), options.transport);
    const transport = this.#transport;
    this.#core = new SessionCore(ops, { write: (iov) => transport.write(iov), writeAsync: (iov) => transport.writeAsync(iov) }, options);
    this.closed = new Promise<void>((resolve) => {
      transport.start(
        (frame, release) => this.#core.handleFrame(frame, release),
        (err) => {
          // ENODEV: unmounted. ECONNABORTED: aborted through /sys/fs/fuse/connections. Both end the session normally.
          if (err && err.code !== 'ENODEV' && err.code !== 'ECONNABORTED' && err.code !== 'EBADF') this.#closeError = err;
          void this.#core.shutdown().finally(resolve);
        },
      );
    });
  }

  /** Resolves once INIT has been answered. */
  get initialized(): Promise<Negotiated> { return this.#core.initialized; }
  get negotiated(): Negotiated { return this.#core.negotiated; }
  get audit(): readonly CapabilityAudit[] { return this.#core.audit; }
  get transportKind(): string { return this.#transport.kind; }
  /** The error that ended reading, if it was not a normal unmount. */
  get closeError(): Error | undefined { return this.#closeError; }
  get notify(): Notifier { return this.#core; }

  /** Stops serving and closes the descriptor. Does not unmount (see `mount()` for that). Idempotent. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#transport.close();
  }
}
