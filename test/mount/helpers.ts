// Moved to test/support/mount-helpers.ts; this re-export stays only until no test imports it.
export {
  FUSERMOUNT, HAS_DEVICE, HAS_NODE26, IS_ROOT, MOUNT_CHILD, REPO_ROOT, TEST_USER, childCommand,
  cleanupMountpoints, ensureTestUser, fdTargets, forceUnmount, freshMountpoint, fusermountSkip, isMounted,
  mountinfoLines, processExists, realMountSkip, removeTestUser, run, startMountChild, waitFor, watchdogsOf,
} from '../support/mount-helpers.ts';
export type { ChildReport, MountChild } from '../support/mount-helpers.ts';
import { NODE26 as FOUND_NODE26 } from '../support/mount-helpers.ts';
/** Typed `string` as before ('' when there is none: the callers' tests skip through fusermountSkip()). */
export const NODE26: string = FOUND_NODE26 ?? '';
