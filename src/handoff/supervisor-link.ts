/**
 * The daemon's side of supervision (./supervisor.ts): starting the supervisor after INIT and telling it
 * how to restart this program, taking a mount back in a daemon the supervisor restarted after a crash,
 * and telling the supervisor `stop` once the mount is unmounted (so that it releases its copy of the
 * /dev/fuse descriptor: a lazily unmounted, busy mount is aborted only when the last one goes).
 *
 * A restarted daemon is this program started again, with the same arguments, Node options,
 * environment and starting directory, and `TSFUSE_RECOVER` naming its channel to the supervisor. Its
 * `mount()` call for the same mountpoint takes the mount back, as a successor does after a planned
 * handoff: an initialized session with what INIT agreed, the filesystem fed the journal the crashed
 * daemon wrote, and RESEND sent so that the requests the crashed daemon had read come again.
 */
import { Socket } from 'node:net';
import { serialize } from 'node:v8';
import { join, resolve } from 'node:path';
import { TsfuseError } from '../errors.ts';
import { adoptDevice, type DeviceHandoff, type MountedDevice } from '../mount/mount.ts';
import { resolveWithoutFollowing } from '../mount/unmount.ts';
import type { Negotiated } from '../protocol/negotiated.ts';
import type { CapabilityAudit } from '../protocol/init.ts';
import { controlSocketDir, ensurePrivateDir } from '../session/control-socket.ts';
import { HandoffChannel, wallClockMs } from './channel.ts';
import { HANDOFF_CWD_ENV, HANDOFF_ENV, STARTUP_CWD } from './predecessor.ts';
import { RecoveryJournal } from './supervisor-journal.ts';
import { RECOVER_ENV, SUPERVISOR_FDS, spawnSupervisor, type SuperviseOptions } from './supervisor.ts';

/** How long a restarted daemon waits for the supervisor's `recovery` message. */
const RECOVERY_STATE_TIMEOUT_MS = 30_000;

/** What the supervisor keeps and gives each restarted daemon (the `recovery` message). */
export interface RecoveryState {
  readonly version: 1;
  readonly mountpoint: string;
  readonly negotiated: Negotiated;
  readonly audit: readonly CapabilityAudit[];
  readonly device: DeviceHandoff;
  readonly hasWatchdog: boolean;
  /** Whether the supervisor holds a control socket (src/session/control-socket.ts) for the daemons. */
  readonly hasControl: boolean;
  /** The journal's path (./supervisor-journal.ts). */
  readonly journal: string;
  /** How to start this program again. */
  readonly command: {
    readonly execPath: string;
    readonly args: readonly string[];
    /** Where to start it: where this program started, or `/` when that is inside the mount. */
    readonly cwd: string;
    /** Where this program started (relative arguments are relative to it; see handoffCwd()). */
    readonly startupCwd: string;
    readonly env: Readonly<Record<string, string>>;
  };
}

/** The journal of FUSE connection `connection`: next to its control socket, in the private runtime directory. */
export async function journalPath(connection: number): Promise<string> {
  const dir = controlSocketDir();
  await ensurePrivateDir(dir);
  return join(dir, `fuse-${connection}.journal`);
}

/**
 * This daemon's link to its supervisor: its descriptor of the channel (inherited by a successor after a
 * planned handoff, so that the supervisor sees no EOF), and the journal this daemon writes.
 */
export class SupervisorLink {
  readonly journal: RecoveryJournal;
  /** This process's descriptor of the channel. */
  readonly fd: number;
  readonly #socket: Socket;
  #done = false;

  constructor(socket: Socket, journal: RecoveryJournal, onWarning: (message: string) => void) {
    this.#socket = socket;
    this.journal = journal;
    this.fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.#done) return;
      this.#done = true;
      // Nobody would recover from it; a crash now unmounts, through the watchdog, as unsupervised.
      journal.remove();
      onWarning('the supervisor is gone: this daemon serves on, but a crash will now unmount (restart it with supervision to get that back)');
    });
    socket.unref();
  }

  /** Tells the supervisor the restarted daemon reads now. */
  serving(): void {
    this.#send({ kind: 'serving', at: wallClockMs() });
  }

  /** Sends what restarting needs (the first daemon, once). */
  sendState(state: RecoveryState): void {
    this.#send({ kind: 'recovery', state });
  }

  /** The mount is gone: the supervisor exits, releasing its descriptors; the journal is removed. Idempotent. */
  stop(): void {
    if (this.#done) return;
    this.#done = true;
    this.#send({ kind: 'stop' });
    this.#socket.end();
    this.journal.remove();
  }

  /** Handed over to a successor, which has the link (and the journal) now: this process only lets go. Idempotent. */
  detach(): void {
    if (this.#done) return;
    this.#done = true;
    this.journal.close();
    this.#socket.destroy();
  }

  #send(message: { kind: 'serving'; at: number } | { kind: 'recovery'; state: RecoveryState } | { kind: 'stop' }): void {
    if (this.#socket.destroyed) return;
    // The handoff channel's framing (./channel.ts), which the supervisor's script reads.
    const body = serialize(message);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(body.length, 0);
    this.#socket.write(head);
    this.#socket.write(body);
  }
}

/** The inherited link after a planned handoff (the predecessor passed its channel descriptor). */
export function adoptSupervisorLink(fd: number, journalFile: string, onWarning: (message: string) => void): SupervisorLink {
  const { journal } = RecoveryJournal.open(journalFile);
  return new SupervisorLink(new Socket({ fd, readable: true, writable: true }), journal, onWarning);
}

/** Whether this process was started by a supervisor to take a mount back after a crash (and has not yet). */
export function isRecovering(): boolean {
  return process.env[RECOVER_ENV] !== undefined;
}

/** A mount being taken back after a crash. */
export interface Recovery {
  readonly device: MountedDevice;
  readonly negotiated: Negotiated;
  readonly audit: readonly CapabilityAudit[];
  readonly controlFd: number | undefined;
  /** The crashed daemon's journal records, for the filesystem. */
  readonly records: readonly Buffer[];
  readonly link: SupervisorLink;
}

/**
 * Takes the mount back when this process was started by a supervisor (else undefined): the supervisor
 * sends the state it kept; the descriptors are at {@link SUPERVISOR_FDS}. Rejects when `mountpoint` is
 * not the supervised mount; the supervisor then counts a crash.
 */
export async function recoverAfterCrash(mountpoint: string, onWarning: (message: string) => void): Promise<Recovery | undefined> {
  const fdText = process.env[RECOVER_ENV];
  if (fdText === undefined) return undefined;
  // Once per process: a second mount() mounts, and children do not inherit it.
  delete process.env[RECOVER_ENV];
  const cwd = process.env[HANDOFF_CWD_ENV] ?? process.cwd();
  delete process.env[HANDOFF_CWD_ENV];
  delete process.env[HANDOFF_ENV];
  const socket = new Socket({ fd: Number(fdText), readable: true, writable: true });
  const channel = new HandoffChannel(socket);
  const m = await channel.next(RECOVERY_STATE_TIMEOUT_MS, "the supervisor's recovery state");
  if (m.kind !== 'recovery') throw new TsfuseError('ERR_FUSE_SUPERVISE', `the supervisor sent "${m.kind}" where the recovery state was due`);
  const state = m.state as RecoveryState;
  const wanted = await resolveWithoutFollowing(resolve(cwd, mountpoint));
  if (wanted !== state.device.mountpoint) {
    throw new TsfuseError('ERR_FUSE_SUPERVISE', `the restarted daemon mounts ${wanted}, but ${state.device.mountpoint} is supervised`);
  }
  const { journal, records } = RecoveryJournal.open(state.journal);
  const device = adoptDevice(SUPERVISOR_FDS.fuse, state.device, state.hasWatchdog ? SUPERVISOR_FDS.watchdog : -1);
  return {
    device, negotiated: state.negotiated, audit: state.audit, records,
    controlFd: state.hasControl ? SUPERVISOR_FDS.control : undefined,
    link: new SupervisorLink(socket, journal, onWarning),
  };
}

/**
 * Starts the supervisor for `device` (after INIT: `negotiated` is what it agreed) and sends it the
 * state; the journal must be attached to the filesystem already. Resolves with the link.
 */
export async function startSupervision(parts: {
  readonly device: MountedDevice;
  readonly negotiated: Negotiated;
  readonly audit: readonly CapabilityAudit[];
  readonly controlFd: number | undefined;
  readonly journal: RecoveryJournal;
  readonly options: SuperviseOptions;
  readonly onWarning: (message: string) => void;
}): Promise<SupervisorLink> {
  const handoff = parts.device.handoff;
  if (handoff === undefined) throw new TsfuseError('ERR_FUSE_SUPERVISE', 'a mount made by fusermount3 with auto_unmount cannot be supervised');
  const started = await spawnSupervisor({ fuseFd: parts.device.fd, watchdogFd: handoff.watchdogFd, controlFd: parts.controlFd }, parts.options);
  const link = new SupervisorLink(started.channel, parts.journal, parts.onWarning);
  const mountpoint = parts.device.mountpoint;
  const inside = STARTUP_CWD === mountpoint || STARTUP_CWD.startsWith(`${mountpoint}/`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== HANDOFF_ENV && k !== HANDOFF_CWD_ENV && k !== RECOVER_ENV) env[k] = v;
  link.sendState({
    version: 1, mountpoint, negotiated: parts.negotiated, audit: parts.audit, device: handoff,
    hasWatchdog: handoff.watchdogFd >= 0, hasControl: parts.controlFd !== undefined, journal: parts.journal.path,
    command: {
      execPath: process.execPath, args: [...process.execArgv, ...process.argv.slice(1)],
      cwd: inside ? '/' : STARTUP_CWD, startupCwd: STARTUP_CWD, env,
    },
  });
  return link;
}
