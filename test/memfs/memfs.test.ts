// memfs through its PathFilesystem methods, called directly as root: files, directories, links, special
// files, inode numbers and link counts, times, truncate/fallocate/lseek, statfs and the size limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemfs, parseMemfsSize } from '../../src/memfs/index.ts';
import type { Timestamp } from '../../src/ops/path/types.ts';
import {
  newFs, readFile, rejects, root, writeFile, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
} from './helpers.ts';

const ts = (t: unknown): Timestamp => t as Timestamp;
const later = (a: unknown, b: unknown): boolean => {
  const x = ts(a);
  const y = ts(b);
  return x.sec > y.sec || (x.sec === y.sec && x.nsec > y.nsec);
};
/** Lets the nanosecond clock move on, so "updated" times differ from the old ones. */
const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));

test('create, write, read back, and the attributes of a regular file', async () => {
  const fs = newFs();
  const fh = await fs.create('/a.txt', 0o640, O_RDWR | O_CREAT, root);
  assert.equal(fs.write('/a.txt', fh, Buffer.from('hello world'), 0, root), 11);
  assert.equal(fs.read('/a.txt', fh, 5, 6, root).toString(), 'world');
  const st = await fs.getattr('/a.txt', undefined, root);
  assert.equal(st.mode, S_IFREG | 0o640);
  assert.equal(st.size, 11);
  assert.equal(st.nlink, 1);
  assert.equal(st.blocks, 8);
  assert.equal(st.blksize, 4096);
  fs.release('/a.txt', fh, 0, root);
  await rejects(() => fs.create('/a.txt', 0o644, O_WRONLY | O_CREAT | O_EXCL, root), 'EEXIST');
  // O_CREAT without O_EXCL on an existing file opens it.
  const again = await fs.create('/a.txt', 0o644, O_RDWR | O_CREAT, root);
  assert.equal(fs.read('/a.txt', again, 100, 0, root).toString(), 'hello world');
});

test('paths: ENOENT, ENOTDIR, ENAMETOOLONG (255 bytes allowed, 256 not), EISDIR on open for writing', async () => {
  const fs = newFs();
  await writeFile(fs, '/file', 'x');
  await rejects(() => fs.getattr('/missing', undefined, root), 'ENOENT');
  await rejects(() => fs.getattr('/file/below', undefined, root), 'ENOTDIR');
  await rejects(() => fs.mkdir('/file/d', 0o755, root), 'ENOTDIR');
  await writeFile(fs, `/${'n'.repeat(255)}`, 'ok');
  await rejects(() => fs.create(`/${'n'.repeat(256)}`, 0o644, O_CREAT, root), 'ENAMETOOLONG');
  await rejects(() => fs.getattr(`/${'é'.repeat(128)}`, undefined, root), 'ENAMETOOLONG', '256 UTF-8 bytes');
  await fs.mkdir('/d', 0o755, root);
  await rejects(() => fs.open('/d', O_WRONLY, root), 'EISDIR');
  await rejects(() => fs.open('/d', O_RDONLY | O_TRUNC, root), 'EISDIR');
  await rejects(() => fs.unlink('/d', root), 'EISDIR');
  await rejects(() => fs.rmdir('/file', root), 'ENOTDIR');
  await rejects(() => fs.mkdir('/d', 0o755, root), 'EEXIST');
});

test('directories: listing with attributes, nlink is 2 + subdirectories, ENOTEMPTY', async () => {
  const fs = newFs();
  await fs.mkdir('/d', 0o755, root);
  await fs.mkdir('/d/x', 0o755, root);
  await fs.mkdir('/d/y', 0o755, root);
  await writeFile(fs, '/d/f', 'data');
  assert.equal((await fs.getattr('/d', undefined, root)).nlink, 4);
  assert.equal((await fs.getattr('/', undefined, root)).nlink, 3);
  const fh = await fs.opendir('/d', 0, root);
  const listing = await fs.readdir('/d', fh, root);
  fs.releasedir('/d', fh, root);
  const names = listing.map((e) => (typeof e === 'string' ? e : e.name)).sort();
  assert.deepEqual(names, ['f', 'x', 'y']);
  const f = listing.find((e) => typeof e !== 'string' && e.name === 'f');
  assert.equal(typeof f !== 'string' && f?.stat?.mode, S_IFREG | 0o644);
  await rejects(() => fs.rmdir('/d', root), 'ENOTEMPTY');
  await fs.rmdir('/d/x', root);
  assert.equal((await fs.getattr('/d', undefined, root)).nlink, 3);
  await rejects(() => fs.rmdir('/', root), 'EBUSY');
  await rejects(() => fs.opendir('/d/f', 0, root), 'ENOTDIR');
});

test('hard links share one inode number, count links, and see each other\'s data', async () => {
  const fs = newFs();
  await writeFile(fs, '/a', 'one');
  await fs.link('/a', '/b', undefined, root);
  const a = await fs.getattr('/a', undefined, root);
  const b = await fs.getattr('/b', undefined, root);
  assert.equal(a.ino, b.ino);
  assert.equal(a.nlink, 2);
  await writeFile(fs, '/b', 'two');
  assert.equal(await readFile(fs, '/a'), 'two');
  await fs.unlink('/a', root);
  assert.equal((await fs.getattr('/b', undefined, root)).nlink, 1);
  await fs.mkdir('/dir', 0o755, root);
  await rejects(() => fs.link('/dir', '/dir2', undefined, root), 'EPERM');
  await rejects(() => fs.link('/b', '/dir', undefined, root), 'EEXIST');
  await rejects(() => fs.link('/nothing', '/c', undefined, root), 'ENOENT');
  // Inode numbers are stable and never reused while the filesystem lives.
  const inos = new Set<unknown>();
  for (const name of ['/n1', '/n2', '/n3']) {
    await writeFile(fs, name, '');
    inos.add((await fs.getattr(name, undefined, root)).ino);
  }
  assert.equal(inos.size, 3);
});

test('symlinks: target, size, lstat semantics, EINVAL for readlink of a file, ENOENT for empty targets', async () => {
  const fs = newFs();
  await fs.symlink('some/where/ü', '/ln', root);
  const st = await fs.getattr('/ln', undefined, root);
  assert.equal(st.mode, S_IFLNK | 0o777);
  assert.equal(st.size, Buffer.byteLength('some/where/ü'));
  assert.equal(await fs.readlink('/ln', root), 'some/where/ü');
  await writeFile(fs, '/f', '');
  await rejects(() => fs.readlink('/f', root), 'EINVAL');
  await rejects(() => fs.symlink('', '/empty', root), 'ENOENT');
  await rejects(() => fs.symlink('x'.repeat(4096), '/long', root), 'ENAMETOOLONG');
  await rejects(() => fs.open('/ln', O_RDONLY, root), 'ELOOP');
});

test('mknod: FIFOs, sockets, devices with rdev, type 0 as a regular file, EPERM for directories', async () => {
  const fs = newFs();
  await fs.mknod('/fifo', S_IFIFO | 0o644, 0, root);
  await fs.mknod('/sock', S_IFSOCK | 0o755, 0, root);
  await fs.mknod('/tty', S_IFCHR | 0o620, (4 << 8) | 1, root);
  await fs.mknod('/sda', S_IFBLK | 0o660, (8 << 8) | 0, root);
  await fs.mknod('/plain', 0o644, 0, root);
  assert.equal((await fs.getattr('/fifo', undefined, root)).mode, S_IFIFO | 0o644);
  assert.equal((await fs.getattr('/sock', undefined, root)).mode, S_IFSOCK | 0o755);
  const tty = await fs.getattr('/tty', undefined, root);
  assert.equal(tty.mode, S_IFCHR | 0o620);
  assert.equal(tty.rdev, (4 << 8) | 1);
  assert.equal((await fs.getattr('/sda', undefined, root)).rdev, 8 << 8);
  assert.equal(((await fs.getattr('/plain', undefined, root)).mode & S_IFMT), S_IFREG);
  await rejects(() => fs.mknod('/dir', S_IFDIR | 0o755, 0, root), 'EPERM');
  await rejects(() => fs.mknod('/fifo', S_IFIFO | 0o644, 0, root), 'EEXIST');
  await rejects(() => fs.mknod('/odd', 0o070000 | 0o644, 0, root), 'EINVAL');
});

test('an unlinked file stays readable and writable through its handle, and its space is freed at release', async () => {
  const fs = newFs({ size: 1 << 20 });
  const fh = await fs.create('/tmp', 0o600, O_RDWR | O_CREAT, root);
  fs.write('/tmp', fh, Buffer.alloc(8192, 1), 0, root);
  await fs.unlink('/tmp', root);
  await rejects(() => fs.getattr('/tmp', undefined, root), 'ENOENT');
  fs.write('/tmp', fh, Buffer.from('more'), 8192, root);
  assert.equal(fs.read('/tmp', fh, 4, 8192, root).toString(), 'more');
  const st = await fs.getattr('/tmp', fh, root);
  assert.equal(st.nlink, 0);
  assert.equal(st.size, 8196);
  const used = (s: { blocks?: unknown; bfree?: unknown }) => Number(s.blocks) - Number(s.bfree);
  assert.equal(used(fs.statfs('/', root)), 3);
  fs.release('/tmp', fh, 0, root);
  assert.equal(used(fs.statfs('/', root)), 0);
});

test('times: ns precision, birth time fixed, create/write/chmod/link/unlink update what POSIX says', async () => {
  const fs = newFs();
  await fs.mkdir('/d', 0o755, root);
  const d0 = await fs.getattr('/d', undefined, root);
  await pause();
  await writeFile(fs, '/d/f', 'x');
  const d1 = await fs.getattr('/d', undefined, root);
  assert.ok(later(d1.mtime, d0.mtime) && later(d1.ctime, d0.ctime), 'create: parent mtime and ctime');
  const f0 = await fs.getattr('/d/f', undefined, root);
  for (const t of [f0.atime, f0.mtime, f0.ctime, f0.birthtime]) {
    assert.ok(Number.isInteger(ts(t).nsec) && ts(t).nsec >= 0 && ts(t).nsec < 1e9);
  }
  const now = Date.now() / 1000;
  assert.ok(Math.abs(ts(f0.mtime).sec - now) < 5, 'wall-clock seconds');

  await pause();
  const fh = await fs.open('/d/f', O_WRONLY, root);
  fs.write('/d/f', fh, Buffer.from('y'), 1, root);
  const f1 = await fs.getattr('/d/f', undefined, root);
  assert.ok(later(f1.mtime, f0.mtime) && later(f1.ctime, f0.ctime), 'write: mtime and ctime');
  assert.deepEqual(f1.birthtime, f0.birthtime);

  await pause();
  await fs.chmod('/d/f', 0o600, undefined, root);
  const f2 = await fs.getattr('/d/f', undefined, root);
  assert.ok(later(f2.ctime, f1.ctime), 'chmod: ctime');
  assert.deepEqual(f2.mtime, f1.mtime, 'chmod: not mtime');

  await pause();
  await fs.truncate('/d/f', 0, fh, root);
  const f3 = await fs.getattr('/d/f', undefined, root);
  assert.ok(later(f3.mtime, f2.mtime) && later(f3.ctime, f2.ctime), 'truncate: mtime and ctime');

  await pause();
  await fs.link('/d/f', '/d/g', undefined, root);
  const f4 = await fs.getattr('/d/f', undefined, root);
  assert.ok(later(f4.ctime, f3.ctime), 'link: ctime');
  assert.deepEqual(f4.mtime, f3.mtime);

  await pause();
  await fs.unlink('/d/g', root);
  const f5 = await fs.getattr('/d/f', undefined, root);
  assert.ok(later(f5.ctime, f4.ctime), 'unlink: ctime of the remaining link');
  fs.release('/d/f', fh, 0, root);
});

test('reads update atime relatime-style: when atime is not newer than mtime', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', 'abc');
  await fs.utimens('/f', { sec: 1000, nsec: 5 }, { sec: 2000, nsec: 0 }, undefined, root);
  const fh = await fs.open('/f', O_RDONLY, root);
  fs.read('/f', fh, 3, 0, root);
  const st = await fs.getattr('/f', undefined, root);
  assert.ok(ts(st.atime).sec > 2000);
  assert.deepEqual(st.mtime, { sec: 2000, nsec: 0 });
  fs.release('/f', fh, 0, root);
});

test('utimens sets exact times (negative and ns included), leaves omitted ones, and sets ctime', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', '');
  await fs.utimens('/f', { sec: -5, nsec: 123456789 }, undefined, undefined, root);
  let st = await fs.getattr('/f', undefined, root);
  assert.deepEqual(st.atime, { sec: -5, nsec: 123456789 });
  const ctime = st.ctime;
  await fs.utimens('/f', undefined, { sec: 2 ** 33, nsec: 1 }, undefined, root);
  st = await fs.getattr('/f', undefined, root);
  assert.deepEqual(st.atime, { sec: -5, nsec: 123456789 });
  assert.deepEqual(st.mtime, { sec: 2 ** 33, nsec: 1 });
  assert.ok(!later(ctime, st.ctime));
});

test('O_TRUNC empties the file and updates mtime; truncate grows sparsely and shrinks', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', 'content');
  const before = await fs.getattr('/f', undefined, root);
  await pause();
  const fh = await fs.open('/f', O_WRONLY | O_TRUNC, root);
  const st = await fs.getattr('/f', fh, root);
  assert.equal(st.size, 0);
  assert.ok(later(st.mtime, before.mtime));
  await fs.truncate('/f', 6 * 2 ** 30, undefined, root);
  const big = await fs.getattr('/f', undefined, root);
  assert.equal(big.size, 6 * 2 ** 30);
  assert.equal(big.blocks, 0, 'sparse');
  await rejects(() => fs.truncate('/f', -1, undefined, root), 'EINVAL');
  await fs.mkdir('/d', 0o755, root);
  await rejects(() => fs.truncate('/d', 0, undefined, root), 'EISDIR');
  await fs.mknod('/p', S_IFIFO | 0o644, 0, root);
  await rejects(() => fs.truncate('/p', 0, undefined, root), 'EINVAL');
  fs.release('/f', fh, 0, root);
});

test('fallocate modes: allocate/extend, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE; others EOPNOTSUPP', async () => {
  const fs = newFs();
  const fh = await fs.create('/f', 0o644, O_RDWR | O_CREAT, root);
  fs.fallocate('/f', 0, 0, 16384, fh, root);
  let st = await fs.getattr('/f', fh, root);
  assert.equal(st.size, 16384);
  assert.equal(st.blocks, 32);
  fs.fallocate('/f', 1, 16384, 8192, fh, root);
  st = await fs.getattr('/f', fh, root);
  assert.equal(st.size, 16384, 'KEEP_SIZE');
  assert.equal(st.blocks, 48);
  fs.write('/f', fh, Buffer.alloc(16384, 1), 0, root);
  fs.fallocate('/f', 3, 4096, 8192, fh, root);
  st = await fs.getattr('/f', fh, root);
  assert.equal(st.size, 16384);
  assert.equal(st.blocks, 32);
  assert.deepEqual(fs.read('/f', fh, 3, 4095, root), Buffer.from([1, 0, 0]));
  assert.throws(() => fs.fallocate('/f', 2, 0, 4096, fh, root), { code: 'EOPNOTSUPP' });
  assert.throws(() => fs.fallocate('/f', 0x10, 0, 4096, fh, root), { code: 'EOPNOTSUPP' }); // ZERO_RANGE
  assert.throws(() => fs.fallocate('/f', 0x08, 0, 4096, fh, root), { code: 'EOPNOTSUPP' }); // COLLAPSE_RANGE
  assert.throws(() => fs.fallocate('/f', 0, 0, 0, fh, root), { code: 'EINVAL' });
  fs.release('/f', fh, 0, root);
});

test('lseek SEEK_DATA / SEEK_HOLE, with ENXIO at and beyond EOF', async () => {
  const fs = newFs();
  const fh = await fs.create('/f', 0o644, O_RDWR | O_CREAT, root);
  const GiB = 2 ** 30;
  fs.write('/f', fh, Buffer.from('start'), 0, root);
  fs.write('/f', fh, Buffer.from('far'), 5 * GiB, root);
  assert.equal(fs.lseek('/f', 0, 3, fh, root), 0);
  assert.equal(fs.lseek('/f', 0, 4, fh, root), 4096);
  assert.equal(fs.lseek('/f', 4096, 3, fh, root), 5 * GiB);
  assert.equal(fs.lseek('/f', 5 * GiB, 4, fh, root), 5 * GiB + 3);
  assert.throws(() => fs.lseek('/f', 5 * GiB + 3, 3, fh, root), { code: 'ENXIO' });
  assert.throws(() => fs.lseek('/f', 5 * GiB + 3, 4, fh, root), { code: 'ENXIO' });
  assert.throws(() => fs.lseek('/f', -1, 3, fh, root), { code: 'ENXIO' });
  fs.release('/f', fh, 0, root);
});

test('statfs tracks blocks and files; the size limit gives short writes then ENOSPC', async () => {
  const fs = newFs({ size: 64 * 1024 });
  let st = fs.statfs('/', root);
  assert.equal(st.bsize, 4096);
  assert.equal(st.blocks, 16);
  assert.equal(st.bfree, 16);
  assert.equal(st.namelen, 255);
  const files0 = Number(st.files) - Number(st.ffree);
  assert.equal(files0, 1, 'the root');
  const fh = await fs.create('/big', 0o644, O_RDWR | O_CREAT, root);
  assert.equal(fs.write('/big', fh, Buffer.alloc(40 * 1024, 1), 0, root), 40 * 1024);
  st = fs.statfs('/', root);
  assert.equal(st.bfree, 6);
  assert.equal(Number(st.files) - Number(st.ffree), 2);
  assert.equal(fs.write('/big', fh, Buffer.alloc(40 * 1024, 2), 40 * 1024, root), 24 * 1024, 'short write at the limit');
  assert.throws(() => fs.write('/big', fh, Buffer.alloc(1), 64 * 1024, root), { code: 'ENOSPC' });
  assert.throws(() => fs.fallocate('/big', 0, 64 * 1024, 4096, fh, root), { code: 'ENOSPC' });
  fs.release('/big', fh, 0, root);
  await fs.unlink('/big', root);
  assert.equal(fs.statfs('/', root).bfree, 16);
});

test('createMemfs options: root owner and mode, size validation; parseMemfsSize', async () => {
  const fs = createMemfs({ uid: 123, gid: 456, mode: 0o1777 });
  const st = await fs.getattr('/', undefined, root);
  assert.equal(st.mode, S_IFDIR | 0o1777);
  assert.equal(st.uid, 123);
  assert.equal(st.gid, 456);
  assert.throws(() => createMemfs({ size: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => createMemfs({ uid: 1.5 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.equal(parseMemfsSize('4096'), 4096);
  assert.equal(parseMemfsSize('64m'), 64 * 2 ** 20);
  assert.equal(parseMemfsSize('1.5G'), 1.5 * 2 ** 30);
  assert.throws(() => parseMemfsSize('ten'), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => parseMemfsSize('5%'), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('locks through memfs: per-owner record locks, flock per open file, both dropped when the file is closed', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', 'x');
  const a = await fs.open('/f', O_RDWR, root);
  const b = await fs.open('/f', O_RDWR, root);
  const whole = { type: 1, start: 0, end: (1n << 63n) - 1n, pid: 42 };
  await fs.setlk('/f', a, whole, 1n, false, root);
  assert.equal(fs.getlk('/f', b, { ...whole, type: 0 }, 2n, root).pid, 42);
  await rejects(() => fs.setlk('/f', b, { ...whole, type: 0 }, 2n, false, root), 'EAGAIN');
  await fs.flock('/f', a, 2, 7n, root);
  await rejects(() => fs.flock('/f', b, 2 | 4, 8n, root), 'EWOULDBLOCK');
  fs.release('/f', a, 0, root);
  await fs.flock('/f', b, 2 | 4, 8n, root); // a's flock went with a
  await rejects(() => fs.setlk('/f', b, whole, 2n, false, root), 'EAGAIN', 'b is still open: owner 1 keeps its lock');
  fs.release('/f', b, 0, root);
  const c = await fs.open('/f', O_RDWR, root);
  await fs.setlk('/f', c, whole, 2n, false, root); // nobody had the file open: no lock could survive
  fs.release('/f', c, 0, root);
});

test('a removed directory takes no new entries; its open handle lists nothing', async () => {
  const fs = newFs();
  await fs.mkdir('/d', 0o755, root);
  const fh = await fs.opendir('/d', 0, root);
  await fs.rmdir('/d', root);
  assert.deepEqual(await fs.readdir('/d', fh, root), []);
  assert.equal((await fs.getattr('/d', fh, root)).nlink, 0);
  fs.releasedir('/d', fh, root);
  await rejects(() => fs.mkdir('/d/x', 0o755, root), 'ENOENT');
});
