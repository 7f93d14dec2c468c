/**
 * The privileged path: open /dev/fuse ourselves and let mount(8) mount it. mount(8) gets the descriptor as
 * its fd 3 and the kernel takes it from there (`fd=3` in the mount data is looked up in mount(8)'s own
 * descriptor table, fs/fuse/inode.c fuse_parse_param).
 *
 * `-i` keeps mount(8) from running a /sbin/mount.fuse* helper; `-c` stops it from canonicalising paths
 * (which stats them); the source goes after `--` so an fsname starting with '-' is not an option.
 */
import { close, open } from 'node:fs';
import { TsfuseError } from '../errors.ts';
import { fsTypeOf, kernelMountData, mountFlags } from './options.ts';
import type { ParsedMountOptions } from './options.ts';
import { describeFailure, runTool } from './run-tool.ts';

export interface RootMountRequest {
  readonly mountTool: string;
  readonly devicePath: string;
  readonly mountpoint: string;
  readonly options: ParsedMountOptions;
  readonly uid: number;
  readonly gid: number;
}

/** The descriptor number mount(8) sees the device under. */
const CHILD_FD = 3;

/** Opens /dev/fuse (Node's open sets O_CLOEXEC, so no later child inherits it by accident). */
export function openDevice(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    open(path, 'r+', (err, fd) => {
      if (err === null) {
        resolve(fd);
      } else {
        reject(new TsfuseError('ERR_FUSE_NO_DEVICE', `cannot open ${path}: ${err.message}`, { cause: err }));
      }
    });
  });
}

/** The mount(8) command line. */
export function mountCommandArgs(request: Omit<RootMountRequest, 'mountTool' | 'devicePath'>): string[] {
  const { mount } = request.options;
  const data = kernelMountData(mount, { fd: CHILD_FD, uid: request.uid, gid: request.gid });
  return ['-i', '-c', '-t', fsTypeOf(mount), '-o', `${mountFlags(mount).join(',')},${data}`, '--', mount.fsname, request.mountpoint];
}

/** Mounts and returns the /dev/fuse descriptor; throws ERR_FUSE_MOUNT_FAILED with mount(8)'s message. */
export async function mountWithMountCommand(request: RootMountRequest): Promise<number> {
  const fd = await openDevice(request.devicePath);
  try {
    const result = await runTool(request.mountTool, mountCommandArgs(request), { fd3: fd });
    if (result.code !== 0) {
      throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', describeFailure(request.mountTool, result));
    }
    return fd;
  } catch (err) {
    close(fd, () => {});
    if (err instanceof TsfuseError) throw err;
    throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', `could not run ${request.mountTool}: ${(err as Error).message}`, { cause: err });
  }
}
