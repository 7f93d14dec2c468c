// Every request builder of tsfuse/testing, decoded by the real decoder (decodeRequest with the opcode
// table): the builders write from the struct layouts, the decoders read with their own cursor, so a
// field in the wrong place or of the wrong width shows here. Every opcode row with a handler method must
// have a case. A few bodies are also compared byte for byte with the naive FrameBuilder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from '../../src/testing/builders.ts';
import { writeStruct } from '../../src/testing/struct-writer.ts';
import { decodeRequest } from '../../src/protocol/decode.ts';
import { OPCODES, opcodeByName } from '../../src/protocol/opcodes.ts';
import { PRE_INIT, type Negotiated } from '../../src/protocol/negotiated.ts';
import { MkdirIn } from '../../src/protocol/structs.ts';
import { FrameBuilder, request } from '../protocol/frame-builder.ts';

// Sentinels: distinct, with high bits set where a field is 64 bits wide.
const FH = 0xdeadbeefbaadf00dn;
const LO = 0xfeedfacecafebeefn;
const KH = 0x0123456789abcdefn;
const BIG = 0x8000_0000_0000_0001n;
const OFF = 2 ** 40 + 3;
const MAX_OFF = (1n << 63n) - 1n;
const INO = 7;
const EXT: Negotiated = Object.freeze({ ...PRE_INIT, setxattrExt: true });
const b = (s: string): Buffer => Buffer.from(s);

interface Case { readonly op: string; readonly nodeid?: number | bigint; readonly body: Buffer; readonly args: unknown; readonly n?: Negotiated; readonly label?: string }

const CASES: readonly Case[] = [
  { op: 'LOOKUP', body: build.lookup('hello'), args: { parent: INO, name: b('hello') } },
  { op: 'FORGET', body: build.forget(BIG), args: { items: [{ ino: INO, nlookup: BIG }] } },
  { op: 'BATCH_FORGET', nodeid: 0, body: build.batchForget([{ nodeid: FH, nlookup: 2 }, { nodeid: 5, nlookup: BIG }]), args: { items: [{ ino: FH, nlookup: 2 }, { ino: 5, nlookup: BIG }] } },
  { op: 'GETATTR', body: build.getattr({ fh: FH }), args: { ino: INO, flags: 1, fh: FH } },
  { op: 'GETATTR', label: 'without fh', body: build.getattr(), args: { ino: INO, flags: 0 } },
  {
    op: 'SETATTR',
    body: build.setattr({ mode: 0o4644, uid: 1000, gid: 0xffff_fffe, size: BIG - 2n, atime: 'now', mtime: { sec: -5, nsec: 7 }, ctime: new Date(1_700_000_000_123), fh: FH, lockOwner: LO, killSuidgid: true }),
    // MODE 1 | UID 2 | GID 4 | SIZE 8 | ATIME 16 | MTIME 32 | FH 64 | ATIME_NOW 128 | LOCKOWNER 512 | CTIME 1024 | KILL_SUIDGID 2048
    args: { ino: INO, valid: 3839, fh: FH, size: BIG - 2n, lockOwner: LO, atime: 'now', mtime: { sec: -5, nsec: 7 }, ctime: { sec: 1_700_000_000, nsec: 123_000_000 }, mode: 0o4644, uid: 1000, gid: 0xffff_fffe, killSuidgid: true },
  },
  { op: 'SETATTR', label: 'times only', body: build.setattr({ atime: 1.5, mtime: 10n ** 18n + 9n }), args: { ino: INO, valid: 48, atime: { sec: 1, nsec: 500_000_000 }, mtime: { sec: 10 ** 9, nsec: 9 }, killSuidgid: false } },
  { op: 'READLINK', body: build.readlink(), args: { ino: INO } },
  { op: 'SYMLINK', body: build.symlink('link', '../target/x'), args: { parent: INO, name: b('link'), target: b('../target/x') } },
  { op: 'MKNOD', body: build.mknod('fifo', { mode: 0o010644, rdev: 0x0801, umask: 0o022 }), args: { parent: INO, mode: 0o010644, rdev: 0x0801, umask: 0o022, name: b('fifo') } },
  { op: 'MKDIR', body: build.mkdir('dir', { mode: 0o755, umask: 0o022 }), args: { parent: INO, mode: 0o755, umask: 0o022, name: b('dir') } },
  { op: 'UNLINK', body: build.unlink(Buffer.from([0xff, 0x41])), args: { parent: INO, name: Buffer.from([0xff, 0x41]) } },
  { op: 'RMDIR', body: build.rmdir('d'), args: { parent: INO, name: b('d') } },
  { op: 'RENAME', body: build.rename('a', BIG, 'b'), args: { parent: INO, name: b('a'), newParent: BIG, newName: b('b'), flags: 0 } },
  { op: 'RENAME2', body: build.rename2('a', 9, 'b', 2), args: { parent: INO, name: b('a'), newParent: 9, newName: b('b'), flags: 2 } },
  { op: 'LINK', body: build.link(BIG, 'b'), args: { ino: BIG, newParent: INO, newName: b('b') } },
  { op: 'OPEN', body: build.open(0o1102, { openFlags: 1 }), args: { ino: INO, flags: 0o1102, openFlags: 1 } },
  { op: 'READ', body: build.read({ fh: FH, offset: OFF, size: 131072, lockOwner: LO, flags: 2 }), args: { ino: INO, fh: FH, offset: OFF, size: 131072, readFlags: 2, flags: 2, lockOwner: LO } },
  { op: 'READ', label: 'without lock owner', body: build.read({ fh: 1, size: 10 }), args: { ino: INO, fh: 1, offset: 0, size: 10, readFlags: 0, flags: 0 } },
  {
    op: 'WRITE', body: build.write({ fh: FH, offset: MAX_OFF - 10n, data: 'hello', writeFlags: 1, lockOwner: LO, flags: 0o2001 }),
    args: { ino: INO, fh: FH, offset: MAX_OFF - 10n, size: 5, writeFlags: 3, flags: 0o2001, data: b('hello'), lockOwner: LO },
  },
  { op: 'STATFS', body: build.statfs(), args: { ino: INO } },
  { op: 'RELEASE', body: build.release({ fh: FH, flags: 2, flush: true, flockUnlock: true, lockOwner: LO }), args: { ino: INO, fh: FH, flags: 2, releaseFlags: 3, lockOwner: LO, flush: true, flockUnlock: true } },
  { op: 'FSYNC', body: build.fsync({ fh: FH, datasync: true }), args: { ino: INO, fh: FH, fsyncFlags: 1, datasync: true } },
  {
    op: 'SETXATTR', label: 'SETXATTR_EXT form', n: EXT, body: build.setxattr('user.k', Buffer.from([0, 1, 2]), { flags: 2, setxattrFlags: 1 }),
    args: { ino: INO, name: b('user.k'), value: Buffer.from([0, 1, 2]), flags: 2, setxattrFlags: 1 },
  },
  { op: 'SETXATTR', label: 'short form', body: build.setxattr('user.k', 'v', { flags: 1, ext: false }), args: { ino: INO, name: b('user.k'), value: b('v'), flags: 1, setxattrFlags: 0 } },
  { op: 'GETXATTR', body: build.getxattr('user.k', 4096), args: { ino: INO, size: 4096, name: b('user.k') } },
  { op: 'LISTXATTR', body: build.listxattr(77), args: { ino: INO, size: 77 } },
  { op: 'REMOVEXATTR', body: build.removexattr('user.k'), args: { ino: INO, name: b('user.k') } },
  { op: 'FLUSH', body: build.flush({ fh: FH, lockOwner: LO }), args: { ino: INO, fh: FH, lockOwner: LO } },
  { op: 'OPENDIR', body: build.opendir(0o200000), args: { ino: INO, flags: 0o200000, openFlags: 0 } },
  { op: 'READDIR', body: build.readdir({ fh: FH, offset: MAX_OFF, size: 8192 }), args: { ino: INO, fh: FH, offset: MAX_OFF, size: 8192, readFlags: 0, flags: 0 } },
  { op: 'READDIRPLUS', body: build.readdirplus({ fh: 3 }), args: { ino: INO, fh: 3, offset: 0, size: 4096, readFlags: 0, flags: 0 } },
  { op: 'RELEASEDIR', body: build.releasedir({ fh: FH }), args: { ino: INO, fh: FH, flags: 0, releaseFlags: 0, lockOwner: 0, flush: false, flockUnlock: false } },
  { op: 'FSYNCDIR', body: build.fsyncdir({ fh: FH }), args: { ino: INO, fh: FH, fsyncFlags: 0, datasync: false } },
  {
    op: 'GETLK', body: build.getlk({ fh: FH, owner: LO, lock: { start: OFF, end: MAX_OFF, type: 1, pid: 4242 } }),
    args: { ino: INO, fh: FH, lockOwner: LO, lock: { start: OFF, end: MAX_OFF, type: 1, pid: 4242 }, lkFlags: 0, flock: false, sleep: false },
  },
  {
    op: 'SETLK', body: build.setlk({ fh: FH, owner: LO, lock: { start: 0, end: 9, type: 0 }, flock: true }),
    args: { ino: INO, fh: FH, lockOwner: LO, lock: { start: 0, end: 9, type: 0, pid: 0 }, lkFlags: 1, flock: true, sleep: false },
  },
  {
    op: 'SETLKW', body: build.setlkw({ fh: FH, owner: LO, lock: { start: 1, end: 2, type: 2, pid: 3 } }),
    args: { ino: INO, fh: FH, lockOwner: LO, lock: { start: 1, end: 2, type: 2, pid: 3 }, lkFlags: 0, flock: false, sleep: true },
  },
  { op: 'ACCESS', body: build.access(6), args: { ino: INO, mask: 6 } },
  {
    op: 'CREATE', body: build.create('new', { flags: 0o100301, mode: 0o100640, umask: 0o027, openFlags: 1 }),
    args: { parent: INO, flags: 0o100301, mode: 0o100640, umask: 0o027, openFlags: 1, name: b('new') },
  },
  { op: 'BMAP', body: build.bmap({ block: BIG, blocksize: 4096 }), args: { ino: INO, block: BIG, blocksize: 4096 } },
  {
    op: 'IOCTL', body: build.ioctl({ fh: FH, cmd: 0x8004_6601, arg: KH, flags: 16, data: Buffer.from([1, 2, 3, 4]), outSize: 8 }),
    args: { ino: INO, fh: FH, flags: 16, cmd: 0x8004_6601, arg: KH, inSize: 4, outSize: 8, inData: Buffer.from([1, 2, 3, 4]) },
  },
  { op: 'POLL', body: build.poll({ fh: FH, kh: KH, flags: 1, events: 0x41 }), args: { ino: INO, fh: FH, kh: KH, flags: 1, events: 0x41 } },
  { op: 'FALLOCATE', body: build.fallocate({ fh: FH, offset: OFF, length: 4096, mode: 3 }), args: { ino: INO, fh: FH, offset: OFF, length: 4096, mode: 3 } },
  { op: 'LSEEK', body: build.lseek({ fh: FH, offset: OFF, whence: 4 }), args: { ino: INO, fh: FH, offset: OFF, whence: 4 } },
  {
    op: 'COPY_FILE_RANGE', body: build.copyFileRange({ fhIn: FH, offIn: 1, nodeidOut: BIG, fhOut: KH, offOut: OFF, len: 2 ** 33, flags: 0 }),
    args: { ino: INO, fhIn: FH, offIn: 1, inoOut: BIG, fhOut: KH, offOut: OFF, len: 2 ** 33, flags: 0 },
  },
  {
    op: 'COPY_FILE_RANGE_64', body: build.copyFileRange64({ fhIn: 1, offIn: 2, nodeidOut: 3, fhOut: 4, offOut: 5, len: LO, flags: 6 }),
    args: { ino: INO, fhIn: 1, offIn: 2, inoOut: 3, fhOut: 4, offOut: 5, len: LO, flags: 6 },
  },
  { op: 'TMPFILE', body: build.tmpfile({ flags: 0o20200002, mode: 0o100600 }), args: { parent: INO, flags: 0o20200002, mode: 0o100600, umask: 0, openFlags: 0, name: b('/') } },
  { op: 'STATX', body: build.statx({ fh: FH, sxFlags: 0x800, sxMask: 0xfff }), args: { ino: INO, getattrFlags: 1, fh: FH, sxFlags: 0x800, sxMask: 0xfff } },
  { op: 'STATX', label: 'without fh', body: build.statx({ sxMask: 1 }), args: { ino: INO, getattrFlags: 0, sxFlags: 0, sxMask: 1 } },
  { op: 'SYNCFS', body: build.syncfs(), args: { ino: INO } },
  { op: 'INTERRUPT', nodeid: 0, body: build.interrupt(FH & ~(1n << 63n)), args: { target: FH & ~(1n << 63n) } },
];

for (const c of CASES) {
  test(`${c.op}${c.label ? ` (${c.label})` : ''}: the real decoder reads back what the builder was given`, () => {
    const row = opcodeByName(c.op)!;
    const frame = request({ opcode: row.code, unique: 2, nodeid: c.nodeid ?? INO }, c.body);
    const decoded = decodeRequest(frame, c.n ?? PRE_INIT);
    assert.ok(!('error' in decoded), `decode error: ${JSON.stringify('error' in decoded ? decoded.error : undefined)}`);
    assert.deepEqual(decoded.args, c.args);
    if (row.fixed && c.label !== 'short form') assert.ok(c.body.length >= row.fixed.size, `${c.op}: body shorter than ${row.fixed.cName}`);
  });
}

test('every opcode with a handler method (and INTERRUPT) has a builder case above', () => {
  const covered = new Set(CASES.map((c) => c.op));
  const missing = OPCODES.filter((r) => r.method !== undefined && !covered.has(r.name)).map((r) => r.name);
  assert.deepEqual(missing, []);
  assert.ok(covered.has('INTERRUPT'));
  assert.ok(covered.has('SETXATTR') && CASES.filter((c) => c.op === 'SETXATTR').length === 2, 'both SETXATTR forms');
});

test('byte for byte against the naive FrameBuilder', () => {
  assert.deepEqual(build.mkdir('dir', { mode: 0o755, umask: 0o022 }), new FrameBuilder().u32(0o755).u32(0o022).cstring('dir').build());
  assert.deepEqual(
    build.release({ fh: FH, flags: 2, flush: true, lockOwner: LO }),
    new FrameBuilder().u64(FH).u32(2).u32(1).u64(LO).build(), //     fh | flags, release_flags | lock_owner
  );
  assert.deepEqual(
    build.setxattr('a', 'xy', { flags: 1 }),
    new FrameBuilder().u32(2).u32(1).u32(0).u32(0).cstring('a').bytes('xy').build(), // size, flags | setxattr_flags, padding | name | value
  );
  assert.deepEqual(build.setxattr('a', 'xy', { ext: false }), new FrameBuilder().u32(2).u32(0).cstring('a').bytes('xy').build());
  assert.deepEqual(
    build.write({ fh: 1, offset: 2, data: 'z' }),
    new FrameBuilder().u64(1).u64(2).u32(1).u32(0).u64(0).u32(0).u32(0).bytes('z').build(), // fh | offset | size, write_flags | lock_owner | flags, padding | data
  );
  assert.deepEqual(build.batchForget([{ nodeid: 3, nlookup: 4 }]), new FrameBuilder().u32(1).u32(0).u64(3).u64(4).build());
  assert.deepEqual(build.interrupt(BIG), new FrameBuilder().u64(BIG).build());
});

test('bad arguments are refused with ERR_INVALID_ARG_VALUE naming the field', () => {
  const refused = (f: () => unknown, re: RegExp) => assert.throws(f, (e: Error & { code?: string }) => e.code === 'ERR_INVALID_ARG_VALUE' && re.test(e.message));
  refused(() => build.lookup('a\0b'), /NUL/);
  refused(() => build.mkdir('d', { mode: -1 }), /fuse_mkdir_in\.mode/);
  refused(() => build.access(2 ** 32), /fuse_access_in\.mask/);
  refused(() => build.read({ fh: -1, size: 1 }), /fuse_read_in\.fh/);
  refused(() => build.read({ fh: 1, size: 1.5 }), /fuse_read_in\.size/);
  refused(() => build.forget(2n ** 64n), /fuse_forget_in\.nlookup/);
  refused(() => build.setattr({ mtime: Number.NaN }), /mtime/);
  refused(() => build.setattr({ atime: new Date(Number.NaN) }), /atime/);
  refused(() => build.setxattr('a', 'b', { ext: false, setxattrFlags: 1 }), /SETXATTR_EXT/);
  refused(() => build.write({ fh: 1, data: 42 as unknown as string }), /write data/);
  refused(() => writeStruct(MkdirIn, { mdoe: 1 }), /has no field mdoe/);
});
