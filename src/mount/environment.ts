/**
 * What the mount layer asks of the machine: privilege (with user namespace and container), tool locations,
 * /dev/fuse, /etc/fuse.conf, mountinfo and node:ffi. Gathered in one replaceable object so tests can fake each of them.
 */
import { access, readFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { loadFdPassing } from './ffi.ts';
import type { FdPassing } from './ffi.ts';
import { MOUNTINFO_PATH } from './mountinfo.ts';
import { probeMountPrivilege } from './privilege.ts';
import type { MountPrivilege } from './privilege.ts';

export interface MountEnvironment {
  /** Defaults to `/dev/fuse`. */
  readonly devicePath: string;
  /** Directories searched for mount, umount and fusermount3: `$PATH`, then the usual system directories. */
  readonly searchDirs: readonly string[];
  /** Defaults to `/etc/fuse.conf`. */
  readonly fuseConfPath: string;
  /** Defaults to `/proc/self/mountinfo`. */
  readonly mountinfoPath: string;
  /**
   * Whether mount(2) is allowed directly (CAP_SYS_ADMIN, also as root of a user namespace), whether
   * fusermount3 could mount, and whether we run in a user namespace or a container (privilege.ts).
   */
  readonly privilege: () => Promise<MountPrivilege>;
  /** Loads node:ffi, or throws ERR_FUSE_NEEDS_FFI. */
  readonly loadFdPassing: () => Promise<FdPassing>;
  readonly uid: number;
  readonly gid: number;
}

/** Searched after `$PATH`, because daemons started by init often have a minimal PATH. */
const SYSTEM_DIRS: readonly string[] = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The machine as it is. */
export function defaultEnvironment(): MountEnvironment {
  const pathDirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  return {
    devicePath: '/dev/fuse',
    searchDirs: [...new Set([...pathDirs, ...SYSTEM_DIRS])],
    fuseConfPath: '/etc/fuse.conf',
    mountinfoPath: MOUNTINFO_PATH,
    privilege: () => probeMountPrivilege(),
    loadFdPassing: () => loadFdPassing(),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
  };
}

/** The first executable called `name` in `dirs`, or undefined. */
export async function findExecutable(name: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}

/**
 * Whether /etc/fuse.conf allows ordinary users to use allow_other: a line that is exactly
 * `user_allow_other` after removing comments and surrounding blanks (util/fusermount.c, read_conf).
 */
export async function userAllowOther(fuseConfPath: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(fuseConfPath, 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => line.replace(/#.*/, '').trim() === 'user_allow_other');
}
