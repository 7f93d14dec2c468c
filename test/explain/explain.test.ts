// Explain mode's dissector: golden explanations of frames built by the naive FrameBuilder (which shares
// no code with src/protocol), every opcode row explained from a minimal valid body, malformed frames
// explained (never thrown), and the live channel's stage times under a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameBuilder, request, reply, S } from '../protocol/frame-builder.ts';
import { explainFrame, formatExplained, formatAudit, startExplain, type ExplainedFrame, type ExplainedField } from '../../src/explain/index.ts';
import { OPCODES, opcodeByName } from '../../src/protocol/opcodes.ts';
import { PRE_INIT, type Negotiated } from '../../src/protocol/negotiated.ts';
import { negotiateInit, encodeInitOut } from '../../src/protocol/init.ts';
import { SessionCore, type SessionClock } from '../../src/session/core.ts';

/** Every field of the frame, in offset order. */
function fieldsOf(e: ExplainedFrame): ExplainedField[] {
  return e.parts.flatMap((p) => p.fields).sort((a, b) => a.offset - b.offset);
}

function field(e: ExplainedFrame, name: string): ExplainedField {
  const f = fieldsOf(e).find((x) => x.name === name);
  assert.ok(f, `no field ${name} in ${e.name}: ${fieldsOf(e).map((x) => x.name).join(', ')}`);
  return f;
}

/** The explanation accounts for every byte exactly once: fields tile [0, length). */
function assertTiles(e: ExplainedFrame, what: string): void {
  let at = 0;
  for (const f of fieldsOf(e)) {
    assert.equal(f.offset, at, `${what}: field ${f.name} starts at ${f.offset}, expected ${at}`);
    assert.ok(f.size > 0, `${what}: field ${f.name} is empty`);
    at += f.size;
  }
  assert.equal(at, e.length, `${what}: fields end at ${at} of ${e.length} bytes`);
}

const AFTER_INIT: Negotiated = { ...PRE_INIT, setxattrExt: true };

/** fuse_attr, 88 bytes, one C field per call. */
function attr(mode: number, size: number): FrameBuilder {
  return new FrameBuilder()
    .u64(2).u64(size) //                        ino, size
    .u64(1).u64(1_700_000_000) //               blocks, atime
    .u64(1_700_000_000).u64(1_700_000_000) //   mtime, ctime
    .u32(5).u32(6).u32(7).u32(mode) //          atimensec, mtimensec, ctimensec, mode
    .u32(1).u32(1000).u32(100).u32(0) //        nlink, uid, gid, rdev
    .u32(4096).u32(0); //                       blksize, flags
}

test('golden: a LOOKUP request, as text and as fields', () => {
  const frame = request({ opcode: 1, unique: S.UNIQ, nodeid: 1, uid: 1000, gid: 100, pid: 4242 }, new FrameBuilder().cstring('hello.txt'));
  const e = explainFrame(frame, { direction: 'request' });
  assert.equal(formatExplained(e), `kernel → daemon  LOOKUP request (opcode 1), unique 1234605616436508552, node 1, 50 bytes
  Find a name in a directory: the kernel wants the node id and attributes behind it (path walks, open, stat of an uncached name).
  fuse_in_header
       0    4  len             32 00 00 00                50 bytes
       4    4  opcode          01 00 00 00                1 = LOOKUP
       8    8  unique          88 77 66 55 44 33 22 11    1234605616436508552
      16    8  nodeid          01 00 00 00 00 00 00 00    1 = the root directory (FUSE_ROOT_ID)
      24    4  uid             e8 03 00 00                1000
      28    4  gid             64 00 00 00                100
      32    4  pid             92 10 00 00                4242
      36    2  total_extlen    00 00                      0 = no extensions
      38    2  padding         00 00                      0
  names and data
      40   10  name            68 65 6c 6c 6f 2e 74 78 …  "hello.txt"`);
  assert.deepEqual(e.problems, []);
  assert.equal(e.unique, S.UNIQ, 'a u64 above 2^53 stays exact');
  assert.deepEqual(field(e, 'name'), { name: 'name', type: 'char[]', offset: 40, size: 10, hex: '68 65 6c 6c 6f 2e 74 78 74 00', value: '"hello.txt"' });
  assertTiles(e, 'LOOKUP');
});

test('golden: an entry reply (fuse_entry_out with its nested fuse_attr)', () => {
  const body = new FrameBuilder()
    .u64(2).u64(S.DEADBEEF) //    nodeid, generation
    .u64(1).u64(2) //             entry_valid, attr_valid
    .u32(500_000_000).u32(0) //   entry_valid_nsec, attr_valid_nsec
    .bytes(attr(0o100644, 17).build());
  const e = explainFrame(reply(0, 8, body), { direction: 'reply', requestOpcode: 1 });
  assert.deepEqual(e.problems, []);
  assert.equal(e.name, 'LOOKUP');
  assert.equal(e.errno, 0);
  assert.deepEqual(e.parts.map((p) => [p.title, p.offset, p.size]), [['fuse_out_header', 0, 16], ['fuse_entry_out', 16, 128]]);
  // Offsets by hand from the C layout: the out-header is 16 bytes, fuse_attr starts 40 bytes into
  // fuse_entry_out, and mode 60 bytes into fuse_attr.
  assert.deepEqual(field(e, 'attr.mode'), { name: 'attr.mode', type: 'u32', offset: 116, size: 4, hex: 'a4 81 00 00', value: 0o100644, meaning: 'S_IFREG|0644' });
  assert.equal(field(e, 'generation').value, S.DEADBEEF);
  assert.equal(field(e, 'generation').hex, '0d f0 ad ba ef be ad de');
  assert.equal(field(e, 'entry_valid').meaning, '1 s');
  assert.equal(field(e, 'entry_valid_nsec').meaning, '500000000 ns');
  assert.equal(field(e, 'attr.mtime').meaning, '2023-11-14T22:13:20Z');
  assert.equal(field(e, 'attr.ctimensec').offset, 16 + 40 + 56);
  assert.equal(field(e, 'error').meaning, 'success');
  assertTiles(e, 'entry reply');
  const text = formatExplained(e);
  assert.match(text, /^daemon → kernel {2}LOOKUP reply, unique 8: OK, 144 bytes$/m);
  assert.match(text, /^ {5}116 {4}4 {2}attr\.mode +a4 81 00 00 +33188 = S_IFREG\|0644$/m);
});

test('golden: READ request and its data reply; open flags and the fh sentinel by name', () => {
  const frame = request({ opcode: 15, unique: 10, nodeid: 2 }, new FrameBuilder()
    .u64(S.FH) //                          fh
    .u64(S.BIGOFF) //                      offset
    .u32(4096).u32(2) //                   size, read_flags (FUSE_READ_LOCKOWNER)
    .u64(S.OWNER) //                       lock_owner
    .u32(0o100000 | 0o4000).u32(0)); //    flags (O_RDONLY|O_LARGEFILE|O_NONBLOCK on x86-64), padding
  const e = explainFrame(frame, { direction: 'request' });
  assert.deepEqual(e.problems, []);
  assert.deepEqual(e.parts.map((p) => p.title), ['fuse_in_header', 'fuse_read_in']);
  assert.deepEqual(field(e, 'fh'), { name: 'fh', type: 'u64', offset: 40, size: 8, hex: 'ef be fe ca ce fa ed fe', value: S.FH, meaning: '0xfeedfacecafebeef' });
  assert.equal(field(e, 'offset').value, S.BIGOFF);
  assert.equal(field(e, 'size').meaning, '4096 bytes');
  assert.equal(field(e, 'read_flags').meaning, 'FUSE_READ_LOCKOWNER');
  if (process.arch === 'x64') assert.equal(field(e, 'flags').meaning, 'O_RDONLY|O_NONBLOCK|O_LARGEFILE');
  assertTiles(e, 'READ');

  const data = explainFrame(reply(0, 10, new FrameBuilder().bytes('Hello from FUSE!\n')), { direction: 'reply', request: frame });
  assert.deepEqual(data.problems, []);
  assert.equal(data.name, 'READ');
  assert.deepEqual(field(data, 'data'), { name: 'data', type: 'u8[]', offset: 16, size: 17, hex: '48 65 6c 6c 6f 20 66 72 6f 6d 20 46 55 53 45 21 0a', value: '"Hello from FUSE!\\n"' });
  assertTiles(data, 'READ reply');

  const failed = explainFrame(reply(-2, 10), { direction: 'reply', requestOpcode: 15 });
  assert.equal(failed.errno, 2);
  assert.equal(field(failed, 'error').meaning, '-ENOENT');
  assert.match(failed.summary, /READ failed with ENOENT \(2\)/);
});

test('golden: INIT request, its reply and the negotiation audit table', () => {
  const FLAGS = (1 << 0) | (1 << 5) | (1 << 16) | (1 << 22) | (1 << 30); // ASYNC_READ BIG_WRITES WRITEBACK_CACHE MAX_PAGES INIT_EXT
  const FLAGS2 = (1 << 7) | (1 << 8); // HAS_RESEND ALLOW_IDMAP
  const frame = request({ opcode: 26, unique: 2, nodeid: 0 }, new FrameBuilder()
    .u32(7).u32(45) //              major, minor
    .u32(131072).u32(FLAGS) //      max_readahead, flags
    .u32(FLAGS2).zeros(44)); //     flags2, unused[11]
  const e = explainFrame(frame, { direction: 'request' });
  assert.deepEqual(e.problems, []);
  assert.equal(field(e, 'flags').meaning, 'ASYNC_READ|BIG_WRITES|WRITEBACK_CACHE|MAX_PAGES|INIT_EXT');
  assert.equal(field(e, 'flags2').meaning, 'HAS_RESEND|ALLOW_IDMAP');
  assert.deepEqual(field(e, 'unused'), { name: 'unused', type: 'u32[11]', offset: 60, size: 44, hex: hexZeros(44), value: 0, meaning: 'reserved, all zero' });
  assertTiles(e, 'INIT');

  // A kernel before 7.36 sends the 16-byte form: explained as such, not as a malformed frame.
  const short = explainFrame(request({ opcode: 26, unique: 2, nodeid: 0 }, new FrameBuilder().u32(7).u32(31).u32(131072).u32(1)), { direction: 'request' });
  assert.deepEqual(short.problems, []);
  assert.match(short.parts[1]!.note ?? '', /^16 of its 64 bytes: the shorter form/);

  const outcome = negotiateInit({ major: 7, minor: 45, maxReadahead: 131072, flags: FLAGS, flags2: FLAGS2 }, { want: ['ASYNC_READ', 'POSIX_LOCKS', 'HAS_RESEND'] });
  assert.ok(outcome.ok);
  const r = explainFrame(reply(0, 2, encodeInitOut(outcome.reply, 45)), { direction: 'reply', requestOpcode: 26 });
  assert.deepEqual(r.problems, []);
  assert.equal(field(r, 'flags').meaning, 'ASYNC_READ|MAX_PAGES|INIT_EXT');
  assert.equal(field(r, 'flags2').meaning, 'HAS_RESEND');
  assert.equal(field(r, 'max_write').meaning, '1048576 bytes');
  assertTiles(r, 'INIT reply');
  const old = explainFrame(reply(0, 2, encodeInitOut(outcome.reply, 22)), { direction: 'reply', requestOpcode: 26 });
  assert.deepEqual(old.problems, []);
  assert.match(old.parts[1]!.note ?? '', /24-byte form of kernels before 7\.23/);

  const table = formatAudit(outcome.audit, outcome.negotiated);
  const lines = table.split('\n');
  assert.match(lines[0]!, /^INIT negotiation: protocol 7\.45, max_write 1048576 bytes \(256 pages\), max_readahead 131072/);
  assert.match(lines[1]!, /^ {2}capability +bit +since +offered +requested +granted +why$/);
  const row = (name: string) => lines.find((l) => l.startsWith(`  ${name} `)) ?? assert.fail(`no row ${name}`);
  assert.match(row('ASYNC_READ'), /^ {2}ASYNC_READ +0 +7\.0 +yes +yes +yes$/);
  assert.match(row('POSIX_LOCKS'), /^ {2}POSIX_LOCKS +1 +7\.7 +- +yes +- +not offered by the kernel$/);
  assert.match(row('WRITEBACK_CACHE'), /^ {2}WRITEBACK_CACHE +16 +7\.23 +yes +- +- +not requested$/);
  assert.match(row('MAX_PAGES'), /^ {2}MAX_PAGES +22 +7\.28 +yes +- +yes +implied: /);
  assert.match(row('INIT_RESERVED'), /reserved bit, never granted$/);
  assert.equal(lines.length, 2 + outcome.audit.length + 1);
  assert.match(lines.at(-1)!, /^ {2}4 granted of 7 offered by the kernel \(43 known to FUSE 7\.45\)$/);
});

function hexZeros(n: number): string {
  return Array.from({ length: n }, () => '00').join(' ');
}

/** A minimal valid body for a row: its fixed struct zeroed, then its names. */
function minimalBody(name: string): FrameBuilder {
  const row = opcodeByName(name)!;
  const b = new FrameBuilder().zeros(row.fixed?.size ?? 0);
  for (let i = 0; i < (row.names?.length ?? 0); i++) b.cstring(`n${i}`);
  return b;
}

/** A minimal successful reply body for a row's shape. */
function minimalReply(name: string): Buffer {
  const row = opcodeByName(name)!;
  switch (row.reply) {
    case 'none': return Buffer.alloc(0);
    case 'entry': return Buffer.alloc(128);
    case 'attr': return Buffer.alloc(104);
    case 'statx': return Buffer.alloc(288);
    case 'open': case 'open-dir': return Buffer.alloc(16);
    case 'create': return Buffer.alloc(144);
    case 'entries': return new FrameBuilder().u64(2).u64(1).u32(1).u32(8).bytes('a').pad8().build();
    case 'entries-plus': return new FrameBuilder().zeros(128).u64(2).u64(1).u32(1).u32(8).bytes('a').pad8().build();
    case 'data': case 'xattr': return Buffer.from('value');
    case 'write': case 'lock': case 'statfs': case 'bmap': case 'poll': case 'lseek': case 'copy-64': case 'init': case 'ioctl': {
      const sizes = { write: 8, lock: 24, statfs: 80, bmap: 8, poll: 8, lseek: 8, 'copy-64': 8, init: 64, ioctl: 16 } as const;
      return Buffer.alloc(sizes[row.reply]);
    }
  }
}

test('every opcode row explains a minimal valid request and reply: named, summarized, every byte once', () => {
  assert.equal(OPCODES.length, 52);
  for (const row of OPCODES) {
    assert.ok(row.summary.length > 10 && row.summary.length < 160 && /\.$/.test(row.summary), `${row.name}: summary is one short sentence`);
    const frame = request({ opcode: row.code, unique: 100, nodeid: 1 }, minimalBody(row.name));
    const e = explainFrame(frame, { direction: 'request', negotiated: AFTER_INIT });
    assert.equal(e.name, row.name);
    assert.equal(e.summary, row.summary);
    assert.deepEqual(e.problems, [], row.name);
    assertTiles(e, row.name);
    if (row.fixed !== undefined) assert.equal(e.parts[1]?.title, row.fixed.cName, row.name);
    assert.ok(formatExplained(e).startsWith(`kernel → daemon  ${row.name} request (opcode ${row.code})`));

    const r = explainFrame(reply(0, 100, minimalReply(row.name)), { direction: 'reply', request: frame, negotiated: AFTER_INIT });
    assert.equal(r.name, row.name);
    if (row.noReply) assert.deepEqual(r.problems, [`${row.name} gets no reply: the kernel does not wait for one`]);
    else assert.deepEqual(r.problems, [], `${row.name} reply`);
    assertTiles(r, `${row.name} reply`);
  }
});

test('names, payloads and counted arrays are labelled from the decoder\'s own fields', () => {
  const rename = explainFrame(request({ opcode: 45, unique: 1, nodeid: 1 }, new FrameBuilder().u64(7).u32(1).u32(0).cstring('old').cstring('new')), { direction: 'request' });
  assert.deepEqual(fieldsOf(rename).slice(-2).map((f) => [f.name, f.value]), [['name', '"old"'], ['new_name', '"new"']]);
  assert.equal(field(rename, 'flags').meaning, 'RENAME_NOREPLACE');
  const write = explainFrame(request({ opcode: 16, unique: 1, nodeid: 2 }, new FrameBuilder().u64(1).u64(0).u32(3).u32(0).u64(0).u32(1).u32(0).bytes([0xff, 0, 1])), { direction: 'request' });
  assert.deepEqual(field(write, 'data'), { name: 'data', type: 'u8[]', offset: 80, size: 3, hex: 'ff 00 01', value: '<3 bytes>' });
  // SETXATTR: 8 bytes without SETXATTR_EXT, 16 with it; the value follows the name.
  const body = (ext: boolean) => { const b = new FrameBuilder().u32(2).u32(1); if (ext) b.u32(0).u32(0); return b.cstring('user.a').bytes('hi'); };
  const plain = explainFrame(request({ opcode: 21, unique: 1, nodeid: 2 }, body(false)), { direction: 'request' });
  assert.deepEqual(plain.problems, []);
  assert.match(plain.parts[1]!.note ?? '', /^8 of its 16 bytes/);
  assert.equal(field(plain, 'flags').meaning, 'XATTR_CREATE');
  assert.equal(field(plain, 'value').value, '"hi"');
  assertTiles(plain, 'SETXATTR');
  const ext = explainFrame(request({ opcode: 21, unique: 1, nodeid: 2 }, body(true)), { direction: 'request', negotiated: AFTER_INIT });
  assert.equal(ext.parts[1]!.size, 16);
  assertTiles(ext, 'SETXATTR_EXT');
  const forget = explainFrame(request({ opcode: 42, unique: 1, nodeid: 0 }, new FrameBuilder().u32(2).u32(0).u64(5).u64(1).u64(S.DEADBEEF).u64(3)), { direction: 'request' });
  assert.deepEqual(forget.parts.map((p) => p.title), ['fuse_in_header', 'fuse_batch_forget_in', 'fuse_forget_one 1 of 2', 'fuse_forget_one 2 of 2']);
  assert.equal(forget.parts[3]!.fields[0]!.value, S.DEADBEEF);
  assertTiles(forget, 'BATCH_FORGET');
  const groups = new FrameBuilder().u32(16).u32(32).u32(1).u32(1234);
  const mk = explainFrame(request({ opcode: 9, unique: 1, nodeid: 1 }, new FrameBuilder().u32(0o755).u32(0o22).cstring('d'), groups), { direction: 'request' });
  assert.deepEqual(mk.problems, []);
  assert.equal(field(mk, 'groups[0]').value, 1234);
  assertTiles(mk, 'MKDIR with groups');
});

test('replies: listings record by record, size probes, notifications', () => {
  const listing = new FrameBuilder()
    .u64(1).u64(1).u32(1).u32(4).bytes('.').pad8() //              ino, off, namelen, type, name
    .u64(2).u64(2).u32(9).u32(8).bytes('hello.txt').pad8();
  const e = explainFrame(reply(0, 5, listing), { direction: 'reply', requestOpcode: 28 });
  assert.deepEqual(e.problems, []);
  assert.deepEqual(e.parts.map((p) => p.title), ['fuse_out_header', 'fuse_dirent 1', 'fuse_dirent 2']);
  assert.equal(field(e, 'type').meaning, 'DT_DIR');
  assert.equal(fieldsOf(e).filter((f) => f.name === 'name').map((f) => f.value).join(), '".","hello.txt"');
  assertTiles(e, 'READDIR');
  const probe = request({ opcode: 22, unique: 6, nodeid: 2 }, new FrameBuilder().u32(0).u32(0).cstring('user.a'));
  const size = explainFrame(reply(0, 6, new FrameBuilder().u32(5).u32(0)), { direction: 'reply', request: probe });
  assert.deepEqual(size.parts.map((p) => p.title), ['fuse_out_header', 'fuse_getxattr_out']);
  const inval = explainFrame(reply(3, 0, new FrameBuilder().u64(1).u32(3).u32(0).cstring('abc')), { direction: 'reply' });
  assert.equal(inval.direction, 'notification');
  assert.equal(inval.name, 'INVAL_ENTRY');
  assert.equal(field(inval, 'name').value, '"abc"');
  assertTiles(inval, 'INVAL_ENTRY');
});

test('malformed frames are explained, never thrown: each says what is wrong', () => {
  const lookup = (b: FrameBuilder, h: Partial<Parameters<typeof request>[0]> = {}) => request({ opcode: 1, unique: 9, nodeid: 1, ...h }, b);
  const cases: [string, Uint8Array, 'request' | 'reply', RegExp, number?][] = [
    ['empty', Buffer.alloc(0), 'request', /0 bytes, fewer than the 40-byte fuse_in_header/],
    ['short header', Buffer.from([1, 2, 3]), 'request', /3 bytes, fewer than the 40-byte/],
    ['len mismatch', lookup(new FrameBuilder().cstring('a'), { len: 99 }), 'request', /header says 99 bytes but the frame has 42; the session answers EIO/],
    ['unknown opcode', request({ opcode: 999, unique: 1, nodeid: 1 }, new FrameBuilder().u32(5)), 'request', /unknown opcode 999; the session answers ENOSYS/],
    ['unterminated name', lookup(new FrameBuilder().bytes('abc')), 'request', /LOOKUP: name is not NUL-terminated; the session answers EIO/],
    ['truncated READ', request({ opcode: 15, unique: 1, nodeid: 2 }, new FrameBuilder().zeros(20)), 'request', /READ: needs \d+ bytes, frame has 60/],
    ['offset past off_t', request({ opcode: 15, unique: 1, nodeid: 2 }, new FrameBuilder().u64(0).u64(1n << 63n).zeros(24)), 'request', /read offset exceeds 2\^63 − 1; the session answers EINVAL/],
    ['forget count', request({ opcode: 42, unique: 1, nodeid: 0 }, new FrameBuilder().u32(1000).u32(0).u64(1).u64(1)), 'request', /BATCH_FORGET.*BATCH_FORGET has no reply, so the session drops it/],
    ['extension too long', request({ opcode: 1, unique: 1, nodeid: 1, totalExtlen: 50 }, new FrameBuilder().cstring('a')), 'request', /request extension: total_extlen 50×8 exceeds/],
    ['reply too short', Buffer.from([16, 0, 0]), 'reply', /fewer than the 16-byte fuse_out_header/],
    ['reply len mismatch', reply(0, 1, Buffer.alloc(4)).fill(0, 0, 1), 'reply', /header says 0 bytes but the frame has 20/],
    ['short entry', reply(0, 1, Buffer.alloc(40)), 'reply', /fuse_entry_out needs 128 bytes, the body has 40/, 1],
    ['error with body', reply(-2, 1, Buffer.alloc(8)), 'reply', /an error reply carries no body, but this one has 8 bytes/, 1],
    ['positive error', reply(5, 1), 'reply', /error 5 is positive/, 1],
    ['errno too large', reply(-600, 1), 'reply', /errno 600 is beyond what the kernel accepts/, 1],
    ['body on a bodiless reply', reply(0, 1, Buffer.alloc(3)), 'reply', /3 bytes after the header \(this reply has no body\)/, 10],
    ['dirent past the end', reply(0, 1, new FrameBuilder().u64(1).u64(1).u32(200).u32(8).bytes('abc')), 'reply', /namelen 200 runs past the end/, 28],
    ['unknown notification', reply(77, 0), 'reply', /notification code 77 is not in FUSE 7\.45/],
  ];
  for (const [what, frame, direction, pattern, requestOpcode] of cases) {
    let e: ExplainedFrame | undefined;
    assert.doesNotThrow(() => { e = explainFrame(frame, { direction, ...(requestOpcode !== undefined && { requestOpcode }) }); }, what);
    assert.ok(e!.problems.some((p) => pattern.test(p)), `${what}: ${JSON.stringify(e!.problems)}`);
    assert.ok(!e!.problems.some((p) => p.startsWith('the explainer failed')), `${what}: ${JSON.stringify(e!.problems)}`);
    assert.match(formatExplained(e!), /\n {2}! /, what);
  }
});

test('arbitrary bytes never make the explainer throw or fail internally', () => {
  let seed = 0x2545f491;
  const rnd = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 0x1_0000_0000; };
  for (let i = 0; i < 600; i++) {
    const row = OPCODES[Math.floor(rnd() * OPCODES.length)]!;
    const body = Buffer.from(Array.from({ length: Math.floor(rnd() * 120) }, () => (rnd() < 0.4 ? 0 : Math.floor(rnd() * 256))));
    const req = request({ opcode: row.code, unique: i + 1, nodeid: 1, totalExtlen: rnd() < 0.1 ? Math.floor(rnd() * 4) : 0 }, body);
    const cut = rnd() < 0.2 ? req.subarray(0, Math.floor(rnd() * req.length)) : req;
    for (const [frame, direction] of [[cut, 'request'], [reply(rnd() < 0.2 ? -Math.floor(rnd() * 40) : 0, i + 1, body), 'reply']] as const) {
      const e = explainFrame(frame, { direction, requestOpcode: row.code, negotiated: rnd() < 0.5 ? AFTER_INIT : PRE_INIT });
      assert.ok(!e.problems.some((p) => p.startsWith('the explainer failed')), `${row.name} ${direction}: ${JSON.stringify(e.problems)}`);
      formatExplained(e);
    }
  }
});

test('live: the tsfuse:explain channel carries each request, its reply and stage times from the session clock', async () => {
  // A virtual clock that advances 1 µs per reading: every stage takes a whole number of readings.
  let t = 0n;
  const clock: SessionClock = { now: () => (t += 1000n), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  const written: Uint8Array[][] = [];
  const core = new SessionCore({ lookup: async (req) => ({ ino: 2, attr: { mode: 0o100444, size: req.name.length } }) }, {
    write: (iov) => { written.push([...iov]); return 0; }, writeAsync: async () => 0,
  }, { clock });
  const texts: string[] = [];
  const stop = startExplain((s) => texts.push(s), { session: core.id });
  try {
    core.handleFrame(request({ opcode: 26, unique: 2, nodeid: 0 }, new FrameBuilder().u32(7).u32(45).u32(131072).u32((1 << 30) | 1).u32(0).zeros(44)));
    await core.initialized;
    core.handleFrame(request({ opcode: 1, unique: 4, nodeid: 1 }, new FrameBuilder().cstring('hello.txt')));
    await new Promise((r) => setImmediate(r));
    core.handleFrame(request({ opcode: 2, unique: 6, nodeid: 2 }, new FrameBuilder().u64(1)));
  } finally {
    stop();
  }
  assert.equal(written.length, 2, 'INIT and LOOKUP replies');
  assert.deepEqual(texts.map((s) => s.split('\n')[0]), [
    'kernel → daemon  INIT request (opcode 26), unique 2, node 0, 104 bytes',
    'daemon → kernel  INIT reply, unique 2: OK, 80 bytes',
    'kernel → daemon  LOOKUP request (opcode 1), unique 4, node 1, 50 bytes',
    'daemon → kernel  LOOKUP reply, unique 4: OK, 144 bytes',
    'kernel → daemon  FORGET request (opcode 2), unique 6, node 2, 48 bytes',
    'daemon → kernel  (FORGET gets no reply)',
  ]);
  const lookupReply = texts[3]!;
  assert.match(lookupReply, /attr\.size +09 00 00 00 00 00 00 00 +9 bytes/);
  // Each stage is a whole number of clock readings (1 µs each) apart; no stage is negative.
  const stages = /daemon time (\S+) µs: read \(in the transport\) → decode (\S+) µs → handler (\S+) µs → encode (\S+) µs → write (\S+) µs$/.exec(lookupReply);
  assert.ok(stages, lookupReply);
  for (const v of stages.slice(1)) assert.ok(Number.isInteger(Number(v)) && Number(v) >= 1, `stage ${v}`);
  assert.match(texts[5]!, /no reply: nothing is encoded or written/);
  // Once unsubscribed, nothing more is published (and the session takes no stage stamps).
  const before = texts.length;
  core.handleFrame(request({ opcode: 1, unique: 8, nodeid: 1 }, new FrameBuilder().cstring('x')));
  await new Promise((r) => setImmediate(r));
  assert.equal(texts.length, before);
});
