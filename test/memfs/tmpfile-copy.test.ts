// memfs's O_TMPFILE, copy_file_range, unlock-on-close and nameless open files: the methods called
// directly, then the same through the path layer and the fake kernel (FLUSH with its lock owner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel } from '../../src/testing.ts';
import { pathOperations } from '../../src/ops/path/layer.ts';
import { FrameBuilder } from '../protocol/frame-builder.ts';
import { alice, bob, newFs, readFile, rejects, root, writeFile, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_WRONLY, S_IFREG } from './helpers.ts';

const O_APPEND = 0o2000;
const O_TMPFILE = 0o20200000;
const KiB = 1024;
const MiB = 1024 * KiB;

test('tmpfile: a nameless regular file, usable through its handle, linkable once (not with O_EXCL)', async () => {
  const fs = newFs({ size: 4 * MiB });
  await fs.mkdir('/d', 0o777, root);
  await fs.mkdir('/private', 0o755, root);
  const before = fs.statfs('/', root).ffree;
  const fh = await fs.tmpfile('/d', S_IFREG | 0o640, O_TMPFILE | O_RDWR, alice);
  assert.equal(fs.statfs('/', root).ffree, Number(before) - 1);
  fs.write('', fh, Buffer.from('secret'), 0, alice);
  const st = await fs.getattr('', fh, alice);
  assert.deepEqual([st.mode, st.nlink, st.size, st.uid], [S_IFREG | 0o640, 0, 6, 1000]);
  assert.deepEqual(await fs.readdir('/d', 0, root), [], 'no name in the directory');
  await rejects(() => fs.getattr('', undefined, root), 'ENOENT', "'' is no path");
  await fs.link('', '/d/named', fh, alice);
  assert.equal((await fs.getattr('/d/named', undefined, root)).nlink, 1);
  assert.equal(await readFile(fs, '/d/named'), 'secret');
  await rejects(() => fs.tmpfile('/d/named', S_IFREG | 0o600, O_TMPFILE | O_RDWR, root), 'ENOTDIR');
  await rejects(() => fs.tmpfile('/private', S_IFREG | 0o600, O_TMPFILE | O_RDWR, bob), 'EACCES', 'needs write permission on the directory');
  // O_EXCL: never linkable; closed, it is gone.
  const excl = await fs.tmpfile('/d', S_IFREG | 0o600, O_TMPFILE | O_RDWR | O_EXCL, root);
  fs.write('', excl, Buffer.alloc(64 * KiB, 1), 0, root);
  await rejects(() => fs.link('', '/d/no', excl, root), 'ENOENT');
  const used = fs.statfs('/', root).bfree;
  fs.release('', excl, 0, root);
  assert.equal(fs.statfs('/', root).bfree, Number(used) + 16, 'its blocks came back');
  fs.release('', fh, 0, root);
  assert.equal(await readFile(fs, '/d/named'), 'secret', 'the linked one stays');
});

test('a nameless open file reached through its handle: chmod, utimens and truncate (which checks write permission for a read-only handle)', async () => {
  const fs = newFs();
  await writeFile(fs, '/f', 'data', alice, 0o644);
  const ro = await fs.open('/f', O_RDONLY, bob);
  const rw = await fs.open('/f', O_RDWR, alice);
  await fs.unlink('/f', alice);
  await writeFile(fs, '/f', 'other', root, 0o600); // the old name now names another file
  await fs.chmod('/f', 0o600, rw, alice);
  assert.equal((await fs.getattr('/f', rw, alice)).mode, S_IFREG | 0o600);
  await rejects(() => fs.truncate('/f', 0, ro, bob), 'EACCES', 'bob may not write it, handle or not');
  await fs.truncate('/f', 2, ro, alice);
  assert.equal(fs.read('/f', rw, 10, 0, alice).toString(), 'da');
  await fs.truncate('/f', 1, rw, alice); // ftruncate through a handle open for writing
  assert.equal(await readFile(fs, '/f'), 'other', 'the file now at /f is untouched');
  fs.release('/f', ro, 0, bob);
  fs.release('/f', rw, 0, alice);
});

test('copyFileRange: data copied, holes kept as holes (overwriting old data), a trailing hole extends the file', async () => {
  const fs = newFs({ size: 64 * MiB });
  const src = await fs.create('/src', 0o644, O_RDWR | O_CREAT, root);
  fs.write('/src', src, Buffer.alloc(8 * KiB, 0x61), 0, root); //        data [0, 8K)
  fs.write('/src', src, Buffer.alloc(4 * KiB, 0x62), 1 * MiB, root); //   hole [8K, 1M), data [1M, 1M+4K)
  await fs.truncate('/src', 3 * MiB, src, root); //                      hole to 3M
  const dst = await fs.create('/dst', 0o644, O_RDWR | O_CREAT, root);
  fs.write('/dst', dst, Buffer.alloc(2 * MiB, 0x7a), 0, root); //       old data the holes must clear
  const copied = fs.copyFileRange({ path: '/src', fh: src, offset: 0 }, { path: '/dst', fh: dst, offset: 4 * KiB }, 100 * MiB, 0, root);
  assert.equal(copied, 3 * MiB, 'up to the end of the source');
  const st = await fs.getattr('/dst', dst, root);
  assert.equal(st.size, 3 * MiB + 4 * KiB);
  const bytes = fs.read('/dst', dst, 4 * MiB, 0, root);
  assert.equal(bytes.subarray(0, 4 * KiB).toString('latin1'), 'z'.repeat(4 * KiB), 'before the copy: untouched');
  assert.equal(bytes.subarray(4 * KiB, 12 * KiB).toString('latin1'), 'a'.repeat(8 * KiB));
  assert.ok(bytes.subarray(12 * KiB, 1 * MiB + 4 * KiB).every((b) => b === 0), 'the hole cleared the old data');
  assert.equal(bytes.subarray(1 * MiB + 4 * KiB, 1 * MiB + 8 * KiB).toString('latin1'), 'b'.repeat(4 * KiB));
  assert.ok(bytes.subarray(1 * MiB + 8 * KiB).every((b) => b === 0));
  // Blocks: the 4 KiB kept before, 8 KiB + 4 KiB of data; the holes take none.
  assert.equal(Number(st.blocks) * 512, 16 * KiB);
  assert.equal(fs.lseek('/dst', 12 * KiB, 3 /* SEEK_DATA */, dst, root), 1 * MiB + 4 * KiB);
  // Past the end of the source: nothing to copy.
  assert.equal(fs.copyFileRange({ path: '/src', fh: src, offset: 5 * MiB }, { path: '/dst', fh: dst, offset: 0 }, 10, 0, root), 0);
  // Within one file, without overlap.
  assert.equal(fs.copyFileRange({ path: '/src', fh: src, offset: 0 }, { path: '/src', fh: src, offset: 2 * MiB }, 8 * KiB, 0, root), 8 * KiB);
  assert.equal(fs.read('/src', src, 2, 2 * MiB, root).toString(), 'aa');
  fs.release('/src', src, 0, root);
  fs.release('/dst', dst, 0, root);
});

test('copyFileRange errors: EINVAL for flags and overlap, EBADF for the wrong access modes, EISDIR; ENOSPC short copies', async () => {
  const fs = newFs({ size: 256 * KiB });
  await writeFile(fs, '/a', Buffer.alloc(128 * KiB, 1));
  const a = await fs.open('/a', O_RDWR, root);
  const r = await fs.open('/a', O_RDONLY, root);
  const w = await fs.create('/w', 0o644, O_WRONLY | O_CREAT, root);
  const app = await fs.open('/w', O_WRONLY | O_APPEND, root);
  const from = (fh: number, offset = 0) => ({ path: '/a', fh, offset });
  const to = (fh: number, offset = 0) => ({ path: '/w', fh, offset });
  await rejects(() => fs.copyFileRange(from(a), to(w), 10, 1, root), 'EINVAL');
  await rejects(() => fs.copyFileRange(from(a), { path: '/a', fh: a, offset: 5 }, 10, 0, root), 'EINVAL', 'overlap');
  await rejects(() => fs.copyFileRange(from(w), to(w), 10, 0, root), 'EBADF', 'source not readable');
  await rejects(() => fs.copyFileRange(from(a), { path: '/a', fh: r, offset: 200 * KiB }, 10, 0, root), 'EBADF', 'destination read-only');
  await rejects(() => fs.copyFileRange(from(a), to(app), 10, 0, root), 'EBADF', 'O_APPEND destination');
  const d = await fs.opendir('/', 0, root);
  await rejects(() => fs.copyFileRange({ path: '/', fh: d, offset: 0 }, to(w), 10, 0, root), 'EISDIR');
  // 256 KiB in all, 128 KiB used by /a: the first copy fits, the second is short, the third finds no space.
  assert.equal(fs.copyFileRange(from(r), to(w), 96 * KiB, 0, root), 96 * KiB);
  assert.equal(fs.copyFileRange(from(r), to(w, 96 * KiB), 64 * KiB, 0, root), 32 * KiB);
  await rejects(() => fs.copyFileRange(from(r), to(w, 128 * KiB), 64 * KiB, 0, root), 'ENOSPC');
  for (const fh of [a, r, w, app]) fs.release('', fh, 0, root);
});

test('close(2) drops the closing process\'s POSIX locks even while other descriptors stay open (FLUSH with its lock owner)', async () => {
  const ops = pathOperations(newFs());
  const k = new FakeKernel(ops);
  await k.init();
  const ok = async (op: string, node: number, body: FrameBuilder) => {
    const r = await k.request(op, node, body.build());
    assert.equal(r.error, 0, `${op}: errno ${r.error}`);
    return r.body;
  };
  const created = await ok('CREATE', 1, new FrameBuilder().u32(O_RDWR).u32(S_IFREG | 0o644).u32(0).u32(0).cstring('f'));
  const node = Number(created.readBigUInt64LE(0));
  const fh1 = created.readBigUInt64LE(128);
  const fh2 = (await ok('OPEN', node, new FrameBuilder().u32(O_RDWR).u32(0))).readBigUInt64LE(0);
  const lk = (fh: bigint, owner: bigint, type: number) => new FrameBuilder().u64(fh).u64(owner).u64(0).u64(99).u32(type).u32(7).u32(0).u32(0);
  await ok('SETLK', node, lk(fh1, 1n, 1 /* F_WRLCK */)); //  process 1 locks through its first descriptor
  assert.equal((await k.request('SETLK', node, lk(fh2, 2n, 1).build())).error, 11, 'process 2 is locked out (EAGAIN)');
  await ok('FLUSH', node, new FrameBuilder().u64(fh2).u32(0).u32(0).u64(2n)); //   process 2 closing changes nothing
  assert.equal((await k.request('SETLK', node, lk(fh2, 2n, 1).build())).error, 11);
  await ok('FLUSH', node, new FrameBuilder().u64(fh2).u32(0).u32(0).u64(1n)); //   process 1 closes *another* descriptor
  await ok('SETLK', node, lk(fh2, 2n, 1)); //                                      and its lock is gone (POSIX)
  await ok('RELEASE', node, new FrameBuilder().u64(fh1).u32(0).u32(0).u64(0));
  await ok('RELEASE', node, new FrameBuilder().u64(fh2).u32(0).u32(0).u64(0));
  assert.equal(ops.handleCount, 0);
});
