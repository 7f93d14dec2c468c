/**
 * Byte-exact request decoding: one or more golden frames per row of OPCODES, built field by field with
 * the naive FrameBuilder, and every decoded field checked (deepStrictEqual also checks that optional
 * fields are absent, not `undefined`, and that u64s are numbers or bigints as they should be).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRequest, describeDecodeError, OPCODES, opcodeName, PRE_INIT, type Negotiated, type DecodedRequest,
} from '../../src/protocol/index.ts';
import { FrameBuilder, request, canon, S, type InHeaderSpec } from './frame-builder.ts';

/* ---------------------------------------------------------------------------------------------- */

const tested = new Set<number>();

/** The header every golden frame uses unless it says otherwise: both 64-bit ids above 2^53. */
const H = { unique: S.UNIQ, nodeid: S.DEADBEEF, uid: 0x0a0b0c0d, gid: 0x0e0f1011, pid: 0x12131415 } as const;
const EXT: Negotiated = { ...PRE_INIT, setxattrExt: true };

/** The header fields as the codec should present them, computed independently from the raw spec. */
function expectedHeader(h: InHeaderSpec, len: number, extLen: number): Record<string, unknown> {
  const raw = BigInt(h.unique);
  return {
    len,
    opcode: h.opcode,
    unique: canon(raw & ((1n << 63n) - 1n)),
    resend: raw >> 63n === 1n,
    uniqueLo: Number(raw & 0xffff_ffffn),
    uniqueHi: Number(raw >> 32n),
    nodeid: canon(h.nodeid),
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    pid: h.pid ?? 0,
    totalExtlen: extLen / 8,
  };
}

function decodeOk(frame: Buffer, n: Negotiated = PRE_INIT): DecodedRequest {
  const d = decodeRequest(frame, n);
  if ('error' in d) assert.fail(`decode failed: ${describeDecodeError(d.error)}`);
  return d;
}

interface GoldenOpts {
  readonly n?: Negotiated;
  readonly ext?: FrameBuilder;
  readonly extensions?: unknown;
  readonly check?: (d: DecodedRequest, frame: Buffer) => void;
}

/** Registers a golden test for `h.opcode`: decode, then compare the full header and the full args. */
function golden(title: string, h: InHeaderSpec, body: FrameBuilder, args: unknown, opts: GoldenOpts = {}): void {
  tested.add(h.opcode);
  const op = opcodeName(h.opcode);
  test(title.startsWith(op) ? title : `${op}: ${title}`, () => {
    const extBytes = opts.ext?.build() ?? new Uint8Array(0);
    const frame = request(h, body, extBytes);
    const d = decodeOk(frame, opts.n);
    assert.equal(d.row.code, h.opcode);
    assert.deepStrictEqual({ ...d.header }, expectedHeader(h, frame.length, extBytes.length));
    assert.deepStrictEqual(d.args, args);
    assert.deepStrictEqual(d.extensions, opts.extensions);
    opts.check?.(d, frame);
  });
}

const b = (s: string | readonly number[]): Buffer => Buffer.from(s as string);

/* ---------------------------------------------------------------------------------------------- */

describe('header', () => {
  golden('64-bit unique and nodeid above 2^53 are exact bigints', { ...H, opcode: 1 }, new FrameBuilder().cstring('x'), {
    parent: 0xdeadbeefbaadf00dn, name: b('x'),
  }, {
    check: (d) => {
      assert.equal(d.header.unique, 0x1122334455667788n);
      assert.equal(d.header.nodeid, 0xdeadbeefbaadf00dn);
      assert.equal(d.header.uniqueLo, 0x55667788);
      assert.equal(d.header.uniqueHi, 0x11223344);
      assert.equal(d.header.resend, false);
      assert.equal(d.header.uid, 0x0a0b0c0d);
      assert.equal(d.header.gid, 0x0e0f1011);
      assert.equal(d.header.pid, 0x12131415);
    },
  });
  golden('small unique and nodeid are numbers', { opcode: 1, unique: 42, nodeid: 1 }, new FrameBuilder().cstring('y'), {
    parent: 1, name: b('y'),
  }, { check: (d) => { assert.equal(d.header.unique, 42); assert.equal(typeof d.header.nodeid, 'number'); } });
  golden('2^53 − 1 stays a number, 2^53 becomes a bigint', { opcode: 1, unique: S.MAX_SAFE, nodeid: S.TWO_53 }, new FrameBuilder().cstring('z'), {
    parent: 2n ** 53n, name: b('z'),
  }, { check: (d) => assert.equal(d.header.unique, Number.MAX_SAFE_INTEGER) });
  golden('RESEND bit: resend true, unique without the bit, uniqueLo/Hi raw', { ...H, opcode: 1, unique: (1n << 63n) | S.UNIQ }, new FrameBuilder().cstring('r'), {
    parent: S.DEADBEEF, name: b('r'),
  }, {
    check: (d) => {
      assert.equal(d.header.resend, true);
      assert.equal(d.header.unique, 0x1122334455667788n);
      assert.equal(d.header.uniqueLo, 0x55667788);
      assert.equal(d.header.uniqueHi, 0x91223344);
    },
  });
  golden('RESEND bit on a small unique leaves a number', { opcode: 1, unique: (1n << 63n) | 7n, nodeid: 1 }, new FrameBuilder().cstring('s'), {
    parent: 1, name: b('s'),
  }, { check: (d) => { assert.equal(d.header.unique, 7); assert.equal(d.header.resend, true); assert.equal(d.header.uniqueHi, 0x8000_0000); } });
  golden('uid/gid FUSE_INVALID_UIDGID pass through', { opcode: 1, unique: 1, nodeid: 1, uid: 0xffff_ffff, gid: 0xffff_ffff }, new FrameBuilder().cstring('i'), {
    parent: 1, name: b('i'),
  });
});

/* ---------------------------------------------------------------------------------------------- */

describe('names and inodes', () => {
  golden('name', { ...H, opcode: 1 }, new FrameBuilder().cstring('hello.txt'), { parent: S.DEADBEEF, name: b('hello.txt') });
  golden('non-UTF-8 name stays bytes', { ...H, opcode: 1 }, new FrameBuilder().cstring([0xff, 0xfe, 0x80]), { parent: S.DEADBEEF, name: b([0xff, 0xfe, 0x80]) });

  golden('FORGET: nlookup', { ...H, opcode: 2 },
    new FrameBuilder().u64(0x1122334455667788n), //           row 0: fuse_forget_in.nlookup
    { items: [{ ino: S.DEADBEEF, nlookup: 0x1122334455667788n }] });

  golden('READLINK: header only', { ...H, opcode: 5 }, new FrameBuilder(), { ino: S.DEADBEEF });
  golden('STATFS: header only', { ...H, opcode: 17 }, new FrameBuilder(), { ino: S.DEADBEEF });
  golden('DESTROY: header only', { ...H, opcode: 38 }, new FrameBuilder(), { ino: S.DEADBEEF });

  golden('SYMLINK: name, then target', { ...H, opcode: 6 },
    new FrameBuilder().cstring('link').cstring('../some/target'), { parent: S.DEADBEEF, name: b('link'), target: b('../some/target') });

  golden('MKNOD', { ...H, opcode: 8 },
    new FrameBuilder()
      .u32(0o020644).u32(0x0801) //                            row 0: mode (S_IFCHR|0644), rdev
      .u32(0o022).u32(0xa5a5a5a5) //                           row 1: umask, padding (ignored)
      .cstring('dev'),
    { parent: S.DEADBEEF, mode: 0o020644, rdev: 0x0801, umask: 0o022, name: b('dev') });

  golden('MKDIR', { ...H, opcode: 9 },
    new FrameBuilder()
      .u32(0o040755).u32(0o027) //                             row 0: mode, umask
      .cstring('subdir'),
    { parent: S.DEADBEEF, mode: 0o040755, umask: 0o027, name: b('subdir') });

  golden('UNLINK', { ...H, opcode: 10 }, new FrameBuilder().cstring('gone'), { parent: S.DEADBEEF, name: b('gone') });
  golden('RMDIR', { ...H, opcode: 11 }, new FrameBuilder().cstring('gonedir'), { parent: S.DEADBEEF, name: b('gonedir') });

  golden('RENAME: flags are always 0', { ...H, opcode: 12 },
    new FrameBuilder()
      .u64(0x0102030405060708n) //                              row 0: newdir
      .cstring('old').cstring('new'),
    { parent: S.DEADBEEF, name: b('old'), newParent: 0x0102030405060708n, newName: b('new'), flags: 0 });

  golden('RENAME2: flags (RENAME_EXCHANGE)', { ...H, opcode: 45 },
    new FrameBuilder()
      .u64(0x0102030405060708n) //                              row 0: newdir
      .u32(2).u32(0xcccccccc) //                                row 1: flags, padding
      .cstring('a').cstring('b'),
    { parent: S.DEADBEEF, name: b('a'), newParent: 0x0102030405060708n, newName: b('b'), flags: 2 });

  golden('LINK: oldnodeid is the inode, header node the new parent', { ...H, opcode: 13 },
    new FrameBuilder()
      .u64(0x1020304050607080n) //                              row 0: oldnodeid
      .cstring('hardlink'),
    { ino: 0x1020304050607080n, newParent: S.DEADBEEF, newName: b('hardlink') });
});

/* ---------------------------------------------------------------------------------------------- */

describe('attributes', () => {
  golden('GETATTR without FUSE_GETATTR_FH: no fh', { ...H, opcode: 3 },
    new FrameBuilder()
      .u32(0).u32(0x99999999) //                                 row 0: getattr_flags, dummy
      .u64(S.FH), //                                             row 1: fh (ignored without the flag)
    { ino: S.DEADBEEF, flags: 0 }, { check: (d) => assert.equal('fh' in (d.args as object), false) });

  golden('GETATTR with FUSE_GETATTR_FH: fh', { ...H, opcode: 3 },
    new FrameBuilder()
      .u32(1).u32(0) //                                          row 0: getattr_flags = FH, dummy
      .u64(S.FH), //                                             row 1: fh
    { ino: S.DEADBEEF, flags: 1, fh: 0xfeedfacecafebeefn });

  /** fuse_setattr_in with sentinel values in every field; `valid` decides what is decoded. */
  const setattr = (valid: number): FrameBuilder =>
    new FrameBuilder()
      .u32(valid).u32(0xeeeeeeee) //                             row 0: valid, padding
      .u64(S.FH) //                                              row 1: fh
      .u64(S.BIGOFF) //                                          row 2: size
      .u64(S.OWNER) //                                           row 3: lock_owner
      .u64(1_700_000_001) //                                     row 4: atime
      .u64(0x1122334455667788n) //                               row 5: mtime (> 2^53)
      .i64(-86_400) //                                           row 6: ctime (before the epoch)
      .u32(111_111_111).u32(222_222_222) //                      row 7: atimensec, mtimensec
      .u32(333_333_333).u32(0o100640) //                         row 8: ctimensec, mode
      .u32(0xdddddddd).u32(0x01020304) //                        row 9: unused4, uid
      .u32(0x05060708).u32(0xdddddddd); //                       row 10: gid, unused5

  golden('SETATTR: every field with its FATTR bit', { ...H, opcode: 4 },
    setattr(0b1110_0111_1111), // MODE UID GID SIZE ATIME MTIME FH LOCKOWNER CTIME KILL_SUIDGID
    {
      ino: S.DEADBEEF, valid: 0b1110_0111_1111, killSuidgid: true, fh: S.FH, size: S.BIGOFF, lockOwner: S.OWNER,
      atime: { sec: 1_700_000_001, nsec: 111_111_111 }, mtime: { sec: 0x1122334455667788n, nsec: 222_222_222 },
      ctime: { sec: -86_400, nsec: 333_333_333 }, mode: 0o100640, uid: 0x01020304, gid: 0x05060708,
    });

  golden('SETATTR: valid 0 decodes no optional field', { ...H, opcode: 4 }, setattr(0), { ino: S.DEADBEEF, valid: 0, killSuidgid: false });

  golden('SETATTR: ATIME_NOW/MTIME_NOW → "now" (over ATIME/MTIME)', { ...H, opcode: 4 },
    setattr((1 << 4) | (1 << 5) | (1 << 7) | (1 << 8)),
    { ino: S.DEADBEEF, valid: 0b1_1011_0000, killSuidgid: false, atime: 'now', mtime: 'now' });

  golden('SETATTR: ATIME_NOW alone, SIZE alone', { ...H, opcode: 4 },
    setattr((1 << 7) | (1 << 3)), { ino: S.DEADBEEF, valid: 0b1000_1000, killSuidgid: false, atime: 'now', size: S.BIGOFF });

  golden('SETATTR: MODE only', { ...H, opcode: 4 }, setattr(1), { ino: S.DEADBEEF, valid: 1, killSuidgid: false, mode: 0o100640 });

  golden('STATX without FH', { ...H, opcode: 52 },
    new FrameBuilder()
      .u32(0).u32(0x77777777) //                                 row 0: getattr_flags, reserved
      .u64(S.FH) //                                              row 1: fh (ignored)
      .u32(0x0800).u32(0x0fff), //                               row 2: sx_flags (AT_STATX_DONT_SYNC… ), sx_mask
    { ino: S.DEADBEEF, getattrFlags: 0, sxFlags: 0x0800, sxMask: 0x0fff });

  golden('STATX with FUSE_GETATTR_FH', { ...H, opcode: 52 },
    new FrameBuilder()
      .u32(1).u32(0) //                                          row 0: getattr_flags = FH, reserved
      .u64(S.FH) //                                              row 1: fh
      .u32(0).u32(0x7ff), //                                     row 2: sx_flags, sx_mask
    { ino: S.DEADBEEF, getattrFlags: 1, fh: S.FH, sxFlags: 0, sxMask: 0x7ff });

  golden('ACCESS', { ...H, opcode: 34 },
    new FrameBuilder().u32(0o7).u32(0xabababab), //              row 0: mask, padding
    { ino: S.DEADBEEF, mask: 7 });
});

/* ---------------------------------------------------------------------------------------------- */

describe('files', () => {
  golden('OPEN', { ...H, opcode: 14 },
    new FrameBuilder().u32(0o1002).u32(1), //                   row 0: flags (O_RDWR|O_TRUNC), open_flags (KILL_SUIDGID)
    { ino: S.DEADBEEF, flags: 0o1002, openFlags: 1 });
  golden('OPENDIR', { ...H, opcode: 27 },
    new FrameBuilder().u32(0o200000).u32(0), //                 row 0: flags (O_DIRECTORY), open_flags
    { ino: S.DEADBEEF, flags: 0o200000, openFlags: 0 });

  /** fuse_read_in / fuse_write_in. */
  const rw = (offset: bigint, size: number, rwFlags: number): FrameBuilder =>
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u64(offset) //                                            row 1: offset
      .u32(size).u32(rwFlags) //                                 row 2: size, read_flags/write_flags
      .u64(S.OWNER) //                                           row 3: lock_owner
      .u32(0o100002).u32(0xfafafafa); //                         row 4: flags (open flags), padding

  golden('READ without LOCKOWNER: no lockOwner', { ...H, opcode: 15 }, rw(S.BIGOFF, 131072, 0),
    { ino: S.DEADBEEF, fh: S.FH, offset: S.BIGOFF, size: 131072, readFlags: 0, flags: 0o100002 },
    { check: (d) => assert.equal('lockOwner' in (d.args as object), false) });
  golden('READ with FUSE_READ_LOCKOWNER', { ...H, opcode: 15 }, rw(4096n, 4096, 2),
    { ino: S.DEADBEEF, fh: S.FH, offset: 4096, size: 4096, readFlags: 2, flags: 0o100002, lockOwner: S.OWNER });
  golden('READDIR', { ...H, opcode: 28 }, rw(0n, 4096, 0),
    { ino: S.DEADBEEF, fh: S.FH, offset: 0, size: 4096, readFlags: 0, flags: 0o100002 });
  golden('READDIRPLUS', { ...H, opcode: 44 }, rw(0x123456789n, 65536, 0),
    { ino: S.DEADBEEF, fh: S.FH, offset: 0x123456789, size: 65536, readFlags: 0, flags: 0o100002 });

  golden('WRITE: data is a view of the frame; no lockOwner without the flag', { ...H, opcode: 16 },
    rw(S.BIGOFF, 5, 1).bytes('hello'),
    { ino: S.DEADBEEF, fh: S.FH, offset: S.BIGOFF, size: 5, writeFlags: 1, flags: 0o100002, data: b('hello') },
    {
      check: (d, frame) => {
        const data = (d.args as { data: Buffer }).data;
        assert.equal(data.buffer, frame.buffer, 'data must be a view, not a copy');
        assert.equal(data.byteOffset, frame.byteOffset + 80);
        frame[80] = 0x48; // 'H'
        assert.equal(data.toString(), 'Hello');
      },
    });
  golden('WRITE with FUSE_WRITE_LOCKOWNER and KILL_SUIDGID', { ...H, opcode: 16 },
    rw(0n, 3, 2 | 4).bytes([0, 1, 2]),
    { ino: S.DEADBEEF, fh: S.FH, offset: 0, size: 3, writeFlags: 6, flags: 0o100002, lockOwner: S.OWNER, data: b([0, 1, 2]) });

  const release = (releaseFlags: number): FrameBuilder =>
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u32(0o2).u32(releaseFlags) //                             row 1: flags, release_flags
      .u64(S.OWNER); //                                          row 2: lock_owner
  golden('RELEASE with FLUSH', { ...H, opcode: 18 }, release(1),
    { ino: S.DEADBEEF, fh: S.FH, flags: 2, releaseFlags: 1, lockOwner: S.OWNER, flush: true, flockUnlock: false });
  golden('RELEASEDIR with FLOCK_UNLOCK', { ...H, opcode: 29 }, release(2),
    { ino: S.DEADBEEF, fh: S.FH, flags: 2, releaseFlags: 2, lockOwner: S.OWNER, flush: false, flockUnlock: true });

  golden('FSYNC with FDATASYNC', { ...H, opcode: 20 },
    new FrameBuilder().u64(S.FH).u32(1).u32(0x12345678), //      row 0: fh; row 1: fsync_flags, padding
    { ino: S.DEADBEEF, fh: S.FH, fsyncFlags: 1, datasync: true });
  golden('FSYNCDIR', { ...H, opcode: 30 },
    new FrameBuilder().u64(7).u32(0).u32(0), //                  row 0: fh; row 1: fsync_flags, padding
    { ino: S.DEADBEEF, fh: 7, fsyncFlags: 0, datasync: false });

  golden('FLUSH', { ...H, opcode: 25 },
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u32(0x11111111).u32(0x22222222) //                        row 1: unused, padding
      .u64(S.OWNER), //                                          row 2: lock_owner
    { ino: S.DEADBEEF, fh: S.FH, lockOwner: S.OWNER });

  const createIn = (name: string): FrameBuilder =>
    new FrameBuilder()
      .u32(0o100301).u32(0o100644) //                            row 0: flags (O_CREAT|O_EXCL|O_WRONLY|O_LARGEFILE), mode
      .u32(0o022).u32(1) //                                      row 1: umask, open_flags
      .cstring(name);
  golden('CREATE', { ...H, opcode: 35 }, createIn('new.txt'),
    { parent: S.DEADBEEF, flags: 0o100301, mode: 0o100644, umask: 0o022, openFlags: 1, name: b('new.txt') });
  golden('TMPFILE', { ...H, opcode: 51 }, createIn('tmp'),
    { parent: S.DEADBEEF, flags: 0o100301, mode: 0o100644, umask: 0o022, openFlags: 1, name: b('tmp') });

  golden('FALLOCATE', { ...H, opcode: 43 },
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u64(S.BIGOFF) //                                          row 1: offset
      .u64(0x10000) //                                           row 2: length
      .u32(3).u32(0xbbbbbbbb), //                                row 3: mode (KEEP_SIZE|PUNCH_HOLE), padding
    { ino: S.DEADBEEF, fh: S.FH, offset: S.BIGOFF, length: 0x10000, mode: 3 });

  golden('LSEEK', { ...H, opcode: 46 },
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u64(S.BIGOFF) //                                          row 1: offset
      .u32(3).u32(0), //                                         row 2: whence (SEEK_DATA), padding
    { ino: S.DEADBEEF, fh: S.FH, offset: S.BIGOFF, whence: 3 });

  const cfr = (): FrameBuilder =>
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh_in
      .u64(0x1000) //                                            row 1: off_in
      .u64(0x1020304050607080n) //                               row 2: nodeid_out
      .u64(0xcafef00dd00dfeedn) //                               row 3: fh_out
      .u64(S.BIGOFF) //                                          row 4: off_out
      .u64(0x1_0000_0000n) //                                    row 5: len (4 GiB)
      .u64(0); //                                                row 6: flags
  const cfrArgs = {
    ino: S.DEADBEEF, fhIn: S.FH, offIn: 0x1000, inoOut: 0x1020304050607080n, fhOut: 0xcafef00dd00dfeedn, offOut: S.BIGOFF,
    len: 0x1_0000_0000, flags: 0,
  };
  golden('COPY_FILE_RANGE', { ...H, opcode: 47 }, cfr(), cfrArgs);
  golden('COPY_FILE_RANGE_64', { ...H, opcode: 53 }, cfr(), cfrArgs);

  golden('BMAP', { ...H, opcode: 37 },
    new FrameBuilder().u64(0x0102030405060708n).u32(4096).u32(0), // row 0: block; row 1: blocksize, padding
    { ino: S.DEADBEEF, block: 0x0102030405060708n, blocksize: 4096 });

  golden('IOCTL: in-data of in_size bytes', { ...H, opcode: 39 },
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u32(2).u32(0x80086601) //                                 row 1: flags (UNRESTRICTED), cmd (FS_IOC_GETFLAGS)
      .u64(0x00007ffd12345678n) //                               row 2: arg (a user pointer)
      .u32(4).u32(8) //                                          row 3: in_size, out_size
      .bytes([0xde, 0xad, 0xbe, 0xef]), //                       in-data
    { ino: S.DEADBEEF, fh: S.FH, flags: 2, cmd: 0x80086601, arg: 0x7ffd12345678, inSize: 4, outSize: 8, inData: b([0xde, 0xad, 0xbe, 0xef]) });

  golden('POLL', { ...H, opcode: 40 },
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u64(0xabcdef0123456789n) //                               row 1: kh
      .u32(1).u32(0x0019), //                                    row 2: flags (SCHEDULE_NOTIFY), events
    { ino: S.DEADBEEF, fh: S.FH, kh: 0xabcdef0123456789n, flags: 1, events: 0x19 });

  const lk = (lkFlags: number): FrameBuilder =>
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u64(S.OWNER) //                                           row 1: owner
      .u64(0x100) //                                             row 2: lk.start
      .u64(0x7fffffffffffffffn) //                               row 3: lk.end (OFFSET_MAX)
      .u32(1).u32(0x4321) //                                     row 4: lk.type (F_WRLCK), lk.pid
      .u32(lkFlags).u32(0); //                                   row 5: lk_flags, padding
  const lock = { start: 0x100, end: 0x7fffffffffffffffn, type: 1, pid: 0x4321 };
  golden('GETLK', { ...H, opcode: 31 }, lk(0), { ino: S.DEADBEEF, fh: S.FH, lockOwner: S.OWNER, lock, lkFlags: 0, flock: false, sleep: false });
  golden('SETLK with FUSE_LK_FLOCK', { ...H, opcode: 32 }, lk(1), { ino: S.DEADBEEF, fh: S.FH, lockOwner: S.OWNER, lock, lkFlags: 1, flock: true, sleep: false });
  golden('SETLKW sleeps', { ...H, opcode: 33 }, lk(0), { ino: S.DEADBEEF, fh: S.FH, lockOwner: S.OWNER, lock, lkFlags: 0, flock: false, sleep: true });
});

/* ---------------------------------------------------------------------------------------------- */

describe('xattrs', () => {
  golden('SETXATTR short (8-byte) form without SETXATTR_EXT', { ...H, opcode: 21 },
    new FrameBuilder()
      .u32(5).u32(1) //                                          row 0: size, flags (XATTR_CREATE)
      .cstring('user.k').bytes('value'),
    { ino: S.DEADBEEF, name: b('user.k'), value: b('value'), flags: 1, setxattrFlags: 0 });

  golden('SETXATTR_EXT (16-byte) form', { ...H, opcode: 21 },
    new FrameBuilder()
      .u32(3).u32(2) //                                          row 0: size, flags (XATTR_REPLACE)
      .u32(1).u32(0x5a5a5a5a) //                                 row 1: setxattr_flags (ACL_KILL_SGID), padding
      .cstring('system.posix_acl_access').bytes([1, 2, 3]),
    { ino: S.DEADBEEF, name: b('system.posix_acl_access'), value: b([1, 2, 3]), flags: 2, setxattrFlags: 1 }, { n: EXT });

  test('SETXATTR: the 16-byte form read as the 8-byte form does not yield the name', () => {
    const frame = request({ ...H, opcode: 21 }, new FrameBuilder().u32(1).u32(0).u32(0).u32(0).cstring('user.x').bytes('v'));
    const d = decodeRequest(frame, PRE_INIT);
    // Read as the 8-byte form the name is the padding's empty string, and bytes are left after the value.
    assert.equal('error' in d ? d.error.kind : 'decoded', 'invalid');
  });

  golden('GETXATTR size probe (size 0)', { ...H, opcode: 22 },
    new FrameBuilder().u32(0).u32(0xffffffff).cstring('user.mime'), // row 0: size, padding
    { ino: S.DEADBEEF, size: 0, name: b('user.mime') });
  golden('GETXATTR', { ...H, opcode: 22 },
    new FrameBuilder().u32(65536).u32(0).cstring('security.capability'),
    { ino: S.DEADBEEF, size: 65536, name: b('security.capability') });
  golden('LISTXATTR', { ...H, opcode: 23 },
    new FrameBuilder().u32(4096).u32(0x33333333), //             row 0: size, padding
    { ino: S.DEADBEEF, size: 4096 });
  golden('REMOVEXATTR', { ...H, opcode: 24 }, new FrameBuilder().cstring('user.k'), { ino: S.DEADBEEF, name: b('user.k') });
});

/* ---------------------------------------------------------------------------------------------- */

describe('session requests', () => {
  golden('INIT short (16-byte, pre-7.36) form: flags2 = 0 even with INIT_EXT', { opcode: 26, unique: 2, nodeid: 0 },
    new FrameBuilder()
      .u32(7).u32(27) //                                         row 0: major, minor
      .u32(0x20000).u32(0x4000_0000 | 0x3fff_ffff), //           row 1: max_readahead, flags
    { major: 7, minor: 27, maxReadahead: 0x20000, flags: 0x7fff_ffff, flags2: 0 });

  const initLong = (flags: number): FrameBuilder => {
    const fb = new FrameBuilder()
      .u32(7).u32(45) //                                         row 0: major, minor
      .u32(0x20000).u32(flags) //                                row 1: max_readahead, flags
      .u32(0x7ff).u32(0xdead0001); //                            row 2: flags2, unused[0]
    for (let i = 1; i < 11; i += 2) fb.u32(0xdead0000 + i + 1).u32(0xdead0000 + i + 2); // rows 3..7: unused[1..10]
    return fb;
  };
  golden('INIT long (64-byte) form with INIT_EXT: flags2', { opcode: 26, unique: 2, nodeid: 0 }, initLong(0x4000_0001),
    { major: 7, minor: 45, maxReadahead: 0x20000, flags: 0x4000_0001, flags2: 0x7ff });
  golden('INIT long form without INIT_EXT: flags2 ignored', { opcode: 26, unique: 2, nodeid: 0 }, initLong(0x0000_0001),
    { major: 7, minor: 45, maxReadahead: 0x20000, flags: 1, flags2: 0 });

  golden('INTERRUPT: target unique', { ...H, opcode: 36 },
    new FrameBuilder().u64(0x0badc0de0badc0den), //              row 0: unique of the interrupted request
    { target: 0x0badc0de0badc0den });
  // After a RESEND the kernel keeps FUSE_UNIQUE_RESEND in req->in.h.unique and copies it into
  // fuse_interrupt_in.unique (fs/fuse/dev.c fuse_read_interrupt); the decoder strips the bit so the target
  // matches the interrupted request's `header.unique`.
  golden('INTERRUPT of a resent request: the RESEND bit is stripped from the target', { opcode: 36, unique: (1n << 63n) | 0x43n, nodeid: 0 },
    new FrameBuilder().u64((1n << 63n) | 0x42n), //             row 0: unique of the interrupted (resent) request
    { target: 0x42 });

  golden('NOTIFY_REPLY: notifyUnique from the header unique', { ...H, opcode: 41, unique: 0x00ab_cdef_0123_4567n },
    new FrameBuilder()
      .u64(0x1111111111111111n) //                               row 0: dummy1
      .u64(S.BIGOFF) //                                          row 1: offset
      .u32(4).u32(0x22222222) //                                 row 2: size, dummy2
      .u64(0x3333333333333333n) //                               row 3: dummy3
      .u64(0x4444444444444444n) //                               row 4: dummy4
      .bytes('data'),
    { notifyUnique: 0x00ab_cdef_0123_4567n, ino: S.DEADBEEF, offset: S.BIGOFF, data: b('data') });

  golden('BATCH_FORGET', { ...H, opcode: 42, nodeid: 0 },
    new FrameBuilder()
      .u32(3).u32(0xffffffff) //                                 row 0: count, dummy
      .u64(S.DEADBEEF).u64(1) //                                 rows 1-2: forget_one[0] nodeid, nlookup
      .u64(2).u64(0x1122334455667788n) //                        rows 3-4: forget_one[1]
      .u64(S.MAX_SAFE).u64(S.TWO_53), //                         rows 5-6: forget_one[2]
    {
      items: [
        { ino: S.DEADBEEF, nlookup: 1 }, { ino: 2, nlookup: 0x1122334455667788n },
        { ino: Number.MAX_SAFE_INTEGER, nlookup: 2n ** 53n },
      ],
    });
  golden('BATCH_FORGET with count 0', { ...H, opcode: 42, nodeid: 0 }, new FrameBuilder().u32(0).u32(0), { items: [] });

  golden('SETUPMAPPING', { ...H, opcode: 48 },
    new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u64(0x200000) //                                          row 1: foffset
      .u64(0x200000) //                                          row 2: len
      .u64(3) //                                                 row 3: flags (WRITE|READ)
      .u64(0x1122334455667788n), //                              row 4: moffset
    { ino: S.DEADBEEF, fh: S.FH, foffset: 0x200000, len: 0x200000, flags: 3, moffset: 0x1122334455667788n });

  golden('REMOVEMAPPING: entries packed right after the 4-byte count', { ...H, opcode: 49 },
    new FrameBuilder()
      .u32(2) //                                                 bytes 0-3: count
      .u64(0x1122334455667788n).u64(0x200000) //                 bytes 4-19: one[0] moffset, len
      .u64(0x400000).u64(S.DEADBEEF), //                         bytes 20-35: one[1] moffset, len
    { ino: S.DEADBEEF, mappings: [{ moffset: 0x1122334455667788n, len: 0x200000 }, { moffset: 0x400000, len: S.DEADBEEF }] });

  golden('SYNCFS', { ...H, opcode: 50 }, new FrameBuilder().u64(0), { ino: S.DEADBEEF });

  golden('CUSE_INIT', { opcode: 4096, unique: 1, nodeid: 0 },
    new FrameBuilder()
      .u32(7).u32(45) //                                         row 0: major, minor
      .u32(0x99999999).u32(1), //                                row 1: unused, flags (UNRESTRICTED_IOCTL)
    { major: 7, minor: 45, flags: 1 });
});

/* ---------------------------------------------------------------------------------------------- */

describe('old protocol minors (compat layouts)', () => {
  const n = (minor: number): Negotiated => ({ ...PRE_INIT, minor });
  golden('GETATTR before 7.9 has no body', { ...H, opcode: 3 }, new FrameBuilder(), { ino: S.DEADBEEF, flags: 0 }, { n: n(8) });
  golden('MKNOD before 7.12 is 8 bytes', { ...H, opcode: 8 },
    new FrameBuilder().u32(0o10644).u32(0).cstring('fifo'), { parent: S.DEADBEEF, mode: 0o10644, rdev: 0, umask: 0, name: b('fifo') }, { n: n(11) });
  golden('READ before 7.9 is 24 bytes', { ...H, opcode: 15 },
    new FrameBuilder().u64(1).u64(0).u32(10).u32(0), { ino: S.DEADBEEF, fh: 1, offset: 0, size: 10, readFlags: 0, flags: 0 }, { n: n(8) });
  golden('WRITE before 7.9 is 24 bytes', { ...H, opcode: 16 },
    new FrameBuilder().u64(1).u64(0).u32(2).u32(0).bytes('hi'), { ino: S.DEADBEEF, fh: 1, offset: 0, size: 2, writeFlags: 0, flags: 0, data: b('hi') }, { n: n(8) });
});

/* ---------------------------------------------------------------------------------------------- */

/** fuse_secctx_header (= ext header with type nr_secctx), then each fuse_secctx, name, value, aligned to 8. */
function secctx(ctxs: readonly (readonly [name: string, value: string | readonly number[]])[]): FrameBuilder {
  const body = new FrameBuilder();
  for (const [name, value] of ctxs) {
    const v = Buffer.from(value as string);
    body.u32(v.length).u32(0) //                                 fuse_secctx: size, padding
      .cstring(name).bytes(v).pad8();
  }
  const inner = body.build();
  return new FrameBuilder()
    .u32(8 + inner.length).u32(ctxs.length) //                   fuse_secctx_header: size, nr_secctx
    .bytes(inner);
}

/** fuse_ext_header { size, type = FUSE_EXT_GROUPS } + fuse_supp_groups, padded to 8. */
function groups(gids: readonly number[]): FrameBuilder {
  const size = (8 + 4 + 4 * gids.length + 7) & ~7;
  const fb = new FrameBuilder().u32(size).u32(32).u32(gids.length); // size, type, nr_groups
  for (const g of gids) fb.u32(g);
  return fb.pad8();
}

describe('request extensions (decoded from the end of the frame)', () => {
  // MKDIR's body (8 bytes + "d\0") is not a multiple of 8: the extensions start right after it.
  const mkdir = (): FrameBuilder => new FrameBuilder().u32(0o40700).u32(0o22).cstring('d');
  const mkdirArgs = { parent: S.DEADBEEF, mode: 0o40700, umask: 0o22, name: b('d') };
  const LABEL = 'unconfined_u:object_r:user_home_t:s0';

  golden('one security context', { ...H, opcode: 9 }, mkdir(), mkdirArgs, {
    ext: secctx([['security.selinux', LABEL]]),
    extensions: { securityContexts: [{ name: b('security.selinux'), value: b(LABEL) }] },
    check: (d) => assert.equal(d.header.totalExtlen, (8 + ((8 + 17 + LABEL.length + 7) & ~7)) / 8),
  });

  golden('two security contexts', { ...H, opcode: 35 },
    new FrameBuilder().u32(0o100301).u32(0o100600).u32(0o22).u32(0).cstring('f'),
    { parent: S.DEADBEEF, flags: 0o100301, mode: 0o100600, umask: 0o22, openFlags: 0, name: b('f') }, {
      ext: secctx([['security.selinux', 'a_t'], ['security.smack', [0x00, 0xff, 0x10]]]),
      extensions: { securityContexts: [{ name: b('security.selinux'), value: b('a_t') }, { name: b('security.smack'), value: b([0, 0xff, 0x10]) }] },
    });

  golden('security context header with nr_secctx 0 (no LSM label)', { ...H, opcode: 9 }, mkdir(), mkdirArgs, {
    ext: secctx([]),
    extensions: { securityContexts: [] },
  });

  golden('supplementary groups', { ...H, opcode: 8 },
    new FrameBuilder().u32(0o100644).u32(0).u32(0o22).u32(0).cstring('n'),
    { parent: S.DEADBEEF, mode: 0o100644, rdev: 0, umask: 0o22, name: b('n') }, {
      ext: groups([0x01020304]),
      extensions: { groups: [0x01020304] },
    });

  golden('an unknown extension type is kept raw', { ...H, opcode: 6 }, new FrameBuilder().cstring('l').cstring('t'),
    { parent: S.DEADBEEF, name: b('l'), target: b('t') }, {
      ext: new FrameBuilder().u32(16).u32(77).u64(0x0102030405060708n), // size, type 77; 8 bytes of payload
      extensions: { unknown: [{ type: 77, bytes: new FrameBuilder().u32(16).u32(77).u64(0x0102030405060708n).build() }] },
    });

  golden('security context, groups and an unknown type combined', { ...H, opcode: 51 },
    new FrameBuilder().u32(0o100002).u32(0o100600).u32(0).u32(0).cstring('tmp'),
    { parent: S.DEADBEEF, flags: 0o100002, mode: 0o100600, umask: 0, openFlags: 0, name: b('tmp') }, {
      ext: new FrameBuilder()
        .bytes(secctx([['security.selinux', LABEL]]).build())
        .bytes(groups([5, 6, 7]).build())
        .u32(8).u32(1000), //                                    an empty extension of unknown type 1000
      extensions: {
        securityContexts: [{ name: b('security.selinux'), value: b(LABEL) }],
        groups: [5, 6, 7],
        unknown: [{ type: 1000, bytes: new FrameBuilder().u32(8).u32(1000).build() }],
      },
    });
});

/* ---------------------------------------------------------------------------------------------- */

test('every OPCODES row has at least one golden request test', () => {
  const missing = OPCODES.filter((r) => !tested.has(r.code)).map((r) => `${r.code} ${r.name}`);
  assert.deepStrictEqual(missing, []);
  assert.ok(tested.size >= OPCODES.length);
});
