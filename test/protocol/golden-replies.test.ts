/**
 * Byte-exact reply and notification encodings, each compared against a frame written field by field with
 * the naive FrameBuilder. Replies go through the opcode rows' `encodeReply` where one exists (so the
 * table's per-opcode quirks are covered) and through `frameReply` for the out-header.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  frameReply, opcodeByName, PRE_INIT, packDirents, packDirentsPlus, unsentLookups, countDirentsPlus, decodeRequest,
  encodeNotifyPoll, encodeNotifyInvalInode, encodeNotifyInvalEntry, encodeNotifyStore, encodeNotifyRetrieve,
  encodeNotifyDelete, encodeNotifyResend, encodeNotifyIncEpoch, encodeNotifyPrune, encodeInitOut, initOutSize,
  encodeEntryOut, encodeAttrOut, encodeOpenOut, encodeIoctlOut, encodeData, encodeXattrData, joinXattrNames,
  type OpcodeRow, type EntryReply, type Attr, type DirEntry, type DirEntryPlus, type InitOutFields, type Encoded,
} from '../../src/protocol/index.ts';
import { FrameBuilder, reply, request, joined, S } from './frame-builder.ts';

const UNIQ_LO = 0x55667788;
const UNIQ_HI = 0x11223344;

function row(name: string): OpcodeRow {
  const r = opcodeByName(name);
  assert.ok(r, `no row ${name}`);
  return r;
}

/** Encodes through the row and frames a success reply with unique S.UNIQ. */
function viaRow(name: string, res: unknown, req: unknown = {}): Buffer {
  const body = row(name).encodeReply(res, req, PRE_INIT);
  assert.ok(Array.isArray(body), `${name} answered errno ${String(body)}`);
  return joined(frameReply(UNIQ_LO, UNIQ_HI, 0, body as Uint8Array[]));
}

/** The expected success frame around `body`. */
const ok = (...body: (FrameBuilder | Uint8Array)[]): Buffer => reply(0, S.UNIQ, ...body);

interface AttrBytes {
  ino: bigint; size: bigint; blocks: bigint; atime: bigint; mtime: bigint; ctime: bigint; atimensec: number;
  mtimensec: number; ctimensec: number; mode: number; nlink: number; uid: number; gid: number; rdev: number;
  blksize: number; flags: number;
}
const ZERO_ATTR: AttrBytes = {
  ino: 0n, size: 0n, blocks: 0n, atime: 0n, mtime: 0n, ctime: 0n, atimensec: 0, mtimensec: 0, ctimensec: 0, mode: 0,
  nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 0, flags: 0,
};

/** struct fuse_attr, 88 bytes. */
function fuseAttr(fb: FrameBuilder, a: AttrBytes): FrameBuilder {
  return fb
    .u64(a.ino) //                                               row 0: ino
    .u64(a.size) //                                              row 1: size
    .u64(a.blocks) //                                            row 2: blocks
    .i64(a.atime) //                                             row 3: atime
    .i64(a.mtime) //                                             row 4: mtime
    .i64(a.ctime) //                                             row 5: ctime
    .u32(a.atimensec).u32(a.mtimensec) //                        row 6: atimensec, mtimensec
    .u32(a.ctimensec).u32(a.mode) //                             row 7: ctimensec, mode
    .u32(a.nlink).u32(a.uid) //                                  row 8: nlink, uid
    .u32(a.gid).u32(a.rdev) //                                   row 9: gid, rdev
    .u32(a.blksize).u32(a.flags); //                             row 10: blksize, flags
}

/** struct fuse_entry_out, 128 bytes. */
function fuseEntryOut(fb: FrameBuilder, e: { nodeid: bigint; generation: bigint; entryValid: bigint; attrValid: bigint; entryNsec: number; attrNsec: number; attr: AttrBytes }): FrameBuilder {
  fb.u64(e.nodeid) //                                            row 0: nodeid
    .u64(e.generation) //                                        row 1: generation
    .u64(e.entryValid) //                                        row 2: entry_valid
    .u64(e.attrValid) //                                         row 3: attr_valid
    .u32(e.entryNsec).u32(e.attrNsec); //                        row 4: entry_valid_nsec, attr_valid_nsec
  return fuseAttr(fb, e.attr); //                                rows 5-15: attr
}

const FULL_ATTR: Attr = {
  ino: 0x1122334455667788n, size: S.BIGOFF, blocks: 0x1234, atime: 1_700_000_000.5, mtime: 1_700_000_001, mtimensec: 999,
  ctime: -1.25, mode: 0o100644, nlink: 3, uid: 1000, gid: 1001, rdev: 0x0801, blksize: 4096, flags: 1,
};
const FULL_ATTR_BYTES: AttrBytes = {
  ino: 0x1122334455667788n, size: S.BIGOFF, blocks: 0x1234n, atime: 1_700_000_000n, mtime: 1_700_000_001n, ctime: -2n,
  atimensec: 500_000_000, mtimensec: 999, ctimensec: 750_000_000, mode: 0o100644, nlink: 3, uid: 1000, gid: 1001,
  rdev: 0x0801, blksize: 4096, flags: 1,
};
const FULL_ENTRY: EntryReply = { ino: S.DEADBEEF, generation: 0x0102030405060708n, entryTimeout: 1.5, attrTimeout: 0.25, attr: FULL_ATTR };
const fullEntryBytes = (fb = new FrameBuilder()): FrameBuilder => fuseEntryOut(fb, {
  nodeid: S.DEADBEEF, generation: 0x0102030405060708n, entryValid: 1n, attrValid: 0n, entryNsec: 500_000_000,
  attrNsec: 250_000_000, attr: FULL_ATTR_BYTES,
});

/* ---------------------------------------------------------------------------------------------- */

describe('frameReply', () => {
  test('len covers header and body, error 0, unique echoed; body parts are not copied', () => {
    const body = Buffer.from([1, 2, 3, 4, 5]);
    const iov = frameReply(UNIQ_LO, UNIQ_HI, 0, [body]);
    assert.equal(iov.length, 2);
    assert.equal(iov[1], body);
    assert.deepStrictEqual(joined(iov), ok(body));
  });

  test('errno is negated, header only', () => {
    assert.deepStrictEqual(joined(frameReply(UNIQ_LO, UNIQ_HI, 2, [])),
      new FrameBuilder().u32(16).i32(-2).u64(S.UNIQ).build()); // len, error = -ENOENT; unique
  });

  test('the RESEND bit of a decoded request is echoed unchanged', () => {
    const raw = (1n << 63n) | S.UNIQ;
    const d = decodeRequest(request({ opcode: 17, unique: raw, nodeid: 1 }), PRE_INIT);
    assert.ok(!('error' in d));
    const iov = frameReply(d.header.uniqueLo, d.header.uniqueHi, 5, []);
    assert.deepStrictEqual(joined(iov), reply(-5, raw));
  });

  test('several body parts add up in len', () => {
    assert.deepStrictEqual(joined(frameReply(1, 0, 0, [Buffer.alloc(3, 0xaa), Buffer.alloc(5, 0xbb)])),
      reply(0, 1, Buffer.alloc(3, 0xaa), Buffer.alloc(5, 0xbb)));
  });
});

/* ---------------------------------------------------------------------------------------------- */

describe('entry and attributes', () => {
  test('entry_out: all fields, fractional timeouts and times, negative ctime', () => {
    assert.deepStrictEqual(viaRow('LOOKUP', FULL_ENTRY), ok(fullEntryBytes()));
    for (const op of ['MKNOD', 'MKDIR', 'SYMLINK', 'LINK']) assert.deepStrictEqual(viaRow(op, FULL_ENTRY), ok(fullEntryBytes()), op);
  });

  test('entry_out defaults: timeouts 1 s, attr.ino = ino, nlink 1', () => {
    assert.deepStrictEqual(viaRow('LOOKUP', { ino: 5, attr: { mode: 0o40755 } }), ok(fuseEntryOut(new FrameBuilder(), {
      nodeid: 5n, generation: 0n, entryValid: 1n, attrValid: 1n, entryNsec: 0, attrNsec: 0,
      attr: { ...ZERO_ATTR, ino: 5n, mode: 0o40755 },
    })));
  });

  test('entry_out: negative lookup (ino 0), infinite and negative timeouts, nsec rounding clamps', () => {
    const e: EntryReply = { ino: 0, entryTimeout: Infinity, attrTimeout: -3, attr: { mode: 0, atime: 5.9999999999 } };
    assert.deepStrictEqual(encodeEntryOut(e), fuseEntryOut(new FrameBuilder(), {
      nodeid: 0n, generation: 0n, entryValid: 2n ** 53n - 1n, attrValid: 0n, entryNsec: 0, attrNsec: 0,
      attr: { ...ZERO_ATTR, atime: 5n, atimensec: 999_999_999 },
    }).build());
    // NaN timeouts encode as 0.
    const nan = encodeEntryOut({ ino: 1, entryTimeout: NaN, attr: { mode: 0o100644 } });
    assert.deepStrictEqual(nan.subarray(16, 24), Buffer.alloc(8));
  });

  test('attr_out: GETATTR and SETATTR; attr.ino defaults to the request inode', () => {
    const expected = ok(new FrameBuilder()
      .u64(3) //                                                 row 0: attr_valid
      .u32(0).u32(0) //                                          row 1: attr_valid_nsec, dummy
      .bytes(fuseAttr(new FrameBuilder(), { ...ZERO_ATTR, ino: S.DEADBEEF, mode: 0o100600, size: 42n }).build()));
    const res = { attr: { mode: 0o100600, size: 42 }, timeout: 3 };
    assert.deepStrictEqual(viaRow('GETATTR', res, { ino: S.DEADBEEF }), expected);
    assert.deepStrictEqual(viaRow('SETATTR', res, { ino: S.DEADBEEF }), expected);
    assert.equal(encodeAttrOut({ attr: { mode: 0o100000 } }, 1).length, 104);
  });

  test('statx_out: every field', () => {
    const res = {
      timeout: 1.5, flags: 0,
      statx: {
        mask: 0x0fff, blksize: 4096, attributes: 0x20n, nlink: 2, uid: 1000, gid: 1001, mode: 0o100755, ino: S.DEADBEEF,
        size: S.BIGOFF, blocks: 8, attributesMask: 0x1122334455667788n, atime: { sec: 1_700_000_000, nsec: 1 },
        btime: { sec: -1n, nsec: 2 }, ctime: { sec: 0x1_0000_0000, nsec: 3 }, mtime: { sec: 5, nsec: 999_999_999 },
        rdevMajor: 8, rdevMinor: 1, devMajor: 0xfd, devMinor: 3,
      },
    };
    const sxTime = (fb: FrameBuilder, sec: bigint, nsec: number): FrameBuilder => fb.i64(sec).u32(nsec).i32(0); // tv_sec; tv_nsec, __reserved
    const fb = new FrameBuilder()
      .u64(1) //                                                 row 0: attr_valid
      .u32(500_000_000).u32(0) //                                row 1: attr_valid_nsec, flags
      .u64(0).u64(0) //                                          rows 2-3: spare[2]
      .u32(0x0fff).u32(4096) //                                  stat row 0: mask, blksize
      .u64(0x20) //                                              stat row 1: attributes
      .u32(2).u32(1000) //                                       stat row 2: nlink, uid
      .u32(1001).u16(0o100755).u16(0) //                         stat row 3: gid, mode, __spare0
      .u64(S.DEADBEEF) //                                        stat row 4: ino
      .u64(S.BIGOFF) //                                          stat row 5: size
      .u64(8) //                                                 stat row 6: blocks
      .u64(0x1122334455667788n); //                              stat row 7: attributes_mask
    sxTime(fb, 1_700_000_000n, 1); //                            stat rows 8-9: atime
    sxTime(fb, -1n, 2); //                                       stat rows 10-11: btime
    sxTime(fb, 0x1_0000_0000n, 3); //                            stat rows 12-13: ctime
    sxTime(fb, 5n, 999_999_999); //                              stat rows 14-15: mtime
    fb.u32(8).u32(1) //                                          stat row 16: rdev_major, rdev_minor
      .u32(0xfd).u32(3) //                                       stat row 17: dev_major, dev_minor
      .zeros(14 * 8); //                                         stat rows 18-31: __spare2[14]
    assert.equal(fb.length, 288);
    assert.deepStrictEqual(viaRow('STATX', res, { ino: 1 }), ok(fb));
  });

  test('statx_out defaults: ino from the request, times absent are zero', () => {
    const fb = new FrameBuilder()
      .u64(1).u32(0).u32(0x40) //                                attr_valid; attr_valid_nsec, flags
      .zeros(16) //                                              spare
      .u32(0x1).u32(0).u64(0).u32(0).u32(0).u32(0).u16(0).u16(0) // mask=STATX_TYPE … 
      .u64(S.DEADBEEF) //                                        ino from the request
      .zeros(256 - 40);
    assert.deepStrictEqual(viaRow('STATX', { statx: { mask: 1 }, flags: 0x40 }, { ino: S.DEADBEEF }), ok(fb));
  });
});

/* ---------------------------------------------------------------------------------------------- */

describe('open, create, write', () => {
  test('open_out with backing_id (FOPEN_PASSTHROUGH)', () => {
    const expected = ok(new FrameBuilder()
      .u64(S.FH) //                                              row 0: fh
      .u32(0x83).i32(7)); //                                     row 1: open_flags (DIRECT_IO|KEEP_CACHE|PASSTHROUGH), backing_id
    assert.deepStrictEqual(viaRow('OPEN', { fh: S.FH, flags: 0x83, backingId: 7 }), expected);
    assert.deepStrictEqual(viaRow('OPENDIR', { fh: S.FH, flags: 0x83, backingId: 7 }), expected);
  });

  test('open_out: negative backing_id, and an undefined result (all zero)', () => {
    assert.deepStrictEqual(encodeOpenOut({ fh: 1, backingId: -1 }), new FrameBuilder().u64(1).u32(0).i32(-1).build());
    assert.deepStrictEqual(viaRow('OPEN', undefined), ok(new FrameBuilder().u64(0).u32(0).u32(0)));
  });

  test('create: entry_out then open_out (CREATE and TMPFILE)', () => {
    const res = { entry: FULL_ENTRY, open: { fh: 9, flags: 1 } };
    const expected = ok(fullEntryBytes().u64(9).u32(1).i32(0)); // + open_out: fh; open_flags, backing_id
    assert.deepStrictEqual(viaRow('CREATE', res), expected);
    assert.deepStrictEqual(viaRow('TMPFILE', res), expected);
  });

  test('write_out: the byte count; out-of-range results throw TypeError', () => {
    assert.deepStrictEqual(viaRow('WRITE', 4096, { size: 8192 }), ok(new FrameBuilder().u32(4096).u32(0))); // size, padding
    assert.deepStrictEqual(viaRow('WRITE', 0, { size: 0 }), ok(new FrameBuilder().u32(0).u32(0)));
    for (const bad of [8193, -1, 1.5, NaN]) assert.throws(() => row('WRITE').encodeReply(bad, { size: 8192 }, PRE_INIT), TypeError);
  });

  test('statfs: every field, then defaults (bsize 512, namelen 255, frsize = bsize)', () => {
    const full = { blocks: S.DEADBEEF, bfree: 2, bavail: 3, files: 0x1122334455667788n, ffree: 5, bsize: 65536, namelen: 1024, frsize: 4096 };
    assert.deepStrictEqual(viaRow('STATFS', full), ok(new FrameBuilder()
      .u64(S.DEADBEEF).u64(2).u64(3) //                          rows 0-2: blocks, bfree, bavail
      .u64(0x1122334455667788n).u64(5) //                        rows 3-4: files, ffree
      .u32(65536).u32(1024) //                                   row 5: bsize, namelen
      .u32(4096).u32(0) //                                       row 6: frsize, padding
      .zeros(24))); //                                           rows 7-9: spare[6]
    assert.deepStrictEqual(viaRow('STATFS', { bsize: 4096 }), ok(new FrameBuilder().zeros(40).u32(4096).u32(255).u32(4096).u32(0).zeros(24)));
    assert.deepStrictEqual(viaRow('STATFS', {}), ok(new FrameBuilder().zeros(40).u32(512).u32(255).u32(512).u32(0).zeros(24)));
  });
});

/* ---------------------------------------------------------------------------------------------- */

describe('xattrs', () => {
  test('getxattr: size probe answers fuse_getxattr_out with the length', () => {
    assert.deepStrictEqual(viaRow('GETXATTR', Buffer.from('value'), { size: 0 }), ok(new FrameBuilder().u32(5).u32(0))); // size, padding
  });
  test('getxattr: value that fits is sent raw; text is UTF-8', () => {
    assert.deepStrictEqual(viaRow('GETXATTR', Buffer.from('value'), { size: 5 }), ok(new FrameBuilder().bytes('value')));
    assert.deepStrictEqual(viaRow('GETXATTR', 'é', { size: 10 }), ok(new FrameBuilder().bytes([0xc3, 0xa9])));
  });
  test('getxattr: value larger than size → ERANGE (34)', () => {
    assert.equal(row('GETXATTR').encodeReply(Buffer.from('value'), { size: 4 }, PRE_INIT), 34);
    assert.equal(encodeXattrData(Buffer.from('value'), 4), 'ERANGE');
  });
  test('listxattr: names joined with NULs, size probe and ERANGE', () => {
    const joinedNames = new FrameBuilder().cstring('user.a').cstring('user.bb').build(); // 15 bytes
    assert.deepStrictEqual(Buffer.from(joinXattrNames(['user.a', Buffer.from('user.bb')])), joinedNames);
    assert.deepStrictEqual(viaRow('LISTXATTR', ['user.a', 'user.bb'], { size: 15 }), ok(joinedNames));
    assert.deepStrictEqual(viaRow('LISTXATTR', ['user.a', 'user.bb'], { size: 0 }), ok(new FrameBuilder().u32(15).u32(0)));
    assert.equal(row('LISTXATTR').encodeReply(['user.a', 'user.bb'], { size: 14 }, PRE_INIT), 34);
    const raw = Buffer.from('x\0');
    assert.equal(joinXattrNames(raw), raw);
    assert.deepStrictEqual(viaRow('LISTXATTR', [], { size: 0 }), ok(new FrameBuilder().u32(0).u32(0)));
  });
});

/* ---------------------------------------------------------------------------------------------- */

describe('small fixed replies', () => {
  test('lk_out', () => {
    assert.deepStrictEqual(viaRow('GETLK', { start: 0x100, end: 0x7fffffffffffffffn, type: 2, pid: 0x4321 }), ok(new FrameBuilder()
      .u64(0x100) //                                             row 0: lk.start
      .u64(0x7fffffffffffffffn) //                               row 1: lk.end
      .u32(2).u32(0x4321))); //                                  row 2: lk.type (F_UNLCK), lk.pid
  });
  test('bmap_out', () => {
    assert.deepStrictEqual(viaRow('BMAP', S.DEADBEEF), ok(new FrameBuilder().u64(S.DEADBEEF))); // block
  });
  test('poll_out', () => {
    assert.deepStrictEqual(viaRow('POLL', 0x19), ok(new FrameBuilder().u32(0x19).u32(0))); // revents, padding
  });
  test('lseek_out', () => {
    assert.deepStrictEqual(viaRow('LSEEK', S.BIGOFF), ok(new FrameBuilder().u64(S.BIGOFF))); // offset
    assert.deepStrictEqual(viaRow('LSEEK', 4096), ok(new FrameBuilder().u64(4096)));
  });
  test('COPY_FILE_RANGE (47) answers a 32-bit fuse_write_out', () => {
    assert.deepStrictEqual(viaRow('COPY_FILE_RANGE', 0xffff_ffff), ok(new FrameBuilder().u32(0xffff_ffff).u32(0))); // size, padding
    for (const bad of [2 ** 32, -1, 0.5]) assert.throws(() => row('COPY_FILE_RANGE').encodeReply(bad, {}, PRE_INIT), TypeError);
  });
  test('COPY_FILE_RANGE_64 (53) answers a u64 fuse_copy_file_range_out', () => {
    assert.deepStrictEqual(viaRow('COPY_FILE_RANGE_64', 2 ** 32), ok(new FrameBuilder().u64(0x1_0000_0000n))); // bytes_copied
    assert.deepStrictEqual(viaRow('COPY_FILE_RANGE_64', S.BIGOFF), ok(new FrameBuilder().u64(S.BIGOFF)));
  });
  test('bodiless replies are empty', () => {
    for (const name of ['UNLINK', 'RMDIR', 'RENAME', 'RENAME2', 'RELEASE', 'RELEASEDIR', 'FSYNC', 'FSYNCDIR', 'SETXATTR',
      'REMOVEXATTR', 'FLUSH', 'SETLK', 'SETLKW', 'ACCESS', 'FALLOCATE', 'SYNCFS', 'SETUPMAPPING', 'REMOVEMAPPING', 'DESTROY']) {
      const body: Encoded = row(name).encodeReply(undefined, {}, PRE_INIT);
      assert.deepStrictEqual(body, [], name);
      assert.deepStrictEqual(joined(frameReply(UNIQ_LO, UNIQ_HI, 0, body as Uint8Array[])), ok(), name);
    }
  });
});

/* ---------------------------------------------------------------------------------------------- */

describe('ioctl', () => {
  test('result and output data', () => {
    assert.deepStrictEqual(viaRow('IOCTL', { result: 5, data: Buffer.from([1, 2, 3, 4]) }, { outSize: 8 }), ok(new FrameBuilder()
      .i32(5).u32(0) //                                          row 0: result, flags
      .u32(0).u32(0) //                                          row 1: in_iovs, out_iovs
      .bytes([1, 2, 3, 4]))); //                                 output data
  });
  test('output data is cut to out_size', () => {
    assert.deepStrictEqual(viaRow('IOCTL', { result: 0, data: Buffer.from('abcdefgh') }, { outSize: 3 }),
      ok(new FrameBuilder().i32(0).u32(0).u32(0).u32(0).bytes('abc')));
  });
  test('negative result, no data', () => {
    assert.deepStrictEqual(viaRow('IOCTL', { result: -25 }, { outSize: 8 }), ok(new FrameBuilder().i32(-25).u32(0).u32(0).u32(0)));
    assert.equal(encodeIoctlOut({ result: 1, data: new Uint8Array(0) }, 8).length, 1);
  });
  test('RETRY with in and out iovecs', () => {
    const res = { retry: { in: [{ base: 0x7ffd_0000_1000, len: 16 }], out: [{ base: S.DEADBEEF, len: 32 }, { base: 0x10, len: 0x1122334455667788n }] } };
    assert.deepStrictEqual(viaRow('IOCTL', res, { outSize: 0 }), ok(new FrameBuilder()
      .i32(0).u32(4) //                                          row 0: result, flags (FUSE_IOCTL_RETRY)
      .u32(1).u32(2) //                                          row 1: in_iovs, out_iovs
      .u64(0x7ffd_0000_1000).u64(16) //                          in iov 0: base, len
      .u64(S.DEADBEEF).u64(32) //                                out iov 0: base, len
      .u64(0x10).u64(0x1122334455667788n))); //                  out iov 1: base, len
  });
});

/* ---------------------------------------------------------------------------------------------- */

describe('data replies', () => {
  test('READLINK: target bytes; cut to PAGE_SIZE − 1 = 4095 (fuse_readlink_folio)', () => {
    assert.deepStrictEqual(viaRow('READLINK', '../target'), ok(new FrameBuilder().bytes('../target')));
    const long = 'x'.repeat(5000);
    assert.deepStrictEqual(viaRow('READLINK', long), ok(new FrameBuilder().bytes('x'.repeat(4095))));
  });
  test('READ: data cut to the requested size', () => {
    assert.deepStrictEqual(viaRow('READ', Buffer.from('abcdef'), { size: 4 }), ok(new FrameBuilder().bytes('abcd')));
    assert.deepStrictEqual(viaRow('READ', 'ab', { size: 4 }), ok(new FrameBuilder().bytes('ab')));
    assert.deepStrictEqual(viaRow('READ', Buffer.alloc(0), { size: 4 }), ok());
  });
  test('READ: several parts, cut across parts; parts past the limit are dropped', () => {
    const parts = [Buffer.from('ab'), Buffer.from('cdef'), Buffer.from('gh')];
    assert.deepStrictEqual(viaRow('READ', parts, { size: 4 }), ok(new FrameBuilder().bytes('abcd')));
    const out = encodeData(parts, 2);
    assert.equal(out.length, 1);
    assert.deepStrictEqual(encodeData(parts, 100).length, 3);
  });
});

/* ---------------------------------------------------------------------------------------------- */

/** One fuse_dirent record: ino; off; namelen, type; name; padding to 8. */
function direntBytes(fb: FrameBuilder, ino: bigint, off: bigint, name: Uint8Array | string, type: number): FrameBuilder {
  const n = Buffer.from(name as string);
  return fb
    .u64(ino) //                                                 row 0: ino
    .u64(off) //                                                 row 1: off
    .u32(n.length).u32(type) //                                  row 2: namelen, type
    .bytes(n).pad8(); //                                         name, padded to 8
}

describe('dirents', () => {
  const entries: DirEntry[] = [
    { ino: S.DEADBEEF, name: 'a', offset: 1, type: 4 }, //                        24 + 1 → 32
    { ino: 2, name: 'hello.txt', offset: 2, mode: 0o100644 }, //                   24 + 9 → 40, DT_REG from mode
    { ino: 3, name: 'exactly8', offset: S.UNIQ }, //                               24 + 8 → 32 (no padding), DT_UNKNOWN
    { ino: 4, name: Buffer.from([0xff, 0xfe]), offset: 4, mode: 0o120777, type: 1 }, // type wins over mode
  ];
  const all = (): FrameBuilder => {
    const fb = new FrameBuilder();
    direntBytes(fb, S.DEADBEEF, 1n, 'a', 4);
    direntBytes(fb, 2n, 2n, 'hello.txt', 8);
    direntBytes(fb, 3n, S.UNIQ, 'exactly8', 0);
    return direntBytes(fb, 4n, 4n, Buffer.from([0xff, 0xfe]), 1);
  };

  test('records are 8-byte aligned; everything fits', () => {
    const packed = packDirents(entries, 4096);
    assert.equal(packed.count, 4);
    assert.deepStrictEqual(packed.data, all().build());
    assert.equal(packed.data.length, 136);
    assert.deepStrictEqual(viaRow('READDIR', entries, { size: 4096 }), ok(all()));
  });

  test('the size limit: only whole records that fit, count says how many', () => {
    const cut = (size: number) => packDirents(entries, size);
    assert.equal(cut(0).count, 0);
    assert.equal(cut(0).data.length, 0);
    assert.equal(cut(31).count, 0);
    assert.equal(cut(32).count, 1);
    assert.equal(cut(71).count, 1);
    assert.equal(cut(72).count, 2);
    assert.equal(cut(103).count, 2);
    assert.equal(cut(104).count, 3);
    assert.deepStrictEqual(cut(104).data, all().build().subarray(0, 104));
    assert.deepStrictEqual(viaRow('READDIR', entries, { size: 100 }), ok(all().build().subarray(0, 72)));
  });

  test('invalid names throw TypeError (empty, "/", NUL, longer than 1024)', () => {
    for (const name of ['', 'a/b', 'a\0b', 'x'.repeat(1025)]) {
      assert.throws(() => packDirents([{ ino: 1, name, offset: 1 }], 1 << 20), TypeError, JSON.stringify(name).slice(0, 20));
      assert.throws(() => packDirentsPlus([{ name, offset: 1, entry: { ino: 1, attr: { mode: 0 } } }], 1 << 20), TypeError);
    }
    assert.equal(packDirents([{ ino: 1, name: 'x'.repeat(1024), offset: 1 }], 1 << 20).count, 1);
  });

  // d_ino is the inode number stat shows (attr.ino), not the node id: fs/fuse/readdir.c fuse_emit passes
  // dirent->ino to dir_emit, which is what getdents(2) returns.
  test('direntplus: entry_out then dirent, 8-byte aligned; d_ino from attr.ino (else the node id), type from the mode', () => {
    const plus: DirEntryPlus[] = [
      { name: 'f', offset: 1, entry: FULL_ENTRY }, //                                       152 + 1 → 160
      { name: 'dir', offset: S.UNIQ, entry: { ino: 7, attr: { mode: 0o40755 } }, type: 4 }, // 152 + 3 → 160
    ];
    const fb = new FrameBuilder();
    fullEntryBytes(fb);
    direntBytes(fb, 0x1122334455667788n, 1n, 'f', 8); //         d_ino = FULL_ATTR.ino, type from its mode (S_IFREG)
    fuseEntryOut(fb, { nodeid: 7n, generation: 0n, entryValid: 1n, attrValid: 1n, entryNsec: 0, attrNsec: 0, attr: { ...ZERO_ATTR, ino: 7n, mode: 0o40755 } });
    direntBytes(fb, 7n, S.UNIQ, 'dir', 4);
    assert.equal(fb.length, 320);
    const packed = packDirentsPlus(plus, 4096);
    assert.equal(packed.count, 2);
    assert.deepStrictEqual(packed.data, fb.build());
    assert.deepStrictEqual(viaRow('READDIRPLUS', plus, { size: 4096 }), ok(fb));
    assert.equal(packDirentsPlus(plus, 319).count, 1);
    assert.deepStrictEqual(packDirentsPlus(plus, 319).data, fb.build().subarray(0, 160));
    assert.equal(packDirentsPlus(plus, 159).count, 0);
  });

  test('unsentLookups: ".", "..", and entries that did not fit (node id 0 never)', () => {
    const e = (name: string, ino: number | bigint): DirEntryPlus => ({ name, offset: 1, entry: { ino, attr: { mode: 0o40755 } } });
    const list = [e('.', 10), e('..', 1), e('a', 11), e('.x', 13), e('b', 12), e('c', 0), e('d', 0n), e('..', S.DEADBEEF)];
    // What fit is the packer's count: each record is 160 bytes, so ".", "..", "a", ".x" fit in 640.
    const sent = (size: number) => packDirentsPlus(list, size).count;
    assert.equal(sent(640), 4);
    assert.deepStrictEqual(unsentLookups(list, sent(640)), [10, 1, 12, S.DEADBEEF]);
    assert.deepStrictEqual(unsentLookups(list, sent(1 << 20)), [10, 1, S.DEADBEEF]);
    assert.deepStrictEqual(unsentLookups(list, sent(0)), [10, 1, 11, 13, 12, S.DEADBEEF]);
    // Once one entry does not fit, later (smaller) ones are not sent either: the packer stops there.
    const cut = [e('long-name-'.repeat(3), 20), e('s', 21)];
    assert.equal(packDirentsPlus(cut, 170).count, 0);
    assert.deepStrictEqual(unsentLookups(cut, packDirentsPlus(cut, 170).count), [20, 21]);
    // Names given as bytes: the same rule, and ".x" / "x." are ordinary names.
    const b = (name: string, ino: number): DirEntryPlus => ({ name: Buffer.from(name), offset: 1, entry: { ino, attr: { mode: 0o40755 } } });
    assert.deepStrictEqual(unsentLookups([b('.', 30), b('..', 31), b('.x', 32), b('x.', 33), b('ab', 34)], 5), [30, 31]);
    // The READDIRPLUS row reads the count back from the bytes it sent.
    const plus = row('READDIRPLUS');
    for (const size of [0, 159, 160, 320, 639, 640, 1 << 20]) {
      const body = plus.encodeReply(list, { size }, PRE_INIT) as Uint8Array[];
      assert.equal(countDirentsPlus(body[0]!), sent(size), `size ${size}`);
      assert.deepStrictEqual(plus.droppedLookups!(list, body), unsentLookups(list, sent(size)), `size ${size}`);
    }
  });
});

/* ---------------------------------------------------------------------------------------------- */

/** A notification header: len, error = code; unique = 0. */
const notify = (code: number, ...body: (FrameBuilder | Uint8Array)[]): Buffer => reply(code, 0, ...body);

describe('notifications', () => {
  test('POLL (1)', () => {
    assert.deepStrictEqual(joined(encodeNotifyPoll(S.DEADBEEF)), notify(1, new FrameBuilder().u64(S.DEADBEEF))); // kh
  });
  test('INVAL_INODE (2) with a negative offset (attributes only)', () => {
    assert.deepStrictEqual(joined(encodeNotifyInvalInode(S.DEADBEEF, -1, 0)), notify(2, new FrameBuilder()
      .u64(S.DEADBEEF) //                                        row 0: ino
      .i64(-1) //                                                row 1: off
      .i64(0))); //                                              row 2: len
  });
  test('INVAL_INODE (2) with a range, and the defaults', () => {
    assert.deepStrictEqual(joined(encodeNotifyInvalInode(5, 4096, S.BIGOFF)), notify(2, new FrameBuilder().u64(5).i64(4096).i64(S.BIGOFF)));
    assert.deepStrictEqual(joined(encodeNotifyInvalInode(5, -2n)), notify(2, new FrameBuilder().u64(5).i64(-2).i64(0)));
    assert.deepStrictEqual(joined(encodeNotifyInvalInode(5)), notify(2, new FrameBuilder().u64(5).u64(0).u64(0)));
  });
  test('INVAL_ENTRY (3) without and with EXPIRE_ONLY', () => {
    assert.deepStrictEqual(joined(encodeNotifyInvalEntry(S.DEADBEEF, 'name')), notify(3, new FrameBuilder()
      .u64(S.DEADBEEF) //                                        row 0: parent
      .u32(4).u32(0) //                                          row 1: namelen, flags
      .cstring('name'))); //                                     name + NUL (not padded)
    assert.deepStrictEqual(joined(encodeNotifyInvalEntry(1, Buffer.from([0xff]), true)),
      notify(3, new FrameBuilder().u64(1).u32(1).u32(1).cstring([0xff]))); // flags = FUSE_EXPIRE_ONLY
  });
  test('STORE (4)', () => {
    assert.deepStrictEqual(joined(encodeNotifyStore(S.DEADBEEF, S.BIGOFF, Buffer.from('cached'))), notify(4, new FrameBuilder()
      .u64(S.DEADBEEF) //                                        row 0: nodeid
      .u64(S.BIGOFF) //                                          row 1: offset
      .u32(6).u32(0) //                                          row 2: size, padding
      .bytes('cached')));
  });
  test('RETRIEVE (5)', () => {
    assert.deepStrictEqual(joined(encodeNotifyRetrieve(S.UNIQ, S.DEADBEEF, 8192, 65536)), notify(5, new FrameBuilder()
      .u64(S.UNIQ) //                                            row 0: notify_unique
      .u64(S.DEADBEEF) //                                        row 1: nodeid
      .u64(8192) //                                              row 2: offset
      .u32(65536).u32(0))); //                                   row 3: size, padding
  });
  test('DELETE (6)', () => {
    assert.deepStrictEqual(joined(encodeNotifyDelete(1, S.DEADBEEF, 'gone')), notify(6, new FrameBuilder()
      .u64(1) //                                                 row 0: parent
      .u64(S.DEADBEEF) //                                        row 1: child
      .u32(4).u32(0) //                                          row 2: namelen, padding
      .cstring('gone')));
  });
  test('RESEND (7) and INC_EPOCH (8): header only', () => {
    assert.deepStrictEqual(joined(encodeNotifyResend()), new FrameBuilder().u32(16).i32(7).u64(0).build());
    assert.deepStrictEqual(joined(encodeNotifyIncEpoch()), new FrameBuilder().u32(16).i32(8).u64(0).build());
  });
  test('PRUNE (9): count, then the node ids', () => {
    assert.deepStrictEqual(joined(encodeNotifyPrune([S.DEADBEEF, 2])), notify(9, new FrameBuilder()
      .u32(2).u32(0) //                                          row 0: count, padding
      .u64(0) //                                                 row 1: spare
      .u64(S.DEADBEEF).u64(2))); //                              node ids
    assert.deepStrictEqual(joined(encodeNotifyPrune([])), notify(9, new FrameBuilder().u32(0).u32(0).u64(0)));
  });
});

/* ---------------------------------------------------------------------------------------------- */

describe('fuse_init_out', () => {
  const fields: InitOutFields = {
    major: 7, minor: 45, maxReadahead: 0x0011_2233, flags: 0x40c0_ffee, maxBackground: 0x1234, congestionThreshold: 0x5678,
    maxWrite: 0x0010_0000, timeGran: 0x0102_0304, maxPages: 0x0100, mapAlignment: 0x000c, flags2: 0x0000_0425,
    maxStackDepth: 2, requestTimeout: 0x0abc,
  };
  const full = new FrameBuilder()
    .u32(7).u32(45) //                                           row 0: major, minor
    .u32(0x0011_2233).u32(0x40c0_ffee) //                        row 1: max_readahead, flags
    .u16(0x1234).u16(0x5678).u32(0x0010_0000) //                 row 2: max_background, congestion_threshold, max_write
    .u32(0x0102_0304).u16(0x0100).u16(0x000c) //                 row 3: time_gran, max_pages, map_alignment
    .u32(0x0000_0425).u32(2) //                                  row 4: flags2, max_stack_depth
    .u16(0x0abc).zeros(6) //                                     row 5: request_timeout, unused[0..2]
    .zeros(16) //                                                rows 6-7: unused[3..10]
    .build();

  test('64 bytes for 7.23 and later', () => {
    assert.equal(full.length, 64);
    assert.deepStrictEqual(encodeInitOut(fields, 45), full);
    assert.deepStrictEqual(encodeInitOut(fields, 23), full);
    assert.equal(initOutSize(36), 64);
  });
  test('24 bytes (FUSE_COMPAT_22_INIT_OUT_SIZE) before 7.23', () => {
    assert.deepStrictEqual(encodeInitOut(fields, 22), full.subarray(0, 24));
    assert.deepStrictEqual(encodeInitOut(fields, 5), full.subarray(0, 24));
  });
  test('8 bytes (FUSE_COMPAT_INIT_OUT_SIZE) before 7.5', () => {
    assert.deepStrictEqual(encodeInitOut(fields, 4), full.subarray(0, 8));
  });
  test('the INIT row encodes for the kernel minor of the request', () => {
    assert.deepStrictEqual(viaRow('INIT', fields, { minor: 22 }), ok(full.subarray(0, 24)));
    assert.deepStrictEqual(viaRow('INIT', fields, { minor: 40 }), ok(full));
  });
});
