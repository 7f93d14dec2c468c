/**
 * The passthrough filesystem (`tsfuse passthrough SOURCE MOUNTPOINT`): a mirror of SOURCE, on the
 * low-level API. See passthrough.ts for what it does and where Node limits it.
 */
import { mount, type FuseMount, type MountOptions } from '../session/fuse-mount.ts';
import type { MountOptionsInput } from '../mount/options.ts';
import { createPassthrough, type PassthroughOptions, type PassthroughOperations } from './passthrough.ts';

export { createPassthrough, type PassthroughOptions, type PassthroughOperations } from './passthrough.ts';

/** Mount options the passthrough needs: the kernel checks permissions (the daemon, as root, would not). */
export const PASSTHROUGH_MOUNT_OPTIONS = 'default_permissions';

/**
 * Mounts a passthrough of `source` at `mountpoint`, with `default_permissions` added to `mount.options`.
 * The backing descriptors are closed once the mount has gone (however it went).
 */
export async function servePassthrough(
  source: string, mountpoint: string,
  options: { readonly passthrough?: PassthroughOptions; readonly mount?: MountOptions } = {},
): Promise<FuseMount> {
  const ops: PassthroughOperations = createPassthrough(source, options.passthrough);
  const given = options.mount?.options;
  const mountOptions: MountOptionsInput = given === undefined ? PASSTHROUGH_MOUNT_OPTIONS
    : typeof given === 'string' ? (given === '' ? PASSTHROUGH_MOUNT_OPTIONS : `${PASSTHROUGH_MOUNT_OPTIONS},${given}`)
    : Array.isArray(given) ? [PASSTHROUGH_MOUNT_OPTIONS, ...(given as readonly string[])]
    : { ...given, defaultPermissions: true };
  let m: FuseMount;
  try {
    m = await mount(mountpoint, ops, { ...options.mount, options: mountOptions });
  } catch (e) {
    ops.close();
    throw e;
  }
  const close = (): void => ops.close();
  m.closed.then(close, close);
  return m;
}
