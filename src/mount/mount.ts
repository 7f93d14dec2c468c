/**
 * `mountDevice`: preflight, watchdog, mount, identify the new mount, and hand back the /dev/fuse descriptor
 * with a way to unmount. The session layer serves the descriptor; this file only gets it mounted.
 */
import { close } from 'node:fs';
import { TsfuseError } from '../errors.ts';
import { defaultEnvironment } from './environment.ts';
import type { MountEnvironment } from './environment.ts';
import { mountWithFusermount } from './mount-fusermount.ts';
import type { FusermountMount } from './mount-fusermount.ts';
import { mountWithMountCommand } from './mount-root.ts';
import { isFuseType, mountsAt, readMountinfo } from './mountinfo.ts';
import type { MountInfoEntry } from './mountinfo.ts';
import { fsTypeOf, parseMountOptions } from './options.ts';
import type { MountOptionsInput, ParsedMountOptions } from './options.ts';
import { preflight } from './preflight.ts';
import type { PreflightResult } from './preflight.ts';
import { mountRefusedHint } from './privilege.ts';
import { keepUnmountSpares, runUnmount, unmountCommand } from './unmount.ts';
import type { MountMethod, UnmountOptions } from './unmount.ts';
import { NO_WATCHDOG, adoptWatchdog, startWatchdog } from './watchdog.ts';
import type { Watchdog } from './watchdog.ts';

export interface MountDeviceOptions {
  /** Options in libfuse's `-o` syntax, or already parsed by `parseMountOptions`. Defaults to none. */
  readonly options?: MountOptionsInput | ParsedMountOptions | undefined;
  /**
   * `'mount'` runs mount(8) and needs CAP_SYS_ADMIN: root, or root of a user namespace that owns its mount
   * namespace (`unshare --user --map-root-user --mount`, as rootless containers run), on any Node version.
   * `'fusermount3'` runs the setuid helper as an ordinary user (needs Node >= 26 for node:ffi).
   * Defaults to `'auto'`: `'mount'` with CAP_SYS_ADMIN in effect (so also inside such a user namespace),
   * `'fusermount3'` otherwise. A mount inside a user namespace reports `'mount'`, since it is made and
   * unmounted the same way; it is visible only in that mount namespace.
   */
  readonly method?: 'auto' | MountMethod | undefined;
  /** Lazily unmount a stale FUSE mount (dead daemon) found at the mountpoint first. Defaults to false. */
  readonly cleanStale?: boolean | undefined;
  /**
   * Start the watchdog, a small `/bin/sh` process that unmounts lazily if this process dies without
   * unmounting (even by SIGKILL). With false, a killed daemon leaves a stale mount behind ("Transport
   * endpoint is not connected") until someone unmounts it. Defaults to true.
   */
  readonly watchdog?: boolean | undefined;
}

/** A mounted FUSE device. */
export interface MountedDevice {
  /** The /dev/fuse descriptor (close-on-exec). Owned by the caller: unmounting does not close it. */
  readonly fd: number;
  /** Absolute and symlink-free, as in /proc/self/mountinfo. */
  readonly mountpoint: string;
  /** How it was mounted, and so is unmounted: `'mount'` (also as root of a user namespace) or `'fusermount3'`. */
  readonly method: MountMethod;
  readonly options: ParsedMountOptions;
  /** The FUSE connection number: the minor device number, and the name under /sys/fs/fuse/connections. */
  readonly connection: number;
  /** The mount id in /proc/self/mountinfo. */
  readonly mountId: number;
  /**
   * Unmounts and stops the watchdog. Idempotent: later calls return the first call's promise. On failure
   * (ERR_FUSE_UNMOUNT_FAILED, e.g. busy) the mount and its watchdog stay, and it may be called again.
   */
  unmount(options?: UnmountOptions): Promise<void>;
  /**
   * Unmounts, lazily if the mount is busy, so the mountpoint is always released; resolves once it is.
   * The descriptor stays open (the caller owns it). Idempotent: later calls return the same promise, and
   * after a failure (both attempts failed) it may be called again. Same behaviour as `FuseMount.close()`.
   */
  close(): Promise<void>;
  /** Awaits {@link close}; for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /**
   * What a process taking this mount over needs besides the descriptors (src/handoff). Absent: it cannot
   * be handed over (fusermount3's auto_unmount ties the mount to a socket of this process).
   */
  readonly handoff?: DeviceHandoff | undefined;
}

/** A mount as another process takes it over (src/handoff): plain data, with the watchdog's pipe named. */
export interface DeviceHandoff {
  readonly mountpoint: string;
  readonly method: MountMethod;
  readonly options: ParsedMountOptions;
  readonly mountId: number;
  /** `major:minor`, as mountinfo shows it. */
  readonly device: string;
  readonly unmountTool: string;
  readonly mountinfoPath: string;
  readonly watchdogPid: number;
  /** The write end of the watchdog's pipe in the handing process; -1 without a watchdog. */
  readonly watchdogFd: number;
}

/** The mount `handoff` describes, served through the inherited descriptors `fd` and `watchdogFd`. */
export function adoptDevice(fd: number, handoff: DeviceHandoff, watchdogFd: number): MountedDevice {
  const checked = { mountpoint: handoff.mountpoint, method: handoff.method, unmountTool: handoff.unmountTool, fdPassing: undefined };
  const entry = { mountId: handoff.mountId, device: handoff.device };
  return new Mounted(fd, checked, handoff.options, entry, adoptWatchdog(handoff.watchdogPid, watchdogFd), undefined, handoff.mountinfoPath);
}

function isParsed(value: MountDeviceOptions['options']): value is ParsedMountOptions {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'mount' in value && 'fs' in value;
}

/**
 * Mounts a FUSE filesystem at `mountpoint` and returns the /dev/fuse descriptor to serve it on.
 * Everything that can be checked beforehand is (see preflight.ts), with an ERR_FUSE_* code per problem.
 */
export async function mountDevice(mountpoint: string, options: MountDeviceOptions = {}): Promise<MountedDevice> {
  return mountDeviceWith(defaultEnvironment(), mountpoint, options);
}

/** {@link mountDevice} against a given environment. */
export async function mountDeviceWith(
  env: MountEnvironment,
  mountpoint: string,
  options: MountDeviceOptions = {},
): Promise<MountedDevice> {
  const parsed = isParsed(options.options) ? options.options : parseMountOptions(options.options);
  const checked = await preflight(
    { mountpoint, options: parsed, method: options.method ?? 'auto', cleanStale: options.cleanStale === true },
    env,
  );
  const fsType = fsTypeOf(parsed.mount);
  const before = mountsAt(await readMountinfo(env.mountinfoPath), checked.mountpoint);
  const knownMountIds = before.map((e) => e.mountId);
  const lazyUnmount = unmountCommand(checked.method, checked.unmountTool, checked.mountpoint, true);
  let watchdog: Watchdog;
  try {
    watchdog = options.watchdog === false ? NO_WATCHDOG
      : await startWatchdog({ mountpoint: checked.mountpoint, fsType, uid: env.uid, knownMountIds, unmount: lazyUnmount });
  } catch (cause) {
    throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', `could not start the unmount watchdog: ${(cause as Error).message}`, { cause });
  }

  let fd: number;
  let fusermount: FusermountMount | undefined;
  try {
    if (checked.method === 'mount') {
      fd = await mountWithMountCommand({
        mountTool: checked.mountTool, devicePath: env.devicePath, mountpoint: checked.mountpoint,
        options: parsed, uid: env.uid, gid: env.gid,
      });
    } else {
      fusermount = await mountWithFusermount({
        fusermount: checked.mountTool, mountpoint: checked.mountpoint, options: parsed,
        fdPassing: checked.fdPassing as NonNullable<PreflightResult['fdPassing']>,
      });
      fd = fusermount.fd;
    }
  } catch (err) {
    // A tool can fail after mounting (or be killed by our timeout); never leave that mount behind.
    const leftover = await newMount(env, checked.mountpoint, fsType, knownMountIds);
    if (leftover !== undefined) await runUnmount(lazyUnmount).catch(() => {});
    watchdog.disarm();
    throw withRefusalHint(err, checked);
  }

  const entry = await newMount(env, checked.mountpoint, fsType, knownMountIds);
  if (entry === undefined) {
    close(fd, () => {});
    if (fusermount?.autoUnmount !== undefined) checked.fdPassing?.close(fusermount.autoUnmount.socket);
    watchdog.disarm();
    throw new TsfuseError(
      'ERR_FUSE_MOUNT_FAILED',
      `${checked.mountTool} reported success, but no ${fsType} mount appeared at ${checked.mountpoint}`,
    );
  }
  watchdog.arm(entry.mountId, entry.device);
  return new Mounted(fd, checked, parsed, entry, watchdog, fusermount, env.mountinfoPath);
}

/** mount(8)'s refusal despite CAP_SYS_ADMIN, with what usually causes it where we run (privilege.ts). */
function withRefusalHint(err: unknown, checked: PreflightResult): unknown {
  if (checked.method !== 'mount' || !(err instanceof TsfuseError) || err.code !== 'ERR_FUSE_MOUNT_FAILED') return err;
  const hint = mountRefusedHint(checked.privilege, err.message);
  return hint === undefined ? err : new TsfuseError(err.code, `${err.message} ${hint}`, { cause: err });
}

/** The FUSE mount of our type now on top of the mountpoint that was not there before, if any. */
async function newMount(
  env: MountEnvironment,
  mountpoint: string,
  fsType: string,
  knownMountIds: readonly number[],
): Promise<MountInfoEntry | undefined> {
  const top = mountsAt(await readMountinfo(env.mountinfoPath), mountpoint).at(-1);
  if (top === undefined || knownMountIds.includes(top.mountId)) return undefined;
  return top.fsType === fsType && isFuseType(top.fsType) ? top : undefined;
}

class Mounted implements MountedDevice {
  readonly fd: number;
  readonly mountpoint: string;
  readonly method: MountMethod;
  readonly options: ParsedMountOptions;
  readonly connection: number;
  readonly mountId: number;
  readonly #checked: Pick<PreflightResult, 'mountpoint' | 'method' | 'unmountTool' | 'fdPassing'>;
  readonly #device: string;
  readonly #watchdog: Watchdog;
  readonly #fusermount: FusermountMount | undefined;
  readonly #mountinfoPath: string;
  #unmounting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    fd: number,
    checked: Pick<PreflightResult, 'mountpoint' | 'method' | 'unmountTool' | 'fdPassing'>,
    options: ParsedMountOptions,
    entry: Pick<MountInfoEntry, 'mountId' | 'device'>,
    watchdog: Watchdog,
    fusermount: FusermountMount | undefined,
    mountinfoPath: string,
  ) {
    this.fd = fd;
    this.mountpoint = checked.mountpoint;
    this.method = checked.method;
    this.options = options;
    this.connection = Number(entry.device.split(':')[1]);
    this.mountId = entry.mountId;
    this.#device = entry.device;
    this.#checked = checked;
    this.#watchdog = watchdog;
    this.#fusermount = fusermount;
    this.#mountinfoPath = mountinfoPath;
    keepUnmountSpares();
  }

  get handoff(): DeviceHandoff | undefined {
    if (this.#fusermount?.autoUnmount !== undefined) return undefined;
    return {
      mountpoint: this.mountpoint, method: this.method, options: this.options, mountId: this.mountId, device: this.#device,
      unmountTool: this.#checked.unmountTool, mountinfoPath: this.#mountinfoPath,
      watchdogPid: this.#watchdog.pid, watchdogFd: this.#watchdog.pipeFd,
    };
  }

  unmount(options: UnmountOptions = {}): Promise<void> {
    this.#unmounting ??= this.#unmount(options.lazy === true).catch((err: unknown) => {
      this.#unmounting = undefined; // still mounted: allow another try
      throw err;
    });
    return this.#unmounting;
  }

  close(): Promise<void> {
    this.#closing ??= this.unmount().catch(() => this.unmount({ lazy: true })).catch((err: unknown) => {
      this.#closing = undefined;
      throw err;
    });
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #unmount(lazy: boolean): Promise<void> {
    const { method, unmountTool, mountpoint } = this.#checked;
    try {
      await runUnmount(unmountCommand(method, unmountTool, mountpoint, lazy));
    } catch (err) {
      // Already gone (unmounted by someone else) counts as done. The kernel reuses a freed mount id at
      // once (fs/namespace.c mnt_alloc_id), possibly for another mount elsewhere: match the mountpoint too.
      const entries = await readMountinfo(this.#mountinfoPath).catch(() => undefined);
      if (entries === undefined || entries.some((e) => e.mountId === this.mountId && e.mountpoint === mountpoint)) throw err;
    }
    this.#watchdog.disarm();
    const auto = this.#fusermount?.autoUnmount;
    if (auto !== undefined) this.#checked.fdPassing?.close(auto.socket);
  }
}
