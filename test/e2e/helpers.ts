// Moved to test/support/mount-helpers.ts; this re-export stays only until no test imports it.
export {
  E2E_FIXTURES as FIXTURES, FUSERMOUNT, MOUNT_PREFIX, NODE26, REPO_ROOT, TEST_USER, ensureTestUser, forceUnmount,
  freshMountpoint, fusermountSkip, isFuseMount, leftoverMounts, mountSkip, mountTypeAt, py, pyJson, rejectAfter,
  removeTestUser, run, safeUnmount, startDaemon, stopDaemon, waitFor, withDeviceMode,
} from '../support/mount-helpers.ts';
export type { Daemon, RunResult } from '../support/mount-helpers.ts';
