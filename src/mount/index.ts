/**
 * The mount layer's public surface: option parsing, mounting, unmounting and stale-mount cleanup.
 * Everything else in src/mount is internal.
 */
export {
  DEFAULT_FSNAME,
  KNOWN_OPTIONS,
  fsTypeOf,
  fusermountOptions,
  kernelMountData,
  mountFlags,
  parseMountOptions,
} from './options.ts';
export type {
  AtimeMode,
  FsOptions,
  KernelMountOptions,
  MountDataIds,
  MountOptionsInput,
  MountOptionsObject,
  ParsedMountOptions,
} from './options.ts';
export { mountDevice } from './mount.ts';
export type { MountDeviceOptions, MountedDevice } from './mount.ts';
export { unmount } from './unmount.ts';
export type { MountMethod, UnmountOptions } from './unmount.ts';
export { cleanStaleMount } from './stale.ts';
