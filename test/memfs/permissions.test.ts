// memfs's own permission checks (for mounts without default_permissions) and Linux's mode rules, with
// root and non-root callers: alice (1000), bob (1001, also in group 50).
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { createMemfs } from '../../src/memfs/index.ts';
import {
  alice, bob, ctxOf, newFs, rejects, root, writeFile, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
  S_IFCHR, S_IFDIR, S_IFREG,
} from './helpers.ts';

const mode = async (fs: ReturnType<typeof newFs>, path: string): Promise<number> => (await fs.getattr(path, undefined, root)).mode;

test('new files belong to the caller; in a set-group-ID directory to its group, and new directories inherit S_ISGID', async () => {
  const fs = newFs();
  await writeFile(fs, '/mine', '', alice);
  const st = await fs.getattr('/mine', undefined, root);
  assert.equal(st.uid, 1000);
  assert.equal(st.gid, 1000);
  await fs.mkdir('/shared', 0o2777, root);
  await fs.chown('/shared', 0, 50, undefined, root);
  await fs.chmod('/shared', 0o2777, undefined, root);
  await writeFile(fs, '/shared/f', '', alice);
  assert.equal((await fs.getattr('/shared/f', undefined, root)).gid, 50);
  await fs.mkdir('/shared/sub', 0o755, alice);
  const sub = await fs.getattr('/shared/sub', undefined, root);
  assert.equal(sub.gid, 50);
  assert.equal(sub.mode, S_IFDIR | 0o2755);
  // A group-executable set-group-ID file created by a non-member loses S_ISGID (mode_strip_sgid) …
  const fh = await fs.create('/shared/sgid-alice', 0o2755, O_CREAT | O_WRONLY, alice);
  fs.release('/shared/sgid-alice', fh, 0, alice);
  assert.equal(await mode(fs, '/shared/sgid-alice'), S_IFREG | 0o755);
  // … but keeps it when the creator is in the group.
  const fh2 = await fs.create('/shared/sgid-bob', 0o2755, O_CREAT | O_WRONLY, bob);
  fs.release('/shared/sgid-bob', fh2, 0, bob);
  assert.equal(await mode(fs, '/shared/sgid-bob'), S_IFREG | 0o2755);
  // mkdir never takes set-user-ID or set-group-ID from its mode argument.
  await fs.mkdir('/plain', 0o6755, root);
  assert.equal(await mode(fs, '/plain'), S_IFDIR | 0o755);
});

test('search permission on every directory of the path', async () => {
  const fs = newFs();
  await fs.mkdir('/locked', 0o700, alice);
  await fs.mkdir('/locked/inner', 0o777, alice);
  await writeFile(fs, '/locked/inner/f', 'x', alice, 0o666);
  await rejects(() => fs.getattr('/locked/inner/f', undefined, bob), 'EACCES');
  await rejects(() => fs.open('/locked/inner/f', O_RDONLY, bob), 'EACCES');
  await rejects(() => fs.mkdir('/locked/inner/d', 0o777, bob), 'EACCES');
  assert.equal((await fs.getattr('/locked/inner/f', undefined, alice)).size, 1);
  assert.equal((await fs.getattr('/locked/inner/f', undefined, root)).size, 1, 'root searches anything');
  // Attributes of the directory itself need search only on its parents.
  assert.equal((await fs.getattr('/locked', undefined, bob)).mode, S_IFDIR | 0o700);
});

test('open checks read/write by flags; O_TRUNC needs write', async () => {
  const fs = newFs();
  await writeFile(fs, '/ro', 'data', alice, 0o644);
  await rejects(() => fs.open('/ro', O_WRONLY, bob), 'EACCES');
  await rejects(() => fs.open('/ro', O_RDWR, bob), 'EACCES');
  await rejects(() => fs.open('/ro', O_RDONLY | O_TRUNC, bob), 'EACCES');
  const fh = await fs.open('/ro', O_RDONLY, bob);
  fs.release('/ro', fh, 0, bob);
  await writeFile(fs, '/secret', 'data', alice, 0o600);
  await rejects(() => fs.open('/secret', O_RDONLY, bob), 'EACCES');
  await writeFile(fs, '/group', 'data', alice, 0o640);
  await fs.chown('/group', -1, 50, undefined, root);
  const g = await fs.open('/group', O_RDONLY, bob); // bob's supplementary group 50
  fs.release('/group', g, 0, bob);
  await rejects(() => fs.open('/group', O_RDONLY, ctxOf(1002)), 'EACCES');
  // Root reads and writes anything.
  const r = await fs.open('/secret', O_RDWR, root);
  fs.release('/secret', r, 0, root);
});

test('create, unlink, rmdir and rename need write and search on the parent', async () => {
  const fs = newFs();
  await fs.mkdir('/d', 0o755, alice);
  await writeFile(fs, '/d/f', '', alice);
  await fs.mkdir('/d/sub', 0o755, alice);
  await rejects(() => fs.create('/d/new', 0o644, O_CREAT | O_WRONLY, bob), 'EACCES');
  await rejects(() => fs.mknod('/d/new', S_IFREG | 0o644, 0, bob), 'EACCES');
  await rejects(() => fs.symlink('x', '/d/new', bob), 'EACCES');
  await rejects(() => fs.link('/d/f', '/d/new', undefined, bob), 'EACCES');
  await rejects(() => fs.unlink('/d/f', bob), 'EACCES');
  await rejects(() => fs.rmdir('/d/sub', bob), 'EACCES');
  await rejects(() => fs.rename('/d/f', '/moved', 0, bob), 'EACCES');
  await fs.mkdir('/d/sub/x', 0o777, alice);
  // A directory that changes parent needs write permission on itself ("..").
  await fs.mkdir('/bobs', 0o777, bob);
  await fs.chmod('/d', 0o777, undefined, alice);
  await fs.mkdir('/d/ro-dir', 0o555, alice);
  await rejects(() => fs.rename('/d/ro-dir', '/bobs/ro-dir', 0, bob), 'EACCES');
  await fs.rename('/d/ro-dir', '/d/renamed', 0, bob); // same parent: allowed
  await rejects(() => fs.mknod('/d/dev', S_IFCHR | 0o644, 0x0101, bob), 'EPERM');
});

test('sticky directories: only the owner of the entry or of the directory, or root, may remove or rename', async () => {
  const fs = newFs();
  await fs.mkdir('/tmp', 0o1777, root);
  await writeFile(fs, '/tmp/alices', '', alice);
  await writeFile(fs, '/tmp/bobs', '', bob);
  await rejects(() => fs.unlink('/tmp/alices', bob), 'EPERM');
  await rejects(() => fs.rename('/tmp/alices', '/tmp/stolen', 0, bob), 'EPERM');
  await rejects(() => fs.rename('/tmp/bobs', '/tmp/alices', 0, bob), 'EPERM', 'replacing someone else\'s entry');
  await fs.rename('/tmp/bobs', '/tmp/bobs2', 0, bob);
  await fs.unlink('/tmp/bobs2', bob);
  await fs.unlink('/tmp/alices', root);
  // The directory's owner may remove anything in it.
  await fs.mkdir('/tmp/alices-dir', 0o1777, alice);
  await writeFile(fs, '/tmp/alices-dir/b', '', bob);
  await fs.unlink('/tmp/alices-dir/b', alice);
});

test('chmod: owner or root only; S_ISGID dropped silently when the caller is not in the group', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '', alice);
  await rejects(() => fs.chmod('/f', 0o777, undefined, bob), 'EPERM');
  await fs.chmod('/f', 0o2755, undefined, alice);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o2755);
  await fs.chown('/f', -1, 50, undefined, root);
  await fs.chmod('/f', 0o2755, undefined, alice);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o755, 'alice is not in group 50');
  await fs.chmod('/f', 0o2755, undefined, root);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o2755, 'root keeps it');
  // Sticky on a file by its owner is accepted on Linux.
  await fs.chmod('/f', 0o1644, undefined, alice);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o1644);
  // Clearing only set-user-ID/set-group-ID grants nothing and is allowed to anyone (see Memfs.chmod).
  await fs.chmod('/f', 0o6644, undefined, root);
  await fs.chmod('/f', 0o644, undefined, bob);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o644);
  await rejects(() => fs.chmod('/f', 0o644, undefined, bob), 'EPERM', 'a no-op by a non-owner is still refused');
});

test('chown: root anything; the owner only to its own groups; never giving the file away', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '', bob);
  await fs.chown('/f', -1, 50, undefined, bob);
  assert.equal((await fs.getattr('/f', undefined, root)).gid, 50);
  await rejects(() => fs.chown('/f', -1, 60, undefined, bob), 'EPERM', 'not bob\'s group');
  await rejects(() => fs.chown('/f', 1000, -1, undefined, bob), 'EPERM', 'giving it away');
  await fs.chown('/f', 1001, -1, undefined, bob); // to itself: allowed
  await rejects(() => fs.chown('/f', -1, 1000, undefined, alice), 'EPERM', 'not the owner');
  await fs.chown('/f', 1000, 1000, undefined, root);
  const st = await fs.getattr('/f', undefined, root);
  assert.equal(st.uid, 1000);
  assert.equal(st.gid, 1000);
});

test('chown clears S_ISUID even for root, and S_ISGID when group-executable; directories keep theirs', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '', root);
  await fs.chmod('/f', 0o6755, undefined, root);
  await fs.chown('/f', 1000, 1000, undefined, root);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o755);
  await fs.chmod('/f', 0o6745, undefined, root); // set-group-ID without group-execute: kept by root
  await fs.chown('/f', -1, 1000, undefined, root);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o2745);
  await fs.mkdir('/d', 0o6755, root);
  await fs.chmod('/d', 0o6755, undefined, root);
  await fs.chown('/d', 1000, -1, undefined, root);
  assert.equal(await mode(fs, '/d'), S_IFDIR | 0o6755);
});

test('writes and truncates by non-root clear S_ISUID, and S_ISGID with group-execute or from outside the group (Linux >= 6.2)', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', 'x', root, 0o6777);
  await fs.chmod('/f', 0o6777, undefined, root);
  const fh = await fs.open('/f', O_WRONLY, root);
  fs.write('/f', fh, Buffer.from('y'), 0, root);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o6777, 'root keeps them');
  await fs.write('/f', fh, Buffer.from('z'), 0, alice);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o777);
  // Without group-execute S_ISGID marks mandatory locking: a member of the file's group keeps it, even
  // through a supplementary group (bob is in 50, read through the groups option)...
  await fs.chown('/f', -1, 50, undefined, root);
  await fs.chmod('/f', 0o6767, undefined, root);
  await fs.truncate('/f', 0, undefined, bob);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o2767);
  await fs.chmod('/f', 0o2767, undefined, root);
  assert.ok(fs.write('/f', fh, Buffer.from('w'), 0, bob) instanceof Promise, 'the groups were read');
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o2767);
  // ...anybody else loses it (fs/inode.c setattr_should_drop_sgid).
  await fs.truncate('/f', 0, undefined, alice);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o767);
  await fs.chmod('/f', 0o2767, undefined, root);
  await fs.write('/f', fh, Buffer.from('v'), 0, alice);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o767);
  fs.release('/f', fh, 0, root);
});

test('truncate by path needs write permission', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', 'data', alice, 0o644);
  await rejects(() => fs.truncate('/f', 0, undefined, bob), 'EACCES');
  await fs.truncate('/f', 1, undefined, alice);
});

test('utimens: explicit times by the owner or root only; "now" by anyone who may write', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '', alice, 0o666);
  await writeFile(fs, '/ro', '', alice, 0o644);
  const past = { sec: 1000, nsec: 0 };
  await rejects(() => fs.utimens('/f', past, past, undefined, bob), 'EPERM');
  // An explicit time is explicit however close to the clock: only UTIME_NOW's mark makes it "now".
  const current = { sec: Math.floor(Date.now() / 1000), nsec: 0 };
  await rejects(() => fs.utimens('/f', current, current, undefined, bob), 'EPERM');
  await rejects(() => fs.utimens('/f', { ...current, now: true }, current, undefined, bob), 'EPERM');
  const marked = { sec: 1, nsec: 0, now: true } as const;
  await fs.utimens('/f', marked, marked, undefined, bob);
  await fs.utimens('/f', undefined, marked, undefined, bob);
  // "now" is memfs's clock (the mark's own seconds are the layer's reading of it), equal to the new ctime.
  const st = await fs.getattr('/f', undefined, root);
  assert.deepEqual(st.mtime, st.ctime);
  assert.ok((st.mtime as { sec: number }).sec > 1);
  await rejects(() => fs.utimens('/ro', marked, marked, undefined, bob), 'EACCES');
  await fs.utimens('/ro', past, past, undefined, alice);
  await fs.utimens('/ro', past, past, undefined, root);
  assert.deepEqual((await fs.getattr('/ro', undefined, root)).mtime, past);
});

test('access(2) answers from the modes, supplementary groups included', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '', alice, 0o640);
  await fs.chown('/f', -1, 50, undefined, root);
  await fs.access('/f', 4, bob);
  await rejects(() => fs.access('/f', 2, bob), 'EACCES');
  await rejects(() => fs.access('/f', 4, ctxOf(1002)), 'EACCES');
  await fs.access('/f', 0, ctxOf(1002));
  await rejects(() => fs.access('/f', 1, root), 'EACCES', 'root needs an x bit to execute');
});

test('checkPermissions: false leaves access decisions to the kernel but keeps the mode rules', async () => {
  const fs = createMemfs({ uid: 0, gid: 0, mode: 0o755, checkPermissions: false });
  await writeFile(fs, '/f', 'x', root, 0o600);
  const fh = await fs.open('/f', O_RDWR, bob);
  fs.release('/f', fh, 0, bob);
  await fs.chmod('/f', 0o4777, undefined, root);
  const w = await fs.open('/f', O_WRONLY, bob);
  fs.write('/f', w, Buffer.from('y'), 0, bob);
  assert.equal(await mode(fs, '/f'), S_IFREG | 0o777);
  fs.release('/f', w, 0, bob);
});

test('the default groups come from /proc/<pid>/status of the caller', async (t) => {
  const fs = createMemfs({ uid: 0, gid: 0, mode: 0o755 });
  await fs.mkdir('/d', 0o750, root);
  await fs.chown('/d', 0, 77, undefined, root);
  const stranger = ctxOf(4242, 4242);
  await rejects(() => fs.getattr('/d/x', undefined, stranger), 'EACCES', 'pid 0: only the fsgid counts');
  if (process.getuid?.() !== 0) {
    t.diagnostic('not root: cannot start a process with supplementary group 77 (run as root to cover /proc groups)');
    return;
  }
  // A process whose supplementary groups include 77, as the caller.
  const child = spawn('python3', ['-c', 'import os, time; os.setgroups([77]); print("ready", flush=True); time.sleep(30)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = await once(child.stdout, 'data') as [Buffer];
    assert.equal(line.toString().trim(), 'ready');
    await rejects(() => fs.getattr('/d/x', undefined, { ...stranger, pid: child.pid as number }), 'ENOENT', 'search granted through group 77');
  } finally {
    child.kill();
  }
});
