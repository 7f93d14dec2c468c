// Mounting without root on any Node version: an ordinary user in an unprivileged user namespace
// (`unshare --user --map-root-user --mount`, as rootless containers run) holds CAP_SYS_ADMIN over the new
// mount namespace, so `auto` mounts with mount(8), with no fusermount3 and no node:ffi. The test creates its
// own user and makes /dev/fuse 0666 for the duration (test/support/machine.mjs), and gives both back. The
// mounts live in the namespace only, and vanish with it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  NODE_MAJOR, REPO_ROOT, asUserCommand, cleanupMountpoints, ensureTestUser, freshMountpoint, isMounted, mountSkip, removeTestUser,
  run, userEnv, widenDeviceMode, type RunResult, type TestUser,
} from '../support/mount-helpers.ts';

const CHILD = fileURLToPath(new URL('fixtures/userns-child.ts', import.meta.url));
const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p));
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser', '/bin/runuser'].find((p) => existsSync(p));

function sysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Why an ordinary user cannot make a user namespace here, or undefined. */
function usernsSkip(): string | undefined {
  const base = mountSkip();
  if (base !== undefined) return base;
  if (UNSHARE === undefined || RUNUSER === undefined) return 'needs unshare(1) and runuser(1): apt-get install util-linux';
  if (sysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0') {
    return 'unprivileged user namespaces are disabled (/proc/sys/kernel/unprivileged_userns_clone = 0; sysctl -w kernel.unprivileged_userns_clone=1)';
  }
  if (sysctl('/proc/sys/user/max_user_namespaces') === '0') {
    return 'user namespaces are disabled (/proc/sys/user/max_user_namespaces = 0; sysctl -w user.max_user_namespaces=15000)';
  }
  if (sysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return 'AppArmor restricts unprivileged user namespaces (sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)';
  }
  return undefined;
}

const skip = usernsSkip();
let user: TestUser = { name: '', uid: -1, gid: -1, home: '' };
let releaseDevice: (() => void) | undefined;

before(async () => {
  if (skip !== undefined) return;
  user = await ensureTestUser();
  // The namespace's root is an ordinary user to /dev/fuse (owned by the real root): it needs 0666, udev's default.
  releaseDevice = widenDeviceMode(0o666);
});

after(async () => {
  releaseDevice?.();
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
  await removeTestUser();
});

/** Runs `unshare <flags>` as the test user with this Node (tsx below 26) on the child fixture. */
function inNamespace(flags: readonly string[], mountpoint: string): Promise<RunResult> {
  const nodeArgs = NODE_MAJOR < 26 ? ['--import', 'tsx'] : ['--no-warnings'];
  const [cmd, args] = asUserCommand(user, UNSHARE as string, [...flags, '--', process.execPath, ...nodeArgs, CHILD, JSON.stringify({ mountpoint })]);
  return run(cmd, args, { cwd: REPO_ROOT, env: userEnv(user), timeout: 30_000, killSignal: 'SIGKILL' });
}

function lastJson(r: RunResult): Record<string, unknown> {
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`the child printed no JSON (exit ${String(r.code ?? r.signal)}): ${r.out}`);
  }
}

/** A mountpoint the test user owns (it is root in the namespace, but the directory's owner is checked outside it). */
function userMountpoint(): string {
  const dir = freshMountpoint();
  chownSync(dir, user.uid, user.gid);
  return dir;
}

/** Skips at run time when this machine's security policy (seccomp, LSM) forbids what the sysctls allow. */
async function skipIfBlocked(t: { skip: (reason: string) => void }): Promise<boolean> {
  const [cmd, args] = asUserCommand(user, UNSHARE as string, ['--user', '--map-root-user', '--mount', '--', 'true']);
  const probe = await run(cmd, args, { timeout: 10_000 });
  if (probe.code === 0) return false;
  t.skip(`an ordinary user cannot create a user namespace here: ${probe.out.trim()}`);
  return true;
}

test(`an ordinary user in unshare -Urm mounts with 'auto' on Node ${process.versions.node}: mount(8), no fusermount3, no node:ffi`, { skip, timeout: 60_000 }, async (t) => {
  if (await skipIfBlocked(t)) return;
  const dir = userMountpoint();
  const r = await inNamespace(['--user', '--map-root-user', '--mount'], dir);
  const report = lastJson(r);
  assert.equal(report['error'], undefined, JSON.stringify(report));
  assert.equal(r.code, 0, r.out);
  // auto chose the namespace path: mount(8), which an ordinary user outside a namespace cannot use.
  assert.equal(report['method'], 'mount');
  assert.equal(report['node'], process.version, 'the same Node as this runner (below 26: no node:ffi at all)');
  assert.equal(report['euid'], 0, 'root inside the namespace');
  assert.deepEqual(report['uidMap'], ['0', String(user.uid), '1'], 'only the user itself is mapped (to root)');
  const lines = report['mountinfo'] as string[];
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.match(lines[0] as string, / - fuse(\.\S+)? \S+ rw,.*\buser_id=0,group_id=0\b/, 'owned by the namespace root, i.e. the user');
  assert.deepEqual(report['read'], { code: 0, out: 'Hello from FUSE!\n' }, 'cat, another process in the namespace, read the file');
  assert.deepEqual(report['afterUnmount'], [], 'unmounted inside the namespace');
  assert.ok(!isMounted(dir), 'the mount never appears outside the namespace');
});

test('a user namespace without its own mount namespace: the refusal says to create both at once', { skip, timeout: 60_000 }, async (t) => {
  if (await skipIfBlocked(t)) return;
  const dir = userMountpoint();
  // The mount namespace is still the initial one, owned by the initial user namespace: mount(2) says EPERM.
  const report = lastJson(await inNamespace(['--user', '--map-root-user'], dir));
  assert.equal(report['error'], 'ERR_FUSE_MOUNT_FAILED', JSON.stringify(report));
  assert.match(String(report['message']), /permission denied.*mount namespace created with it.*unshare --user --map-root-user --mount/is);
  assert.ok(!isMounted(dir));
});
