// rename(2)/renameat2(2) rules and flags, and extended attributes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alice, bob, newFs, readFile, rejects, root, writeFile, O_RDONLY, S_IFLNK } from './helpers.ts';

const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;

test('rename moves files and directories, replacing a file or an empty directory', async () => {
  const fs = newFs();
  await writeFile(fs, '/a', 'A');
  await writeFile(fs, '/b', 'B');
  const inoA = (await fs.getattr('/a', undefined, root)).ino;
  await fs.rename('/a', '/b', 0, root);
  assert.equal(await readFile(fs, '/b'), 'A');
  assert.equal((await fs.getattr('/b', undefined, root)).ino, inoA);
  await rejects(() => fs.getattr('/a', undefined, root), 'ENOENT');
  await fs.mkdir('/d1', 0o755, root);
  await fs.mkdir('/d2', 0o755, root);
  await fs.mkdir('/d1/sub', 0o755, root);
  await writeFile(fs, '/d1/sub/f', 'deep');
  await fs.mkdir('/d2/empty', 0o755, root);
  await fs.rename('/d1/sub', '/d2/empty', 0, root);
  assert.equal(await readFile(fs, '/d2/empty/f'), 'deep');
  assert.equal((await fs.getattr('/d1', undefined, root)).nlink, 2, 'd1 lost a subdirectory');
  assert.equal((await fs.getattr('/d2', undefined, root)).nlink, 3, 'd2 has one (the replaced one is gone)');
  await rejects(() => fs.rename('/missing', '/x', 0, root), 'ENOENT');
});

test('rename errors: EISDIR, ENOTDIR, ENOTEMPTY, EINVAL into itself, and the flags', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '');
  await fs.mkdir('/d', 0o755, root);
  await fs.mkdir('/full', 0o755, root);
  await writeFile(fs, '/full/x', '');
  await rejects(() => fs.rename('/f', '/d', 0, root), 'EISDIR');
  await rejects(() => fs.rename('/d', '/f', 0, root), 'ENOTDIR');
  await rejects(() => fs.rename('/d', '/full', 0, root), 'ENOTEMPTY');
  await fs.mkdir('/d/e', 0o755, root);
  await rejects(() => fs.rename('/d', '/d/e/inside', 0, root), 'EINVAL');
  await rejects(() => fs.rename('/d', '/d/e', 0, root), 'EINVAL');
  await rejects(() => fs.rename('/d/e', '/d', 0, root), 'ENOTEMPTY', 'the target is an ancestor of the source');
  await rejects(() => fs.rename('/f', '/full/x', RENAME_NOREPLACE, root), 'EEXIST');
  await rejects(() => fs.rename('/f', '/nothing', RENAME_EXCHANGE, root), 'ENOENT');
  await rejects(() => fs.rename('/f', '/g', RENAME_EXCHANGE | RENAME_NOREPLACE, root), 'EINVAL');
  await rejects(() => fs.rename('/f', '/g', 4, root), 'EINVAL', 'RENAME_WHITEOUT is not supported');
  await fs.rename('/f', '/g', RENAME_NOREPLACE, root);
  await rejects(() => fs.rename(`/g`, `/${'x'.repeat(256)}`, 0, root), 'ENAMETOOLONG');
});

test('renaming onto another name of the same inode, or onto itself, changes nothing', async () => {
  const fs = newFs();
  await writeFile(fs, '/a', 'x');
  await fs.link('/a', '/b', undefined, root);
  await fs.rename('/a', '/b', 0, root);
  assert.equal((await fs.getattr('/a', undefined, root)).nlink, 2);
  assert.equal((await fs.getattr('/b', undefined, root)).nlink, 2);
  await fs.mkdir('/d', 0o755, root);
  await writeFile(fs, '/d/x', '');
  await fs.rename('/d', '/d', 0, root);
  assert.equal((await fs.getattr('/d/x', undefined, root)).size, 0);
});

test('RENAME_EXCHANGE swaps a file and a directory across parents, fixing link counts', async () => {
  const fs = newFs();
  await fs.mkdir('/p', 0o755, root);
  await fs.mkdir('/q', 0o755, root);
  await writeFile(fs, '/p/file', 'data');
  await fs.mkdir('/q/dir', 0o755, root);
  await writeFile(fs, '/q/dir/inner', 'in');
  await fs.rename('/p/file', '/q/dir', RENAME_EXCHANGE, root);
  assert.equal(await readFile(fs, '/q/dir'), 'data');
  assert.equal(await readFile(fs, '/p/file/inner'), 'in');
  assert.equal((await fs.getattr('/p', undefined, root)).nlink, 3);
  assert.equal((await fs.getattr('/q', undefined, root)).nlink, 2);
  await fs.mkdir('/p/file/deeper', 0o755, root);
  await rejects(() => fs.rename('/p/file', '/p/file/deeper', RENAME_EXCHANGE, root), 'EINVAL');
});

test('a file open across a rename or its replacement keeps its data', async () => {
  const fs = newFs();
  await writeFile(fs, '/old', 'kept');
  await writeFile(fs, '/new', 'replaced');
  const fh = await fs.open('/new', O_RDONLY, root);
  await fs.rename('/old', '/new', 0, root);
  assert.equal(fs.read('/new', fh, 100, 0, root).toString(), 'replaced');
  assert.equal((await fs.getattr('/new', fh, root)).nlink, 0);
  fs.release('/new', fh, 0, root);
  assert.equal(await readFile(fs, '/new'), 'kept');
});

test('rename updates ctime of the moved inode and mtime/ctime of both parents', async () => {
  const fs = newFs();
  await fs.mkdir('/p', 0o755, root);
  await fs.mkdir('/q', 0o755, root);
  await writeFile(fs, '/p/f', '');
  const t0 = { sec: 100, nsec: 0 };
  for (const path of ['/p', '/q', '/p/f']) await fs.utimens(path, t0, t0, undefined, root);
  await fs.rename('/p/f', '/q/f', 0, root);
  for (const path of ['/p', '/q']) assert.notDeepEqual((await fs.getattr(path, undefined, root)).mtime, t0, path);
  const f = await fs.getattr('/q/f', undefined, root);
  assert.deepEqual(f.mtime, t0);
  assert.ok((f.ctime as { sec: number }).sec > 100);
});

test('xattrs: set, get, list, remove; XATTR_CREATE / XATTR_REPLACE', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '');
  await fs.setxattr('/f', 'user.color', Buffer.from('red'), 0, root);
  assert.equal((await fs.getxattr('/f', 'user.color', root)).toString(), 'red');
  await rejects(() => fs.setxattr('/f', 'user.color', Buffer.from('x'), XATTR_CREATE, root), 'EEXIST');
  await rejects(() => fs.setxattr('/f', 'user.size', Buffer.from('x'), XATTR_REPLACE, root), 'ENODATA');
  await fs.setxattr('/f', 'user.color', Buffer.from('blue'), XATTR_REPLACE, root);
  await fs.setxattr('/f', 'user.empty', Buffer.alloc(0), XATTR_CREATE, root);
  await fs.setxattr('/f', 'trusted.t', Buffer.from('1'), 0, root);
  await fs.setxattr('/f', 'security.s', Buffer.from('2'), 0, root);
  assert.deepEqual([...await fs.listxattr('/f', root)].sort(), ['security.s', 'trusted.t', 'user.color', 'user.empty']);
  assert.equal((await fs.getxattr('/f', 'user.empty', root)).length, 0);
  await fs.removexattr('/f', 'user.color', root);
  await rejects(() => fs.getxattr('/f', 'user.color', root), 'ENODATA');
  await rejects(() => fs.removexattr('/f', 'user.color', root), 'ENODATA');
  // The value is copied: the caller's buffer is borrowed.
  const value = Buffer.from('orig');
  await fs.setxattr('/f', 'user.copy', value, 0, root);
  value.fill(0);
  assert.equal((await fs.getxattr('/f', 'user.copy', root)).toString(), 'orig');
});

test('xattr names and sizes: ENOTSUP for other namespaces, ERANGE for long names, E2BIG over 64 KiB', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '');
  await rejects(() => fs.setxattr('/f', 'system.posix_acl_access', Buffer.from('x'), 0, root), 'ENOTSUP');
  await rejects(() => fs.setxattr('/f', 'other.x', Buffer.from('x'), 0, root), 'ENOTSUP');
  await rejects(() => fs.getxattr('/f', 'noprefix', root), 'ENOTSUP');
  await rejects(() => fs.setxattr('/f', `user.${'n'.repeat(251)}`, Buffer.from('x'), 0, root), 'ERANGE');
  await fs.setxattr('/f', `user.${'n'.repeat(250)}`, Buffer.from('x'), 0, root);
  await fs.setxattr('/f', 'user.big', Buffer.alloc(65536), 0, root);
  await rejects(() => fs.setxattr('/f', 'user.bigger', Buffer.alloc(65537), 0, root), 'E2BIG');
  await rejects(() => fs.setxattr('/f', 'user.x', Buffer.from('x'), 4, root), 'EINVAL');
});

test('xattr permissions: user. needs r/w and a regular file or directory; trusted. is root\'s', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '', alice, 0o644);
  await fs.setxattr('/f', 'user.a', Buffer.from('1'), 0, alice);
  await rejects(() => fs.setxattr('/f', 'user.b', Buffer.from('1'), 0, bob), 'EACCES');
  assert.equal((await fs.getxattr('/f', 'user.a', bob)).toString(), '1');
  await fs.chmod('/f', 0o600, undefined, alice);
  await rejects(() => fs.getxattr('/f', 'user.a', bob), 'EACCES');
  await rejects(() => fs.setxattr('/f', 'trusted.t', Buffer.from('1'), 0, alice), 'EPERM');
  await rejects(() => fs.setxattr('/f', 'security.s', Buffer.from('1'), 0, alice), 'EPERM');
  await fs.setxattr('/f', 'trusted.t', Buffer.from('1'), 0, root);
  await rejects(() => fs.getxattr('/f', 'trusted.t', alice), 'ENODATA');
  assert.deepEqual(await fs.listxattr('/f', alice), ['user.a']);
  await fs.symlink('/f', '/ln', root);
  assert.equal((await fs.getattr('/ln', undefined, root)).mode, S_IFLNK | 0o777);
  await rejects(() => fs.setxattr('/ln', 'user.a', Buffer.from('1'), 0, root), 'EPERM');
  await rejects(() => fs.getxattr('/ln', 'user.a', root), 'ENODATA');
  await fs.setxattr('/ln', 'trusted.ok', Buffer.from('1'), 0, root);
  // In a sticky directory, only its owner (or root) sets user. attributes on it.
  await fs.mkdir('/sticky', 0o1777, alice);
  await rejects(() => fs.setxattr('/sticky', 'user.x', Buffer.from('1'), 0, bob), 'EPERM');
  await fs.setxattr('/sticky', 'user.x', Buffer.from('1'), 0, alice);
});

test('setxattr and removexattr change ctime', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '');
  const t0 = { sec: 5, nsec: 0 };
  await fs.utimens('/f', t0, t0, undefined, root);
  const before = (await fs.getattr('/f', undefined, root)).ctime as { sec: number; nsec: number };
  await new Promise((resolve) => setTimeout(resolve, 2));
  await fs.setxattr('/f', 'user.x', Buffer.from('1'), 0, root);
  const after = (await fs.getattr('/f', undefined, root)).ctime as { sec: number; nsec: number };
  assert.ok(after.sec > before.sec || (after.sec === before.sec && after.nsec > before.nsec));
});
