/**
 * Unit tests of the small pieces: FrameReader, the u64 helpers, flagNames, decode-error helpers, the
 * opcode lookups and the invariants of the OPCODES table.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameReader, readU64, writeU64, readI64, writeI64, isU64, toU64, isOffT, MAX_OFF_T, flagNames, OpenFlags, IoctlFlags,
  SetattrValid, describeDecodeError, isDecodeError, opcodeName, opcodeRow, opcodeByName, Opcode, OPCODES, decodeRequest,
  PRE_INIT, hasFlag, INIT_FLAGS, INIT_FLAG_BY_NAME, defineStruct, type DecodeError,
} from '../../src/protocol/index.ts';
import { FrameBuilder, request, S } from './frame-builder.ts';

describe('FrameReader', () => {
  const buf = new FrameBuilder()
    .u16(0xbeef).u16(0xffff).u32(0xfffffffe) //                  0: u16, u16, u32 (-2 as i32)
    .u64(S.DEADBEEF) //                                          8: u64
    .i64(-5) //                                                  16: i64
    .cstring('name').bytes('tail') //                            24: "name\0tail"
    .build();

  test('reads little-endian scalars and tracks position/remaining', () => {
    const r = new FrameReader().reset(buf);
    assert.equal(r.buffer, buf);
    assert.equal(r.u16(), 0xbeef);
    assert.equal(r.position, 2);
    r.skip(2);
    assert.equal(r.i32(), -2);
    r.reset(buf, 4);
    assert.equal(r.u32(), 0xfffffffe);
    assert.equal(r.u64(), S.DEADBEEF);
    assert.equal(r.i64(), -5);
    assert.equal(r.remaining, buf.length - 24);
    assert.deepStrictEqual(r.cstring(), Buffer.from('name'));
    assert.deepStrictEqual(r.rest(), Buffer.from('tail'));
    assert.equal(r.remaining, 0);
    assert.equal(r.error, undefined);
  });

  test('a read past the end returns 0, records one short error with frame offsets, and sticks', () => {
    const r = new FrameReader().reset(buf, 0, 6, 'THING');
    assert.equal(r.u32(), 0xffffbeef);
    assert.equal(r.u32(), 0);
    assert.deepStrictEqual(r.error, { kind: 'short', what: 'THING', want: 8, got: 6 });
    assert.equal(r.position, 6);
    assert.equal(r.u16(), 0);
    assert.equal(r.u64(), 0);
    assert.equal(r.i64(), 0);
    assert.equal(r.i32(), 0);
    assert.deepStrictEqual(r.bytes(1), Buffer.alloc(0));
    assert.deepStrictEqual(r.cstring(), Buffer.alloc(0));
    assert.equal(r.need(0), false);
    r.invalid('ignored');
    assert.deepStrictEqual(r.error, { kind: 'short', what: 'THING', want: 8, got: 6 }, 'the first error wins');
    r.reset(buf);
    assert.equal(r.error, undefined, 'reset clears the error');
    assert.equal(r.what, '');
  });

  test('need() checks without consuming', () => {
    const r = new FrameReader().reset(buf, 8, 16);
    assert.equal(r.need(8), true);
    assert.equal(r.position, 8);
    assert.equal(r.need(9), false);
    assert.deepStrictEqual(r.error, { kind: 'short', what: '', want: 17, got: 16 });
    assert.equal(r.position, 8);
  });

  test('bytes() and rest() are views, not copies', () => {
    const b = Buffer.from('abcdef');
    const r = new FrameReader().reset(b, 1, 5);
    const v = r.bytes(2);
    assert.deepStrictEqual(v, Buffer.from('bc'));
    b[1] = 0x42;
    assert.equal(v.toString(), 'Bc');
    const rest = r.rest();
    assert.deepStrictEqual(rest, Buffer.from('de'), 'rest stops at end, not at the buffer length');
    assert.equal(rest.buffer, b.buffer);
  });

  test('cstring(): NUL required inside [pos, end); max length', () => {
    const b = Buffer.from('abc\0def\0');
    assert.deepStrictEqual(new FrameReader().reset(b, 0, 3, 'X').cstring(), Buffer.alloc(0));
    const r1 = new FrameReader().reset(b, 0, 3, 'X');
    r1.cstring();
    assert.deepStrictEqual(r1.error, { kind: 'unterminated-name', what: 'X' }, 'a NUL after end does not count');
    const r2 = new FrameReader().reset(b, 4, 8, 'Y');
    r2.cstring(2);
    assert.deepStrictEqual(r2.error, { kind: 'name-too-long', what: 'Y', length: 3, max: 2 });
    const r3 = new FrameReader().reset(b);
    assert.deepStrictEqual(r3.cstring(3), Buffer.from('abc'));
    assert.deepStrictEqual(r3.cstring(), Buffer.from('def'));
    assert.equal(r3.remaining, 0);
    const empty = new FrameReader().reset(Buffer.from([0]));
    assert.deepStrictEqual(empty.cstring(), Buffer.alloc(0));
    assert.equal(empty.error, undefined);
  });

  test('cstring(): names on either side of the 40 bytes scanned without Buffer#indexOf', () => {
    for (const len of [39, 40, 41, 80, 255]) {
      const name = Buffer.alloc(len, 0x61);
      const b = Buffer.concat([Buffer.from([0x7a]), name, Buffer.from([0]), Buffer.from('more\0')]);
      const r = new FrameReader().reset(b, 1);
      assert.deepStrictEqual(r.cstring(), name, `length ${len}`);
      assert.equal(r.position, len + 2, `length ${len}: the NUL is consumed`);
      assert.deepStrictEqual(r.cstring(), Buffer.from('more'));
      // The same name with its NUL one byte past the reader's end is unterminated, whichever search finds it.
      const cut = new FrameReader().reset(b, 1, len + 1, 'Z');
      assert.deepStrictEqual(cut.cstring(), Buffer.alloc(0));
      assert.deepStrictEqual(cut.error, { kind: 'unterminated-name', what: 'Z' }, `length ${len}`);
      const long = new FrameReader().reset(b, 1);
      long.cstring(len - 1);
      assert.deepStrictEqual(long.error, { kind: 'name-too-long', what: '', length: len, max: len - 1 });
    }
  });

  test('invalid() records a semantic error', () => {
    const r = new FrameReader().reset(buf, 0, buf.length, 'OP');
    r.invalid('bad value');
    assert.deepStrictEqual(r.error, { kind: 'invalid', what: 'OP', reason: 'bad value' });
  });

  test('one reader reused across decodeRequest calls', () => {
    const r = new FrameReader();
    const a = decodeRequest(request({ opcode: 1, unique: 1, nodeid: 1 }, new FrameBuilder().cstring('a')), PRE_INIT, r);
    const bad = decodeRequest(request({ opcode: 1, unique: 2, nodeid: 1 }, new FrameBuilder().bytes('b')), PRE_INIT, r);
    const b = decodeRequest(request({ opcode: 1, unique: 3, nodeid: 1 }, new FrameBuilder().cstring('bb')), PRE_INIT, r);
    assert.ok(!('error' in a) && !('error' in b) && 'error' in bad);
    assert.deepStrictEqual(a.args, { parent: 1, name: Buffer.from('a') });
    assert.deepStrictEqual(b.args, { parent: 1, name: Buffer.from('bb') });
    assert.equal(bad.header?.unique, 2);
  });
});

describe('u64 helpers', () => {
  const at = (v: bigint): Buffer => new FrameBuilder().u64(v).build();

  test('readU64: number up to 2^53 − 1, bigint from 2^53', () => {
    assert.equal(readU64(at(0n), 0), 0);
    assert.equal(readU64(at(0xffff_ffffn), 0), 0xffff_ffff);
    assert.equal(readU64(at(0x1_0000_0000n), 0), 0x1_0000_0000);
    assert.equal(readU64(at(S.MAX_SAFE), 0), Number.MAX_SAFE_INTEGER);
    assert.equal(readU64(at(S.TWO_53), 0), 2n ** 53n);
    assert.equal(readU64(at((1n << 64n) - 1n), 0), (1n << 64n) - 1n);
    assert.equal(readU64(Buffer.concat([Buffer.alloc(3), at(S.DEADBEEF)]), 3), S.DEADBEEF);
  });

  test('writeU64: numbers and bigints, returns the next offset; anything outside [0, 2^64) is refused, not wrapped', () => {
    const b = Buffer.alloc(16);
    assert.equal(writeU64(b, 8, 0x0102_0304_0506), 16);
    assert.deepStrictEqual(b.subarray(8), at(0x0102_0304_0506n));
    writeU64(b, 0, S.DEADBEEF);
    assert.deepStrictEqual(b.subarray(0, 8), at(S.DEADBEEF));
    writeU64(b, 0, Number.MAX_SAFE_INTEGER);
    assert.deepStrictEqual(b.subarray(0, 8), at(S.MAX_SAFE));
    writeU64(b, 0, (1n << 64n) - 1n);
    assert.deepStrictEqual(b.subarray(0, 8), at((1n << 64n) - 1n));
    for (const v of [-1n, 1n << 64n, -1, NaN, 2 ** 70, 1.5]) assert.throws(() => writeU64(b, 0, v), RangeError, String(v));
  });

  test('readI64/writeI64: a number whenever the value is safe, negative values included', () => {
    const b = Buffer.alloc(8);
    for (const v of [0, 1, -1, -86_400, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]) {
      writeI64(b, 0, v);
      assert.deepStrictEqual(b, new FrameBuilder().i64(v).build());
      assert.equal(readI64(b, 0), v, String(v));
    }
    for (const v of [-(1n << 63n), (1n << 63n) - 1n, -(2n ** 53n), 2n ** 53n]) {
      writeI64(b, 0, v);
      assert.equal(readI64(b, 0), v, String(v));
    }
  });

  test('isU64, toU64, isOffT', () => {
    for (const v of [0, 1, Number.MAX_SAFE_INTEGER, 0n, (1n << 64n) - 1n]) assert.equal(isU64(v), true, String(v));
    for (const v of [-1, 1.5, 2 ** 53, NaN, Infinity, -1n, 1n << 64n, '1', null, undefined]) assert.equal(isU64(v), false, String(v));
    assert.equal(toU64(5n), 5);
    assert.equal(toU64(S.MAX_SAFE), Number.MAX_SAFE_INTEGER);
    assert.equal(toU64(S.TWO_53), S.TWO_53);
    assert.equal(toU64(-1n), -1n);
    assert.equal(toU64(7), 7);
    assert.equal(MAX_OFF_T, (1n << 63n) - 1n);
    assert.equal(isOffT(0), true);
    assert.equal(isOffT(Number.MAX_SAFE_INTEGER), true);
    assert.equal(isOffT(MAX_OFF_T), true);
    assert.equal(isOffT(MAX_OFF_T + 1n), false);
    assert.equal(isOffT(-1), false);
  });
});

describe('flagNames', () => {
  test('names set bits in table order, unknown bits in hex, 0 as "0"', () => {
    assert.equal(flagNames(OpenFlags, 0), '0');
    assert.equal(flagNames(OpenFlags, 0b11), 'DIRECT_IO|KEEP_CACHE');
    assert.equal(flagNames(OpenFlags, 0x80 | 0x100), 'PASSTHROUGH|0x100');
    assert.equal(flagNames(OpenFlags, 0x8000_0000), '0x80000000');
    assert.equal(flagNames(IoctlFlags, 1 << 3), '32BIT');
    assert.equal(flagNames(SetattrValid, 0b1000_1000), 'SIZE|ATIME_NOW');
  });
});

describe('decode errors', () => {
  const all: [DecodeError, string][] = [
    [{ kind: 'short-header', got: 12 }, 'frame of 12 bytes is shorter than the 40-byte header'],
    [{ kind: 'length-mismatch', declared: 100, got: 64 }, 'header says 100 bytes but the frame has 64'],
    [{ kind: 'short', what: 'READ', want: 80, got: 50 }, 'READ: needs 80 bytes, frame has 50'],
    [{ kind: 'unknown-opcode', opcode: 7 }, 'unknown opcode 7'],
    [{ kind: 'unterminated-name', what: 'LOOKUP' }, 'LOOKUP: name is not NUL-terminated'],
    [{ kind: 'name-too-long', what: 'LOOKUP', length: 2000, max: 1024 }, 'LOOKUP: name of 2000 bytes exceeds 1024'],
    [{ kind: 'bad-extension', reason: 'truncated supplementary groups' }, 'request extension: truncated supplementary groups'],
    [{ kind: 'invalid', what: 'WRITE', reason: 'write offset exceeds 2^63 − 1' }, 'WRITE: write offset exceeds 2^63 − 1'],
  ];
  test('describeDecodeError for each kind', () => {
    for (const [e, text] of all) assert.equal(describeDecodeError(e), text);
  });
  test('isDecodeError recognizes each kind and nothing else', () => {
    for (const [e] of all) assert.equal(isDecodeError(e), true, e.kind);
    for (const v of [null, undefined, {}, { kind: 'other' }, 'short', 5, { kind: 5 }]) assert.equal(isDecodeError(v), false, String(v));
  });
});

describe('opcode lookups', () => {
  test('opcodeName, opcodeRow, opcodeByName, Opcode', () => {
    assert.equal(opcodeName(1), 'LOOKUP');
    assert.equal(opcodeName(53), 'COPY_FILE_RANGE_64');
    assert.equal(opcodeName(4096), 'CUSE_INIT');
    assert.equal(opcodeName(7), 'OPCODE_7');
    assert.equal(opcodeName(2000), 'OPCODE_2000');
    assert.equal(opcodeName(1_048_576), 'OPCODE_1048576');
    assert.equal(opcodeRow(4096)?.name, 'CUSE_INIT');
    assert.equal(opcodeRow(0), undefined);
    assert.equal(opcodeRow(19), undefined);
    assert.equal(opcodeRow(54), undefined);
    assert.equal(opcodeRow(4097), undefined);
    assert.equal(opcodeByName('STATX')?.code, 52);
    assert.equal(opcodeByName('NOPE'), undefined);
    for (const r of OPCODES) {
      assert.equal(opcodeRow(r.code), r);
      assert.equal(opcodeByName(r.name), r);
      assert.equal(Opcode[r.name], r.code);
    }
    assert.equal(Object.keys(Opcode).length, OPCODES.length);
  });
});

describe('the OPCODES table', () => {
  /** enum fuse_opcode of fuse_kernel.h 7.45, in order. */
  const KERNEL = [
    'LOOKUP', 'FORGET', 'GETATTR', 'SETATTR', 'READLINK', 'SYMLINK', null, 'MKNOD', 'MKDIR', 'UNLINK', 'RMDIR', 'RENAME', 'LINK',
    'OPEN', 'READ', 'WRITE', 'STATFS', 'RELEASE', null, 'FSYNC', 'SETXATTR', 'GETXATTR', 'LISTXATTR', 'REMOVEXATTR', 'FLUSH',
    'INIT', 'OPENDIR', 'READDIR', 'RELEASEDIR', 'FSYNCDIR', 'GETLK', 'SETLK', 'SETLKW', 'ACCESS', 'CREATE', 'INTERRUPT', 'BMAP',
    'DESTROY', 'IOCTL', 'POLL', 'NOTIFY_REPLY', 'BATCH_FORGET', 'FALLOCATE', 'READDIRPLUS', 'RENAME2', 'LSEEK', 'COPY_FILE_RANGE',
    'SETUPMAPPING', 'REMOVEMAPPING', 'SYNCFS', 'TMPFILE', 'STATX', 'COPY_FILE_RANGE_64',
  ];

  test('codes and names are unique', () => {
    assert.equal(new Set(OPCODES.map((r) => r.code)).size, OPCODES.length);
    assert.equal(new Set(OPCODES.map((r) => r.name)).size, OPCODES.length);
  });

  test('names match the kernel list: 1..53 without 7 and 19, plus CUSE_INIT = 4096', () => {
    const expected = KERNEL.flatMap((name, i) => (name === null ? [] : [[i + 1, name] as const]));
    expected.push([4096, 'CUSE_INIT']);
    assert.equal(expected.length, 52);
    assert.deepStrictEqual(OPCODES.map((r) => [r.code, r.name]).sort((a, b) => (a[0] as number) - (b[0] as number)), expected);
  });

  test('every row decodes and encodes; rows with a method name it as a string', () => {
    for (const r of OPCODES) {
      assert.equal(typeof r.decode, 'function', r.name);
      assert.equal(typeof r.encodeReply, 'function', r.name);
      assert.ok(typeof r.absent === 'number' || typeof r.absent === 'function', r.name);
      if (r.method !== undefined) assert.match(r.method, /^[a-z][A-Za-z]+$/, r.name);
      assert.ok(Object.isFrozen(r), r.name);
    }
    assert.ok(Object.isFrozen(OPCODES));
    assert.ok(OPCODES.filter((r) => r.method !== undefined).length >= 44);
  });

  test('noReply rows are exactly FORGET, BATCH_FORGET, INTERRUPT and NOTIFY_REPLY', () => {
    assert.deepStrictEqual(OPCODES.filter((r) => r.noReply).map((r) => r.name).sort(), ['BATCH_FORGET', 'FORGET', 'INTERRUPT', 'NOTIFY_REPLY']);
  });

  test('minMinor is the minor that introduced the opcode (fuse_kernel.h changelog; 0 = 7.1 or earlier)', () => {
    const introduced: Record<string, number> = {
      FSYNCDIR: 2, ACCESS: 3, CREATE: 3, INTERRUPT: 7, GETLK: 7, SETLK: 7, SETLKW: 7, BMAP: 8, DESTROY: 8, IOCTL: 11, POLL: 11,
      NOTIFY_REPLY: 15, BATCH_FORGET: 16, FALLOCATE: 19, READDIRPLUS: 21, RENAME2: 23, LSEEK: 24, COPY_FILE_RANGE: 28,
      SETUPMAPPING: 31, REMOVEMAPPING: 31, SYNCFS: 34, TMPFILE: 37, STATX: 39, COPY_FILE_RANGE_64: 45,
    };
    for (const r of OPCODES) {
      if (r.name === 'CUSE_INIT') continue; // CUSE is not in the changelog
      assert.equal(r.minMinor, introduced[r.name] ?? 0, r.name);
    }
  });

  test('absent answers: errno or a synthesized result', () => {
    const root = opcodeByName('GETATTR')!.absent as (req: unknown, n: unknown) => unknown;
    assert.deepStrictEqual(root({ ino: 1 }, PRE_INIT), { attr: { mode: 0o40755, nlink: 2 } });
    assert.throws(() => root({ ino: 2 }, PRE_INIT), { code: 'ENOSYS', errno: 38 });
    assert.deepStrictEqual((opcodeByName('OPEN')!.absent as () => unknown)(), {});
    assert.deepStrictEqual((opcodeByName('STATFS')!.absent as () => unknown)(), { namelen: 255, bsize: 512 });
    assert.equal(opcodeByName('LOOKUP')!.absent, 38);
    assert.equal(opcodeByName('INIT')!.absent, 5);
  });
});

describe('INIT flag table and hasFlag', () => {
  test('bits are unique, 0..42, and split across flags/flags2', () => {
    assert.deepStrictEqual(INIT_FLAGS.map((f) => f.bit), Array.from({ length: 43 }, (_, i) => i));
    for (const f of INIT_FLAGS) assert.equal(INIT_FLAG_BY_NAME.get(f.name), f);
    assert.equal(hasFlag({ flags: 1 << 30, flags2: 0 }, 'INIT_EXT'), true);
    assert.equal(hasFlag({ flags: 0, flags2: 1 << 5 }, 'PASSTHROUGH'), true);
    assert.equal(hasFlag({ flags: 0xffff_ffff, flags2: 0 }, 'PASSTHROUGH'), false);
    assert.equal(hasFlag({ flags: 0x8000_0000, flags2: 0 }, 'INIT_RESERVED'), true);
  });
});

describe('defineStruct', () => {
  test('C natural alignment: padding before wider fields and at the end', () => {
    const s = defineStruct('t', 0, [['a', 'u8'], ['b', 'u32'], ['c', 'u16'], ['d', 'u64'], ['e', 'u8', 3]]);
    assert.deepStrictEqual(s.fields.map((f) => [f.name, f.offset, f.size]), [['a', 0, 1], ['b', 4, 4], ['c', 8, 2], ['d', 16, 8], ['e', 24, 3]]);
    assert.equal(s.size, 32);
    assert.equal(s.align, 8);
    assert.deepStrictEqual({ ...s.off }, { a: 0, b: 4, c: 8, d: 16, e: 24 });
    const outer = defineStruct('o', 0, [['x', 'u16'], ['inner', s]]);
    assert.equal(outer.off.inner, 8);
    assert.equal(outer.size, 40);
  });
});
