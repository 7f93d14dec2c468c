import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { checkAccess, callerGroups, F_OK, R_OK, W_OK, X_OK, type Caller } from '../../src/ops/permissions.ts';
import { S_IFDIR, S_IFREG } from '../../src/ops/file-mode.ts';

const alice: Caller = { uid: 1000, gid: 1000 };
const bob: Caller = { uid: 1001, gid: 1001 };
const bobInStaff: Caller = { uid: 1001, gid: 1001, groups: [1001, 50] };
const root: Caller = { uid: 0, gid: 0 };
const RW = R_OK | W_OK;
const RWX = R_OK | W_OK | X_OK;

// [what, mode, file uid, file gid, caller, mask, expected]
const cases: [string, number, number, number, Caller, number, boolean][] = [
  ['owner reads a 0600 file', S_IFREG | 0o600, 1000, 1000, alice, R_OK, true],
  ['owner writes a 0600 file', S_IFREG | 0o600, 1000, 1000, alice, W_OK, true],
  ['owner cannot execute a 0600 file', S_IFREG | 0o600, 1000, 1000, alice, X_OK, false],
  ['other cannot read a 0600 file', S_IFREG | 0o600, 1000, 1000, bob, R_OK, false],
  ['F_OK is always granted', S_IFREG | 0o000, 1000, 1000, bob, F_OK, true],
  ['other reads a 0644 file', S_IFREG | 0o644, 1000, 1000, bob, R_OK, true],
  ['other cannot write a 0644 file', S_IFREG | 0o644, 1000, 1000, bob, W_OK, false],
  ['R|W needs both bits', S_IFREG | 0o644, 1000, 1000, alice, RW, true],
  ['R|W refused when one bit is missing', S_IFREG | 0o444, 1000, 1000, alice, RW, false],
  ['owner class is exclusive: 0077 refuses the owner', S_IFREG | 0o077, 1000, 1000, alice, R_OK, false],
  ['group class is exclusive: 0707 refuses a group member', S_IFREG | 0o707, 1000, 1001, bob, R_OK, false],
  ['primary group gets group bits', S_IFREG | 0o640, 1000, 1001, bob, R_OK, true],
  ['supplementary group gets group bits', S_IFREG | 0o640, 1000, 50, bobInStaff, R_OK, true],
  ['supplementary group without the bit', S_IFREG | 0o600, 1000, 50, bobInStaff, R_OK, false],
  ['not in the group: other bits', S_IFREG | 0o640, 1000, 50, bob, R_OK, false],
  ['search a 0711 directory as other', S_IFDIR | 0o711, 1000, 1000, bob, X_OK, true],
  ['list a 0711 directory as other', S_IFDIR | 0o711, 1000, 1000, bob, R_OK, false],
  ['root reads a 0000 file', S_IFREG | 0o000, 1000, 1000, root, R_OK, true],
  ['root writes a 0444 file', S_IFREG | 0o444, 1000, 1000, root, W_OK, true],
  ['root cannot execute a file without any x bit', S_IFREG | 0o666, 1000, 1000, root, X_OK, false],
  ['root executes a file with only the other x bit', S_IFREG | 0o001, 1000, 1000, root, X_OK, true],
  ['root executes a file with only the owner x bit', S_IFREG | 0o100, 1000, 1000, root, RWX, true],
  ['root searches a 0000 directory', S_IFDIR | 0o000, 1000, 1000, root, RWX, true],
  ['root R|X on a 0644 file it owns is refused (no x bit)', S_IFREG | 0o644, 0, 0, root, R_OK | X_OK, false],
  ['unrelated mask bits are ignored', S_IFREG | 0o400, 1000, 1000, alice, R_OK | 0o10, true],
];

for (const [what, mode, uid, gid, caller, mask, expected] of cases) {
  test(`checkAccess: ${what}`, () => {
    assert.equal(checkAccess({ mode, uid, gid }, caller, mask), expected);
  });
}

test('checkAccess: absent uid/gid in the attr mean root', () => {
  assert.equal(checkAccess({ mode: S_IFREG | 0o600 }, root, RW), true);
  assert.equal(checkAccess({ mode: S_IFREG | 0o640 }, { uid: 5, gid: 0 }, R_OK), true);
  assert.equal(checkAccess({ mode: S_IFREG | 0o640 }, { uid: 5, gid: 5 }, R_OK), false);
});

test('callerGroups: own pid gives gid first, then the supplementary groups', async () => {
  const gid = process.getgid!();
  const groups = await callerGroups({ pid: process.pid, gid });
  assert.equal(groups[0], gid);
  assert.deepEqual(new Set(groups), new Set([gid, ...process.getgroups!()]));
  assert.equal(new Set(groups).size, groups.length, 'no duplicates');
});

test('callerGroups: a missing pid, pid 0 and a negative pid fall back to [gid]', async () => {
  // A pid above /proc/sys/kernel/pid_max (at most 2^22) cannot exist.
  assert.deepEqual(await callerGroups({ pid: 2 ** 23 + 17, gid: 42 }), [42]);
  assert.deepEqual(await callerGroups({ pid: 0, gid: 7 }), [7]);
  assert.deepEqual(await callerGroups({ pid: -1, gid: 7 }), [7]);
  assert.deepEqual(await callerGroups({ pid: 1.5, gid: 7 }), [7]);
});

const setpriv = spawnSync('setpriv', ['--version']).status === 0;
const isRoot = process.geteuid?.() === 0;
const skipChild = !isRoot ? 'needs root to set another process\'s groups'
  : !setpriv ? 'needs setpriv (apt-get install util-linux)' : false;

test('callerGroups: a child process with its own supplementary groups', { skip: skipChild, timeout: 10_000 }, async () => {
  // setpriv sets the child's groups with setgroups(2) before exec; numeric ids need no /etc/group entry.
  const child = spawn('setpriv', ['--reuid', '65534', '--regid', '65533', '--groups', '4,12345,65533', '--',
    'sh', '-c', 'echo started; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await once(child.stdout, 'data');
    const groups = await callerGroups({ pid: child.pid!, gid: 65533 });
    assert.deepEqual(groups, [65533, 4, 12345]);
    assert.equal(checkAccess({ mode: S_IFREG | 0o640, uid: 0, gid: 12345 }, { uid: 65534, gid: 65533, groups }, R_OK), true);
    assert.equal(checkAccess({ mode: S_IFREG | 0o640, uid: 0, gid: 12345 }, { uid: 65534, gid: 65533 }, R_OK), false);
  } finally {
    child.kill();
    await once(child, 'exit').catch(() => {});
  }
});
