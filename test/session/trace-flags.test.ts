// The -d trace prints flag words as names (hex for unknown bits), modes in octal, and the FOPEN_* and
// INIT flags of replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel } from '../../src/testing.ts';
import { formatReply, formatRequest, startTrace } from '../../src/session/trace.ts';
import { OPEN_FLAGS, flagWords, initFlagWords, openFlagWords } from '../../src/session/flag-names.ts';
import { OpenFlags, SetattrValid } from '../../src/protocol/constants.ts';
import type { RequestMessage } from '../../src/session/core.ts';
import type { LowLevelOperations } from '../../src/ops/lowlevel.ts';

const X86 = process.arch !== 'arm64' && process.arch !== 'arm';

test('flagWords: names in table order with a prefix, unknown bits in hex, 0 for none, 64-bit words', () => {
  assert.equal(flagWords(SetattrValid, 0, 'FATTR_'), '0');
  assert.equal(flagWords(SetattrValid, 0b1001, 'FATTR_'), 'FATTR_MODE|FATTR_SIZE');
  assert.equal(flagWords(OpenFlags, 0x3 | 0x1000, 'FOPEN_'), 'FOPEN_DIRECT_IO|FOPEN_KEEP_CACHE|0x1000');
  assert.equal(flagWords({ LOW: 1, HIGH: 2 ** 40 }, 2n ** 40n + 1n + 2n ** 62n), 'LOW|HIGH|0x4000000000000000');
});

test('open(2) flags: the access mode first, O_SYNC as one name, the architecture\'s own bits', () => {
  assert.equal(openFlagWords(0), 'O_RDONLY');
  assert.equal(openFlagWords(0o1 | 0o1000 | 0o2000), 'O_WRONLY|O_TRUNC|O_APPEND');
  assert.equal(openFlagWords(0o2 | 0o4010000), 'O_RDWR|O_SYNC');
  assert.equal(openFlagWords(0o10000), 'O_RDONLY|O_DSYNC');
  assert.equal(openFlagWords(0o40), 'O_RDONLY|FMODE_EXEC');
  assert.equal(openFlagWords(0o100000000), 'O_RDONLY|0x1000000', 'an unknown bit in hex');
  assert.equal(openFlagWords(X86 ? 0o200000 : 0o40000), 'O_RDONLY|O_DIRECTORY');
  assert.equal(openFlagWords(X86 ? 0o400000 : 0o100000), 'O_RDONLY|O_NOFOLLOW');
  assert.equal(openFlagWords(X86 ? 0o100000 : 0o400000), 'O_RDONLY|O_LARGEFILE');
  // No two single-bit names share a bit (O_SYNC is the one deliberate two-bit name).
  const single = Object.entries(OPEN_FLAGS).filter(([name]) => name !== 'O_SYNC').map(([, bit]) => bit);
  assert.equal(new Set(single).size, single.length);
  for (const bit of single) assert.equal(bit & (bit - 1), 0, `0o${bit.toString(8)} is one bit`);
});

test('INIT flags: both words, flags2 as bits 32 and up', () => {
  assert.equal(initFlagWords(0), '0');
  assert.equal(initFlagWords(1 | (1 << 13), 0), 'ASYNC_READ|DO_READDIRPLUS');
  assert.equal(initFlagWords(1 << 30, 1 << 5), 'INIT_EXT|PASSTHROUGH');
  assert.equal(initFlagWords(0, 1 << 31), 'flags2:0x80000000');
});

function request(name: string, args: object): RequestMessage {
  return { session: 1, header: { unique: 10, nodeid: 1, uid: 0, gid: 0, pid: 7 } as unknown as RequestMessage['header'], name, args };
}

test('formatRequest: flag words, modes and enums of each kind of request', () => {
  const cases: [string, object, RegExp][] = [
    ['OPEN', { ino: 2, flags: 0o1101, openFlags: 1 }, /\{flags: O_WRONLY\|O_CREAT\|O_TRUNC, openFlags: FUSE_OPEN_KILL_SUIDGID\}/],
    ['CREATE', { parent: 1, name: Buffer.from('f'), flags: 0o2, mode: 0o100644, umask: 0o22, openFlags: 0 }, /flags: O_RDWR, mode: 0o100644, umask: 0o22, openFlags: 0\}/],
    ['SETATTR', { ino: 2, valid: 0x1 | 0x8 | 0x80, mode: 0o100600 }, /\{valid: FATTR_MODE\|FATTR_SIZE\|FATTR_ATIME_NOW, mode: 0o100600\}/],
    ['GETATTR', { ino: 2, flags: 1, fh: 5 }, /\{flags: FUSE_GETATTR_FH, fh: 5\}/],
    ['RENAME2', { parent: 1, name: Buffer.from('a'), newParent: 1, newName: Buffer.from('b'), flags: 2 }, /flags: RENAME_EXCHANGE\}/],
    ['FSYNC', { ino: 2, fh: 1, fsyncFlags: 1, datasync: true }, /fsyncFlags: FUSE_FSYNC_FDATASYNC/],
    ['RELEASE', { ino: 2, fh: 1, flags: 0o2000, releaseFlags: 3 }, /flags: O_RDONLY\|O_APPEND, releaseFlags: FUSE_RELEASE_FLUSH\|FUSE_RELEASE_FLOCK_UNLOCK/],
    ['SETLKW', { ino: 2, fh: 1, lockOwner: 9, lock: { start: 0, end: 10, type: 1, pid: 3 }, flock: true, lkFlags: 1, sleep: true }, /lock: \{type: F_WRLCK, start: 0, end: 10, pid: 3\}.*lkFlags: FUSE_LK_FLOCK/],
    ['ACCESS', { ino: 2, mask: 0 }, /\{mask: F_OK\}/],
    ['ACCESS', { ino: 2, mask: 6 }, /\{mask: R_OK\|W_OK\}/],
    ['SETXATTR', { ino: 2, name: Buffer.from('user.a'), value: Buffer.from('v'), flags: 2, setxattrFlags: 0 }, /flags: XATTR_REPLACE, setxattrFlags: 0/],
    ['WRITE', { ino: 2, fh: 1, offset: 0, size: 1, writeFlags: 2, flags: 0o1, lockOwner: 4 }, /writeFlags: FUSE_WRITE_LOCKOWNER, flags: O_WRONLY/],
    ['FALLOCATE', { ino: 2, fh: 1, offset: 0, length: 4096, mode: 3 }, /mode: FALLOC_FL_KEEP_SIZE\|FALLOC_FL_PUNCH_HOLE/],
    ['LSEEK', { ino: 2, fh: 1, offset: 0, whence: 4 }, /whence: SEEK_HOLE/],
    ['POLL', { ino: 2, fh: 1, kh: 0, flags: 1, events: 0x5 }, /flags: FUSE_POLL_SCHEDULE_NOTIFY, events: POLLIN\|POLLOUT/],
    ['STATX', { ino: 2, getattrFlags: 0, sxFlags: 0x100, sxMask: 0x7ff }, /sxFlags: AT_SYMLINK_NOFOLLOW, sxMask: STATX_TYPE\|.*\|STATX_BLOCKS\}/],
    ['MKDIR', { parent: 1, name: Buffer.from('d'), mode: 0o755, umask: 0o22 }, /mode: 0o755, umask: 0o22/],
    ['INIT', { major: 7, minor: 45, maxReadahead: 131072, flags: 1 | (1 << 30), flags2: 1 }, /flags: ASYNC_READ\|INIT_EXT, flags2: SECURITY_CTX/],
    ['LOOKUP', { parent: 1, name: Buffer.from('x') }, /^rx 10: LOOKUP n1 \{name: "x"\} uid=0 pid=7$/],
  ];
  for (const [name, args, pattern] of cases) assert.match(formatRequest(request(name, args)), pattern, name);
  // Decimal flag words are gone: no field of those lines prints a bare number where a name exists.
  assert.doesNotMatch(formatRequest(request('OPEN', { ino: 2, flags: 0o100001, openFlags: 0 })), /flags: \d/);
});

test('formatReply: FOPEN_* of open and create replies, INIT capabilities, unknown bits in hex', () => {
  const openOut = Buffer.alloc(16);
  openOut.writeUInt32LE(OpenFlags.KEEP_CACHE | OpenFlags.NOFLUSH | 0x4000, 8);
  const base = { session: 1, unique: 4, opcode: 14, error: 0, latencyNs: 2000 };
  assert.match(formatReply({ ...base, name: 'OPEN', bodyLength: 16, body: [openOut] }), /^tx 4: OK 16 B in 2\.0 µs \{open_flags: FOPEN_KEEP_CACHE\|FOPEN_NOFLUSH\|0x4000\}$/);
  const entry = Buffer.alloc(128);
  assert.match(formatReply({ ...base, name: 'CREATE', bodyLength: 144, body: [entry, openOut] }), /\{open_flags: FOPEN_KEEP_CACHE\|FOPEN_NOFLUSH\|0x4000\}$/);
  assert.equal(formatReply({ ...base, name: 'OPEN', error: 13, bodyLength: 0, body: [] }), 'tx 4: EACCES 0 B in 2.0 µs');
  assert.equal(formatReply({ ...base, name: 'GETATTR', bodyLength: 16, body: [openOut] }), 'tx 4: OK 16 B in 2.0 µs');
});

test('a traced session: the open flags of the request and the FOPEN_* of the reply, INIT both ways', async () => {
  const ops: LowLevelOperations = {
    open: () => ({ fh: 1, flags: OpenFlags.KEEP_CACHE | OpenFlags.DIRECT_IO }),
  };
  const lines: string[] = [];
  const stop = startTrace((l) => lines.push(l));
  try {
    const k = new FakeKernel(ops);
    await k.init();
    assert.equal((await k.request('OPEN', 2, FakeKernel.open(0o2 | 0o2000))).error, 0);
  } finally {
    stop();
  }
  assert.match(lines[0] ?? '', /^rx \d+: INIT n0 \{major: 7, minor: \d+, maxReadahead: 131072, flags: ASYNC_READ\|POSIX_LOCKS\|/);
  assert.match(lines[1] ?? '', /^tx \d+: OK \d+ B in [\d.]+ µs \{flags: ASYNC_READ\|.*INIT_EXT/);
  assert.match(lines[2] ?? '', /^rx \d+: OPEN n2 \{flags: O_RDWR\|O_APPEND, openFlags: 0\}/);
  assert.match(lines[3] ?? '', /^tx \d+: OK 16 B in [\d.]+ µs \{open_flags: FOPEN_DIRECT_IO\|FOPEN_KEEP_CACHE\}$/);
});
