/**
 * A session: one /dev/fuse descriptor served by one filesystem. It joins a transport (how frames move)
 * and the protocol core (what they mean), and ends when the kernel says the mount is gone (ENODEV).
 *
 * Phases: `'init'` until INIT is decided (the transport reads nothing sized by INIT before it);
 * `'serving'` once it is, with read buffers sized by what INIT agreed (a filesystem's `init()` may raise
 * maxWrite, the kernel may lower it); `'closed'`.
 */
import { SessionCore, type SessionCoreOptions, type Notifier } from './core.ts';
import { createBackingFiles, readyWithBacking, type BackingFiles } from './backing.ts';
import { createTransport, type Transport, type TransportKind } from './transport.ts';
import { CloneQueues } from './clone-queues.ts';
import type { HandleDescriptors } from '../ops/handle-descriptors.ts';
import type { LowLevelOperations } from '../ops/lowlevel.ts';
import type { Negotiated } from '../protocol/negotiated.ts';
import type { CapabilityAudit } from '../protocol/init.ts';
import { INIT_DEFAULTS } from '../protocol/init.ts';
import { IN_HEADER_SIZE } from '../protocol/header.ts';
import { MIN_READ_BUFFER } from '../protocol/constants.ts';
import { TsfuseError } from '../errors.ts';

export interface SessionOptions extends SessionCoreOptions {
  /**
   * How to read /dev/fuse: `'epoll'` (main thread, fastest) or `'worker'`; or `'uring'`, FUSE over io_uring after
   * INIT (experimental, slower than epoll: bench/RESULTS.md; Node >= 26, Linux >= 6.14, enable_uring = Y, else the
   * mount fails with ERR_FUSE_URING_UNAVAILABLE). Defaults to epoll when available.
   */
  readonly transport?: TransportKind;
  /**
   * Busy polling (epoll transport): after answering a request, keep reading /dev/fuse for up to this many
   * microseconds before sleeping in epoll again, so that the next request of a client waiting for each reply
   * is taken without a wake-up. Costs up to that much CPU after the last request of a burst; 0 turns it off.
   * bench/RESULTS.md ("Busy polling") has the figures. Defaults to 50. Once clone queues run, the main
   * thread no longer polls (their workers read the same queue and forward it requests by message).
   */
  readonly busyPoll?: number;
  /**
   * Clone queues (src/session/clone-queues.ts, Node >= 26): once INIT is agreed, `workers` more /dev/fuse
   * queues, each read by a worker thread that answers READ/WRITE of the handles in `workerIo` itself and
   * forwards the rest here. `mount()` fills this in from `-o clone_fd,max_threads=N` for a filesystem that
   * declares `workerIo`. If they cannot be started, a warning, and the one queue serves. Absent: one queue.
   */
  readonly cloneQueues?: { readonly workers: number; readonly workerIo: HandleDescriptors };
}

export type { Notifier };

/** The longest busy poll a session takes (µs): beyond, sleeping in epoll costs less than the CPU burnt. */
const MAX_BUSY_POLL_US = 10_000;

/** SessionOptions.busyPoll, checked: ERR_INVALID_ARG_VALUE unless absent or 0 to MAX_BUSY_POLL_US µs. */
export function checkBusyPoll(value: unknown): number | undefined {
  if (value === undefined || (typeof value === 'number' && value >= 0 && value <= MAX_BUSY_POLL_US)) return value;
  throw new TsfuseError('ERR_INVALID_ARG_VALUE', `busyPoll must be a number of microseconds from 0 to ${MAX_BUSY_POLL_US}, not ${String(value)}`);
}

/** Where a session is: waiting for INIT, serving, or closed. */
export type SessionPhase = 'init' | 'serving' | 'closed';

/** Largest request: a WRITE of maxWrite, or a SETXATTR of a 64 KiB value with its name, plus headers. */
export function readBufferSize(maxWrite: number): number {
  return Math.max(MIN_READ_BUFFER, maxWrite + IN_HEADER_SIZE + 4096, 65536 + 4096 + IN_HEADER_SIZE);
}

export class Session {
  readonly #core: SessionCore;
  readonly #transport: Transport;
  readonly #backing: BackingFiles;
  readonly closed: Promise<void>;
  #closing = false;
  /** Ended by {@link detach}: the filesystem lives on in another process, so it is not destroyed here. */
  #detached = false;
  #closeError: Error | undefined;
  #phase: SessionPhase = 'init';
  /** Running clone queues; undefined with one queue. */
  #clones: CloneQueues | undefined;

  constructor(fd: number, ops: LowLevelOperations, options: SessionOptions = {}) {
    // Sized by what the options ask for until INIT is decided; `serve()` then sizes it by what INIT agreed
    // (the filesystem's init() may raise maxWrite, the kernel may lower it).
    // A session taken over from another process (options.adopted) is serving from the start: INIT came before.
    const maxWrite = options.adopted?.negotiated.maxWrite ?? options.wants?.maxWrite ?? INIT_DEFAULTS.maxWrite;
    this.#transport = createTransport(fd, readBufferSize(maxWrite), options.transport, checkBusyPoll(options.busyPoll));
    if (options.adopted !== undefined) this.#phase = 'serving';
    const transport = this.#transport;
    // Read at each call: undefined once closing, when the descriptor number may soon name another file.
    this.#backing = createBackingFiles(fd, () => (this.#closing || this.#phase === 'closed' ? undefined : this.#core.negotiated));
    this.#core = new SessionCore(readyWithBacking(ops, this.#backing), {
      write: (iov) => transport.write(iov),
      writeAsync: (iov) => transport.writeAsync(iov),
      initDecided: (n) => {
        if (n !== undefined && this.#phase === 'init') this.#phase = 'serving';
        transport.serve(n === undefined ? undefined : readBufferSize(n.maxWrite), n);
        if (n !== undefined) this.#startClones(fd, n, options);
      },
    }, transport.wants === undefined ? options : { ...options, capabilities: [...(options.capabilities ?? []), ...transport.wants] });
    const core = this.#core;
    transport.watchIdle?.(() => core.pending === 0);
    if (options.adopted !== undefined) this.#startClones(fd, options.adopted.negotiated, options);
    this.closed = new Promise<void>((resolve) => {
      transport.start(
        (frame, sink) => { if (this.#clones === undefined) core.handleFrame(frame, sink); else this.#clones.deliver(frame, sink); },
        (err) => {
          this.#phase = 'closed';
          // ENODEV: unmounted. ECONNABORTED: aborted through /sys/fs/fuse/connections. Both end the session normally.
          if (err && err.code !== 'ENODEV' && err.code !== 'ECONNABORTED' && err.code !== 'EBADF') this.#closeError = err;
          // Resolved once the clone queues' workers have exited and their descriptors are closed too.
          const clones = this.#clones?.close();
          if (this.#detached) void Promise.resolve(clones).finally(resolve);
          else void Promise.all([this.#core.shutdown(), clones]).finally(resolve);
        },
      );
    });
  }

  /** Resolves once INIT has been answered. */
  get initialized(): Promise<Negotiated> {
    // A transport that switches over after INIT (io_uring) is ready only once it has.
    const ready = this.#transport.ready;
    return ready === undefined ? this.#core.initialized : this.#core.initialized.then(async (n) => { await ready.call(this.#transport); return n; });
  }
  get negotiated(): Negotiated { return this.#core.negotiated; }
  get audit(): readonly CapabilityAudit[] { return this.#core.audit; }
  get transportKind(): string { return this.#transport.kind; }
  /** The error that ended reading, if it was not a normal unmount. */
  get closeError(): Error | undefined { return this.#closeError; }
  get notify(): Notifier { return this.#core.notifier; }
  /** The session's number in diagnostics-channel messages ({@link SessionCore.id}). */
  get id(): number { return this.#core.id; }
  /** Kernel passthrough backing files (src/session/backing.ts); also handed to the filesystem's `ready()`. */
  get backing(): BackingFiles { return this.#backing; }
  get phase(): SessionPhase { return this.#phase; }
  /** /dev/fuse queues read: 1, plus the clone queues' workers (src/session/clone-queues.ts). */
  get queues(): number { return 1 + (this.#clones?.workers ?? 0); }
  /** Whether this thread busy-polls /dev/fuse after a reply now (`busyPoll`, the epoll transport); with clone queues, only while every worker backs off. */
  get busyPolling(): boolean { return this.#transport.busyPolling ?? false; }
  /** Frames this thread took by busy polling, rather than after a wake-up. */
  get framesPolled(): number { return this.#transport.framesPolled ?? 0; }
  /**
   * Times a clone queue's worker stopped reading for a while because nearly every frame it read was one
   * only the main thread answers (metadata): see src/session/clone-queues.ts BACKOFF_WINDOW. 0 with one queue.
   */
  get cloneBackoffs(): number { return this.#clones?.backoffs ?? 0; }

  /**
   * Stops serving and closes the descriptor; resolves with {@link closed}, once the filesystem's destroy
   * handler has run. Does not unmount: a Session owns no mount (`FuseMount.close()` and
   * `MountedDevice.close()` unmount). Idempotent: later calls return the same promise.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#transport.close();
      void this.#clones?.close();
    }
    return this.closed;
  }

  /** Requests handed to the filesystem and not answered yet. */
  get pending(): number { return this.#core.pending + (this.#clones?.pending ?? 0); }

  /**
   * Stops reading /dev/fuse, keeping the descriptor open for the replies still due (see
   * Transport.pause); false when the transport cannot (the worker transport). For a handoff.
   */
  pauseReading(): boolean {
    if (this.#closing || this.#transport.pause === undefined) return false;
    this.#transport.pause();
    this.#clones?.pause();
    return true;
  }

  /** Reads again after {@link pauseReading} (a handoff that was abandoned). */
  resumeReading(): void {
    if (this.#closing) return;
    this.#transport.resume?.();
    this.#clones?.resume();
  }

  /**
   * Ends this session without ending the filesystem: closes this process's descriptor and resolves
   * {@link closed} without calling `destroy()`, because another process now serves the connection
   * (src/handoff). Idempotent.
   */
  detach(): Promise<void> {
    this.#detached = true;
    return this.close();
  }

  /** Starts the clone queues asked for, once INIT is agreed; warns and serves on one queue if they cannot start. */
  #startClones(fd: number, negotiated: Negotiated, options: SessionOptions): void {
    const ask = options.cloneQueues;
    if (ask === undefined || ask.workers < 1 || this.#clones !== undefined || this.#closing) return;
    const warn = options.onWarning ?? ((m: string, cause?: unknown) => process.emitWarning(cause instanceof Error ? `${m}: ${cause.message}` : m, 'TsfuseWarning'));
    try {
      this.#clones = CloneQueues.start({
        deviceFd: fd, workers: ask.workers, workerIo: ask.workerIo, negotiated, bufferSize: readBufferSize(negotiated.maxWrite),
        deliver: (frame, sink) => this.#core.handleFrame(frame, sink), onWarning: warn,
      });
      // The workers read the same input queue, and forward what they cannot answer here by message,
      // which waits while this thread spins on /dev/fuse (up to 2 ms a turn). Without the spin, 4 stat
      // clients got 1.24× the stats (27k against 22k; random reads alike, bench/clone-queues.ts). So it
      // spins only while every worker is backing off (their frames are then all read here).
      const clones = this.#clones;
      this.#transport.pollOnlyWhile?.(() => clones.readingWorkers === 0);
    } catch (e) {
      warn('clone_fd: no clone queues started; serving on one queue', e);
    }
  }

  /** Awaits {@link close}; for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> { await this.close(); }
}
