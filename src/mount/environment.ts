/**
 * What the mount layer asks of the machine: privilege, tool locations, /dev/fuse, /etc/fuse.conf,
 * mountinfo and node:ffi. Gathered in one replaceable object so tests can fake each of them.
 */
import { access, readFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { loadFdPassing } from './ffi.ts';
import type { FdPassing } from './ffi.ts';
import { MOUNTINFO_PATH } from './mountinfo.ts';

export interface MountEnvironment {
  /** Defaults to `/dev/fuse`. */
  readonly devicePath: string;
  /** Directories searched for mount, umount and fusermount3: `$PATH`, then the usual system directories. */
  readonly searchDirs: readonly string[];
  /** Defaults to `/etc/fuse.conf`. */
  readonly fuseConfPath: string;
  /** Defaults to `/proc/self/mountinfo`. */
  readonly mountinfoPath: string;
  /** Whether mount(2) is allowed directly: euid 0 or CAP_SYS_ADMIN. */
  readonly isPrivileged: () => Promise<boolean>;
  /** Loads node:ffi, or throws ERR_FUSE_NEEDS_FFI. */
  readonly loadFdPassing: () => Promise<FdPassing>;
  readonly uid: number;
  readonly gid: number;
}

/** Searched after `$PATH`, because daemons started by init often have a minimal PATH. */
const SYSTEM_DIRS: readonly string[] = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** CAP_SYS_ADMIN, the capability mount(2) checks (include/uapi/linux/capability.h). */
const CAP_SYS_ADMIN = 21n;

/** euid 0, or CAP_SYS_ADMIN in the effective set (the CapEff line of /proc/self/status). */
export async function isPrivileged(statusPath = '/proc/self/status'): Promise<boolean> {
  if (process.geteuid?.() === 0) return true;
  try {
    const status = await readFile(statusPath, 'utf8');
    const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return capEff !== undefined && ((BigInt(`0x${capEff}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** The machine as it is. */
export function defaultEnvironment(): MountEnvironment {
  const pathDirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  return {
    devicePath: '/dev/fuse',
    searchDirs: [...new Set([...pathDirs, ...SYSTEM_DIRS])],
    fuseConfPath: '/etc/fuse.conf',
    mountinfoPath: MOUNTINFO_PATH,
    isPrivileged: () => isPrivileged(),
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
