// The reply readers of tsfuse/testing against the real reply encoders (src/protocol/replies.ts,
// dirent.ts) with sentinel values, and through the fake kernel from a low-level filesystem that answers
// every opcode with them. Short or overrunning bodies are refused with a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as R from '../../src/protocol/replies.ts';
import { packDirents, packDirentsPlus } from '../../src/protocol/dirent.ts';
import { reply } from '../../src/testing/replies.ts';
import { build } from '../../src/testing/builders.ts';
import { FakeKernel } from '../../src/testing.ts';
import type { LowLevelOperations } from '../../src/ops/lowlevel.ts';

const BIG = 0x8000_0000_0000_0001n;
const FH = 0xdeadbeefbaadf00dn;
const S_IFREG = 0o100000;
const joined = (parts: readonly Uint8Array[]): Buffer => Buffer.concat(parts);

const ATTR: R.Attr = {
  ino: BIG, size: 2 ** 40, blocks: 9, atime: { sec: -3, nsec: 4 }, mtime: { sec: 1_700_000_000, nsec: 999_999_999 }, ctime: { sec: BIG - 2n, nsec: 0 },
  mode: S_IFREG | 0o640, nlink: 3, uid: 1000, gid: 0xffff_fffe, rdev: 0x0801, blksize: 4096, flags: 1,
};
const ATTR_FIELDS = {
  ino: BIG, size: 2 ** 40, blocks: 9, atime: -3, atimensec: 4, mtime: 1_700_000_000, mtimensec: 999_999_999, ctime: BIG - 2n, ctimensec: 0,
  mode: S_IFREG | 0o640, nlink: 3, uid: 1000, gid: 0xffff_fffe, rdev: 0x0801, blksize: 4096, flags: 1,
};
const ENTRY: R.EntryReply = { ino: FH, generation: 5, entryTimeout: 2.5, attrTimeout: 0, attr: ATTR };
const ENTRY_FIELDS = { nodeid: FH, generation: 5, entryValid: 2, entryValidNsec: 500_000_000, attrValid: 0, attrValidNsec: 0, attr: ATTR_FIELDS };

test('entry, attr, open, create', () => {
  assert.deepEqual(reply.entry(R.encodeEntryOut(ENTRY)), ENTRY_FIELDS);
  assert.deepEqual(reply.attr(R.encodeAttrOut({ attr: ATTR, attrTimeout: 1 }, 1)), { attrValid: 1, attrValidNsec: 0, attr: ATTR_FIELDS });
  assert.deepEqual(reply.open(R.encodeOpenOut({ fh: FH, flags: 3, backingId: -7 })), { fh: FH, openFlags: 3, backingId: -7 });
  assert.deepEqual(reply.create(joined(R.encodeCreateOut({ entry: ENTRY, open: { fh: 2, flags: 1 } }))), { entry: ENTRY_FIELDS, open: { fh: 2, openFlags: 1, backingId: 0 } });
});

test('write, copy 64, statfs, xattr size and names, lock, bmap, poll, lseek', () => {
  assert.deepEqual(reply.write(R.encodeWriteOut(0xffff_fffe)), { size: 0xffff_fffe });
  assert.deepEqual(reply.copyFileRange64(R.encodeCopyFileRangeOut(BIG)), { bytesCopied: BIG });
  assert.deepEqual(
    reply.statfs(R.encodeStatfsOut({ blocks: BIG, bfree: 2, bavail: 3, files: 4, ffree: 5, bsize: 4096, namelen: 1024, frsize: 512 })),
    { blocks: BIG, bfree: 2, bavail: 3, files: 4, ffree: 5, bsize: 4096, namelen: 1024, frsize: 512 },
  );
  assert.deepEqual(reply.xattrSize(R.encodeGetxattrOut(65536)), { size: 65536 });
  assert.deepEqual(reply.xattrNames(R.joinXattrNames(['user.a', 'trusted.b', 'user.ü'])), ['user.a', 'trusted.b', 'user.ü']);
  assert.deepEqual(reply.xattrNames(Buffer.alloc(0)), []);
  assert.deepEqual(reply.lock(R.encodeLkOut({ start: 1, end: (1n << 63n) - 1n, type: 1, pid: 77 })), { start: 1, end: (1n << 63n) - 1n, type: 1, pid: 77 });
  assert.deepEqual(reply.bmap(R.encodeBmapOut(BIG)), { block: BIG });
  assert.deepEqual(reply.poll(R.encodePollOut(0x45)), { revents: 0x45 });
  assert.deepEqual(reply.lseek(R.encodeLseekOut(2 ** 50)), { offset: 2 ** 50 });
  assert.deepEqual(reply.data(Buffer.from('abc')), Buffer.from('abc'));
});

test('ioctl: data, and the retry iovecs', () => {
  assert.deepEqual(reply.ioctl(joined(R.encodeIoctlOut({ result: -5, data: Buffer.from([9, 8]) }, 16))), { result: -5, flags: 0, inIovs: 0, outIovs: 0, data: Buffer.from([9, 8]) });
  const retry = reply.ioctl(joined(R.encodeIoctlOut({ retry: { in: [{ base: BIG, len: 4 }], out: [{ base: 1, len: 2 }, { base: 3, len: FH }] } }, 0)));
  assert.deepEqual(retry, {
    result: 0, flags: 4, inIovs: 1, outIovs: 2, data: Buffer.alloc(0),
    retry: { in: [{ base: BIG, len: 4 }], out: [{ base: 1, len: 2 }, { base: 3, len: FH }] },
  });
});

test('statx', () => {
  const body = R.encodeStatxOut({
    attrTimeout: 3, flags: 0, statx: {
      mask: 0xfff, blksize: 4096, attributes: BIG, nlink: 2, uid: 5, gid: 6, mode: S_IFREG | 0o600, ino: 77, size: 12345, blocks: 24,
      attributesMask: 0x20, atime: { sec: -1, nsec: 2 }, btime: { sec: 3, nsec: 4 }, ctime: { sec: 5, nsec: 6 }, mtime: { sec: BIG - 9n, nsec: 8 },
      rdevMajor: 8, rdevMinor: 1, devMajor: 0, devMinor: 42,
    },
  }, 1);
  assert.deepEqual(reply.statx(body), {
    attrValid: 3, attrValidNsec: 0, flags: 0, statx: {
      mask: 0xfff, blksize: 4096, attributes: BIG, nlink: 2, uid: 5, gid: 6, mode: S_IFREG | 0o600, ino: 77, size: 12345, blocks: 24,
      attributesMask: 0x20, atime: { sec: -1, nsec: 2 }, btime: { sec: 3, nsec: 4 }, ctime: { sec: 5, nsec: 6 }, mtime: { sec: BIG - 9n, nsec: 8 },
      rdevMajor: 8, rdevMinor: 1, devMajor: 0, devMinor: 42,
    },
  });
});

test('dirents and direntplus records, padded to 8 bytes', () => {
  const list = reply.dirents(packDirents([
    { ino: 1, name: '.', offset: 1, type: 4 }, { ino: BIG, name: 'a-long-name', offset: 2, type: 8 }, { ino: 3, name: Buffer.from([0xff]), offset: BIG - 1n, type: 0 },
  ], 4096).data);
  assert.deepEqual(list.map((d) => [d.ino, d.off, d.type, d.name]), [[1, 1, 4, '.'], [BIG, 2, 8, 'a-long-name'], [3, BIG - 1n, 0, '\ufffd']]);
  assert.deepEqual(list[2]!.nameBytes, Buffer.from([0xff]));
  const plus = reply.direntsPlus(packDirentsPlus([
    { name: 'x', offset: 1, entry: ENTRY }, { name: 'yy', offset: 2, entry: { ino: 0, entryTimeout: 0 } },
  ], 4096).data);
  assert.equal(plus.length, 2);
  assert.deepEqual(plus[0]!.entry, ENTRY_FIELDS);
  assert.deepEqual([plus[0]!.name, plus[0]!.ino, plus[0]!.off, plus[0]!.type], ['x', BIG, 1, 8]);
  assert.deepEqual([plus[1]!.name, plus[1]!.entry.nodeid, plus[1]!.off], ['yy', 0, 2]);
});

test('wrong sizes and overrunning records are refused with a message', () => {
  const refused = (f: () => unknown, re: RegExp) => assert.throws(f, (e: Error & { code?: string }) => e.code === 'ERR_INVALID_ARG_VALUE' && re.test(e.message));
  refused(() => reply.entry(Buffer.alloc(120)), /entry_out: a body of 128 bytes expected, got 120/);
  refused(() => reply.attr(Buffer.alloc(0)), /attr_out/);
  refused(() => reply.create(Buffer.alloc(128)), /create/);
  refused(() => reply.write(Buffer.alloc(4)), /write_out/);
  refused(() => reply.ioctl(Buffer.alloc(8)), /ioctl_out: a body of at least 16 bytes/);
  refused(() => reply.xattrNames(Buffer.from('user.a')), /does not end with a NUL/);
  const d = packDirents([{ ino: 1, name: 'abc', offset: 1 }], 4096).data;
  refused(() => reply.dirents(d.subarray(0, 25)), /runs past/);
  refused(() => reply.dirents(d.subarray(0, 10)), /needs 24 bytes/);
  refused(() => reply.entry('x' as unknown as Uint8Array), /expected the reply body/);
});

test('through the fake kernel: each reply of a low-level filesystem read back', async () => {
  const ops: LowLevelOperations = {
    lookup: () => ENTRY,
    getattr: () => ({ attr: ATTR, attrTimeout: 1 }),
    open: () => ({ fh: FH }),
    read: () => 'data!',
    write: (req) => req.size,
    statfs: () => ({ blocks: 10, bsize: 4096 }),
    getxattr: () => 'value',
    listxattr: () => ['user.a', 'user.b'],
    getlk: () => ({ start: 0, end: 10, type: 2, pid: 0 }),
    bmap: (req) => req.block,
    poll: () => 1,
    lseek: () => 4096,
    create: () => ({ entry: ENTRY, open: { fh: 9 } }),
    readdir: () => [{ ino: 1, name: '.', offset: 1 }, { ino: 2, name: 'f', offset: 2 }],
    readdirplus: () => [{ name: 'f', offset: 1, entry: ENTRY }],
    ioctl: () => ({ result: 3, data: Buffer.from('out') }),
    statx: () => ({ statx: { mask: 1, mode: S_IFREG } }),
    copyFileRange: () => 1234,
  };
  const k = new FakeKernel(ops);
  await k.init();
  const ok = async (op: string, body: Buffer) => {
    const r = await k.request(op, 1, body);
    assert.equal(r.error, 0, `${op}: errno ${r.error}`);
    return r.body;
  };
  assert.deepEqual(reply.entry(await ok('LOOKUP', build.lookup('f'))), ENTRY_FIELDS);
  assert.deepEqual(reply.attr(await ok('GETATTR', build.getattr())).attr, ATTR_FIELDS);
  assert.equal(reply.open(await ok('OPEN', build.open(0))).fh, FH);
  assert.equal(reply.data(await ok('READ', build.read({ fh: FH, size: 3 }))).toString(), 'dat');
  assert.deepEqual(reply.write(await ok('WRITE', build.write({ fh: FH, data: 'abcd' }))), { size: 4 });
  assert.equal(reply.statfs(await ok('STATFS', build.statfs())).blocks, 10);
  assert.deepEqual(reply.xattrSize(await ok('GETXATTR', build.getxattr('user.a', 0))), { size: 5 });
  assert.equal(reply.data(await ok('GETXATTR', build.getxattr('user.a', 5))).toString(), 'value');
  assert.deepEqual(reply.xattrNames(await ok('LISTXATTR', build.listxattr(100))), ['user.a', 'user.b']);
  assert.deepEqual(reply.lock(await ok('GETLK', build.getlk({ fh: 1, owner: 2, lock: { start: 0, end: 10, type: 1 } }))), { start: 0, end: 10, type: 2, pid: 0 });
  assert.deepEqual(reply.bmap(await ok('BMAP', build.bmap({ block: BIG, blocksize: 512 }))), { block: BIG });
  assert.deepEqual(reply.poll(await ok('POLL', build.poll({ fh: 1, events: 1 }))), { revents: 1 });
  assert.deepEqual(reply.lseek(await ok('LSEEK', build.lseek({ fh: 1, offset: 0, whence: 3 }))), { offset: 4096 });
  assert.equal(reply.create(await ok('CREATE', build.create('n', { flags: 2, mode: S_IFREG | 0o644 }))).open.fh, 9);
  assert.deepEqual(reply.dirents(await ok('READDIR', build.readdir({ fh: 0 }))).map((d) => d.name), ['.', 'f']);
  assert.equal(reply.direntsPlus(await ok('READDIRPLUS', build.readdirplus({ fh: 0 })))[0]!.entry.nodeid, FH);
  assert.deepEqual(reply.ioctl(await ok('IOCTL', build.ioctl({ fh: 1, cmd: 1, outSize: 8 }))), { result: 3, flags: 0, inIovs: 0, outIovs: 0, data: Buffer.from('out') });
  assert.equal(reply.statx(await ok('STATX', build.statx({ sxMask: 1 }))).statx.mode, S_IFREG);
  assert.deepEqual(reply.write(await ok('COPY_FILE_RANGE', build.copyFileRange({ fhIn: 1, offIn: 0, nodeidOut: 1, fhOut: 1, offOut: 0, len: 5000 }))), { size: 1234 });
  assert.deepEqual(reply.copyFileRange64(await ok('COPY_FILE_RANGE_64', build.copyFileRange64({ fhIn: 1, offIn: 0, nodeidOut: 1, fhOut: 1, offOut: 0, len: 5000 }))), { bytesCopied: 1234 });
  k.check();
});
