/**
 * Property tests (fast-check):
 * - every request type: frames built by the naive FrameBuilder from random field values decode to exactly
 *   those values (header and extensions included);
 * - every reply/notification encoder: random inputs, decoded back with the test's own ByteReader;
 * - u64/i64 round trips over the whole range with the number/bigint split at 2^53;
 * - hostile input: random bytes, random bodies behind valid headers and every prefix of valid frames never
 *   throw, and give either a request or `{ error }` with a DecodeError; specific malformations give the
 *   specific DecodeError kinds.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeRequest, isDecodeError, OPCODES, opcodeByName, PRE_INIT, frameReply, readU64, writeU64, readI64, writeI64,
  toU64, isU64, isOffT, encodeEntryOut, encodeAttrOut, encodeOpenOut, encodeStatfsOut, encodeLkOut, encodeBmapOut,
  encodeIoctlOut, encodePollOut, encodeLseekOut, encodeCopyFileRangeOut, encodeStatxOut, encodeXattrData, encodeInitOut,
  initOutSize, packDirents, packDirentsPlus, encodeNotifyPoll, encodeNotifyInvalInode, encodeNotifyInvalEntry,
  encodeNotifyStore, encodeNotifyRetrieve, encodeNotifyDelete, encodeNotifyPrune, encodeWriteOut,
  type Negotiated, type DecodeError, type Attr, type EntryReply, type InitOutFields, type StatxData,
} from '../../src/protocol/index.ts';
import { FrameBuilder, request, ByteReader, canon, joined, S } from './frame-builder.ts';

const RUNS = { numRuns: 150 } as const;
fc.configureGlobal({ includeErrorInReport: true });
const EXT: Negotiated = { ...PRE_INIT, setxattrExt: true };
const MAX_U64 = (1n << 64n) - 1n;
const MAX_OFF = (1n << 63n) - 1n;

/* ---------------------------------------------------------------------------------------------- */
/* Arbitraries                                                                                      */

const u64 = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: MAX_U64 }) },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 1n << 54n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, S.MAX_SAFE, S.TWO_53, MAX_OFF, 1n << 63n, MAX_U64) },
);
const offT = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: MAX_OFF }) },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 1n << 54n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, S.MAX_SAFE, S.TWO_53, MAX_OFF) },
);
const i64 = fc.oneof(fc.bigInt({ min: -(1n << 63n), max: MAX_OFF }), fc.bigInt({ min: -(1n << 54n), max: 1n << 54n }));
const u32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((x) => x >>> 0), fc.constantFrom(0, 1, 0xffff_ffff));
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const u16 = fc.integer({ min: 0, max: 0xffff });
/** A kernel name: any bytes but NUL (the decoder does not judge '/' or emptiness). */
const name = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.map((x) => (x === 0 ? 0x61 : x))));
const data = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

/** JSON for messages, bigints included. */
const show = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
/** A u64 from the codec: the canonical number/bigint of `v`. */
const c = (v: bigint): number | bigint => canon(v);
/** A signed i64 as the codec gives it: a number when safe, else a bigint. */
const cs = (v: bigint): number | bigint => (v >= -S.MAX_SAFE && v <= S.MAX_SAFE ? Number(v) : v);

interface Hdr { readonly unique: bigint; readonly nodeid: bigint; readonly uid: number; readonly gid: number; readonly pid: number }
const hdr: fc.Arbitrary<Hdr> = fc.record({ unique: u64, nodeid: u64, uid: u32, gid: u32, pid: u32 });

/* ---------------------------------------------------------------------------------------------- */
/* Request specs: random values → FrameBuilder body → expected decoded args                         */

interface Case { readonly body: Buffer; readonly expect: (h: Hdr) => unknown }
interface Spec { readonly ops: readonly string[]; readonly title: string; readonly n: Negotiated; readonly gen: (op: string) => fc.Arbitrary<Case> }

const specs: Spec[] = [];
function spec<V>(ops: readonly string[], title: string, arb: fc.Arbitrary<V>, build: (v: V, op: string) => FrameBuilder, expect: (v: V, h: Hdr, op: string) => unknown, n: Negotiated = PRE_INIT): void {
  specs.push({ ops, title, n, gen: (op) => arb.map((v) => ({ body: build(v, op).build(), expect: (h: Hdr) => expect(v, h, op) })) });
}

spec(['LOOKUP', 'UNLINK', 'RMDIR'], 'name', name, (v) => new FrameBuilder().cstring(v), (v, h) => ({ parent: c(h.nodeid), name: v }));
spec(['FORGET'], 'nlookup', u64, (v) => new FrameBuilder().u64(v), (v, h) => ({ items: [{ ino: c(h.nodeid), nlookup: c(v) }] }));
spec(['READLINK', 'STATFS', 'DESTROY'], 'no body', fc.constant(0), () => new FrameBuilder(), (_v, h) => ({ ino: c(h.nodeid) }));
spec(['GETATTR'], 'flags/fh', fc.record({ flags: u32, dummy: u32, fh: u64 }),
  (v) => new FrameBuilder().u32(v.flags).u32(v.dummy).u64(v.fh),
  (v, h) => ((v.flags & 1) !== 0 ? { ino: c(h.nodeid), flags: v.flags, fh: c(v.fh) } : { ino: c(h.nodeid), flags: v.flags }));
spec(['SETATTR'], 'FATTR-gated fields',
  fc.record({
    valid: fc.oneof(fc.integer({ min: 0, max: 0xfff }), u32), fh: u64, size: offT, owner: u64, atime: i64, mtime: i64, ctime: i64,
    ans: u32, mns: u32, cns: u32, mode: u32, u4: u32, uid: u32, gid: u32, u5: u32,
  }),
  (v) => new FrameBuilder().u32(v.valid).u32(0).u64(v.fh).u64(v.size).u64(v.owner).i64(v.atime).i64(v.mtime).i64(v.ctime)
    .u32(v.ans).u32(v.mns).u32(v.cns).u32(v.mode).u32(v.u4).u32(v.uid).u32(v.gid).u32(v.u5),
  (v, h) => {
    const o: Record<string, unknown> = { ino: c(h.nodeid), valid: v.valid, killSuidgid: (v.valid & 0x800) !== 0 };
    if (v.valid & 0x40) o['fh'] = c(v.fh);
    if (v.valid & 0x8) o['size'] = c(v.size);
    if (v.valid & 0x200) o['lockOwner'] = c(v.owner);
    if (v.valid & 0x80) o['atime'] = 'now'; else if (v.valid & 0x10) o['atime'] = { sec: cs(v.atime), nsec: v.ans };
    if (v.valid & 0x100) o['mtime'] = 'now'; else if (v.valid & 0x20) o['mtime'] = { sec: cs(v.mtime), nsec: v.mns };
    if (v.valid & 0x400) o['ctime'] = { sec: cs(v.ctime), nsec: v.cns };
    if (v.valid & 0x1) o['mode'] = v.mode;
    if (v.valid & 0x2) o['uid'] = v.uid;
    if (v.valid & 0x4) o['gid'] = v.gid;
    return o;
  });
spec(['SYMLINK'], 'name and target', fc.tuple(name, name), ([a, t]) => new FrameBuilder().cstring(a).cstring(t), ([a, t], h) => ({ parent: c(h.nodeid), name: a, target: t }));
spec(['MKNOD'], 'mode/rdev/umask', fc.record({ mode: u32, rdev: u32, umask: u32, pad: u32, name }),
  (v) => new FrameBuilder().u32(v.mode).u32(v.rdev).u32(v.umask).u32(v.pad).cstring(v.name),
  (v, h) => ({ parent: c(h.nodeid), mode: v.mode, rdev: v.rdev, umask: v.umask, name: v.name }));
spec(['MKDIR'], 'mode/umask', fc.record({ mode: u32, umask: u32, name }),
  (v) => new FrameBuilder().u32(v.mode).u32(v.umask).cstring(v.name), (v, h) => ({ parent: c(h.nodeid), mode: v.mode, umask: v.umask, name: v.name }));
spec(['RENAME'], 'newdir, names', fc.record({ newdir: u64, a: name, b: name }),
  (v) => new FrameBuilder().u64(v.newdir).cstring(v.a).cstring(v.b),
  (v, h) => ({ parent: c(h.nodeid), name: v.a, newParent: c(v.newdir), newName: v.b, flags: 0 }));
spec(['RENAME2'], 'newdir, flags, names', fc.record({ newdir: u64, flags: u32, pad: u32, a: name, b: name }),
  (v) => new FrameBuilder().u64(v.newdir).u32(v.flags).u32(v.pad).cstring(v.a).cstring(v.b),
  (v, h) => ({ parent: c(h.nodeid), name: v.a, newParent: c(v.newdir), newName: v.b, flags: v.flags }));
spec(['LINK'], 'oldnodeid, name', fc.record({ old: u64, name }), (v) => new FrameBuilder().u64(v.old).cstring(v.name),
  (v, h) => ({ ino: c(v.old), newParent: c(h.nodeid), newName: v.name }));
spec(['OPEN', 'OPENDIR'], 'flags', fc.record({ flags: u32, openFlags: u32 }), (v) => new FrameBuilder().u32(v.flags).u32(v.openFlags),
  (v, h) => ({ ino: c(h.nodeid), flags: v.flags, openFlags: v.openFlags }));
spec(['READ', 'READDIR', 'READDIRPLUS'], 'read_in', fc.record({ fh: u64, off: offT, size: u32, rf: u32, owner: u64, flags: u32, pad: u32 }),
  (v) => new FrameBuilder().u64(v.fh).u64(v.off).u32(v.size).u32(v.rf).u64(v.owner).u32(v.flags).u32(v.pad),
  (v, h) => {
    const base = { ino: c(h.nodeid), fh: c(v.fh), offset: c(v.off), size: v.size, readFlags: v.rf, flags: v.flags };
    return (v.rf & 2) !== 0 ? { ...base, lockOwner: c(v.owner) } : base;
  });
spec(['WRITE'], 'write_in + data', fc.record({ fh: u64, off: offT, wf: u32, owner: u64, flags: u32, pad: u32, data }),
  (v) => new FrameBuilder().u64(v.fh).u64(v.off).u32(v.data.length).u32(v.wf).u64(v.owner).u32(v.flags).u32(v.pad).bytes(v.data),
  (v, h) => {
    const base = { ino: c(h.nodeid), fh: c(v.fh), offset: c(v.off), size: v.data.length, writeFlags: v.wf, flags: v.flags, data: v.data };
    return (v.wf & 2) !== 0 ? { ...base, lockOwner: c(v.owner) } : base;
  });
spec(['RELEASE', 'RELEASEDIR'], 'release_in', fc.record({ fh: u64, flags: u32, rf: u32, owner: u64 }),
  (v) => new FrameBuilder().u64(v.fh).u32(v.flags).u32(v.rf).u64(v.owner),
  (v, h) => ({ ino: c(h.nodeid), fh: c(v.fh), flags: v.flags, releaseFlags: v.rf, lockOwner: c(v.owner), flush: (v.rf & 1) !== 0, flockUnlock: (v.rf & 2) !== 0 }));
spec(['FSYNC', 'FSYNCDIR'], 'fsync_in', fc.record({ fh: u64, ff: u32, pad: u32 }), (v) => new FrameBuilder().u64(v.fh).u32(v.ff).u32(v.pad),
  (v, h) => ({ ino: c(h.nodeid), fh: c(v.fh), fsyncFlags: v.ff, datasync: (v.ff & 1) !== 0 }));
spec(['SETXATTR'], 'short form', fc.record({ flags: u32, name, value: data }),
  (v) => new FrameBuilder().u32(v.value.length).u32(v.flags).cstring(v.name).bytes(v.value),
  (v, h) => ({ ino: c(h.nodeid), name: v.name, value: v.value, flags: v.flags, setxattrFlags: 0 }));
spec(['SETXATTR'], 'SETXATTR_EXT form', fc.record({ flags: u32, sf: u32, pad: u32, name, value: data }),
  (v) => new FrameBuilder().u32(v.value.length).u32(v.flags).u32(v.sf).u32(v.pad).cstring(v.name).bytes(v.value),
  (v, h) => ({ ino: c(h.nodeid), name: v.name, value: v.value, flags: v.flags, setxattrFlags: v.sf }), EXT);
spec(['GETXATTR'], 'size, name', fc.record({ size: u32, pad: u32, name }), (v) => new FrameBuilder().u32(v.size).u32(v.pad).cstring(v.name),
  (v, h) => ({ ino: c(h.nodeid), size: v.size, name: v.name }));
spec(['LISTXATTR'], 'size', fc.record({ size: u32, pad: u32 }), (v) => new FrameBuilder().u32(v.size).u32(v.pad), (v, h) => ({ ino: c(h.nodeid), size: v.size }));
spec(['REMOVEXATTR'], 'name', name, (v) => new FrameBuilder().cstring(v), (v, h) => ({ ino: c(h.nodeid), name: v }));
spec(['FLUSH'], 'flush_in', fc.record({ fh: u64, unused: u32, pad: u32, owner: u64 }),
  (v) => new FrameBuilder().u64(v.fh).u32(v.unused).u32(v.pad).u64(v.owner), (v, h) => ({ ino: c(h.nodeid), fh: c(v.fh), lockOwner: c(v.owner) }));
spec(['INIT'], 'short form', fc.record({ major: u32, minor: u32, ra: u32, flags: u32 }),
  (v) => new FrameBuilder().u32(v.major).u32(v.minor).u32(v.ra).u32(v.flags),
  (v) => ({ major: v.major, minor: v.minor, maxReadahead: v.ra, flags: v.flags, flags2: 0 }));
spec(['INIT'], 'long form', fc.record({ major: u32, minor: u32, ra: u32, flags: u32, flags2: u32, unused: fc.array(u32, { minLength: 11, maxLength: 11 }) }),
  (v) => { const fb = new FrameBuilder().u32(v.major).u32(v.minor).u32(v.ra).u32(v.flags).u32(v.flags2); for (const x of v.unused) fb.u32(x); return fb; },
  (v) => ({ major: v.major, minor: v.minor, maxReadahead: v.ra, flags: v.flags, flags2: (v.flags & (1 << 30)) !== 0 ? v.flags2 : 0 }));
spec(['GETLK', 'SETLK', 'SETLKW'], 'lk_in', fc.record({ fh: u64, owner: u64, start: u64, end: u64, type: u32, pid: u32, lf: u32, pad: u32 }),
  (v) => new FrameBuilder().u64(v.fh).u64(v.owner).u64(v.start).u64(v.end).u32(v.type).u32(v.pid).u32(v.lf).u32(v.pad),
  (v, h, op) => ({
    ino: c(h.nodeid), fh: c(v.fh), lockOwner: c(v.owner), lock: { start: c(v.start), end: c(v.end), type: v.type, pid: v.pid },
    lkFlags: v.lf, flock: (v.lf & 1) !== 0, sleep: op === 'SETLKW',
  }));
spec(['ACCESS'], 'mask', fc.record({ mask: u32, pad: u32 }), (v) => new FrameBuilder().u32(v.mask).u32(v.pad), (v, h) => ({ ino: c(h.nodeid), mask: v.mask }));
spec(['CREATE', 'TMPFILE'], 'create_in', fc.record({ flags: u32, mode: u32, umask: u32, of: u32, name }),
  (v) => new FrameBuilder().u32(v.flags).u32(v.mode).u32(v.umask).u32(v.of).cstring(v.name),
  (v, h) => ({ parent: c(h.nodeid), flags: v.flags, mode: v.mode, umask: v.umask, openFlags: v.of, name: v.name }));
spec(['INTERRUPT'], 'target', u64, (v) => new FrameBuilder().u64(v), (v) => ({ target: c(v & ~(1n << 63n)) })); // FUSE_UNIQUE_RESEND is stripped
spec(['BMAP'], 'bmap_in', fc.record({ block: u64, bs: u32, pad: u32 }), (v) => new FrameBuilder().u64(v.block).u32(v.bs).u32(v.pad),
  (v, h) => ({ ino: c(h.nodeid), block: c(v.block), blocksize: v.bs }));
spec(['IOCTL'], 'ioctl_in + in-data', fc.record({ fh: u64, flags: u32, cmd: u32, arg: u64, out: u32, data }),
  (v) => new FrameBuilder().u64(v.fh).u32(v.flags).u32(v.cmd).u64(v.arg).u32(v.data.length).u32(v.out).bytes(v.data),
  (v, h) => ({ ino: c(h.nodeid), fh: c(v.fh), flags: v.flags, cmd: v.cmd, arg: c(v.arg), inSize: v.data.length, outSize: v.out, inData: v.data }));
spec(['POLL'], 'poll_in', fc.record({ fh: u64, kh: u64, flags: u32, events: u32 }),
  (v) => new FrameBuilder().u64(v.fh).u64(v.kh).u32(v.flags).u32(v.events),
  (v, h) => ({ ino: c(h.nodeid), fh: c(v.fh), kh: c(v.kh), flags: v.flags, events: v.events }));
spec(['NOTIFY_REPLY'], 'retrieve_in + data', fc.record({ d1: u64, off: u64, d2: u32, d3: u64, d4: u64, data }),
  (v) => new FrameBuilder().u64(v.d1).u64(v.off).u32(v.data.length).u32(v.d2).u64(v.d3).u64(v.d4).bytes(v.data),
  (v, h) => ({ notifyUnique: c(h.unique & MAX_OFF), ino: c(h.nodeid), offset: c(v.off), data: v.data }));
spec(['BATCH_FORGET'], 'forget_one list', fc.record({ dummy: u32, items: fc.array(fc.tuple(u64, u64), { maxLength: 20 }) }),
  (v) => { const fb = new FrameBuilder().u32(v.items.length).u32(v.dummy); for (const [n, l] of v.items) fb.u64(n).u64(l); return fb; },
  (v) => ({ items: v.items.map(([n, l]) => ({ ino: c(n), nlookup: c(l) })) }));
spec(['FALLOCATE'], 'fallocate_in', fc.record({ fh: u64, off: offT, len: offT, mode: u32, pad: u32 }),
  (v) => new FrameBuilder().u64(v.fh).u64(v.off).u64(v.len).u32(v.mode).u32(v.pad),
  (v, h) => ({ ino: c(h.nodeid), fh: c(v.fh), offset: c(v.off), length: c(v.len), mode: v.mode }));
spec(['LSEEK'], 'lseek_in', fc.record({ fh: u64, off: offT, whence: u32, pad: u32 }),
  (v) => new FrameBuilder().u64(v.fh).u64(v.off).u32(v.whence).u32(v.pad), (v, h) => ({ ino: c(h.nodeid), fh: c(v.fh), offset: c(v.off), whence: v.whence }));
spec(['COPY_FILE_RANGE', 'COPY_FILE_RANGE_64'], 'copy_file_range_in', fc.record({ fhIn: u64, offIn: offT, out: u64, fhOut: u64, offOut: offT, len: u64, flags: u64 }),
  (v) => new FrameBuilder().u64(v.fhIn).u64(v.offIn).u64(v.out).u64(v.fhOut).u64(v.offOut).u64(v.len).u64(v.flags),
  (v, h) => ({ ino: c(h.nodeid), fhIn: c(v.fhIn), offIn: c(v.offIn), inoOut: c(v.out), fhOut: c(v.fhOut), offOut: c(v.offOut), len: c(v.len), flags: c(v.flags) }));
spec(['SETUPMAPPING'], 'setupmapping_in', fc.record({ fh: u64, foffset: u64, len: u64, flags: u64, moffset: u64 }),
  (v) => new FrameBuilder().u64(v.fh).u64(v.foffset).u64(v.len).u64(v.flags).u64(v.moffset),
  (v, h) => ({ ino: c(h.nodeid), fh: c(v.fh), foffset: c(v.foffset), len: c(v.len), flags: c(v.flags), moffset: c(v.moffset) }));
spec(['REMOVEMAPPING'], 'packed list', fc.array(fc.tuple(u64, u64), { maxLength: 10 }),
  (v) => { const fb = new FrameBuilder().u32(v.length); for (const [m, l] of v) fb.u64(m).u64(l); return fb; },
  (v, h) => ({ ino: c(h.nodeid), mappings: v.map(([m, l]) => ({ moffset: c(m), len: c(l) })) }));
spec(['SYNCFS'], 'padding', u64, (v) => new FrameBuilder().u64(v), (_v, h) => ({ ino: c(h.nodeid) }));
spec(['STATX'], 'statx_in', fc.record({ gf: u32, res: u32, fh: u64, sf: u32, mask: u32 }),
  (v) => new FrameBuilder().u32(v.gf).u32(v.res).u64(v.fh).u32(v.sf).u32(v.mask),
  (v, h) => {
    const base = { ino: c(h.nodeid), getattrFlags: v.gf, sxFlags: v.sf, sxMask: v.mask };
    return (v.gf & 1) !== 0 ? { ...base, fh: c(v.fh) } : base;
  });
spec(['CUSE_INIT'], 'cuse_init_in', fc.record({ major: u32, minor: u32, unused: u32, flags: u32 }),
  (v) => new FrameBuilder().u32(v.major).u32(v.minor).u32(v.unused).u32(v.flags), (v) => ({ major: v.major, minor: v.minor, flags: v.flags }));

function codeOf(op: string): number {
  const r = opcodeByName(op);
  assert.ok(r, op);
  return r.code;
}

function expectedHeader(h: Hdr, opcode: number, len: number, extLen: number): Record<string, unknown> {
  return {
    len, opcode, unique: c(h.unique & MAX_OFF), resend: h.unique >> 63n === 1n, uniqueLo: Number(h.unique & 0xffff_ffffn),
    uniqueHi: Number(h.unique >> 32n), nodeid: c(h.nodeid), uid: h.uid, gid: h.gid, pid: h.pid, totalExtlen: extLen / 8,
  };
}

/** Any frame from any spec, for the hostile-input properties. */
const anyFrame: fc.Arbitrary<{ frame: Buffer; n: Negotiated }> = fc.constantFrom(...specs).chain((s) =>
  fc.constantFrom(...s.ops).chain((op) => fc.tuple(hdr, s.gen(op)).map(([h, cs_]) => ({ frame: request({ ...h, opcode: codeOf(op) }, cs_.body), n: s.n }))));

describe('requests: decode(FrameBuilder(x)) == x', () => {
  for (const s of specs) {
    for (const op of s.ops) {
      test(`${op}: ${s.title}`, () => {
        const code = codeOf(op);
        fc.assert(fc.property(hdr, s.gen(op), (h, cs_) => {
          const frame = request({ ...h, opcode: code }, cs_.body);
          const d = decodeRequest(frame, s.n);
          if ('error' in d) assert.fail(`${op}: ${show(d.error)}`);
          assert.equal(d.row.code, code);
          assert.deepStrictEqual({ ...d.header }, expectedHeader(h, code, frame.length, 0));
          assert.deepStrictEqual(d.args, cs_.expect(h));
          assert.equal(d.extensions, undefined);
        }), RUNS);
      });
    }
  }

  test('every OPCODES row has a property spec', () => {
    const covered = new Set(specs.flatMap((s) => s.ops));
    assert.deepStrictEqual(OPCODES.filter((r) => !covered.has(r.name)).map((r) => r.name), []);
  });

  test('extensions: random security contexts, groups and unknown types in any order, after any body', () => {
    const ctx = fc.tuple(name, data);
    const secctxExt = fc.array(ctx, { maxLength: 3 }).map((list) => {
      const inner = new FrameBuilder();
      for (const [n, v] of list) inner.u32(v.length).u32(0).cstring(n).bytes(v).pad8();
      const bytes = new FrameBuilder().u32(8 + inner.length).u32(list.length).bytes(inner.build()).build();
      return { kind: 'secctx' as const, bytes, value: list.map(([n, v]) => ({ name: n, value: v })) };
    });
    const groupsExt = fc.array(u32, { maxLength: 6 }).map((gids) => {
      const fb = new FrameBuilder().u32((12 + 4 * gids.length + 7) & ~7).u32(32).u32(gids.length);
      for (const g of gids) fb.u32(g);
      return { kind: 'groups' as const, bytes: fb.pad8().build(), value: gids };
    });
    const unknownExt = fc.tuple(fc.integer({ min: 33, max: 0x7fff_ffff }), data).map(([type, payload]) => {
      const bytes = new FrameBuilder().u32(8 + payload.length).u32(type).bytes(payload).pad8().build();
      return { kind: 'unknown' as const, bytes, value: { type, bytes: bytes.subarray(0, 8 + payload.length) } };
    });
    const exts = fc.tuple(fc.option(secctxExt, { nil: undefined }), fc.option(groupsExt, { nil: undefined }), fc.array(unknownExt, { maxLength: 3 }))
      .chain(([s, g, u]) => {
        const items = [...(s ? [s] : []), ...(g ? [g] : []), ...u];
        return fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length });
      });
    fc.assert(fc.property(hdr, fc.record({ mode: u32, umask: u32, name }), exts, (h, v, list) => {
      const ext = Buffer.concat(list.map((e) => e.bytes));
      const frame = request({ ...h, opcode: 9 }, new FrameBuilder().u32(v.mode).u32(v.umask).cstring(v.name), ext);
      const d = decodeRequest(frame, PRE_INIT);
      if ('error' in d) assert.fail(show(d.error));
      assert.deepStrictEqual(d.args, { parent: c(h.nodeid), mode: v.mode, umask: v.umask, name: v.name });
      assert.equal(d.header.totalExtlen, ext.length / 8);
      if (list.length === 0) { assert.equal(d.extensions, undefined); return; }
      const expected: Record<string, unknown> = {};
      for (const e of list) {
        if (e.kind === 'secctx') expected['securityContexts'] = e.value;
        else if (e.kind === 'groups') expected['groups'] = e.value;
        else expected['unknown'] = [...((expected['unknown'] ?? []) as unknown[]), e.value];
      }
      assert.deepStrictEqual(d.extensions, expected);
    }), RUNS);
  });
});

/* ---------------------------------------------------------------------------------------------- */
/* Replies: encode(x), then read back with the independent ByteReader                               */

const seconds = fc.integer({ min: 0, max: 10_000_000 }); // timeouts in ms
/** A mode with one of the seven file types the kernel accepts (the encoder refuses others). */
const fileMode = fc.tuple(fc.constantFrom(0o140000, 0o120000, 0o100000, 0o060000, 0o040000, 0o020000, 0o010000), fc.integer({ min: 0, max: 0o7777 })).map(([t, p]) => t | p);
const attrArb: fc.Arbitrary<Attr & { ino: bigint }> = fc.record({
  ino: u64, size: offT, blocks: u64, atime: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), mtime: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  ctime: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), atimensec: fc.integer({ min: 0, max: 999_999_999 }),
  mtimensec: fc.integer({ min: 0, max: 999_999_999 }), ctimensec: fc.integer({ min: 0, max: 999_999_999 }), mode: fileMode, nlink: u32,
  uid: u32, gid: u32, rdev: u32, blksize: u32, flags: u32,
});

function readAttr(r: ByteReader): Record<string, unknown> {
  return {
    ino: r.u64(), size: r.u64(), blocks: r.u64(), atime: r.i64(), mtime: r.i64(), ctime: r.i64(), atimensec: r.u32(),
    mtimensec: r.u32(), ctimensec: r.u32(), mode: r.u32(), nlink: r.u32(), uid: r.u32(), gid: r.u32(), rdev: r.u32(),
    blksize: r.u32(), flags: r.u32(),
  };
}
const attrExpect = (a: Attr & { ino: bigint }): Record<string, unknown> => ({
  ino: a.ino, size: BigInt(a.size!), blocks: BigInt(a.blocks!), atime: BigInt(a.atime as number), mtime: BigInt(a.mtime as number), ctime: BigInt(a.ctime as number),
  atimensec: a.atimensec, mtimensec: a.mtimensec, ctimensec: a.ctimensec, mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid,
  rdev: a.rdev, blksize: a.blksize, flags: a.flags,
});
/** Timeout in ms → [sec, nsec] as the encoder should split it. */
const split = (ms: number): [bigint, number] => [BigInt(Math.floor(ms / 1000)), (ms % 1000) * 1_000_000];
/** Give encoders the canonical form of a u64, like handlers do. */
const attrIn = (a: Attr & { ino: bigint }): Attr => ({ ...a, ino: c(a.ino), size: c(a.size as bigint), blocks: c(a.blocks as bigint) });

describe('replies: ByteReader(encode(x)) == x', () => {
  test('entry_out', () => {
    fc.assert(fc.property(u64, u64, seconds, seconds, attrArb, (ino, gen, et, at, a) => {
      const e: EntryReply = { ino: c(ino), generation: c(gen), entryTimeout: et / 1000, attrTimeout: at / 1000, attr: attrIn(a) };
      const r = new ByteReader(encodeEntryOut(e));
      assert.deepStrictEqual([r.u64(), r.u64(), r.u64(), r.u64(), r.u32(), r.u32()],
        [ino, gen, split(et)[0], split(at)[0], split(et)[1], split(at)[1]]);
      assert.deepStrictEqual(readAttr(r), attrExpect(a));
      assert.equal(r.remaining, 0);
    }), RUNS);
  });

  test('attr_out', () => {
    fc.assert(fc.property(seconds, attrArb, u64, (t, a, ino) => {
      const r = new ByteReader(encodeAttrOut({ attr: { ...attrIn(a), ino: undefined }, timeout: t / 1000 }, c(ino)));
      assert.deepStrictEqual([r.u64(), r.u32(), r.u32()], [split(t)[0], split(t)[1], 0]);
      assert.deepStrictEqual(readAttr(r), { ...attrExpect(a), ino });
      assert.equal(r.remaining, 0);
    }), RUNS);
  });

  test('open_out, write_out, poll_out, getxattr_out, bmap/lseek/copy_file_range_out', () => {
    fc.assert(fc.property(u64, u32, i32, (fh, flags, backing) => {
      const r = new ByteReader(encodeOpenOut({ fh: c(fh), flags, backingId: backing }));
      assert.deepStrictEqual([r.u64(), r.u32(), r.i32(), r.remaining], [fh, flags, backing, 0]);
      assert.deepStrictEqual([new ByteReader(encodeWriteOut(flags)).u32(), new ByteReader(encodePollOut(flags)).u32()], [flags, flags]);
      for (const enc of [encodeBmapOut, encodeLseekOut, encodeCopyFileRangeOut]) {
        const b = enc(c(fh));
        assert.equal(b.length, 8);
        assert.equal(new ByteReader(b).u64(), fh);
      }
    }), RUNS);
    fc.assert(fc.property(data, (d) => {
      const out = encodeXattrData(d, 0);
      assert.ok(Array.isArray(out));
      const r = new ByteReader(out[0]!);
      assert.deepStrictEqual([r.u32(), r.u32()], [d.length, 0]);
    }), RUNS);
  });

  test('statfs_out and lk_out', () => {
    fc.assert(fc.property(fc.array(u64, { minLength: 5, maxLength: 5 }), u32, u32, u32, (n, bsize, namelen, frsize) => {
      const [blocks, bfree, bavail, files, ffree] = n as [bigint, bigint, bigint, bigint, bigint];
      const r = new ByteReader(encodeStatfsOut({ blocks: c(blocks), bfree: c(bfree), bavail: c(bavail), files: c(files), ffree: c(ffree), bsize, namelen, frsize }));
      assert.deepStrictEqual([r.u64(), r.u64(), r.u64(), r.u64(), r.u64(), r.u32(), r.u32(), r.u32(), r.u32()], [...n, bsize, namelen, frsize, 0]);
      assert.deepStrictEqual(r.bytes(24), Buffer.alloc(24));
    }), RUNS);
    fc.assert(fc.property(u64, u64, u32, u32, (start, end, type, pid) => {
      const r = new ByteReader(encodeLkOut({ start: c(start), end: c(end), type, pid }));
      assert.deepStrictEqual([r.u64(), r.u64(), r.u32(), r.u32(), r.remaining], [start, end, type, pid, 0]);
    }), RUNS);
  });

  test('ioctl_out: data cut to out_size; retry iovecs', () => {
    fc.assert(fc.property(i32, data, fc.integer({ min: 0, max: 80 }), (result, d, outSize) => {
      const parts = encodeIoctlOut({ result, data: d }, outSize);
      const r = new ByteReader(joined(parts));
      assert.deepStrictEqual([r.i32(), r.u32(), r.u32(), r.u32()], [result, 0, 0, 0]);
      assert.deepStrictEqual(r.bytes(r.remaining), d.subarray(0, Math.min(outSize, d.length)));
    }), RUNS);
    const iov = fc.array(fc.tuple(u64, u64), { maxLength: 8 });
    fc.assert(fc.property(iov, iov, (ins, outs) => {
      const m = (l: [bigint, bigint][]) => l.map(([base, len]) => ({ base: c(base), len: c(len) }));
      const r = new ByteReader(joined(encodeIoctlOut({ retry: { in: m(ins), out: m(outs) } }, 0)));
      assert.deepStrictEqual([r.i32(), r.u32(), r.u32(), r.u32()], [0, 4, ins.length, outs.length]);
      for (const [base, len] of [...ins, ...outs]) assert.deepStrictEqual([r.u64(), r.u64()], [base, len]);
      assert.equal(r.remaining, 0);
    }), RUNS);
  });

  test('statx_out', () => {
    const t = fc.record({ sec: i64, nsec: fc.integer({ min: 0, max: 999_999_999 }) }, { noNullPrototype: true });
    const sx = fc.record({
      mask: u32, blksize: u32, attributes: u64, nlink: u32, uid: u32, gid: u32, mode: u16, ino: u64, size: u64, blocks: u64,
      attributesMask: u64, atime: t, btime: t, ctime: t, mtime: t, rdevMajor: u32, rdevMinor: u32, devMajor: u32, devMinor: u32,
    }, { noNullPrototype: true });
    fc.assert(fc.property(sx, seconds, u32, (s, to, flags) => {
      const input: StatxData = {
        ...s, attributes: c(s.attributes), ino: c(s.ino), size: c(s.size), blocks: c(s.blocks), attributesMask: c(s.attributesMask),
        atime: { sec: cs(s.atime.sec), nsec: s.atime.nsec }, btime: { sec: s.btime.sec, nsec: s.btime.nsec },
        ctime: { sec: cs(s.ctime.sec), nsec: s.ctime.nsec }, mtime: { sec: s.mtime.sec, nsec: s.mtime.nsec },
      };
      const r = new ByteReader(encodeStatxOut({ statx: input, timeout: to / 1000, flags }, 1));
      assert.deepStrictEqual([r.u64(), r.u32(), r.u32(), r.u64(), r.u64()], [split(to)[0], split(to)[1], flags, 0n, 0n]);
      const time = () => { const v = { sec: r.i64(), nsec: r.u32() }; assert.equal(r.i32(), 0); return v; };
      assert.deepStrictEqual({
        mask: r.u32(), blksize: r.u32(), attributes: r.u64(), nlink: r.u32(), uid: r.u32(), gid: r.u32(), mode: r.u16(),
        spare0: r.u16(), ino: r.u64(), size: r.u64(), blocks: r.u64(), attributesMask: r.u64(), atime: time(), btime: time(),
        ctime: time(), mtime: time(), rdevMajor: r.u32(), rdevMinor: r.u32(), devMajor: r.u32(), devMinor: r.u32(),
      }, { ...s, spare0: 0 });
      assert.deepStrictEqual(r.bytes(112), Buffer.alloc(112));
      assert.equal(r.remaining, 0);
    }), RUNS);
  });

  const direntName = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a.map((x) => (x === 0 || x === 0x2f ? 0x62 : x))));

  test('dirents: records read back, 8-byte aligned, as many as fit', () => {
    const ent = fc.record({ ino: u64, name: direntName, offset: u64, type: fc.integer({ min: 0, max: 15 }) });
    fc.assert(fc.property(fc.array(ent, { maxLength: 12 }), fc.integer({ min: 0, max: 800 }), (list, size) => {
      const packed = packDirents(list.map((e) => ({ ...e, ino: c(e.ino), offset: c(e.offset) })), size);
      assert.ok(packed.data.length <= size);
      const r = new ByteReader(packed.data);
      const got = [];
      while (r.remaining > 0) {
        const e = { ino: r.u64(), offset: r.u64() };
        const len = r.u32();
        const type = r.u32();
        got.push({ ...e, type, name: r.bytes(len) });
        r.align8();
      }
      assert.equal(got.length, packed.count);
      assert.deepStrictEqual(got, list.slice(0, packed.count).map((e) => ({ ino: e.ino, offset: e.offset, type: e.type, name: e.name })));
      if (packed.count < list.length) assert.ok(packed.data.length + ((24 + list[packed.count]!.name.length + 7) & ~7) > size);
    }), RUNS);
  });

  test('direntplus: entry_out + dirent records read back', () => {
    const ent = fc.record({ ino: u64, name: direntName, offset: u64, mode: fileMode, gen: u64 });
    fc.assert(fc.property(fc.array(ent, { maxLength: 6 }), fc.integer({ min: 0, max: 1200 }), (list, size) => {
      const packed = packDirentsPlus(list.map((e) => ({
        name: e.name, offset: c(e.offset), entry: { ino: c(e.ino), generation: c(e.gen), entryTimeout: 0, attrTimeout: 0, attr: { mode: e.mode } },
      })), size);
      const r = new ByteReader(packed.data);
      for (const e of list.slice(0, packed.count)) {
        assert.deepStrictEqual([r.u64(), r.u64(), r.u64(), r.u64(), r.u32(), r.u32()], [e.ino, e.gen, 0n, 0n, 0, 0]);
        const a = readAttr(r);
        assert.equal(a['ino'], e.ino);
        assert.equal(a['mode'], e.mode);
        assert.deepStrictEqual([r.u64(), r.u64(), r.u32(), r.u32()], [e.ino, e.offset, e.name.length, (e.mode >>> 12) & 0o17]);
        assert.deepStrictEqual(r.bytes(e.name.length), e.name);
        r.align8();
      }
      assert.equal(r.remaining, 0);
    }), RUNS);
  });

  test('init_out in the size of each kernel minor', () => {
    const f = fc.record({
      major: u32, minor: u32, maxReadahead: u32, flags: u32, maxBackground: u16, congestionThreshold: u16, maxWrite: u32, timeGran: u32,
      maxPages: u16, mapAlignment: u16, flags2: u32, maxStackDepth: u32, requestTimeout: u16,
    });
    fc.assert(fc.property(f, fc.integer({ min: 0, max: 50 }), (v: InitOutFields, minor) => {
      const b = encodeInitOut(v, minor);
      assert.equal(b.length, minor < 5 ? 8 : minor < 23 ? 24 : 64);
      assert.equal(b.length, initOutSize(minor));
      const full = new ByteReader(Buffer.concat([b, Buffer.alloc(64 - b.length)]));
      const got = {
        major: full.u32(), minor: full.u32(), maxReadahead: full.u32(), flags: full.u32(), maxBackground: full.u16(),
        congestionThreshold: full.u16(), maxWrite: full.u32(), timeGran: full.u32(), maxPages: full.u16(), mapAlignment: full.u16(),
        flags2: full.u32(), maxStackDepth: full.u32(), requestTimeout: full.u16(),
      };
      // 8 bytes: major, minor; 24 bytes: … up to max_write (7 fields); 64 bytes: all 13.
      const keep = b.length === 8 ? 2 : b.length === 24 ? 7 : 13;
      const zeroed = Object.fromEntries(Object.entries(v).map(([k, x], i) => [k, i < keep ? x : 0]));
      assert.deepStrictEqual(got, zeroed);
      assert.deepStrictEqual(full.bytes(22), Buffer.alloc(22));
    }), RUNS);
  });

  test('notifications: header (len, code, unique 0) and body', () => {
    const head = (r: ByteReader, len: number, code: number) => assert.deepStrictEqual([r.u32(), r.i32(), r.u64()], [len, code, 0n]);
    fc.assert(fc.property(u64, u64, i64, i64, name, data, u32, (a, b, off, len, n, d, size) => {
      let r = new ByteReader(joined(encodeNotifyPoll(c(a))));
      head(r, 24, 1); assert.equal(r.u64(), a);
      r = new ByteReader(joined(encodeNotifyInvalInode(c(a), cs(off), len)));
      head(r, 40, 2); assert.deepStrictEqual([r.u64(), r.i64(), r.i64()], [a, off, len]);
      r = new ByteReader(joined(encodeNotifyInvalEntry(c(a), n, size % 2 === 1)));
      head(r, 16 + 16 + n.length + 1, 3); assert.deepStrictEqual([r.u64(), r.u32(), r.u32(), r.bytes(n.length), r.u8()], [a, n.length, size % 2, n, 0]);
      r = new ByteReader(joined(encodeNotifyStore(c(a), c(b), d)));
      head(r, 16 + 24 + d.length, 4); assert.deepStrictEqual([r.u64(), r.u64(), r.u32(), r.u32(), r.bytes(d.length)], [a, b, d.length, 0, d]);
      r = new ByteReader(joined(encodeNotifyRetrieve(c(b), c(a), c(b), size)));
      head(r, 16 + 32, 5); assert.deepStrictEqual([r.u64(), r.u64(), r.u64(), r.u32(), r.u32()], [b, a, b, size, 0]);
      r = new ByteReader(joined(encodeNotifyDelete(c(a), c(b), n)));
      head(r, 16 + 24 + n.length + 1, 6); assert.deepStrictEqual([r.u64(), r.u64(), r.u32(), r.u32(), r.bytes(n.length), r.u8()], [a, b, n.length, 0, n, 0]);
    }), RUNS);
    fc.assert(fc.property(fc.array(u64, { maxLength: 20 }), (ids) => {
      const r = new ByteReader(joined(encodeNotifyPrune(ids.map(c))));
      head(r, 32 + 8 * ids.length, 9);
      assert.deepStrictEqual([r.u32(), r.u32(), r.u64()], [ids.length, 0, 0n]);
      for (const id of ids) assert.equal(r.u64(), id);
    }), RUNS);
  });

  test('frameReply: len and -errno for any unique and errno', () => {
    fc.assert(fc.property(u64, fc.integer({ min: 0, max: 4095 }), fc.array(data, { maxLength: 4 }), (uniq, errno, body) => {
      const r = new ByteReader(joined(frameReply(Number(uniq & 0xffff_ffffn), Number(uniq >> 32n), errno, body)));
      const total = 16 + body.reduce((s, x) => s + x.length, 0);
      assert.deepStrictEqual([r.u32(), r.i32(), r.u64(), r.bytes(r.remaining)], [total, errno === 0 ? 0 : -errno, uniq, Buffer.concat(body)]);
    }), RUNS);
  });
});

/* ---------------------------------------------------------------------------------------------- */

describe('u64 and i64 over the whole range', () => {
  test('writeU64 → readU64: numbers up to 2^53 − 1, bigints above, exact; same bytes as FrameBuilder', () => {
    fc.assert(fc.property(u64, (v) => {
      const b = Buffer.alloc(8);
      assert.equal(writeU64(b, 0, v), 8);
      assert.deepStrictEqual(b, new FrameBuilder().u64(v).build());
      const back = readU64(b, 0);
      assert.equal(typeof back, v <= S.MAX_SAFE ? 'number' : 'bigint');
      assert.equal(back, c(v));
      const b2 = Buffer.alloc(8);
      writeU64(b2, 0, back);
      assert.deepStrictEqual(b2, b);
      assert.equal(toU64(v), c(v));
      assert.ok(isU64(back));
      assert.equal(isOffT(back), v <= MAX_OFF);
    }), { numRuns: 1000 });
  });

  test('writeI64 → readI64: numbers when |v| ≤ 2^53 − 1, bigints beyond, exact', () => {
    fc.assert(fc.property(i64, (v) => {
      const b = Buffer.alloc(8);
      writeI64(b, 0, cs(v));
      assert.deepStrictEqual(b, new FrameBuilder().i64(v).build());
      const back = readI64(b, 0);
      assert.equal(back, cs(v));
    }), { numRuns: 1000 });
  });

  test('unaligned offsets and the FrameReader agree', () => {
    fc.assert(fc.property(u64, fc.integer({ min: 0, max: 7 }), (v, at) => {
      const b = Buffer.alloc(16, 0xee);
      writeU64(b, at, c(v));
      assert.equal(readU64(b, at), c(v));
      assert.equal(b[at + 8], 0xee);
    }), RUNS);
  });
});

/* ---------------------------------------------------------------------------------------------- */
/* Hostile input                                                                                    */

type Result = ReturnType<typeof decodeRequest>;
function wellFormed(d: Result, frame: Buffer): void {
  if ('error' in d) {
    assert.ok(isDecodeError(d.error), `not a DecodeError: ${show(d.error)}`);
    assert.equal(Object.keys(d).every((k) => k === 'error' || k === 'header'), true);
  } else {
    assert.equal(d.header.len, frame.length);
    assert.ok(OPCODES.includes(d.row));
  }
}
const negotiations = fc.constantFrom(PRE_INIT, EXT, { ...PRE_INIT, minor: 8 }, { ...PRE_INIT, minor: 11 }, { ...PRE_INIT, minor: 27 });

describe('hostile input never throws', () => {
  test('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), negotiations, (bytes, n) => {
      const frame = Buffer.from(bytes);
      wellFormed(decodeRequest(frame, n), frame);
    }), { numRuns: 2000 });
  });

  test('random bodies behind a valid header, any opcode, any total_extlen', () => {
    const opcode = fc.oneof(fc.constantFrom(...OPCODES.map((r) => r.code)), fc.constantFrom(0, 7, 19, 54, 1023, 1024, 4095, 4097, 436207616), u32);
    fc.assert(fc.property(hdr, opcode, fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 40 }), negotiations, (h, op, body, extlen, n) => {
      const frame = request({ ...h, opcode: op, totalExtlen: extlen }, Buffer.from(body));
      const d = decodeRequest(frame, n);
      wellFormed(d, frame);
      if (!('error' in d)) assert.equal(d.row.code, op);
      if ('error' in d && d.error.kind === 'unknown-opcode') assert.equal(d.error.opcode, op);
    }), { numRuns: 3000 });
  });

  test('every prefix of a valid frame: raw → short-header/length-mismatch; with len patched → request or DecodeError', () => {
    fc.assert(fc.property(anyFrame, ({ frame, n }) => {
      for (let L = 0; L <= frame.length; L++) {
        const raw = frame.subarray(0, L);
        const d = decodeRequest(raw, n);
        wellFormed(d, raw);
        if (L < 40) assert.deepStrictEqual(d, { error: { kind: 'short-header', got: L } });
        else if (L < frame.length) assert.deepStrictEqual(d, { error: { kind: 'length-mismatch', declared: frame.length, got: L } });
        else assert.ok(!('error' in d), 'error' in d ? show(d.error) : '');
        if (L >= 40) {
          const patched = Buffer.from(raw);
          patched.writeUInt32LE(L, 0);
          const p = decodeRequest(patched, n);
          wellFormed(p, patched);
          if ('error' in p) assert.ok(p.header, 'errors after the header keep the header');
        }
      }
    }), { numRuns: 300 });
  });

  test('random bit flips in valid frames', () => {
    fc.assert(fc.property(anyFrame, fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), ({ frame, n }, flips) => {
      const f = Buffer.from(frame);
      for (const x of flips) f[x % f.length]! ^= 1 << (x % 8);
      wellFormed(decodeRequest(f, n), f);
    }), { numRuns: 1000 });
  });
});

/* ---------------------------------------------------------------------------------------------- */

function err(frame: Buffer, n: Negotiated = PRE_INIT): DecodeError {
  const d = decodeRequest(frame, n);
  assert.ok('error' in d, `decoded: ${'error' in d ? '' : show(d.args)}`);
  assert.ok(isDecodeError(d.error));
  return d.error;
}
const H = { unique: 9, nodeid: 1 } as const;

describe('specific DecodeError kinds', () => {
  test('len disagrees with the byte count → length-mismatch (no header)', () => {
    fc.assert(fc.property(anyFrame, fc.integer({ min: -40, max: 1 << 20 }).filter((x) => x !== 0), ({ frame, n }, delta) => {
      const f = Buffer.from(frame);
      const declared = Math.max(0, frame.length + delta);
      fc.pre(declared !== frame.length);
      f.writeUInt32LE(declared, 0);
      assert.deepStrictEqual(decodeRequest(f, n), { error: { kind: 'length-mismatch', declared, got: frame.length } });
    }), RUNS);
  });

  test('shorter than the header → short-header', () => {
    assert.deepStrictEqual(err(Buffer.alloc(0)), { kind: 'short-header', got: 0 });
    assert.deepStrictEqual(err(Buffer.alloc(39)), { kind: 'short-header', got: 39 });
  });

  test('unknown opcodes (7, 19, 54, 4095, the byte-swapped INIT) keep the header', () => {
    for (const op of [0, 7, 19, 54, 4095, 436207616]) {
      const d = decodeRequest(request({ ...H, opcode: op }), PRE_INIT);
      assert.ok('error' in d);
      assert.deepStrictEqual(d.error, { kind: 'unknown-opcode', opcode: op });
      assert.equal(d.header?.opcode, op);
    }
  });

  test('names without NUL → unterminated-name', () => {
    fc.assert(fc.property(name, fc.constantFrom('LOOKUP', 'UNLINK', 'RMDIR', 'REMOVEXATTR'), (n, op) => {
      assert.deepStrictEqual(err(request({ ...H, opcode: codeOf(op) }, n)), { kind: 'unterminated-name', what: op });
    }), RUNS);
    assert.deepStrictEqual(err(request({ ...H, opcode: 6 }, new FrameBuilder().cstring('link').bytes('target'))), { kind: 'unterminated-name', what: 'SYMLINK' });
    assert.deepStrictEqual(err(request({ ...H, opcode: 12 }, new FrameBuilder().u64(1).cstring('a').bytes('b'))), { kind: 'unterminated-name', what: 'RENAME' });
    // A NUL inside the extensions does not terminate a name in the body.
    const frame = request({ ...H, opcode: 9 }, new FrameBuilder().u32(0).u32(0).bytes('dir'), new FrameBuilder().u32(16).u32(77).u64(0));
    assert.deepStrictEqual(err(frame), { kind: 'unterminated-name', what: 'MKDIR' });
  });

  test('over-long names → name-too-long', () => {
    assert.deepStrictEqual(err(request({ ...H, opcode: 1 }, new FrameBuilder().cstring('x'.repeat(1025)))),
      { kind: 'name-too-long', what: 'LOOKUP', length: 1025, max: 1024 });
    assert.ok(!('error' in decodeRequest(request({ ...H, opcode: 1 }, new FrameBuilder().cstring('x'.repeat(1024))), PRE_INIT)));
    assert.deepStrictEqual(err(request({ ...H, opcode: 22 }, new FrameBuilder().u32(0).u32(0).cstring('u'.repeat(256)))),
      { kind: 'name-too-long', what: 'GETXATTR', length: 256, max: 255 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 6 }, new FrameBuilder().cstring('l').cstring('t'.repeat(4097)))),
      { kind: 'name-too-long', what: 'SYMLINK', length: 4097, max: 4096 });
  });

  test('extensions past the end or malformed → bad-extension', () => {
    const mk = (ext: FrameBuilder, totalExtlen?: number) =>
      request({ ...H, opcode: 9, ...(totalExtlen !== undefined && { totalExtlen }) }, new FrameBuilder().u32(0).u32(0).cstring('d'), ext);
    const reason = (f: Buffer): string => {
      const e = err(f);
      assert.equal(e.kind, 'bad-extension');
      return (e as { reason: string }).reason;
    };
    assert.match(reason(mk(new FrameBuilder().u64(0), 3)), /total_extlen 3×8 exceeds the 18-byte body/);
    assert.match(reason(mk(new FrameBuilder().u32(24).u32(32).u64(0))), /extension size 24 does not fit/);
    assert.match(reason(mk(new FrameBuilder().u32(4).u32(77))), /extension size 4 does not fit/);
    assert.match(reason(mk(new FrameBuilder().u32(8).u32(1))), /truncated security context/);
    assert.match(reason(mk(new FrameBuilder().u32(24).u32(1).u32(0).u32(0).bytes('selinux!'))), /not NUL-terminated/);
    assert.match(reason(mk(new FrameBuilder().u32(24).u32(1).u32(9).u32(0).cstring('sel').bytes('abc').pad8())), /value exceeds/);
    assert.match(reason(mk(new FrameBuilder().u32(8).u32(32))), /truncated supplementary groups/);
    assert.match(reason(mk(new FrameBuilder().u32(16).u32(32).u32(2).u32(5))), /nr_groups 2 exceeds/);
    // A secctx header claiming 2 contexts when only one is there.
    assert.match(reason(mk(new FrameBuilder().u32(24).u32(2).u32(1).u32(0).cstring('a').bytes('v').pad8())), /truncated security context/);
  });

  test('short bodies → short, with frame offsets', () => {
    assert.deepStrictEqual(err(request({ ...H, opcode: 15 }, Buffer.alloc(10))), { kind: 'short', what: 'READ', want: 56, got: 50 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 4 }, Buffer.alloc(87))), { kind: 'short', what: 'SETATTR', want: 128, got: 127 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 31 }, Buffer.alloc(40))), { kind: 'short', what: 'GETLK', want: 88, got: 80 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 39 }, Buffer.alloc(8))), { kind: 'short', what: 'IOCTL', want: 72, got: 48 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 41 }, Buffer.alloc(39))), { kind: 'short', what: 'NOTIFY_REPLY', want: 80, got: 79 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 47 }, Buffer.alloc(55))), { kind: 'short', what: 'COPY_FILE_RANGE', want: 96, got: 95 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 52 }, Buffer.alloc(20))), { kind: 'short', what: 'STATX', want: 64, got: 60 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 26 }, Buffer.alloc(12))), { kind: 'short', what: 'INIT', want: 56, got: 52 });
    // Declared payloads longer than the frame.
    assert.deepStrictEqual(err(request({ ...H, opcode: 16 }, new FrameBuilder().u64(1).u64(0).u32(10).u32(0).u64(0).u32(0).u32(0).bytes('abc'))),
      { kind: 'short', what: 'WRITE', want: 90, got: 83 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 39 }, new FrameBuilder().u64(1).u32(0).u32(0).u64(0).u32(5).u32(0).bytes('ab'))),
      { kind: 'short', what: 'IOCTL', want: 77, got: 74 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 21 }, new FrameBuilder().u32(10).u32(0).cstring('user.a').bytes('abc'))),
      { kind: 'short', what: 'SETXATTR', want: 65, got: 58 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 42 }, new FrameBuilder().u32(3).u32(0).u64(1).u64(1))),
      { kind: 'short', what: 'BATCH_FORGET', want: 96, got: 64 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 42 }, new FrameBuilder().u32(0xffff_ffff).u32(0))),
      { kind: 'short', what: 'BATCH_FORGET', want: 48 + 0xffff_ffff * 16, got: 48 });
    assert.deepStrictEqual(err(request({ ...H, opcode: 49 }, new FrameBuilder().u32(2).u64(1).u64(1))),
      { kind: 'short', what: 'REMOVEMAPPING', want: 76, got: 60 });
  });

  test('impossible values → invalid', () => {
    const inv = (f: Buffer, what: string, re: RegExp) => {
      const e = err(f);
      assert.equal(e.kind, 'invalid');
      assert.equal((e as { what: string }).what, what);
      assert.match((e as { reason: string }).reason, re);
    };
    const rw = (off: bigint, size: number) => new FrameBuilder().u64(1).u64(off).u32(size).u32(0).u64(0).u32(0).u32(0);
    inv(request({ ...H, opcode: 15 }, rw(1n << 63n, 4096)), 'READ', /read offset exceeds 2\^63 − 1/);
    inv(request({ ...H, opcode: 16 }, rw(MAX_U64, 0)), 'WRITE', /write offset exceeds/);
    inv(request({ ...H, opcode: 16 }, rw(0n, 2).bytes('abc')), 'WRITE', /write size 2 but 3 data bytes/);
    inv(request({ ...H, opcode: 21 }, new FrameBuilder().u32(65537).u32(0).cstring('user.big')), 'SETXATTR', /65537 bytes exceeds 65536/);
    inv(request({ ...H, opcode: 4 }, new FrameBuilder().u32(1 << 3).u32(0).u64(0).u64(1n << 63n).zeros(64)), 'SETATTR', /setattr size exceeds/);
    inv(request({ ...H, opcode: 43 }, new FrameBuilder().u64(1).u64(0).u64(1n << 63n).u32(0).u32(0)), 'FALLOCATE', /fallocate length exceeds/);
    inv(request({ ...H, opcode: 43 }, new FrameBuilder().u64(1).u64(1n << 63n).u64(0).u32(0).u32(0)), 'FALLOCATE', /fallocate offset exceeds/);
    inv(request({ ...H, opcode: 46 }, new FrameBuilder().u64(1).u64(MAX_U64).u32(0).u32(0)), 'LSEEK', /lseek offset exceeds/);
    inv(request({ ...H, opcode: 53 }, new FrameBuilder().u64(1).u64(0).u64(2).u64(3).u64(1n << 63n).u64(0).u64(0)), 'COPY_FILE_RANGE_64', /off_out exceeds/);
    inv(request({ ...H, opcode: 47 }, new FrameBuilder().u64(1).u64(1n << 63n).u64(2).u64(3).u64(0).u64(0).u64(0)), 'COPY_FILE_RANGE', /off_in exceeds/);
    // Offsets above 2^63 − 1 are fine where they are not off_t (SETATTR without FATTR_SIZE).
    assert.ok(!('error' in decodeRequest(request({ ...H, opcode: 4 }, new FrameBuilder().u32(0).u32(0).u64(0).u64(MAX_U64).zeros(64)), PRE_INIT)));
  });
});
