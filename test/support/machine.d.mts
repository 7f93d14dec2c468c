// Types for machine.mjs (plain JavaScript so that scripts/test.mjs can use it without tsx).

/** `pid-starttime` of a process (this one by default); throws if it does not exist. */
export function processIdentity(pid?: number): string;
/** Whether the process named by a {@link processIdentity} still runs (and is not a zombie). */
export function isAlive(identity: string): boolean;

/** Makes /dev/fuse `mode` (defaults to 0o666) until the returned function is called; see machine.mjs. */
export function widenDeviceMode(mode?: number): () => void;

/** /dev/fuse's mode while no live test process holds it widened; undefined while one does, without root or without the device. */
export function unheldDeviceMode(): number | undefined;
/** With no live holder (checked under the lock), puts /dev/fuse back to `before`; returns a message if it had to. */
export function restoreUnheldDeviceMode(before: number | undefined): string | undefined;
/** Sets `path`'s mode back to `before` if it differs; returns a message saying so, or undefined. */
export function putBackMode(path: string, before: number): string | undefined;

/** Name prefix of every user the suite creates. */
export const TEST_USER_PREFIX: string;
/** The user name of process `pid` (defaults to this one). */
export function testUserName(pid?: number): string;
/** This process's unprivileged test user, created on first use (needs root); `home` is its private HOME and TMPDIR. */
export function ensureTestUser(): { name: string; uid: number; gid: number; home: string };
/** Deletes this process's test user, if it made one; throws if userdel fails. */
export function removeTestUser(): void;
/** Deletes the suite's users whose creating process is gone; returns their names. */
export function removeOrphanTestUsers(): string[];
/** Prefix of this process's temporary mountpoints (names the process, for the sweep). */
export function mountpointPrefix(): string;
/** Prefix of this process's other temporary directories (swept like mountpoints). */
export function scratchPrefix(): string;
/** Removes dead test processes' temporary mountpoints and scratch directories (unmounting lazily); returns them. */
export function removeOrphanMountpoints(): string[];
/** Puts back what dead test processes left (users, /dev/fuse's mode); returns what it did. */
export function restoreMachine(): string[];

/** The skip reason when no Node >= 26 is found: what to install. */
export const NODE26_HINT: string;
/** A Node >= 26 binary ($TSFUSE_NODE26, `node` on PATH, .ci/node26), or why there is none. */
export function findNode26(): { path: string; reason?: undefined } | { path?: undefined; reason: string };
