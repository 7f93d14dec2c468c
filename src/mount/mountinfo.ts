/**
 * Reading /proc/self/mountinfo (proc(5)). Reading it never talks to a FUSE daemon (the kernel prints FUSE
 * options from its own state in fuse_show_options), so it is safe even for hung or dead mounts, unlike
 * stat() on the mountpoint.
 */
import { readFile } from 'node:fs/promises';

export const MOUNTINFO_PATH = '/proc/self/mountinfo';

/** One line of mountinfo. */
export interface MountInfoEntry {
  /** Unique id of the mount (may be reused after unmount). */
  readonly mountId: number;
  readonly parentId: number;
  /** `major:minor` of the filesystem; for FUSE the minor is the connection number in /sys/fs/fuse/connections. */
  readonly device: string;
  readonly root: string;
  readonly mountpoint: string;
  /** Per-mount options, e.g. `['rw', 'nosuid', 'nodev', 'relatime']`. */
  readonly mountOptions: readonly string[];
  readonly fsType: string;
  readonly source: string;
  /** Per-superblock options, e.g. `['rw', 'user_id=0', 'group_id=0', 'allow_other']`. */
  readonly superOptions: readonly string[];
}

/** The kernel escapes space, tab, newline and backslash as `\ooo` (fs/proc_namespace.c, mangle()). */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-3][0-7][0-7])/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Parses the whole text of a mountinfo file; malformed lines are skipped. */
export function parseMountinfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep === -1 || fields.length < sep + 4) continue;
    const [id, parent, device, root, mountpoint, options] = fields;
    entries.push({
      mountId: Number(id),
      parentId: Number(parent),
      device: device ?? '',
      root: unescapeMountinfo(root ?? ''),
      mountpoint: unescapeMountinfo(mountpoint ?? ''),
      mountOptions: (options ?? '').split(','),
      fsType: unescapeMountinfo(fields[sep + 1] ?? ''),
      source: unescapeMountinfo(fields[sep + 2] ?? ''),
      superOptions: (fields[sep + 3] ?? '').split(','),
    });
  }
  return entries;
}

/** Reads and parses mountinfo. */
export async function readMountinfo(path: string = MOUNTINFO_PATH): Promise<MountInfoEntry[]> {
  return parseMountinfo(await readFile(path, 'utf8'));
}

/** Whether a filesystem type is FUSE: `fuse`, `fuseblk`, or either with a `.subtype`. */
export function isFuseType(fsType: string): boolean {
  return /^fuse(?:blk)?(?:\.|$)/.test(fsType);
}

/** The mounts at exactly this (canonical) path, bottom first; the last one is what the path shows. */
export function mountsAt(entries: readonly MountInfoEntry[], mountpoint: string): MountInfoEntry[] {
  return entries.filter((e) => e.mountpoint === mountpoint);
}
