/**
 * `mount(mountpoint, ops, options)`: mount, serve, and unmount a low-level filesystem.
 */
import { mountDevice, type MountedDevice, type MountDeviceOptions } from '../mount/mount.ts';
import { parseMountOptions, type MountOptionsInput, type ParsedMountOptions } from '../mount/options.ts';
import { Session, checkBusyPoll, type SessionOptions, type Notifier } from './session.ts';
import { startTrace } from './trace.ts';
import { applyFsOptions, initWantsFrom } from '../ops/fs-options.ts';
import { limitConcurrency } from '../ops/concurrency.ts';
import { planCloneQueues } from './clone-queues.ts';
import type { LowLevelOperations } from '../ops/lowlevel.ts';
import type { Negotiated } from '../protocol/negotiated.ts';
import type { CapabilityAudit } from '../protocol/init.ts';
import { TsfuseError } from '../errors.ts';
import { startStatsService, type StatsService } from './control-socket.ts';
import type { StatsSnapshot } from './stats.ts';
import type { BackingFiles } from './backing.ts';
import { startRecording, type RecordTarget } from '../record/recorder.ts';
import { startExplain } from '../explain/live.ts';
import { formatAudit } from '../explain/format.ts';
import type { RecordingMetadata } from '../record/format.ts';
import { handOff, type HandoffOptions } from '../handoff/predecessor.ts';
import { takeOver } from '../handoff/successor.ts';
import { supportsHandoff, type HandoffResult } from '../handoff/types.ts';
import { RecoveryJournal, supportsRecovery } from '../handoff/supervisor-journal.ts';
import { adoptSupervisorLink, journalPath, recoverAfterCrash, startSupervision, type SupervisorLink } from '../handoff/supervisor-link.ts';
import type { SuperviseOptions } from '../handoff/supervisor.ts';

export interface MountOptions extends Omit<SessionOptions, 'wants'> {
  /**
   * Mount options: in libfuse's `-o` syntax (`'ro,allow_other,fsname=demo,attr_timeout=1'`, or an array
   * of such groups) or as an object (`{ readOnly: true, allowOther: true, fsname: 'demo', attrTimeout: 1 }`).
   * With `allow_other` and without `default_permissions`, read "Permissions" in the README and
   * {@link LowLevelOperations.checksPermissions}. Defaults to none.
   */
  readonly options?: MountOptionsInput;
  /**
   * `'mount'` (root, or root of a user namespace: `unshare --user --map-root-user --mount`, any Node),
   * `'fusermount3'` (unprivileged, Node ≥ 26), or `'auto'` (`'mount'` with CAP_SYS_ADMIN, so also in such
   * a user namespace; see {@link MountDeviceOptions.method}). Defaults to `'auto'`.
   */
  readonly method?: MountDeviceOptions['method'];
  /** Lazily unmount a stale FUSE mount (dead daemon) at the mountpoint first. Defaults to false. */
  readonly cleanStale?: boolean;
  /** Start the watchdog that unmounts if this process dies (see {@link MountDeviceOptions.watchdog}). Defaults to true. */
  readonly watchdog?: boolean;
  /** Print one line per request and reply (libfuse's `-d`); or a function that receives the lines. Defaults to false. */
  readonly debug?: boolean | ((line: string) => void);
  /**
   * Explain mode (src/explain): every request and reply dissected field by field (offset, size, raw
   * bytes, decoded value, flag names) with the time each daemon-side stage took, and once INIT is
   * answered, the negotiation audit of every capability. `true` prints to stderr; a function receives
   * each frame's block of text. Defaults to false (nothing is published, at no cost).
   */
  readonly explain?: boolean | ((text: string) => void);
  /** Unmount on SIGINT and SIGTERM (then let the process exit). Defaults to false. */
  readonly handleSignals?: boolean;
  /** How long to wait for the kernel's INIT, in ms. Defaults to 10 000. */
  readonly initTimeoutMs?: number;
  /**
   * Collect per-opcode counts, errors and latencies ({@link FuseMount.statistics}) and serve them on a
   * control socket for `tsfuse stats MOUNTPOINT` (src/session/control-socket.ts), removed at unmount.
   * Defaults to false (nothing is collected, at no cost); the `tsfuse` command turns it on.
   */
  readonly stats?: boolean;
  /**
   * Record every frame both ways (requests, replies, notifications) with its time, in the `.tsfr` format
   * (docs/recording-format.md), for `tsfuse show`, `replay` and `timeline`: a file path (created 0600;
   * complete once {@link FuseMount.closed} resolves) or a sink with `write(bytes)`, which is never ended.
   * Costs a copy of each frame while on. Defaults to undefined: nothing is recorded, at no cost.
   */
  readonly record?: RecordTarget;
  /** Extra metadata for the recording's header (the CLI adds the filesystem's name). Absent: what mount() knows. */
  readonly recordMetadata?: RecordingMetadata;
  /**
   * Crash recovery (src/handoff/supervisor.ts): once INIT is answered, start a small supervisor process
   * that keeps a copy of the /dev/fuse descriptor and, when this process dies without unmounting
   * (SIGKILL, an uncaught exception), starts this program again with the same arguments; its `mount()`
   * call for the same mountpoint takes the mount back, and the requests the dead process had read are
   * resent, so programs using the mount see a pause rather than an error. More than `maxCrashes` crashes
   * within `windowMs` and the supervisor gives up: the mount goes, as without it. Needs a filesystem that
   * can rebuild its state (`attachRecoveryJournal`, which the passthrough implements; else the mount
   * fails with ERR_FUSE_SUPERVISE), a kernel with RESEND (7.40; older ones get a warning and no
   * supervisor) and a mount not made with fusermount3's auto_unmount. `true` takes the defaults of
   * SUPERVISOR_DEFAULTS. Defaults to false.
   */
  readonly supervise?: boolean | SuperviseOptions;
}

/** A mounted filesystem. */
export interface FuseMount {
  readonly mountpoint: string;
  readonly method: 'mount' | 'fusermount3';
  readonly options: ParsedMountOptions;
  readonly negotiated: Negotiated;
  readonly audit: readonly CapabilityAudit[];
  /** Notifications to the kernel (cache invalidation, store/retrieve, poll wakeup, …). */
  readonly notify: Notifier;
  /**
   * Kernel passthrough: `backingOpen(fd)` / `backingClose(id)` for OPEN replies with FOPEN_PASSTHROUGH
   * (Node >= 26, root, PASSTHROUGH granted; `backing.unavailable` says why not). The same object as `ready()`'s.
   */
  readonly backing: BackingFiles;
  /** How /dev/fuse is read: `'epoll'`, `'worker'` or `'uring'` (see SessionOptions.transport). */
  readonly transport: string;
  /**
   * /dev/fuse queues served: 1, plus one per clone-queue worker (`-o clone_fd`, for a filesystem that
   * declares `workerIo`, on Node >= 26; src/session/clone-queues.ts).
   */
  readonly queues: number;
  /** Resolves when the filesystem is unmounted (by us, by umount(8), or by the kernel). */
  readonly closed: Promise<void>;
  /** The statistics collected so far. Absent (undefined): mounted without {@link MountOptions.stats}. */
  statistics(): StatsSnapshot | undefined;
  /**
   * Unmounts (lazily if asked) and waits until serving has stopped. Fails with ERR_FUSE_UNMOUNT_FAILED if
   * the mount is busy and not lazy; then the filesystem stays mounted and served. Idempotent while it succeeds.
   */
  unmount(options?: { lazy?: boolean }): Promise<void>;
  /**
   * Unmounts, lazily if the mount is busy, and waits until serving has stopped: the mountpoint is always
   * released (a lazy unmount stops serving at once; processes still inside see ENOTCONN). Idempotent:
   * later calls return the same promise. `MountedDevice.close()` unmounts the same way; `Session.close()`,
   * which owns no mount, only stops serving.
   */
  close(): Promise<void>;
  /** Awaits {@link close}; for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /**
   * Planned handoff: starts this program again (the code on disk now: also how an upgrade is deployed),
   * lets the new process take the mount over with the filesystem's state, and stops serving here; the
   * mount never goes away, and no request is lost or answered twice (src/handoff/predecessor.ts). The new
   * process takes over in its own `mount()` call with the same mountpoint. Needs the filesystem's
   * `exportState`/`importState` hooks (the path layer, memfs and the passthrough have them) and the epoll
   * transport; otherwise, or when the successor fails, rejects with ERR_FUSE_HANDOFF and this process
   * serves on as before. Once it resolves, {@link closed} resolves too, without unmounting.
   * `tsfuse restart MOUNTPOINT` and SIGUSR2 (with `handleSignals`) call it.
   */
  handoff(options?: HandoffOptions): Promise<HandoffResult>;
  /** What the handoff reported once this mount was handed to a successor; undefined until then. */
  readonly handedOver: HandoffResult | undefined;
}

/** Warning emitted by {@link permissionPolicy}; exported for tests. */
export const NO_PERMISSION_CHECKS_WARNING =
  'mounted with allow_other and without default_permissions: the kernel checks no permissions on this mount, ' +
  'so every user can do whatever the handlers allow (read a 0600 file, chown root\'s files), and it reuses ' +
  'the first permission decision for a cached entry for every user. Add default_permissions to have the ' +
  'kernel check file modes, or, if the filesystem checks each request itself, set checksPermissions: true ' +
  'on its operations (entry and attribute caching then default to 0 seconds). See "Permissions" in the README.';

/**
 * The permission rules applied at mount. With `allow_other` and without `default_permissions` the kernel
 * checks next to nothing (fs/fuse/dir.c fuse_permission: only that an executed regular file has an
 * execute bit; access(2) and chdir become FUSE_ACCESS) and lets every user reuse an entry or attributes
 * cached for another (fuse_dentry_revalidate asks again only once entry_timeout has passed). A filesystem that does not check gets a warning; one that declares
 * `checksPermissions` gets entry and attribute timeouts of 0 unless the options set them.
 */
export function permissionPolicy(parsed: ParsedMountOptions, checksPermissions: boolean): { options: ParsedMountOptions; warning: string | undefined } {
  if (!parsed.mount.allowOther || parsed.mount.defaultPermissions) return { options: parsed, warning: undefined };
  if (!checksPermissions) return { options: parsed, warning: NO_PERMISSION_CHECKS_WARNING };
  const fs = Object.freeze({ ...parsed.fs, entryTimeout: parsed.fs.entryTimeout ?? 0, attrTimeout: parsed.fs.attrTimeout ?? 0 });
  return { options: Object.freeze({ mount: parsed.mount, fs }), warning: undefined };
}

export async function mount(mountpoint: string, ops: LowLevelOperations, options: MountOptions = {}): Promise<FuseMount> {
  checkBusyPoll(options.busyPoll); // before anything is mounted
  const policy = permissionPolicy(parseMountOptions(options.options ?? []), ops.checksPermissions === true);
  const parsed = policy.options;
  if (policy.warning !== undefined) {
    if (options.onWarning) options.onWarning(policy.warning);
    else process.emitWarning(policy.warning, 'TsfuseWarning');
  }
  const wants = initWantsFrom(parsed.fs);
  const warn = options.onWarning ?? ((m: string) => process.emitWarning(m, 'TsfuseWarning'));
  const supervise = options.supervise === undefined || options.supervise === false ? undefined : options.supervise === true ? {} : options.supervise;
  if (supervise !== undefined && !supportsRecovery(ops)) {
    throw new TsfuseError('ERR_FUSE_SUPERVISE', 'the filesystem cannot rebuild its state after a crash (it implements no attachRecoveryJournal(); the passthrough does): mount it without supervise');
  }
  // A process started to take a mount over (src/handoff) adopts that mount and its state instead of
  // mounting: after a planned handoff, or, started by a supervisor, after a crash.
  const succession = await takeOver(mountpoint);
  let supervisor: SupervisorLink | undefined;
  if (succession !== undefined) {
    try {
      if (!supportsHandoff(ops)) throw new TsfuseError('ERR_FUSE_HANDOFF', 'the new filesystem has no importState()');
      await ops.importState(succession.fsState, succession.importContext);
      if (succession.supervisor !== undefined && supportsRecovery(ops)) {
        supervisor = adoptSupervisorLink(succession.supervisor.fd, succession.supervisor.journal, warn);
        ops.attachRecoveryJournal(supervisor.journal, undefined);
      }
    } catch (e) {
      succession.failed(e);
      throw e;
    }
  }
  const recovery = succession === undefined ? await recoverAfterCrash(mountpoint, warn) : undefined;
  if (recovery !== undefined) {
    if (!supportsRecovery(ops)) throw new TsfuseError('ERR_FUSE_SUPERVISE', 'the restarted filesystem has no attachRecoveryJournal()');
    ops.attachRecoveryJournal(recovery.link.journal, recovery.records);
    supervisor = recovery.link;
  }
  // clone_fd (src/session/clone-queues.ts): max_threads then counts the queues' workers instead of capping handlers.
  const mainThreadOnly = options.debug ? 'debug tracing sees requests on the main thread only'
    : options.record !== undefined ? 'recording sees requests on the main thread only'
    : options.explain ? 'explain mode sees requests on the main thread only'
    : supervise !== undefined || supervisor !== undefined || recovery !== undefined ? 'a supervised mount keeps every request on the main queue (a crashed process\'s clones would end theirs with ECONNABORTED instead of leaving them for RESEND)'
    : undefined;
  const clones = planCloneQueues({ cloneFd: parsed.fs.cloneFd, maxThreads: parsed.fs.maxThreads, workerIo: ops.workerIo, mainThreadOnly });
  // max_threads (src/ops/concurrency.ts) outermost: a request waiting for a slot has run none of the options' code.
  const fsOps = limitConcurrency(applyFsOptions(ops, parsed.fs), clones.workers > 0 ? undefined : parsed.fs.maxThreads);
  const device = succession?.device ?? recovery?.device ?? await mountDevice(mountpoint, { options: parsed, method: options.method ?? 'auto', cleanStale: options.cleanStale ?? false, watchdog: options.watchdog ?? true });
  // A supervised mount journals from the first request on (the supervisor itself starts after INIT).
  let journal: RecoveryJournal | undefined;
  if (supervise !== undefined && succession === undefined && recovery === undefined && supportsRecovery(ops)) {
    try {
      journal = RecoveryJournal.create(await journalPath(device.connection));
      ops.attachRecoveryJournal(journal, undefined);
    } catch (e) {
      await device.unmount({ lazy: true }).catch(() => {});
      throw e;
    }
  }
  const trace = options.debug ? startTrace(typeof options.debug === 'function' ? options.debug : undefined) : undefined;
  // Before the session starts reading, so that INIT is counted too.
  const stats = options.stats === true
    ? await startStatsService(device, warn, undefined, succession?.controlFd ?? recovery?.controlFd)
    : undefined;
  let stopTrace: (() => void | Promise<void>) | undefined = stats === undefined ? trace : () => { trace?.(); stats.stop(); };
  let session: Session;
  try {
    session = new Session(device.fd, fsOps, {
      ...options, wants, capabilities: [...(options.capabilities ?? []), ...wants.want],
      ...(parsed.mount.allowRoot && { ownerOnly: process.geteuid?.() ?? 0 }),
      ...(clones.workerIo !== undefined && { cloneQueues: { workers: clones.workers, workerIo: clones.workerIo } }),
      ...(succession !== undefined && { adopted: { negotiated: succession.negotiated, audit: succession.audit } }),
      ...(recovery !== undefined && { adopted: { negotiated: recovery.negotiated, audit: recovery.audit } }),
    });
  } catch (e) {
    stopTrace?.();
    // A mount being taken over stays with the predecessor, which serves on.
    if (succession !== undefined) succession.failed(e);
    else await device.unmount({ lazy: true }).catch(() => {});
    throw e;
  }
  const explain = typeof options.explain === 'function' ? options.explain : options.explain === true ? explainToStderr : undefined;
  if (explain !== undefined) {
    // Frames arrive from the transport in later event-loop turns, so INIT is explained too.
    const stopExplain = startExplain(explain, { session: session.id });
    const stopBefore = stopTrace;
    stopTrace = () => { stopExplain(); return stopBefore?.(); };
  }
  if (options.record !== undefined) {
    // Frames arrive from the transport in later event-loop turns, so INIT is recorded too.
    const recorder = startRecording(options.record, {
      session: session.id,
      metadata: {
        mountpoint: device.mountpoint, mountOptions: options.options ?? [],
        session: { capabilities: options.capabilities ?? [], ...(parsed.mount.allowRoot && { ownerOnly: process.geteuid?.() ?? 0 }), ...(options.interruptGraceMs !== undefined && { interruptGraceMs: options.interruptGraceMs }) },
        ...options.recordMetadata,
      },
      ...(options.onWarning && { onWarning: options.onWarning }),
    });
    const stopOthers = stopTrace;
    stopTrace = () => { stopOthers?.(); return recorder.stop(); };
  }
  const handle = new MountHandle(device, session, stopTrace, stats, ops);
  if (stats !== undefined) stats.handoff = () => handle.handoff();
  try {
    if (succession !== undefined) succession.serving();
    else if (recovery !== undefined) {
      // What the crashed daemon had read and not answered is on the processing list of the /dev/fuse
      // file the supervisor kept: have the kernel queue it again (fs/fuse/dev.c fuse_resend).
      await session.notify.resend();
      recovery.link.serving();
    } else await withTimeout(session.initialized, options.initTimeoutMs ?? 10_000, 'the kernel did not send INIT');
  } catch (e) {
    journal?.remove();
    await handle.unmount({ lazy: true }).catch(() => {});
    throw e;
  }
  if (journal !== undefined) {
    if (session.negotiated.minor < 40) {
      journal.remove();
      warn(`not supervised: the kernel speaks FUSE 7.${session.negotiated.minor}, and restarting a daemon needs RESEND (7.40, Linux 6.9) to have what the dead daemon read sent again`);
    } else if (device.handoff === undefined) {
      journal.remove();
      warn('not supervised: fusermount3 mounted with auto_unmount, which ties the mount to this process');
    } else {
      try {
        supervisor = await startSupervision({ device, negotiated: session.negotiated, audit: session.audit, controlFd: stats?.listeningFd(), journal, options: supervise ?? {}, onWarning: warn });
      } catch (e) {
        journal.remove();
        await handle.unmount({ lazy: true }).catch(() => {});
        throw e;
      }
    }
  }
  if (supervisor !== undefined) handle.supervise(supervisor);
  // Right after INIT's reply (a microtask later): before the transport reads the next frame.
  if (explain !== undefined) {
    try { explain(formatAudit(session.audit, session.negotiated)); } catch { /* the sink is the caller's: its failure must not fail the mount */ }
  }
  if (options.handleSignals) handle.handleSignals();
  return handle;
}

class MountHandle implements FuseMount {
  readonly #device: MountedDevice;
  readonly #session: Session;
  readonly #stopTrace: (() => void | Promise<void>) | undefined;
  readonly #stats: StatsService | undefined;
  #unmounting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #signalHandler: (() => void) | undefined;
  #handoffSignal: (() => void) | undefined;
  /** The filesystem as given to mount() (its handoff hooks; `#session` serves a wrapped copy). */
  readonly #ops: LowLevelOperations;
  #handingOff: Promise<HandoffResult> | undefined;
  #handedOver: HandoffResult | undefined;
  #supervisor: SupervisorLink | undefined;
  readonly closed: Promise<void>;

  constructor(device: MountedDevice, session: Session, stopTrace: (() => void | Promise<void>) | undefined, stats: StatsService | undefined, ops: LowLevelOperations) {
    this.#ops = ops;
    this.#device = device;
    this.#stats = stats;
    this.#session = session;
    this.#stopTrace = stopTrace;
    this.closed = session.closed.then(async () => {
      await this.#stopTrace?.();
      this.#removeSignals();
      // Handed over: `closed` resolves once the handoff has reported (handedOver is set by then).
      if (this.#handingOff !== undefined) await this.#handingOff.catch(() => {});
      // Gone for good: the supervisor releases its copy of the descriptor (a lazily unmounted busy mount
      // is aborted only then) and exits. After a handoff the successor has the link.
      if (this.#handedOver === undefined) this.#supervisor?.stop();
      // Unmounted behind our back (umount(8), or the connection was aborted): make sure the mountpoint
      // is released and the watchdog stops. Not after a handoff: the mount lives on in the successor.
      if (this.#unmounting === undefined && this.#handedOver === undefined && this.#handingOff === undefined) {
        await device.unmount({ lazy: true }).catch(() => {});
      }
    });
  }

  get mountpoint(): string { return this.#device.mountpoint; }
  get method(): 'mount' | 'fusermount3' { return this.#device.method; }
  get options(): ParsedMountOptions { return this.#device.options; }
  get negotiated(): Negotiated { return this.#session.negotiated; }
  get audit(): readonly CapabilityAudit[] { return this.#session.audit; }
  get notify(): Notifier { return this.#session.notify; }
  get backing(): BackingFiles { return this.#session.backing; }
  get transport(): string { return this.#session.transportKind; }
  get queues(): number { return this.#session.queues; }
  statistics(): StatsSnapshot | undefined { return this.#stats?.collector.snapshot(); }

  unmount(options: { lazy?: boolean } = {}): Promise<void> {
    this.#unmounting ??= (async () => {
      try {
        await this.#device.unmount({ lazy: options.lazy ?? false });
      } catch (e) {
        this.#unmounting = undefined;
        throw e;
      }
      // After the unmount the kernel fails reads with ENODEV and the session ends by itself; a lazy
      // unmount of a busy mount keeps the connection until the last user leaves, so stop serving now.
      if (options.lazy) void this.#session.close();
      await this.closed;
    })();
    return this.#unmounting;
  }

  close(): Promise<void> {
    this.#closing ??= this.unmount().catch(() => this.unmount({ lazy: true })).catch((err: unknown) => {
      this.#closing = undefined;
      throw err;
    });
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> { await this.close(); }

  get handedOver(): HandoffResult | undefined { return this.#handedOver; }

  /** Supervised (src/handoff/supervisor.ts): the link to tell `stop` at unmount and to hand on. */
  supervise(link: SupervisorLink): void { this.#supervisor = link; }

  handoff(options?: HandoffOptions): Promise<HandoffResult> {
    if (this.#handingOff !== undefined) return Promise.reject(new TsfuseError('ERR_FUSE_HANDOFF', 'a handoff of this mount is already under way'));
    if (this.#handedOver !== undefined) return Promise.reject(new TsfuseError('ERR_FUSE_HANDOFF', `this mount was handed to pid ${this.#handedOver.pid} already`));
    if (this.#unmounting !== undefined) return Promise.reject(new TsfuseError('ERR_FUSE_HANDOFF', 'this mount is being unmounted'));
    const stats = this.#stats;
    let result: HandoffResult | undefined;
    const running = handOff({
      session: this.#session, device: this.#device, ops: this.#ops, controlFd: stats?.listeningFd(),
      supervisor: this.#supervisor !== undefined ? { fd: this.#supervisor.fd, journal: this.#supervisor.journal.path } : undefined,
      commit: () => {
        // Before the session ends, so that `closed` does not unmount and the control socket stays.
        stats?.detach();
        this.#supervisor?.detach();
        this.#removeSignals();
      },
    }, options).then((r) => { result = r; this.#handedOver = r; return r; });
    this.#handingOff = running.finally(() => { if (result === undefined) this.#handingOff = undefined; });
    return this.#handingOff;
  }

  handleSignals(): void {
    const onSignal = () => {
      this.#removeSignals();
      this.close().catch((e: unknown) => {
        process.emitWarning(`unmounting ${this.mountpoint} failed: ${(e as Error).message}`, 'TsfuseWarning');
      });
    };
    this.#signalHandler = onSignal;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // SIGUSR2 (as nginx's binary upgrade), not SIGHUP: a foreground daemon gets SIGHUP when its terminal
    // goes, which must not restart it.
    const onHandoff = () => {
      this.handoff().catch((e: unknown) => {
        process.emitWarning(`handing ${this.mountpoint} over failed; still serving it: ${(e as Error).message}`, 'TsfuseWarning');
      });
    };
    this.#handoffSignal = onHandoff;
    process.on('SIGUSR2', onHandoff);
  }

  #removeSignals(): void {
    if (!this.#signalHandler) return;
    process.off('SIGINT', this.#signalHandler);
    process.off('SIGTERM', this.#signalHandler);
    this.#signalHandler = undefined;
    if (this.#handoffSignal) process.off('SIGUSR2', this.#handoffSignal);
    this.#handoffSignal = undefined;
  }
}

const explainToStderr = (text: string): void => { process.stderr.write(`${text}\n\n`); };

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new TsfuseError('ERR_FUSE_PROTOCOL', `${message} within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e as Error); });
  });
}
