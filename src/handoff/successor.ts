/**
 * A planned handoff, seen from the successor: a process started by ./predecessor.ts with
 * `TSFUSE_HANDOFF` in its environment. Its `mount()` call takes the mount over instead of mounting: it
 * says it has started, receives the state once the predecessor has stopped reading and answered what it
 * read, and (in fuse-mount.ts) imports the filesystem's state and starts a session that is initialized
 * already, with what the kernel and the predecessor agreed at INIT (the kernel sends INIT once per
 * connection). So the program needs no code of its own for it: starting as usual is taking over.
 */
import { openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { TsfuseError } from '../errors.ts';
import { adoptDevice, type DeviceHandoff, type MountedDevice } from '../mount/mount.ts';
import { resolveWithoutFollowing } from '../mount/unmount.ts';
import { REPLY_CHANNEL } from '../session/core.ts';
import type { Negotiated } from '../protocol/negotiated.ts';
import type { CapabilityAudit } from '../protocol/init.ts';
import { HandoffChannel, wallClockMs, type HandoffState } from './channel.ts';
import { HANDOFF_CWD_ENV, HANDOFF_ENV } from './predecessor.ts';
import { RECOVER_ENV } from './supervisor.ts';
import type { HandoffImportContext } from './types.ts';

/** How long the predecessor may take to stop, drain and export. */
const STATE_TIMEOUT_MS = 60_000;
/** How long the successor watches for its first reply, to report the gap. */
const FIRST_REPLY_WATCH_MS = 2000;

/** open(2) flags that only mean something when a file is created, or that would stop at the magic link. */
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_NOCTTY = 0o400;
const O_TRUNC = 0o1000;
const O_NOFOLLOW = 0o400000;
const REOPEN_STRIP = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_NOFOLLOW;

/** The working directory the predecessor started in (for relative arguments), when this is a successor. */
export function handoffCwd(): string | undefined {
  return process.env[HANDOFF_CWD_ENV];
}

/**
 * Whether this process was started to take a mount over (and has not done so yet): by a planned
 * handoff, or by a supervisor after a crash (./supervisor.ts).
 */
export function isSuccessor(): boolean {
  return process.env[HANDOFF_ENV] !== undefined || process.env[RECOVER_ENV] !== undefined;
}

/** A mount being taken over: what the predecessor sent, and the replies still due to it. */
export interface Succession {
  readonly device: MountedDevice;
  readonly negotiated: Negotiated;
  readonly audit: readonly CapabilityAudit[];
  /** The filesystem's exported state. */
  readonly fsState: unknown;
  readonly importContext: HandoffImportContext;
  /** The inherited control socket, or undefined. */
  readonly controlFd: number | undefined;
  /** A supervised mount: the inherited channel to the supervisor and the journal's path; else undefined. */
  readonly supervisor: { readonly fd: number; readonly journal: string } | undefined;
  /** Reading starts now: tells the predecessor, which lets go, and reports the first reply's time. */
  serving(): void;
  /** The takeover failed: the predecessor reads again. */
  failed(e: unknown): void;
}

/**
 * Takes the handoff this process was started for: undefined when it was not started as a successor.
 * Rejects (after telling the predecessor, which then serves on) when `mountpoint` is not the mount being
 * handed over or the state does not come.
 */
export async function takeOver(mountpoint: string): Promise<Succession | undefined> {
  const fdText = process.env[HANDOFF_ENV];
  if (fdText === undefined) return undefined;
  // Once per process: a second mount() mounts, and children (the next successor too) do not inherit it.
  delete process.env[HANDOFF_ENV];
  const cwd = process.env[HANDOFF_CWD_ENV] ?? process.cwd();
  delete process.env[HANDOFF_CWD_ENV];
  const channel = HandoffChannel.fromFd(Number(fdText));
  channel.send({ kind: 'booted', pid: process.pid });
  const fail = (e: unknown): void => {
    try { channel.send({ kind: 'failed', message: (e as Error)?.message ?? String(e) }); } catch { /* the predecessor is gone */ }
    channel.unref();
  };
  let state: HandoffState;
  try {
    const m = await channel.next(STATE_TIMEOUT_MS, 'the handoff state');
    if (m.kind !== 'state') throw new TsfuseError('ERR_FUSE_HANDOFF', `the predecessor sent "${m.kind}" where the state was due`);
    state = m.state;
    const device = state.device as DeviceHandoff;
    const wanted = await resolveWithoutFollowing(resolve(cwd, mountpoint));
    if (wanted !== device.mountpoint) {
      throw new TsfuseError('ERR_FUSE_HANDOFF', `the successor mounts ${wanted}, but ${device.mountpoint} is being handed over`);
    }
  } catch (e) {
    fail(e);
    throw e;
  }
  const device = adoptDevice(state.fds.fuse, state.device as DeviceHandoff, state.fds.watchdog);
  const importContext: HandoffImportContext = { fd: (token) => reopen(state.pid, state.passed, token) };
  return {
    device,
    negotiated: state.negotiated as Negotiated,
    audit: state.audit as readonly CapabilityAudit[],
    fsState: state.fs,
    importContext,
    controlFd: state.fds.control >= 0 ? state.fds.control : undefined,
    supervisor: state.supervisor,
    serving: () => {
      channel.send({ kind: 'serving', at: wallClockMs() });
      watchFirstReply(channel);
    },
    failed: fail,
  };
}

/** Sends the time of this process's first reply (the predecessor computes the gap), then closes the channel. */
function watchFirstReply(channel: HandoffChannel): void {
  let done = false;
  const finish = (at: number | undefined): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    // Unsubscribing inside the publish is allowed, but keep the publisher's loop undisturbed.
    queueMicrotask(() => unsubscribe(REPLY_CHANNEL, onReply));
    if (at !== undefined) { try { channel.send({ kind: 'first-reply', at }); } catch { /* gone */ } }
    channel.unref();
  };
  const onReply = (): void => finish(wallClockMs());
  const timer = setTimeout(() => finish(undefined), FIRST_REPLY_WATCH_MS);
  timer.unref();
  subscribe(REPLY_CHANNEL, onReply);
}

/**
 * The predecessor's descriptor `passed[token]`, opened again through /proc/PID/fd: the same inode (the
 * magic link leads to it even when it is unlinked, or a symlink opened with O_PATH), with the flags it
 * was opened with (/proc/PID/fdinfo), close-on-exec. The predecessor is alive until this process reads.
 */
function reopen(pid: number, passed: readonly number[], token: number): number {
  const fd = passed[token];
  if (fd === undefined) throw new TsfuseError('ERR_FUSE_HANDOFF', `no descriptor was passed as token ${token}`);
  const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1');
  const flags = /^flags:\s*([0-7]+)/m.exec(info);
  if (flags === null) throw new TsfuseError('ERR_FUSE_HANDOFF', `/proc/${pid}/fdinfo/${fd} shows no flags`);
  return openSync(`/proc/${pid}/fd/${fd}`, Number.parseInt(flags[1]!, 8) & ~REOPEN_STRIP);
}
