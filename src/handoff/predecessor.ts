/**
 * A planned handoff, seen from the process that serves the mount now: start the successor (the program
 * on disk now, so this is also how an upgrade is deployed), let it inherit the /dev/fuse descriptor, the
 * watchdog's pipe and the control socket, stop reading, answer every request already read, hand over the
 * state, and let go once the successor reads.
 *
 * Why nothing is lost or answered twice: the kernel queues requests while nobody reads /dev/fuse
 * (fs/fuse/dev.c fuse_dev_do_read takes them off the pending list only when read), and both processes
 * hold the same open file description, so a request this process read stays on that description's
 * processing list until this process answers it, however many readers there are. This process stops
 * reading before the successor starts (libuv's uv_read_stop, between two read(2)s) and exports the state
 * only once every handler it started has replied, so the state is the one those replies described. An
 * INTERRUPT the successor receives for a request this process answered names nothing it knows: ignored,
 * as the kernel allows (the request is answered already). The watchdog keeps waiting: its pipe's write
 * end lives on in the successor, so this process exiting is no EOF. The mount is never touched.
 *
 * If anything fails before the successor reads (it does not start, does not import the state, times out)
 * it is killed and this process reads again: the mount stays with it, as it was. Should the successor
 * have read requests before dying, RESEND (7.40) puts them back in the queue for this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { TsfuseError } from '../errors.ts';
import type { Session } from '../session/session.ts';
import { REPLY_CHANNEL } from '../session/core.ts';
import type { MountedDevice } from '../mount/mount.ts';
import { HandoffChannel, wallClockMs, type HandoffState } from './channel.ts';
import { supportsHandoff, type HandoffResult } from './types.ts';

/** The environment variables that make a process a successor (read by ./successor.ts). */
export const HANDOFF_ENV = 'TSFUSE_HANDOFF';
export const HANDOFF_CWD_ENV = 'TSFUSE_HANDOFF_CWD';
/** The successor's descriptors: its end of the channel, then what it inherits. */
export const CHILD_FDS = Object.freeze({ channel: 3, fuse: 4, watchdog: 5, control: 6, supervisor: 7 });

/**
 * The working directory the program started in, before a daemon changed to `/`: the successor starts
 * there, as this process did, so that its relative arguments and Node options (`--import tsx`) mean the
 * same; a daemon changes to `/` again once it has taken over.
 */
export const STARTUP_CWD = process.cwd();

/** Defaults of {@link HandoffOptions}. */
export const HANDOFF_DEFAULTS = Object.freeze({ startTimeoutMs: 60_000, drainTimeoutMs: 10_000, firstReplyWaitMs: 1000 });

export interface HandoffOptions {
  /** How long the successor may take to start and to take over. Defaults to 60 000 ms. */
  readonly startTimeoutMs?: number;
  /**
   * How long requests already read may take to be answered once reading stopped; past it the handoff is
   * abandoned and this process reads again (a handler blocked on something only a later request can
   * end, such as a lock wait, would otherwise hold the mount). Defaults to 10 000 ms.
   */
  readonly drainTimeoutMs?: number;
}

/** What the mount hands to {@link handOff}. */
export interface HandoffParts {
  readonly session: Session;
  readonly device: MountedDevice;
  /** The filesystem's own operations object, which has the hooks. */
  readonly ops: object;
  /** The control socket's listening descriptor, to be inherited. Absent: none. */
  readonly controlFd: number | undefined;
  /** Called once the successor serves, before this session lets go: stop what must not outlive it here. */
  commit(): void;
  /**
   * A supervised mount (./supervisor.ts): this process's descriptor of the channel to the supervisor
   * and the journal's path, both handed on, so that the supervisor watches the successor. Absent: none.
   */
  readonly supervisor?: { readonly fd: number; readonly journal: string } | undefined;
}

/** Refuses a handoff that cannot work, before anything starts; the reason, or undefined. */
export function handoffRefusal(parts: Pick<HandoffParts, 'session' | 'device' | 'ops'>): string | undefined {
  if (!supportsHandoff(parts.ops)) {
    return 'the filesystem does not support handoff: it implements no exportState() and importState() (see examples/handoff.ts)';
  }
  if (parts.device.handoff === undefined) return 'a mount made by fusermount3 with auto_unmount cannot be handed off';
  if (parts.session.transportKind !== 'epoll') return `the ${parts.session.transportKind} transport cannot stop reading without closing; handoff needs the epoll transport`;
  if (parts.session.phase !== 'serving') return `the session is ${parts.session.phase}, not serving`;
  return undefined;
}

/** Hands the mount over; see the module comment. Rejects with ERR_FUSE_HANDOFF, the mount untouched. */
export async function handOff(parts: HandoffParts, options: HandoffOptions = {}): Promise<HandoffResult> {
  const refusal = handoffRefusal(parts);
  if (refusal !== undefined) throw new TsfuseError('ERR_FUSE_HANDOFF', refusal);
  const { session, device } = parts;
  const ops = parts.ops as Required<import('./types.ts').HandoffHooks>;
  const startTimeoutMs = options.startTimeoutMs ?? HANDOFF_DEFAULTS.startTimeoutMs;
  const drainTimeoutMs = options.drainTimeoutMs ?? HANDOFF_DEFAULTS.drainTimeoutMs;
  const handoff = device.handoff!;

  let lastReplyAt: number | undefined;
  const onReply = (): void => { lastReplyAt = wallClockMs(); };
  subscribe(REPLY_CHANNEL, onReply);
  const child = startSuccessor(device.fd, handoff.watchdogFd, parts.controlFd, handoff.mountpoint, parts.supervisor?.fd);
  const exited = new Promise<string>((done) => {
    child.once('exit', (code, signal) => done(`the successor exited (${signal ?? code}) during the handoff`));
    child.once('error', (e) => done(`the successor could not be started: ${e.message}`));
  });
  const channel = new HandoffChannel(child.stdio[CHILD_FDS.channel] as import('node:net').Socket);
  const died = exited.then((why): never => { throw new TsfuseError('ERR_FUSE_HANDOFF', why); });
  died.catch(() => { /* raced below; a successor exiting long after the handoff is no error */ });
  const expect = async (kind: string, timeoutMs: number): Promise<import('./channel.ts').HandoffMessage> => {
    const m = await Promise.race([channel.next(timeoutMs, `the successor's "${kind}"`), died]);
    if (m.kind === 'failed') throw new TsfuseError('ERR_FUSE_HANDOFF', `the successor could not take over: ${m.message}`);
    if (m.kind !== kind) throw new TsfuseError('ERR_FUSE_HANDOFF', `the successor sent "${m.kind}" where "${kind}" was due`);
    return m;
  };
  let paused = false;
  let stateSent = false;
  let serving: import('./channel.ts').HandoffMessage;
  let stateBytes = 0;
  let pausedAt = 0;
  try {
    await expect('booted', startTimeoutMs);
    // From here on nobody reads: the kernel queues new requests for the successor.
    if (!session.pauseReading()) throw new TsfuseError('ERR_FUSE_HANDOFF', 'the session could not stop reading');
    paused = true;
    pausedAt = wallClockMs();
    await drained(session, drainTimeoutMs);
    const passed: number[] = [];
    const fsState = await ops.exportState({ passFd: (fd) => passed.push(fd) - 1 });
    const state: HandoffState = {
      pid: process.pid, negotiated: session.negotiated, audit: session.audit, device: handoff,
      fds: {
        fuse: CHILD_FDS.fuse,
        watchdog: handoff.watchdogFd >= 0 ? CHILD_FDS.watchdog : -1,
        control: parts.controlFd !== undefined ? CHILD_FDS.control : -1,
      },
      passed, fs: fsState, pausedAt, lastReplyAt,
      supervisor: parts.supervisor !== undefined ? { fd: CHILD_FDS.supervisor, journal: parts.supervisor.journal } : undefined,
    };
    stateBytes = channel.send({ kind: 'state', state });
    stateSent = true;
    serving = await expect('serving', startTimeoutMs);
  } catch (e) {
    unsubscribe(REPLY_CHANNEL, onReply);
    // Nothing was handed over: the successor goes, and this process serves on.
    child.kill('SIGKILL');
    await exited;
    channel.close();
    if (paused) {
      // A successor that died after it started reading leaves what it read unanswered: have it resent.
      if (stateSent && session.negotiated.minor >= 40) await session.notify.resend().catch(() => {});
      session.resumeReading();
    }
    throw e instanceof TsfuseError ? e : new TsfuseError('ERR_FUSE_HANDOFF', `handoff abandoned: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  // The successor reads now: this process only lets go.
  try {
    parts.commit();
    await session.detach();
    const result: HandoffResult = { pid: child.pid ?? -1, pausedMs: (serving as { at: number }).at - pausedAt, gapMs: undefined, stateBytes };
    const first = await channel.next(HANDOFF_DEFAULTS.firstReplyWaitMs, 'a first reply').catch(() => undefined);
    const gapMs = first?.kind === 'first-reply' && lastReplyAt !== undefined ? first.at - lastReplyAt : undefined;
    channel.close();
    child.unref();
    return { ...result, gapMs };
  } finally {
    unsubscribe(REPLY_CHANNEL, onReply);
  }
}

/**
 * The program on disk now, with this process's arguments and Node options, started in its own session
 * (like the daemon) in the directory this process started in, with the descriptors at {@link CHILD_FDS}.
 * Its stdout and stderr are this process's (the daemon's log).
 */
function startSuccessor(fuseFd: number, watchdogFd: number, controlFd: number | undefined, mountpoint: string, supervisorFd: number | undefined): ChildProcess {
  const args = [...process.execArgv, ...process.argv.slice(1)];
  // Never a directory inside the mount: the successor would keep it busy (and look it up through us).
  const inside = STARTUP_CWD === mountpoint || STARTUP_CWD.startsWith(`${mountpoint}/`);
  return spawn(process.execPath, args, {
    detached: true,
    cwd: inside ? '/' : STARTUP_CWD,
    stdio: ['ignore', 'inherit', 'inherit', 'pipe', fuseFd, watchdogFd >= 0 ? watchdogFd : 'ignore', controlFd ?? 'ignore', supervisorFd ?? 'ignore'],
    env: { ...process.env, [HANDOFF_ENV]: String(CHILD_FDS.channel), [HANDOFF_CWD_ENV]: STARTUP_CWD },
  });
}

/** Resolves once every request handed to the filesystem has been answered; rejects after `timeoutMs`. */
async function drained(session: Session, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  // Handlers finish in I/O callbacks: look after each turn of the event loop, briefly spinning first.
  for (let turn = 0; session.pending > 0; turn++) {
    if (performance.now() > deadline) {
      throw new TsfuseError('ERR_FUSE_HANDOFF', `${session.pending} request(s) were still being handled ${timeoutMs} ms after reading stopped (a blocking lock wait?); handoff abandoned`);
    }
    await new Promise<void>((resume) => (turn < 1000 ? setImmediate(resume) : setTimeout(resume, 1)));
  }
}
