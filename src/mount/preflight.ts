/**
 * Everything checked before mounting, so that a mount fails with a precise error and a way out rather than
 * with mount(8)'s or fusermount3's terse message (or not at all, leaving a half-made mount behind).
 *
 * Deliberately not checked: whether the mountpoint is empty. fusermount3 3.x mounts over a non-empty
 * directory without complaint (it skips `nonempty`, util/fusermount.c do_mount), and so does mount(2).
 */
import { open, stat } from 'node:fs/promises';
import { TsfuseError } from '../errors.ts';
import type { MountEnvironment } from './environment.ts';
import { userAllowOther } from './environment.ts';
import type { FdPassing } from './ffi.ts';
import type { ParsedMountOptions } from './options.ts';
import { helperCanMount, missingDeviceFix, mountMethodRefusal, notPermittedMessage, unopenableDeviceFix } from './privilege.ts';
import type { MountPrivilege } from './privilege.ts';
import { canonicalMountpoint, mountedError, mountpointError, probeStat, topFuseMount } from './stale.ts';
import { findMountTool, unmountWith } from './unmount.ts';
import type { MountMethod } from './unmount.ts';

export interface PreflightRequest {
  readonly mountpoint: string;
  readonly options: ParsedMountOptions;
  /**
   * `'auto'` picks mount(8) with CAP_SYS_ADMIN (root, or root of a user namespace), fusermount3 otherwise.
   */
  readonly method: 'auto' | MountMethod;
  /** Lazily unmount a stale FUSE mount found at the mountpoint instead of failing. */
  readonly cleanStale: boolean;
}

/** What the mount step needs, all checked. */
export interface PreflightResult {
  /** Absolute and symlink-free: the path mountinfo will show. */
  readonly mountpoint: string;
  readonly method: MountMethod;
  /** What the method was chosen from; also words the hints of a failed mount. */
  readonly privilege: MountPrivilege;
  /** mount(8) or fusermount3. */
  readonly mountTool: string;
  /** umount(8) or fusermount3. */
  readonly unmountTool: string;
  /** Present for the fusermount3 method. */
  readonly fdPassing: FdPassing | undefined;
}

/** Runs every check, in the order a user would fix them. */
export async function preflight(request: PreflightRequest, env: MountEnvironment): Promise<PreflightResult> {
  const privilege = await env.privilege();
  const privileged = privilege.capSysAdmin;
  const method = request.method === 'auto' ? (privileged ? 'mount' : 'fusermount3') : request.method;
  if (method === 'mount' && !privileged) throw new TsfuseError('ERR_INVALID_ARG_VALUE', mountMethodRefusal(privilege));
  const mountpoint = await checkMountpoint(request, env);
  await checkDevice(env, privilege);
  if (!privileged && !helperCanMount(privilege)) throw new TsfuseError('ERR_FUSE_NOT_PERMITTED', notPermittedMessage(privilege));
  if (method === 'mount') {
    return {
      mountpoint, method, privilege, fdPassing: undefined,
      mountTool: await findMountTool(env, 'mount'),
      unmountTool: await findMountTool(env, 'umount'),
    };
  }
  const fusermount = await findMountTool(env, 'fusermount3');
  if (!privileged) await checkUnprivilegedOptions(request.options, env);
  const fdPassing = await env.loadFdPassing();
  return { mountpoint, method, privilege, fdPassing, mountTool: fusermount, unmountTool: fusermount };
}

async function checkMountpoint(request: PreflightRequest, env: MountEnvironment): Promise<string> {
  const path = await canonicalMountpoint(request.mountpoint);
  for (let round = 0; round < 16; round++) {
    const entry = await topFuseMount(env, path);
    if (entry === undefined) break;
    const probe = await probeStat(path);
    if (probe !== 'ENOTCONN' || !request.cleanStale) throw mountedError(path, entry, probe);
    await unmountWith(env, path, { lazy: true });
  }
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw mountpointError(path, (err as NodeJS.ErrnoException).code, err);
  }
  if (!info.isDirectory()) throw new TsfuseError('ERR_FUSE_MOUNTPOINT', `mountpoint ${path} is not a directory`);
  return path;
}

async function checkDevice(env: MountEnvironment, privilege: MountPrivilege): Promise<void> {
  const device = env.devicePath;
  let info;
  try {
    info = await stat(device);
  } catch (cause) {
    throw new TsfuseError('ERR_FUSE_NO_DEVICE', `${device} does not exist: ${missingDeviceFix(privilege)}`, { cause });
  }
  if (!info.isCharacterDevice()) {
    throw new TsfuseError('ERR_FUSE_NO_DEVICE', `${device} is not a character device (FUSE is 10:229)`);
  }
  // fusermount3 opens the device with the caller's fsuid (util/fusermount.c, try_open_fuse_device), so the
  // caller must be able to open it on every path.
  try {
    await (await open(device, 'r+')).close();
  } catch (cause) {
    const fix = unopenableDeviceFix(privilege, device, info.mode, (cause as NodeJS.ErrnoException).code);
    throw new TsfuseError('ERR_FUSE_NO_DEVICE', `${device} cannot be opened for reading and writing: ${fix}`, { cause });
  }
}

async function checkUnprivilegedOptions(options: ParsedMountOptions, env: MountEnvironment): Promise<void> {
  const { mount } = options;
  for (const [given, name] of [[!mount.nosuid, 'suid'], [!mount.nodev, 'dev']] as const) {
    if (given) {
      throw new TsfuseError(
        'ERR_FUSE_INVALID_OPTION',
        `option '${name}' needs root: fusermount3 ignores it for ordinary users ("unsafe option ${name} ignored")`,
      );
    }
  }
  if ((mount.allowOther || mount.allowRoot) && !(await userAllowOther(env.fuseConfPath))) {
    const name = mount.allowOther ? 'allow_other' : 'allow_root';
    throw new TsfuseError(
      'ERR_FUSE_ALLOW_OTHER',
      `option '${name}' needs a line 'user_allow_other' in ${env.fuseConfPath} when not mounting as root ` +
      `(fusermount3 refuses it otherwise); add that line as root, or mount as root`,
    );
  }
}
