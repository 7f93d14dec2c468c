// Every path operation as the fake kernel sends it: what the filesystem is called with, and what the
// kernel gets back. Error mapping, name encodings, caching options, notifications.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { stat as statAsync } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FuseError, hasFlag, pathOperations, type PathFilesystem, type PathContext } from '../../src/index.ts';
import { Harness, S_IFDIR, S_IFREG, S_IFLNK } from './harness.ts';
import { ModelFs } from './model-fs.ts';
import { FrameBuilder } from '../protocol/frame-builder.ts';
import { hello } from '../../examples/hello-path.ts';
import { FakeKernel, decodeEntryOut } from '../../src/testing.ts';
import { applyFsOptions } from '../../src/ops/fs-options.ts';

const ENOENT = 2, EIO = 5, EACCES = 13, EINVAL = 22, ENOSYS = 38, ERANGE = 34, ENODATA = 61, EEXIST = 17;

test('the hello example: lookup, getattr, readdir of plain names, read of a string, default statfs', async () => {
  const h = await Harness.start(hello);
  const e = await h.lookup(1, 'hello');
  assert.equal(e.error, 0);
  assert.equal(e.attr.mode, S_IFREG | 0o444);
  assert.equal(e.attr.size, 13);
  assert.equal(e.attr.blocks, 1);
  assert.equal(e.attr.nlink, 1);
  assert.ok(e.attr.mtime > 1_600_000_000, 'the mtime Date');
  assert.equal(e.attr.ctime, e.attr.mtime, 'ctime defaults to mtime');
  assert.equal((await h.lookup(1, 'nope')).error, ENOENT);
  const root = await h.getattr(1);
  assert.equal(root.attr.mode, S_IFDIR | 0o755);
  assert.equal(root.attr.nlink, 2);
  const o = await h.open(e.nodeid, 0);
  assert.equal((await h.read(e.nodeid, o.fh, 6, 100)).body.toString(), 'World!\n');
  const d = await h.open(1, 0, 'OPENDIR');
  const list = await h.readdir(1, d.fh, 0);
  // hello was looked up, so the layer knows its type and node; plain names carry nothing else.
  assert.deepEqual(list.entries.map((x) => [x.name, x.type, x.off, x.ino]), [['.', 4, 1, 1], ['..', 4, 2, 1], ['hello', 8, 3, e.nodeid]]);
  const sf = await h.req('STATFS', 1);
  assert.equal(sf.error, 0);
  assert.equal(sf.body.readUInt32LE(40 + 4), 255, 'namelen');
  assert.deepEqual(h.warnings, []);
});

test('getattr accepts Dates, seconds, bigint nanoseconds, { sec, nsec }, fs.Stats and fs.BigIntStats', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-path-'));
  try {
    const file = join(dir, 'f');
    writeFileSync(file, 'twelve bytes');
    const st = statSync(file);
    const big = statSync(file, { bigint: true });
    const answers: Record<string, unknown> = {
      '/date': { mode: S_IFREG | 0o600, mtime: new Date(1_700_000_000_123), size: 1000 },
      '/seconds': { mode: S_IFREG | 0o600, mtime: 1_700_000_000.25, atime: 5, ctime: -1.5 },
      '/bigint': { mode: S_IFREG | 0o600, mtime: 1_700_000_000_987_654_321n, size: 2n ** 60n, ino: 2n ** 62n },
      '/timespec': { mode: S_IFDIR | 0o700, mtime: { sec: 1_700_000_000n, nsec: 42 } },
      '/stats': st,
      '/bigstats': big,
    };
    const fs: PathFilesystem = {
      getattr(path) {
        if (path === '/') return { mode: S_IFDIR | 0o755 };
        const a = answers[path.slice(0)];
        if (a === undefined) throw new FuseError('ENOENT');
        return a as never;
      },
    };
    const h = await Harness.start(fs);
    const date = (await h.lookup(1, 'date')).attr;
    assert.deepEqual([date.mtime, date.mtimensec, date.size, date.blocks, date.blksize], [1_700_000_000, 123_000_000, 1000, 2, 4096]);
    assert.deepEqual([date.atime, date.atimensec], [1_700_000_000, 123_000_000], 'atime defaults to mtime');
    const secs = (await h.lookup(1, 'seconds')).attr;
    assert.deepEqual([secs.mtime, secs.mtimensec, secs.atime, secs.atimensec], [1_700_000_000, 250_000_000, 5, 0]);
    assert.equal(BigInt.asIntN(64, BigInt(secs.ctime)), -2n, 'negative times floor like a timespec');
    assert.equal(secs.ctimensec, 500_000_000);
    const b = await h.lookup(1, 'bigint');
    assert.deepEqual([b.attr.mtime, b.attr.mtimensec], [1_700_000_000, 987_654_321]);
    assert.equal(BigInt(b.attr.size), 2n ** 60n);
    assert.equal(BigInt(b.attr.ino), 2n ** 62n, 'use_ino: the filesystem\'s 64-bit inode number');
    assert.equal(BigInt(b.attr.blocks), 2n ** 60n / 512n);
    const ts = (await h.lookup(1, 'timespec')).attr;
    assert.deepEqual([ts.mtime, ts.mtimensec, ts.nlink, ts.mode], [1_700_000_000, 42, 2, S_IFDIR | 0o700]);
    const s = (await h.lookup(1, 'stats')).attr;
    assert.deepEqual([s.size, s.ino, s.mode, s.nlink, s.mtime], [12, st.ino, st.mode, st.nlink, Math.floor(st.mtimeMs / 1000)]);
    const bs = (await h.lookup(1, 'bigstats')).attr;
    assert.deepEqual([bs.size, bs.mtime, bs.mtimensec], [12, Number(big.mtimeNs / 1_000_000_000n), Number(big.mtimeNs % 1_000_000_000n)]);
    assert.deepEqual(h.warnings, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setattr is split into chmod, chown, truncate, utimens (in that order), then getattr for the reply', async () => {
  const fs = new ModelFs();
  fs.add('/f', S_IFREG | 0o644, 'abcdef');
  const h = await Harness.start(fs);
  const f = await h.lookup(1, 'f');
  const o = await h.open(f.nodeid, 2);
  fs.calls.length = 0;
  const r = await h.setattr(f.nodeid, { mode: S_IFREG | 0o4711, uid: 7, gid: 8, size: 3, fh: o.fh, atime: [1234, 5], mtime: [99, 999_999_999] });
  assert.equal(r.error, 0);
  assert.deepEqual(fs.calls, [
    'chmod /f 4711 fh=7000', 'chown /f 7 8', 'truncate /f 3 fh=7000', 'utimens /f 1234.5 99.999999999', 'getattr /f fh=7000',
  ]);
  assert.deepEqual([r.attr.mode, r.attr.uid, r.attr.gid, r.attr.size, r.attr.mtime, r.attr.mtimensec], [S_IFREG | 0o4711, 7, 8, 3, 99, 999_999_999]);
  // Only one id: the other is -1. UTIME_OMIT → undefined; UTIME_NOW → the current time, with nanoseconds.
  fs.calls.length = 0;
  const before = Date.now() / 1000;
  assert.equal((await h.setattr(f.nodeid, { gid: 9, mtime: 'now' })).error, 0);
  const after = Date.now() / 1000;
  assert.equal(fs.calls[0], 'chown /f -1 9');
  const m = /^utimens \/f omit (\d+)\.(\d+)$/.exec(fs.calls[1]!);
  assert.ok(m, fs.calls[1]);
  const t = Number(m[1]) + Number(m[2]) / 1e9;
  assert.ok(t >= before - 0.01 && t <= after + 0.01, `${t} within [${before}, ${after}]`);
  // Both 'now': the same instant.
  fs.calls.length = 0;
  await h.setattr(f.nodeid, { atime: 'now', mtime: 'now' });
  const both = /^utimens \/f (\S+) (\S+)$/.exec(fs.calls[0]!)!;
  assert.equal(both[1], both[2]);
});

test('a writable filesystem answers ENOSYS for what it lacks; setattr names the missing piece', async () => {
  const fs: PathFilesystem = {
    getattr: (p) => (p === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o644 }),
    chmod() {},
  };
  const h = await Harness.start(fs);
  const f = await h.lookup(1, 'x');
  assert.equal((await h.setattr(f.nodeid, { mode: 0o600 })).error, 0);
  assert.equal((await h.setattr(f.nodeid, { size: 0 })).error, ENOSYS);
  assert.equal((await h.mkdir(1, 'd')).error, ENOSYS);
  assert.equal((await h.unlink(1, 'x')).error, ENOSYS);
  assert.equal((await h.create(1, 'n', S_IFREG | 0o644, 0o101)).entry.error, ENOSYS);
});

test('create, or mknod + open without O_CREAT/O_EXCL; open flags in and FOPEN_* flags out', async () => {
  const calls: string[] = [];
  const withCreate: PathFilesystem = {
    getattr: (p) => (p === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o640, ino: 77 }),
    create(path, mode, flags, ctx) { calls.push(`create ${path} ${mode.toString(8)} ${flags.toString(8)} umask=${ctx.umask.toString(8)}`); return { fh: 31, directIo: true, nonSeekable: true }; },
    open(path, flags) { calls.push(`open ${path} ${flags.toString(8)}`); return { fh: 32, keepCache: true }; },
    release(path, fh) { calls.push(`release ${path} ${fh}`); },
  };
  const h = await Harness.start(withCreate);
  const c = await h.create(1, 'new', S_IFREG | 0o640, 0o100301, 0o022);
  assert.equal(c.entry.error, 0);
  assert.equal(c.entry.attr.ino, 77);
  assert.equal(c.openFlags, 1 | 4, 'DIRECT_IO | NONSEEKABLE');
  const o = await h.open(c.entry.nodeid, 0o2);
  assert.equal(o.openFlags, 2, 'KEEP_CACHE');
  assert.notEqual(o.fh, c.fh, 'the layer hands out its own handles');
  await h.release(c.entry.nodeid, c.fh);
  await h.release(c.entry.nodeid, o.fh);
  assert.deepEqual(calls, ['create /new 100640 100301 umask=22', 'open /new 2', 'release /new 31', 'release /new 32']);

  const fs = new ModelFs();
  const h2 = await Harness.start(fs);
  const c2 = await h2.create(1, 'via-mknod', S_IFREG | 0o600, 0o100302 | 0o200 | 0o400, 0o077);
  assert.equal(c2.entry.error, 0);
  assert.deepEqual(fs.calls.slice(0, 3), ['mknod /via-mknod 100600 0 umask=77', 'open /via-mknod flags=100002', 'getattr /via-mknod fh=7000']);
  assert.equal((await h2.write(c2.entry.nodeid, c2.fh, 0, 'data')).size, 4);
  assert.equal(fs.find('/via-mknod').data.toString(), 'data');
  assert.equal((await h2.create(1, 'via-mknod', S_IFREG | 0o600, 0o100302)).entry.error, EEXIST);
});

test('mknod, mkdir, symlink, readlink, link, unlink, rmdir, rename with flags', async () => {
  const fs = new ModelFs();
  const h = await Harness.start(fs);
  const fifo = await h.mknod(1, 'fifo', 0o010644, 0, 0o022);
  assert.equal(fifo.attr.mode, 0o010644);
  const dev = await h.mknod(1, 'dev', 0o020600, 0x0801);
  assert.equal(dev.error, 0);
  const d = await h.mkdir(1, 'dir', 0o1777, 0o022);
  assert.equal(d.attr.mode, S_IFDIR | 0o1777);
  const l = await h.symlink(d.nodeid, 'ln', '../some/where');
  assert.equal(l.attr.mode, S_IFLNK | 0o777);
  const rl = await h.req('READLINK', l.nodeid);
  assert.equal(rl.body.toString(), '../some/where');
  assert.equal((await h.rename(1, 'fifo', d.nodeid, 'fifo2', 1)).error, 0, 'NOREPLACE to a free name');
  assert.equal((await h.rename(1, 'dev', d.nodeid, 'fifo2', 1)).error, EEXIST, 'NOREPLACE refused by the filesystem');
  assert.equal((await h.unlink(d.nodeid, 'fifo2')).error, 0);
  assert.equal((await h.unlink(d.nodeid, 'ln')).error, 0);
  assert.equal((await h.unlink(1, 'dir', 'RMDIR')).error, 0);
  assert.deepEqual(fs.calls.filter((c) => !c.startsWith('getattr')), [
    'mknod /fifo 10644 0 umask=22', 'mknod /dev 20600 2049 umask=0', 'mkdir /dir 1777', 'symlink ../some/where /dir/ln',
    'readlink /dir/ln', 'rename /fifo /dir/fifo2 1', 'rename /dev /dir/fifo2 1', 'unlink /dir/fifo2', 'unlink /dir/ln', 'rmdir /dir',
  ]);
});

test('xattrs: set flags, get with the size probe and ERANGE, list, remove; list without listxattr is empty', async () => {
  const fs = new ModelFs();
  fs.add('/f', S_IFREG | 0o644);
  const h = await Harness.start(fs);
  const f = await h.lookup(1, 'f');
  const set = (name: string, value: string, flags: number) =>
    h.req('SETXATTR', f.nodeid, new FrameBuilder().u32(value.length).u32(flags).u32(0).u32(0).cstring(name).bytes(value));
  assert.equal((await set('user.a', 'hello', 1)).error, 0);
  assert.equal((await set('user.a', 'again', 1)).error, EEXIST);
  assert.equal((await set('user.b', 'x', 2)).error, ENODATA);
  const get = (name: string, size: number) => h.req('GETXATTR', f.nodeid, new FrameBuilder().u32(size).u32(0).cstring(name));
  assert.equal((await get('user.a', 0)).body.readUInt32LE(0), 5, 'size probe');
  assert.equal((await get('user.a', 2)).error, ERANGE);
  assert.equal((await get('user.a', 100)).body.toString(), 'hello');
  assert.equal((await get('user.zz', 100)).error, ENODATA);
  const list = await h.req('LISTXATTR', f.nodeid, new FrameBuilder().u32(100).u32(0));
  assert.equal(list.body.toString(), 'user.a\0');
  assert.equal((await h.req('REMOVEXATTR', f.nodeid, FrameBuilderName('user.a'))).error, 0);
  assert.equal((await h.req('REMOVEXATTR', f.nodeid, FrameBuilderName('user.a'))).error, ENODATA);

  const h2 = await Harness.start({ getattr: () => ({ mode: S_IFDIR | 0o755 }), getxattr: () => { throw new FuseError('ENODATA'); }, write: () => 0 });
  const empty = await h2.req('LISTXATTR', 1, new FrameBuilder().u32(0).u32(0));
  assert.equal(empty.body.readUInt32LE(0), 0, 'no names');
  // The 8-byte fuse_setxattr_in: without a setxattr handler SETXATTR_EXT is not asked for.
  assert.equal((await h2.req('SETXATTR', 1, new FrameBuilder().u32(1).u32(0).cstring('user.x').bytes('y'))).error, ENOSYS, 'writable fs without setxattr: ENOSYS (the kernel says EOPNOTSUPP)');
});

function FrameBuilderName(name: string): Buffer {
  return new FrameBuilder().cstring(name).build();
}

test('locks: getlk/setlk map to PosixLocks with bigint owners; flock(2) maps to LOCK_* and is dropped at release', async () => {
  const calls: string[] = [];
  const fs: PathFilesystem = {
    getattr: (p) => (p === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o644 }),
    getlk(path, fh, lock, owner) {
      calls.push(`getlk ${path} ${fh} ${lock.type} ${String(lock.start)}-${String(lock.end)} ${lock.pid} ${owner}`);
      return { type: 1, start: 10, end: 19, pid: 4242 };
    },
    setlk(path, _fh, lock, owner, wait) { calls.push(`setlk ${path} ${lock.type} ${String(lock.start)}-${String(lock.end)} ${owner} ${wait}`); },
    flock(path, _fh, op, owner) { calls.push(`flock ${path} ${op} ${owner}`); },
  };
  const h = await Harness.start(fs);
  const n = h.k.core.negotiated;
  assert.ok(hasFlag(n, 'POSIX_LOCKS') && hasFlag(n, 'FLOCK_LOCKS'));
  const f = await h.lookup(1, 'f');
  const o = await h.open(f.nodeid, 0);
  assert.notEqual(o.fh, 0);
  const owner = 0xdeadbeefbaadf00dn;
  const g = await h.lk('GETLK', f.nodeid, o.fh, owner, { start: 0, end: 2n ** 63n - 1n, type: 0, pid: 99 });
  assert.equal(g.error, 0);
  assert.deepEqual([Number(g.body.readBigUInt64LE(0)), Number(g.body.readBigUInt64LE(8)), g.body.readUInt32LE(16), g.body.readUInt32LE(20)], [10, 19, 1, 4242]);
  await h.lk('SETLK', f.nodeid, o.fh, owner, { start: 5, end: 6, type: 1, pid: 99 });
  await h.lk('SETLKW', f.nodeid, o.fh, owner, { start: 5, end: 6, type: 2, pid: 99 });
  await h.lk('SETLK', f.nodeid, o.fh, 1n, { start: 0, end: 2n ** 63n - 1n, type: 0, pid: 99 }, true);
  await h.lk('SETLKW', f.nodeid, o.fh, 1n, { start: 0, end: 2n ** 63n - 1n, type: 1, pid: 99 }, true);
  await h.lk('SETLK', f.nodeid, o.fh, 1n, { start: 0, end: 2n ** 63n - 1n, type: 2, pid: 99 }, true);
  await h.release(f.nodeid, o.fh, 'RELEASE', 2, 3);
  assert.deepEqual(calls, [
    `getlk /f 0 0 0-9223372036854775807 99 ${owner}`,
    `setlk /f 1 5-6 ${owner} false`, `setlk /f 2 5-6 ${owner} true`,
    'flock /f 5 1', 'flock /f 2 1', 'flock /f 8 1', 'flock /f 8 3',
  ]);

  // Only flock: POSIX locks stay with the kernel.
  const h2 = await Harness.start({ flock() {}, write: () => 0 });
  assert.ok(!hasFlag(h2.k.core.negotiated, 'POSIX_LOCKS'));
  assert.ok(hasFlag(h2.k.core.negotiated, 'FLOCK_LOCKS'));
  const h3 = await Harness.start(hello);
  assert.ok(!hasFlag(h3.k.core.negotiated, 'POSIX_LOCKS') && !hasFlag(h3.k.core.negotiated, 'FLOCK_LOCKS'));
});

test('removesSetIds: true asks for HANDLE_KILLPRIV_V2 (with or without an init of its own, next to dropped lock flags); absent, it is not asked for', async () => {
  const inits: string[] = [];
  const own = await Harness.start({ ...hello, removesSetIds: true, init: () => { inits.push('init'); } });
  assert.ok(hasFlag(own.k.core.negotiated, 'HANDLE_KILLPRIV_V2'));
  assert.deepEqual(inits, ['init']);
  const bare = await Harness.start({ ...hello, removesSetIds: true, flock() {} });
  assert.ok(hasFlag(bare.k.core.negotiated, 'HANDLE_KILLPRIV_V2') && !hasFlag(bare.k.core.negotiated, 'POSIX_LOCKS'));
  const plain = await Harness.start(hello);
  assert.ok(!hasFlag(plain.k.core.negotiated, 'HANDLE_KILLPRIV_V2'));
});

test('ioctl, poll with wakeup, lseek, copyFileRange, fallocate, fsync, flush, fsyncdir, access, statfs', async () => {
  const calls: string[] = [];
  let wake: (() => Promise<void>) | undefined;
  const fs: PathFilesystem = {
    getattr: (p) => (p === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o644 }),
    open: (p) => (p === '/a' ? 1 : 2),
    opendir: () => 9,
    ioctl(path, cmd, arg, fh, _flags, data, outSize) {
      calls.push(`ioctl ${path} ${cmd.toString(16)} ${arg} ${fh} ${Buffer.from(data).toString()} ${outSize}`);
      return { result: 3, data: Buffer.from('out!') };
    },
    poll(path, fh, events, wakeup) { calls.push(`poll ${path} ${fh} ${events} ${wakeup !== undefined}`); wake = wakeup; return 4; },
    lseek(path, offset, whence, fh) { calls.push(`lseek ${path} ${offset} ${whence} ${fh}`); return offset + 1; },
    copyFileRange(from, to, length, flags) { calls.push(`copy ${from.path}:${from.fh}@${from.offset} ${to.path}:${to.fh}@${to.offset} ${length} ${flags}`); return length - 1; },
    fallocate(path, mode, offset, length, fh) { calls.push(`fallocate ${path} ${mode} ${offset} ${length} ${fh}`); },
    fsync(path, datasync, fh) { calls.push(`fsync ${path} ${datasync} ${fh}`); },
    flush(path, fh, owner) { calls.push(`flush ${path} ${fh} ${owner}`); },
    fsyncdir(path, datasync, fh) { calls.push(`fsyncdir ${path} ${datasync} ${fh}`); },
    access(path, mask, ctx) { calls.push(`access ${path} ${mask} ${ctx.uid}`); if (ctx.uid !== 0) throw new FuseError('EACCES'); },
    statfs: () => ({ bsize: 4096, frsize: 1024, blocks: 2n ** 40n, bfree: 5, bavail: 4, files: 3, ffree: 2, namelen: 143 }),
  };
  const h = await Harness.start(fs);
  const a = await h.lookup(1, 'a');
  const b = await h.lookup(1, 'b');
  const oa = await h.open(a.nodeid, 2);
  const ob = await h.open(b.nodeid, 2);
  const io = await h.req('IOCTL', a.nodeid, new FrameBuilder().u64(oa.fh).u32(0).u32(0x80045401).u64(0xfeedn).u32(3).u32(16).bytes('inp'));
  assert.equal(io.body.readInt32LE(0), 3);
  assert.equal(io.body.subarray(16).toString(), 'out!');
  const p = await h.req('POLL', a.nodeid, new FrameBuilder().u64(oa.fh).u64(77).u32(1).u32(1));
  assert.equal(p.body.readUInt32LE(0), 4);
  const ls = await h.req('LSEEK', a.nodeid, new FrameBuilder().u64(oa.fh).u64(4096).u32(3).u32(0));
  assert.equal(Number(ls.body.readBigUInt64LE(0)), 4097);
  const cp = await h.req('COPY_FILE_RANGE', a.nodeid, new FrameBuilder().u64(oa.fh).u64(10).u64(b.nodeid).u64(ob.fh).u64(20).u64(100).u64(0));
  assert.equal(cp.body.readUInt32LE(0), 99);
  assert.equal((await h.req('FALLOCATE', a.nodeid, new FrameBuilder().u64(oa.fh).u64(0).u64(8192).u32(3).u32(0))).error, 0);
  assert.equal((await h.req('FSYNC', a.nodeid, new FrameBuilder().u64(oa.fh).u32(1).u32(0))).error, 0);
  assert.equal((await h.req('FLUSH', a.nodeid, new FrameBuilder().u64(oa.fh).u32(0).u32(0).u64(5))).error, 0);
  const d = await h.open(1, 0, 'OPENDIR');
  assert.equal((await h.req('FSYNCDIR', 1, new FrameBuilder().u64(d.fh).u32(0).u32(0))).error, 0);
  assert.equal((await h.req('ACCESS', a.nodeid, new FrameBuilder().u32(6).u32(0))).error, 0);
  assert.equal((await h.req('ACCESS', a.nodeid, new FrameBuilder().u32(2).u32(0), 1000)).error, EACCES);
  const sf = await h.req('STATFS', a.nodeid);
  assert.deepEqual([sf.body.readBigUInt64LE(0), sf.body.readUInt32LE(40), sf.body.readUInt32LE(44), sf.body.readUInt32LE(48)], [2n ** 40n, 4096, 143, 1024]);
  assert.deepEqual(calls, [
    'ioctl /a 80045401 65261 1 inp 16', 'poll /a 1 1 true', 'lseek /a 4096 3 1', 'copy /a:1@10 /b:2@20 100 0',
    'fallocate /a 3 0 8192 1', 'fsync /a true 1', 'flush /a 1 5', 'fsyncdir / false 9', 'access /a 6 0', 'access /a 2 1000',
  ]);
  // The poll wakeup is the kernel's POLL notification for the request's kh (once the notifier is known).
  assert.ok(wake);
  const count = h.k.notifications.length;
  await wake();
  const frame = h.k.notifications[count]!;
  assert.equal(frame.readInt32LE(4), 1, 'FUSE_NOTIFY_POLL');
  assert.equal(Number(frame.readBigUInt64LE(16)), 77, 'kh');
});

test('init hands the filesystem a notifier: invalidate(path) and invalidateEntry(path) name the kernel\'s nodes', async () => {
  const fs = new ModelFs();
  fs.add('/d', S_IFDIR | 0o755);
  fs.add('/d/f', S_IFREG | 0o644);
  let notify: { invalidate(p: string): Promise<void>; invalidateEntry(p: string): Promise<void> } | undefined;
  let early: unknown;
  (fs as unknown as PathFilesystem).init = async (info) => {
    notify = info.notify;
    // During INIT the kernel cannot take notifications yet.
    early = await info.notify.invalidate('/').catch((e: unknown) => e);
  };
  const h = await Harness.start(fs);
  assert.ok(notify);
  assert.equal((early as { code?: string }).code, 'ERR_INVALID_STATE');
  const d = await h.lookup(1, 'd');
  const f = await h.lookup(d.nodeid, 'f');
  const start = h.k.notifications.length;
  await notify.invalidate('/d/f');
  await notify.invalidateEntry('/d/f');
  await notify.invalidate('/d/unknown'); // the kernel has no node for it: nothing is sent
  await notify.invalidateEntry('/unknown/x');
  const sent = h.k.notifications.slice(start);
  assert.equal(sent.length, 2);
  assert.equal(sent[0]!.readInt32LE(4), 2, 'INVAL_INODE');
  assert.equal(Number(sent[0]!.readBigUInt64LE(16)), f.nodeid);
  assert.equal(sent[1]!.readInt32LE(4), 3, 'INVAL_ENTRY');
  assert.equal(Number(sent[1]!.readBigUInt64LE(16)), d.nodeid);
  assert.equal(sent[1]!.subarray(32, 33).toString(), 'f');
});

test('errors: FuseError, Node SystemErrors, errno name strings; anything else is EIO with a warning', async () => {
  const missing = await statAsync('/nonexistent/tsfuse').catch((e: unknown) => e);
  const throwers: Record<string, () => never> = {
    '/fuse': () => { throw new FuseError('EACCES'); },
    '/system': () => { throw missing; },
    '/string': () => { throw 'ENOTDIR'; },
    '/badstring': () => { throw 'ENOPE'; },
    '/error': () => { throw new Error('boom'); },
    '/async': () => Promise.reject(new FuseError('EXDEV')) as never,
  };
  const fs: PathFilesystem = {
    getattr(path) {
      if (path === '/') return { mode: S_IFDIR | 0o755 };
      if (path === '/nomode') return { size: 1 } as never;
      return throwers[path]!();
    },
  };
  const h = await Harness.start(fs);
  assert.equal((await h.lookup(1, 'fuse')).error, EACCES);
  assert.equal((await h.lookup(1, 'system')).error, ENOENT);
  assert.equal((await h.lookup(1, 'string')).error, 20);
  assert.equal((await h.lookup(1, 'async')).error, 18);
  assert.equal(h.warnings.length, 0);
  assert.equal((await h.lookup(1, 'badstring')).error, EIO);
  assert.equal((await h.lookup(1, 'error')).error, EIO);
  assert.equal((await h.lookup(1, 'nomode')).error, EIO);
  assert.equal(h.warnings.length, 3);
  assert.match(h.warnings.join('\n'), /LOOKUP/);
  assert.equal(h.nodes, 1, 'failed lookups register nothing');
});

test('names: utf8 refuses invalid bytes with EINVAL; latin1 round-trips every byte', async () => {
  const seen: string[] = [];
  const fs: PathFilesystem = {
    getattr(path) { seen.push(path); return path === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o644 }; },
    readdir: () => ['\u00ff\u0041', 'plain'],
  };
  const bad = Buffer.from([0xff, 0x41]);
  const h = await Harness.start(fs);
  assert.equal((await h.lookup(1, bad)).error, EINVAL);
  assert.equal((await h.lookup(1, 'héllo')).error, 0);
  assert.deepEqual(seen, ['/héllo']);
  const l = await Harness.start(fs, { nameEncoding: 'latin1' });
  seen.length = 0;
  assert.equal((await l.lookup(1, bad)).error, 0);
  assert.deepEqual(seen, ['/\u00ffA']);
  const d = await l.open(1, 0, 'OPENDIR');
  const r = await l.req('READDIR', 1, new FrameBuilder().u64(d.fh).u64(2).u32(4096).u32(0).u64(0).u32(0).u32(0));
  // First entry after "." and "..": the raw bytes 0xff 0x41.
  assert.deepEqual([...r.body.subarray(24, 26)], [0xff, 0x41]);
  assert.throws(() => pathOperations(fs, { nameEncoding: 'ascii' as never }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('caching options: entry/attr timeouts in replies (default 1 s), negativeTimeout caches ENOENT', async () => {
  const fs: PathFilesystem = { getattr: (p) => (p === '/' || p === '/x' ? { mode: S_IFDIR | 0o755 } : Promise.reject(new FuseError('ENOENT'))) };
  const dflt = await Harness.start(fs);
  const e = await dflt.lookup(1, 'x');
  assert.deepEqual([e.entryValid, e.attrValid], [1, 1]);
  assert.equal((await dflt.lookup(1, 'y')).error, ENOENT);
  const h = await Harness.start(fs, { entryTimeout: 30, attrTimeout: 7, negativeTimeout: 12 });
  const e2 = await h.lookup(1, 'x');
  assert.deepEqual([e2.entryValid, e2.attrValid], [30, 7]);
  assert.equal((await h.getattr(e2.nodeid)).valid, 7);
  const neg = await h.lookup(1, 'y');
  assert.equal(neg.error, 0);
  assert.deepEqual([neg.nodeid, neg.entryValid], [0, 12], 'node id 0: a cached negative entry');
  assert.equal(h.nodes, 2);
  assert.throws(() => pathOperations(fs, { attrTimeout: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });

  // Unset, the mount's -o entry_timeout / attr_timeout / negative_timeout apply (as mount() wraps the ops).
  const k = new FakeKernel(applyFsOptions(pathOperations(fs), { entryTimeout: 8, attrTimeout: 9, negativeTimeout: 4 }));
  await k.init();
  const viaMount = decodeEntryOut((await k.request('LOOKUP', 1, FakeKernel.name('x'))).body);
  assert.deepEqual([Number(viaMount.entryValid), Number(viaMount.attrValid)], [8, 9]);
  const negMount = await k.request('LOOKUP', 1, FakeKernel.name('y'));
  assert.deepEqual([negMount.error, Number(decodeEntryOut(negMount.body).nodeid), Number(decodeEntryOut(negMount.body).entryValid)], [0, 0, 4]);
  // Set in the layer, they win over the mount's.
  const k2 = new FakeKernel(applyFsOptions(pathOperations(fs, { entryTimeout: 2 }), { entryTimeout: 8 }));
  await k2.init();
  assert.equal(Number(decodeEntryOut((await k2.request('LOOKUP', 1, FakeKernel.name('x'))).body).entryValid), 2);
});

test('the context: caller ids, umask on creating calls, a lazily created AbortSignal', async () => {
  const fs = new ModelFs();
  const h = await Harness.start(fs);
  await h.req('MKDIR', 1, new FrameBuilder().u32(0o777).u32(0o027).cstring('d'), 1234);
  const ctx = fs.contexts[0] as PathContext;
  assert.deepEqual([ctx.uid, ctx.gid, ctx.pid, ctx.umask], [1234, 1234, 1, 0o027]);
  assert.equal(ctx.signal.aborted, false);
});

test('read may return a string (sent as UTF-8, cut to the size asked for)', async () => {
  const h = await Harness.start({ getattr: (p) => (p === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o444, size: 6 }), read: () => 'héllo' });
  const f = await h.lookup(1, 'f');
  const o = await h.open(f.nodeid, 0);
  assert.equal((await h.read(f.nodeid, o.fh, 0, 100)).body.toString(), 'héllo');
  assert.deepEqual([...(await h.read(f.nodeid, o.fh, 0, 2)).body], [0x68, 0xc3]);
});
