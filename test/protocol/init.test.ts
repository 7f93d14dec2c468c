/**
 * INIT negotiation: which capability bits are granted and why, version handling, and the clamps of the
 * numeric settings.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  negotiateInit, INIT_FLAGS, INIT_DEFAULTS, hasFlag, decodeRequest, encodeInitOut, PRE_INIT,
  type InitOutcome, type InitRequest, type InitWants, type Negotiated, type InitFlagName,
} from '../../src/protocol/index.ts';
import { FrameBuilder, request } from './frame-builder.ts';

const bit = (n: number): number => (n < 31 ? 1 << n : 2 ** n);
const ALL_FLAGS = 0xffff_ffff;
const ALL_FLAGS2 = 0x7ff; // bits 32..42
const INIT_EXT = 1 << 30;
const MAX_PAGES = 1 << 22;

function kernel(minor: number, over: Partial<InitRequest> = {}): InitRequest {
  return { major: 7, minor, maxReadahead: 0x20000, flags: ALL_FLAGS, flags2: ALL_FLAGS2, ...over };
}

type Ok = Extract<InitOutcome, { ok: true }>;
function ok(k: InitRequest, w?: InitWants): Ok {
  const r = negotiateInit(k, w);
  if (!r.ok) assert.fail(`negotiation failed: ${r.kind}: ${r.message}`);
  return r;
}

function audit(r: Ok, name: InitFlagName) {
  const a = r.audit.find((x) => x.name === name);
  assert.ok(a, name);
  return a;
}

describe('capability bits', () => {
  test('grants only offered and requested bits, plus the implied INIT_EXT and MAX_PAGES', () => {
    const r = ok(kernel(45), { want: ['ASYNC_READ', 'POSIX_LOCKS', 'PASSTHROUGH'] });
    assert.equal(r.negotiated.flags, (1 | 2 | INIT_EXT | MAX_PAGES) >>> 0);
    assert.equal(r.negotiated.flags2, 1 << 5);
    assert.equal(r.reply.flags, r.negotiated.flags);
    assert.equal(r.reply.flags2, r.negotiated.flags2);
    assert.equal(audit(r, 'INIT_EXT').reason, 'implied: needed for other negotiated fields');
    assert.equal(audit(r, 'MAX_PAGES').requested, false);
    assert.equal(audit(r, 'MAX_PAGES').granted, true);
    assert.equal(audit(r, 'WRITEBACK_CACHE').reason, 'not requested');
    assert.equal(audit(r, 'WRITEBACK_CACHE').granted, false);
  });

  test('nothing requested: only the implied bits', () => {
    const r = ok(kernel(45));
    assert.equal(r.negotiated.flags, (INIT_EXT | MAX_PAGES) >>> 0);
    assert.equal(r.negotiated.flags2, 0);
  });

  test('a wanted but unoffered bit is simply not granted', () => {
    const r = ok(kernel(45, { flags: INIT_EXT, flags2: 0 }), { want: ['WRITEBACK_CACHE', 'SECURITY_CTX'] });
    assert.equal(r.negotiated.flags, INIT_EXT);
    assert.equal(r.negotiated.flags2, 0);
    assert.deepStrictEqual(
      { ...audit(r, 'WRITEBACK_CACHE') },
      { name: 'WRITEBACK_CACHE', bit: 16, minor: 23, offered: false, requested: true, required: false, granted: false, reason: 'not offered by the kernel' },
    );
  });

  test('the audit has one line per INIT_FLAGS entry, in order, with offered/requested/granted/reason', () => {
    const r = ok(kernel(45, { flags: ALL_FLAGS & ~bit(16), flags2: ALL_FLAGS2 }), { want: ['SPLICE_READ', 'WRITEBACK_CACHE'], require: ['DO_READDIRPLUS'] });
    assert.equal(r.audit.length, INIT_FLAGS.length);
    assert.deepStrictEqual(r.audit.map((a) => a.name), INIT_FLAGS.map((f) => f.name));
    for (const [i, a] of r.audit.entries()) {
      const f = INIT_FLAGS[i]!;
      assert.equal(a.bit, f.bit);
      assert.equal(a.minor, f.minor);
      assert.equal(typeof a.offered, 'boolean');
      assert.equal(typeof a.requested, 'boolean');
      assert.equal(typeof a.granted, 'boolean');
      if (!a.granted) assert.ok(a.reason, `${a.name} refused without a reason`);
      const grantedInFlags = f.bit < 32 ? ((r.negotiated.flags >>> f.bit) & 1) === 1 : ((r.negotiated.flags2 >>> (f.bit - 32)) & 1) === 1;
      assert.equal(grantedInFlags, a.granted, a.name);
      assert.equal(hasFlag(r.negotiated, a.name), a.granted);
    }
    assert.equal(audit(r, 'DO_READDIRPLUS').required, true);
    assert.equal(audit(r, 'DO_READDIRPLUS').granted, true);
    assert.equal(audit(r, 'SPLICE_READ').granted, true);
    assert.equal(audit(r, 'WRITEBACK_CACHE').offered, false);
    assert.equal(audit(r, 'INIT_RESERVED').reason, 'reserved bit, never granted');
  });

  test('INIT_RESERVED is never granted, even when wanted and offered', () => {
    const r = ok(kernel(45), { want: ['INIT_RESERVED'] });
    assert.equal(r.negotiated.flags & 0x8000_0000, 0);
    assert.equal(audit(r, 'INIT_RESERVED').granted, false);
  });

  test('require of an unoffered flag → refused, listing it with the reason', () => {
    const r = negotiateInit(kernel(45, { flags2: 0 }), { want: ['ASYNC_READ'], require: ['PASSTHROUGH', 'ASYNC_DIO'] });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.kind === 'refused');
    assert.deepStrictEqual(r.refused, ['PASSTHROUGH']);
    assert.match(r.message, /PASSTHROUGH \(not offered by the kernel\)/);
    assert.equal(r.audit.length, INIT_FLAGS.length);
  });

  test('several required flags refused are all listed', () => {
    const r = negotiateInit(kernel(45, { flags: 0, flags2: 0 }), { require: ['FLOCK_LOCKS', 'POSIX_ACL'] });
    assert.ok(!r.ok && r.kind === 'refused');
    assert.deepStrictEqual(r.refused, ['FLOCK_LOCKS', 'POSIX_ACL']);
  });

  test('an unknown capability name is refused', () => {
    const r = negotiateInit(kernel(45), { want: ['NOT_A_FLAG' as InitFlagName] });
    assert.ok(!r.ok && r.kind === 'refused');
    assert.deepStrictEqual(r.refused, ['NOT_A_FLAG']);
    assert.match(r.message, /unknown INIT capability NOT_A_FLAG/);
  });

  test('flags2 is ignored without INIT_EXT in the kernel flags', () => {
    const r = ok(kernel(45, { flags: ALL_FLAGS & ~INIT_EXT, flags2: ALL_FLAGS2 }), { want: ['PASSTHROUGH', 'SECURITY_CTX'] });
    assert.equal(r.negotiated.flags2, 0);
    assert.equal(r.negotiated.flags & INIT_EXT, 0);
    assert.equal(audit(r, 'PASSTHROUGH').offered, false);
    assert.equal(audit(r, 'PASSTHROUGH').reason, 'not offered by the kernel');
    assert.equal(r.negotiated.maxStackDepth, 0);
  });

  test('flags that need a newer minor than agreed are refused, with the reason', () => {
    const r = ok(kernel(30), { want: ['SUBMOUNTS', 'EXPLICIT_INVAL_DATA', 'PASSTHROUGH'] });
    assert.equal(audit(r, 'SUBMOUNTS').granted, false);
    assert.equal(audit(r, 'SUBMOUNTS').offered, true);
    assert.equal(audit(r, 'SUBMOUNTS').reason, 'needs protocol 7.32, agreed 7.30');
    assert.equal(audit(r, 'EXPLICIT_INVAL_DATA').granted, true);
    assert.equal(audit(r, 'INIT_EXT').reason, 'needs protocol 7.36, agreed 7.30');
    assert.equal(r.negotiated.flags & INIT_EXT, 0);
    // The kernel offered flags2 with INIT_EXT, but 7.30 cannot carry it.
    assert.equal(r.negotiated.flags2, 0);
    const refused = negotiateInit(kernel(30), { require: ['SUBMOUNTS'] });
    assert.ok(!refused.ok && refused.kind === 'refused');
    assert.match(refused.message, /SUBMOUNTS \(needs protocol 7\.32, agreed 7\.30\)/);
  });

  test('negotiated.setxattrExt follows SETXATTR_EXT', () => {
    assert.equal(ok(kernel(45), { want: ['SETXATTR_EXT'] }).negotiated.setxattrExt, true);
    assert.equal(ok(kernel(45)).negotiated.setxattrExt, false);
    assert.equal(ok(kernel(32), { want: ['SETXATTR_EXT'] }).negotiated.setxattrExt, false);
    assert.equal(ok(kernel(45, { flags: INIT_EXT }), { want: ['SETXATTR_EXT'] }).negotiated.setxattrExt, false);
  });
});

describe('versions', () => {
  test('kernel 7.26 is too old, with a clear message', () => {
    const r = negotiateInit(kernel(26));
    assert.ok(!r.ok && r.kind === 'too-old');
    assert.equal(r.message, 'kernel speaks FUSE 7.26; tsfuse needs 7.27 (Linux 4.18) or newer');
    assert.deepStrictEqual(r.refused, []);
  });
  test('major 6 is too old', () => {
    const r = negotiateInit({ ...kernel(40), major: 6 });
    assert.ok(!r.ok && r.kind === 'too-old');
  });
  test('kernel 7.27 is accepted: minor 27, no MAX_PAGES (7.28) so 32 pages', () => {
    const r = ok(kernel(27), { maxWrite: 1 << 20 });
    assert.equal(r.negotiated.minor, 27);
    assert.equal(r.negotiated.flags & MAX_PAGES, 0);
    assert.equal(r.negotiated.maxPages, 32);
    assert.equal(r.negotiated.maxWrite, 32 * 4096);
    assert.equal(r.reply.minor, 45, 'the reply names our own minor');
    assert.equal(r.reply.major, 7);
  });
  test('a newer kernel minor agrees on ours', () => {
    assert.equal(ok(kernel(99)).negotiated.minor, 45);
  });
  test('major 8 → major-retry, answering 7.45 and nothing else', () => {
    const r = negotiateInit({ ...kernel(0), major: 8 });
    assert.ok(!r.ok && r.kind === 'major-retry');
    assert.equal(r.reply.major, 7);
    assert.equal(r.reply.minor, 45);
    assert.equal(r.reply.flags, 0);
    assert.equal(r.reply.maxWrite, 0);
    assert.match(r.message, /FUSE 8\.0/);
  });
});

describe('clamps', () => {
  test('maxWrite below 4096 → 4096 (one page)', () => {
    const r = ok(kernel(45), { maxWrite: 1000 });
    assert.equal(r.negotiated.maxWrite, 4096);
    assert.equal(r.negotiated.maxPages, 1);
  });
  test('maxWrite above limit × 4096 → clamped', () => {
    const r = ok(kernel(45), { maxWrite: 4 << 20 });
    assert.equal(r.negotiated.maxPages, 256);
    assert.equal(r.negotiated.maxWrite, 256 * 4096);
  });
  test('maxPages from maxWrite (rounded up)', () => {
    const r = ok(kernel(45), { maxWrite: 10_000 });
    assert.equal(r.negotiated.maxPages, 3);
    assert.equal(r.negotiated.maxWrite, 10_000);
    assert.equal(r.reply.maxPages, 3);
    assert.equal(ok(kernel(45)).negotiated.maxWrite, INIT_DEFAULTS.maxWrite);
  });
  test('maxPagesLimit', () => {
    const r = ok(kernel(45), { maxWrite: 1 << 20, maxPagesLimit: 16 });
    assert.equal(r.negotiated.maxPages, 16);
    assert.equal(r.negotiated.maxWrite, 65536);
    assert.equal(ok(kernel(45), { maxWrite: 1 << 30, maxPagesLimit: 1 << 20 }).negotiated.maxPages, 0xffff);
  });
  test('maxReadahead = min(kernel, want)', () => {
    assert.equal(ok(kernel(45)).negotiated.maxReadahead, 0x20000);
    assert.equal(ok(kernel(45), { maxReadahead: 4096 }).negotiated.maxReadahead, 4096);
    assert.equal(ok(kernel(45, { maxReadahead: 0xffff_ffff }), { maxReadahead: 1 << 20 }).reply.maxReadahead, 1 << 20);
  });
  test('maxStackDepth only with PASSTHROUGH, clamped to 1..2', () => {
    assert.equal(ok(kernel(45), { maxStackDepth: 2 }).negotiated.maxStackDepth, 0);
    assert.equal(ok(kernel(45), { want: ['PASSTHROUGH'] }).negotiated.maxStackDepth, 1);
    assert.equal(ok(kernel(45), { want: ['PASSTHROUGH'], maxStackDepth: 2 }).negotiated.maxStackDepth, 2);
    assert.equal(ok(kernel(45), { want: ['PASSTHROUGH'], maxStackDepth: 5 }).negotiated.maxStackDepth, 2);
    assert.equal(ok(kernel(45), { want: ['PASSTHROUGH'], maxStackDepth: 0 }).reply.maxStackDepth, 1);
  });
  test('requestTimeout only with REQUEST_TIMEOUT, clamped to u16', () => {
    assert.equal(ok(kernel(45), { requestTimeout: 30 }).negotiated.requestTimeout, 0);
    assert.equal(ok(kernel(45), { want: ['REQUEST_TIMEOUT'], requestTimeout: 30 }).negotiated.requestTimeout, 30);
    assert.equal(ok(kernel(45), { want: ['REQUEST_TIMEOUT'], requestTimeout: 1e6 }).reply.requestTimeout, 0xffff);
    assert.equal(ok(kernel(42), { want: ['REQUEST_TIMEOUT'], requestTimeout: 30 }).negotiated.requestTimeout, 0);
  });
  test('mapAlignment only with MAP_ALIGNMENT', () => {
    assert.equal(ok(kernel(45), { mapAlignment: 12 }).negotiated.mapAlignment, 0);
    assert.equal(ok(kernel(45), { want: ['MAP_ALIGNMENT'], mapAlignment: 12 }).negotiated.mapAlignment, 12);
  });
  test('background, congestion threshold and time granularity', () => {
    const d = ok(kernel(45)).negotiated;
    assert.equal(d.maxBackground, 12);
    assert.equal(d.congestionThreshold, 9);
    assert.equal(d.timeGran, 1);
    const r = ok(kernel(45), { maxBackground: 4, timeGran: 0 }).negotiated;
    assert.equal(r.congestionThreshold, 4);
    assert.equal(r.timeGran, 1);
    const big = ok(kernel(45), { maxBackground: 1e6, congestionThreshold: 1e6, timeGran: 5e9 }).negotiated;
    assert.equal(big.maxBackground, 0xffff);
    assert.equal(big.congestionThreshold, 0xffff);
    assert.equal(big.timeGran, 1e9);
  });
});

describe('purity and end to end', () => {
  test('same input, same output; results are frozen', () => {
    const a = ok(kernel(45), { want: ['ASYNC_READ'] });
    const b = ok(kernel(45), { want: ['ASYNC_READ'] });
    assert.deepStrictEqual(a, b);
    assert.ok(Object.isFrozen(a.negotiated));
    assert.ok(Object.isFrozen(a.reply));
    assert.ok(Object.isFrozen(a.audit));
  });

  test('decode a real INIT frame, negotiate, encode the reply', () => {
    const frame = request({ opcode: 26, unique: 2, nodeid: 0 }, new FrameBuilder()
      .u32(7).u32(45) //                                         major, minor
      .u32(0x20000).u32(INIT_EXT | 1 | (1 << 29)) //             max_readahead, flags (INIT_EXT, ASYNC_READ, SETXATTR_EXT)
      .u32(1 << 5).zeros(44)); //                                flags2 (PASSTHROUGH), unused[11]
    const d = decodeRequest(frame, PRE_INIT);
    assert.ok(!('error' in d));
    const r = ok(d.args as InitRequest, { want: ['ASYNC_READ', 'SETXATTR_EXT', 'PASSTHROUGH'], maxWrite: 1 << 17 });
    const n: Negotiated = r.negotiated;
    assert.equal(n.setxattrExt, true);
    assert.equal(n.flags, (1 | (1 << 29) | INIT_EXT) >>> 0);
    assert.equal(n.flags2, 1 << 5);
    const out = encodeInitOut(r.reply, 45);
    assert.deepStrictEqual(out, new FrameBuilder()
      .u32(7).u32(45) //                                         major, minor
      .u32(0x20000).u32(n.flags) //                              max_readahead, flags
      .u16(12).u16(9).u32(1 << 17) //                            max_background, congestion_threshold, max_write
      .u32(1).u16(32).u16(0) //                                  time_gran, max_pages, map_alignment
      .u32(1 << 5).u32(1) //                                     flags2, max_stack_depth
      .u16(0).zeros(22) //                                       request_timeout, unused[11]
      .build());
  });
});
