// src/passthrough/set-ids.ts: which set-id bits an unprivileged write, truncation or chown removes, and
// removing them from a real file. The mount-level cases (kernel passthrough, clone queues, O_TRUNC,
// truncate(2)) are in test/conformance (posix.py `permissions`) and test/session/clone-queues.test.ts.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { dropSetIds } from '../../src/passthrough/set-ids.ts';
import { setIdsToDrop } from '../../src/ops/permissions.ts';

describe('setIdsToDrop: the rule of fs/inode.c setattr_should_drop_suidgid', () => {
  const inGroup = (): boolean => true;
  const notInGroup = (): boolean => false;
  test('set-user-ID always goes; set-group-ID goes when group-executable', () => {
    assert.equal(setIdsToDrop(0o4755, inGroup), 0o4000);
    assert.equal(setIdsToDrop(0o6755, inGroup), 0o6000);
    assert.equal(setIdsToDrop(0o2750, inGroup), 0o2000);
    assert.equal(setIdsToDrop(0o0777, notInGroup), 0);
  });
  test('set-group-ID without group execute goes only when the caller is not in the file group, and the group is asked only then', () => {
    assert.equal(setIdsToDrop(0o2644, inGroup), 0);
    assert.equal(setIdsToDrop(0o2644, notInGroup), 0o2000);
    assert.equal(setIdsToDrop(0o6644, notInGroup), 0o6000);
    let asked = 0;
    setIdsToDrop(0o6755, () => { asked++; return true; });
    setIdsToDrop(0o4755, () => { asked++; return true; });
    assert.equal(asked, 0);
  });
});

describe('dropSetIds on a file (run as root: chmod of any file)', { skip: process.geteuid?.() === 0 ? undefined : 'needs root (chmod of files with any owner)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-setids-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  /** A file with `mode` and group `gid`; its path and a read-only descriptor. */
  const file = (mode: number, gid = 0): { path: string; fd: number } => {
    const path = join(dir, `f${n++}`);
    writeFileSync(path, '#!');
    chmodSync(path, mode);
    if (gid !== 0) {
      // chown clears the bits; give them back after.
      chownSync(path, 0, gid);
      chmodSync(path, mode);
    }
    return { path, fd: openSync(path, 'r') };
  };
  const modeOf = (path: string): number => statSync(path).mode & 0o7777;
  // A pid that names no process: callerGroups then knows only the request's own group.
  const caller = (uid: number, gid: number): { uid: number; gid: number; pid: number } => ({ uid, gid, pid: 0 });

  test('synchronous when nothing needs the caller groups; the bits go, the rest of the mode stays', () => {
    const f = file(0o6775);
    assert.equal(dropSetIds(f.fd, f.path, caller(65534, 65534)), undefined);
    assert.equal(modeOf(f.path), 0o0775);
    const plain = file(0o0644);
    assert.equal(dropSetIds(plain.fd, plain.path, caller(65534, 65534)), undefined);
    assert.equal(modeOf(plain.path), 0o0644);
    closeSync(f.fd);
    closeSync(plain.fd);
  });

  test('set-group-ID without group execute: kept for a member of the file group and for root, dropped (after reading the groups) for others', async () => {
    const member = file(0o2664, 4321);
    assert.equal(dropSetIds(member.fd, member.path, caller(65534, 4321)), undefined);
    assert.equal(modeOf(member.path), 0o2664);
    const root = file(0o2664, 4321);
    assert.equal(dropSetIds(root.fd, root.path, caller(0, 0)), undefined);
    assert.equal(modeOf(root.path), 0o2664);
    const other = file(0o2664, 4321);
    const pending = dropSetIds(other.fd, other.path, caller(65534, 65534));
    assert.ok(pending instanceof Promise);
    await pending;
    assert.equal(modeOf(other.path), 0o0664);
    for (const f of [member, root, other]) closeSync(f.fd);
  });

  test('a chown is judged by the group before it: `before` wins over the file current group', async () => {
    const f = file(0o2664, 4321);
    // The caller was in the old group (4321), not in the new one (now on the file).
    chownSync(f.path, 0, 5555);
    chmodSync(f.path, 0o2664);
    assert.equal(dropSetIds(f.fd, f.path, caller(65534, 4321), { gid: 4321 }), undefined);
    assert.equal(modeOf(f.path), 0o2664);
    await dropSetIds(f.fd, f.path, caller(65534, 4321));
    assert.equal(modeOf(f.path), 0o0664);
    closeSync(f.fd);
  });
});
