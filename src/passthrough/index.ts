/**
 * The passthrough filesystem (`tsfuse passthrough SOURCE MOUNTPOINT`): a mirror of SOURCE, on the
 * low-level API. See passthrough.ts for what it does and where Node limits it.
 */
import { mount, type FuseMount, type MountOptions } from '../session/fuse-mount.ts';
import { parseMountOptions, type MountOptionsInput } from '../mount/options.ts';
import { createPassthrough, type PassthroughOptions, type PassthroughOperations } from './passthrough.ts';

export { createPassthrough, type PassthroughOptions, type PassthroughOperations } from './passthrough.ts';

/**
 * Mount options the passthrough needs when other users can reach the mount: the kernel checks permissions
 * (the daemon, as root, would not). See {@link passthroughMountOptions}.
 */
export const PASSTHROUGH_MOUNT_OPTIONS = 'default_permissions';

/**
 * The mount options to serve the passthrough with: `given`, plus `default_permissions` when `allow_other`
 * or `allow_root` lets users other than the mounting one in. Without them only the mounting user passes
 * the kernel's gate (fs/fuse/dir.c fuse_allow_current_process), and every backing call already runs with
 * that user's own rights (or root's, which default_permissions would grant anyway), so the checks would
 * only cost: with attribute timeouts of 0, a GETATTR of every directory on each path walk
 * (fs/fuse/dir.c fuse_permission), one more request per stat(2) than passthrough_ll makes.
 */
export function passthroughMountOptions(given: MountOptionsInput | undefined): MountOptionsInput {
  const { mount: m } = parseMountOptions(given ?? []);
  if (!m.allowOther && !m.allowRoot) return given ?? [];
  return given === undefined ? PASSTHROUGH_MOUNT_OPTIONS
    : typeof given === 'string' ? (given === '' ? PASSTHROUGH_MOUNT_OPTIONS : `${PASSTHROUGH_MOUNT_OPTIONS},${given}`)
    : Array.isArray(given) ? [PASSTHROUGH_MOUNT_OPTIONS, ...(given as readonly string[])]
    : { ...given, defaultPermissions: true };
}

/**
 * Mounts a passthrough of `source` at `mountpoint`, with `mount.options` as {@link passthroughMountOptions}
 * completes them. The backing descriptors are closed once the mount has gone (however it went).
 */
export async function servePassthrough(
  source: string, mountpoint: string,
  options: { readonly passthrough?: PassthroughOptions; readonly mount?: MountOptions } = {},
): Promise<FuseMount> {
  const ops: PassthroughOperations = createPassthrough(source, options.passthrough);
  let m: FuseMount;
  try {
    m = await mount(mountpoint, ops, { ...options.mount, options: passthroughMountOptions(options.mount?.options) });
  } catch (e) {
    ops.close();
    throw e;
  }
  const close = (): void => ops.close();
  m.closed.then(close, close);
  return m;
}
