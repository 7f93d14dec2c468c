// How many of this process's descriptors point where a test cares about (their /proc/self/fd link
// targets): leaks of backing files, cloned /dev/fuse queues.
import { readdirSync, readlinkSync } from 'node:fs';

/** Descriptors open in this process whose /proc/self/fd target passes `match` (one closed meanwhile is skipped). */
export function openDescriptors(match: (target: string) => boolean): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return match(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      return false;
    }
  }).length;
}
