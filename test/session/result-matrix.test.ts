// Every request gets exactly one reply whatever its handler returns: a matrix of bad results × every
// opcode row that has a handler, through the fake kernel. Request bodies are built here by hand (no
// src/protocol code), so a decoder mistake cannot hide a row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel } from '../../src/testing.ts';
import { OPCODES } from '../../src/protocol/opcodes.ts';
import type { LowLevelOperations } from '../../src/index.ts';

const EIO = 5, ERANGE = 34;

const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const u64 = (v: number): Buffer => { const b = Buffer.alloc(8); b.writeUInt32LE(v); return b; };
const zero = (n: number): Buffer => Buffer.alloc(n);
const name = (s: string): Buffer => Buffer.from(`${s}\0`);
/** fuse_read_in / fuse_write_in: fh, offset, size at 16. */
const io = (size: number): Buffer => { const b = zero(40); b.writeUInt32LE(size, 16); return b; };

/** A well-formed request body for every opcode with a handler (7.45 layouts, every capability granted). */
const BODIES: Record<string, () => Buffer[]> = {
  LOOKUP: () => [name('a')],
  FORGET: () => [u64(1)],
  GETATTR: () => [zero(16)],
  SETATTR: () => [zero(88)],
  READLINK: () => [],
  SYMLINK: () => [name('a'), name('target')],
  MKNOD: () => [zero(16), name('a')],
  MKDIR: () => [zero(8), name('a')],
  UNLINK: () => [name('a')],
  RMDIR: () => [name('a')],
  RENAME: () => [u64(1), name('a'), name('b')],
  LINK: () => [u64(2), name('a')],
  OPEN: () => [zero(8)],
  READ: () => [io(4096)],
  WRITE: () => [io(3), Buffer.from('abc')],
  STATFS: () => [],
  RELEASE: () => [zero(24)],
  FSYNC: () => [zero(16)],
  SETXATTR: () => [u32(1), zero(12), name('user.a'), Buffer.from('v')],
  GETXATTR: () => [u32(64), zero(4), name('user.a')],
  LISTXATTR: () => [u32(64), zero(4)],
  REMOVEXATTR: () => [name('user.a')],
  FLUSH: () => [zero(24)],
  OPENDIR: () => [zero(8)],
  READDIR: () => [io(4096)],
  RELEASEDIR: () => [zero(24)],
  FSYNCDIR: () => [zero(16)],
  GETLK: () => [zero(48)],
  SETLK: () => [zero(48)],
  SETLKW: () => [zero(48)],
  ACCESS: () => [zero(8)],
  CREATE: () => [zero(16), name('a')],
  BMAP: () => [zero(16)],
  IOCTL: () => { const b = zero(32); b.writeUInt32LE(64, 28); return [b]; },
  POLL: () => [zero(24)],
  BATCH_FORGET: () => [u32(1), zero(4), u64(5), u64(1)],
  FALLOCATE: () => [zero(32)],
  READDIRPLUS: () => [io(4096)],
  RENAME2: () => [u64(1), zero(8), name('a'), name('b')],
  LSEEK: () => [zero(24)],
  COPY_FILE_RANGE: () => [zero(56)],
  SYNCFS: () => [zero(8)],
  TMPFILE: () => [zero(16), name('/')],
  STATX: () => [zero(24)],
  COPY_FILE_RANGE_64: () => [zero(56)],
};

const attr = { mode: 0o100644 };
const entry = { ino: 5, attr };
/** A valid result for each handler: the sanity row, so a failure below is the result's fault, not the body's. */
const VALID: Record<string, unknown> = {
  lookup: entry, forget: undefined, getattr: { attr }, setattr: { attr }, readlink: 'target', symlink: entry, mknod: entry,
  mkdir: entry, unlink: undefined, rmdir: undefined, rename: undefined, link: entry, open: { fh: 1 }, read: Buffer.from('abc'),
  write: 3, statfs: {}, release: undefined, fsync: undefined, setxattr: undefined, getxattr: 'v', listxattr: ['user.a'],
  removexattr: undefined, flush: undefined, opendir: {}, readdir: [{ ino: 2, name: 'a', offset: 1 }], releasedir: undefined,
  fsyncdir: undefined, getlk: { start: 0, end: 0, type: 2, pid: 0 }, setlk: undefined, access: undefined,
  create: { entry, open: { fh: 1 } }, bmap: 7, ioctl: { result: 0 }, poll: 1, fallocate: undefined,
  readdirplus: [{ name: 'a', offset: 1, entry }], lseek: 0, copyFileRange: 0, syncfs: undefined, tmpfile: { entry, open: {} },
  statx: { statx: { mask: 0 } },
};

const revoked = Proxy.revocable({}, {});
revoked.revoke();

/** Results no handler should get away with (some are valid for some rows: then the reply must be valid). */
const BAD: [string, () => unknown][] = [
  ['undefined', () => undefined],
  ['null', () => null],
  ['NaN', () => NaN],
  ['-1', () => -1],
  ['1.5', () => 1.5],
  ['2**70', () => 2 ** 70],
  ['-1n', () => -1n],
  ['2n**64n', () => 2n ** 64n],
  ['Infinity', () => Infinity],
  ["'str'", () => 'str'],
  ['true', () => true],
  ['a symbol', () => Symbol('s')],
  ['a function', () => () => 1],
  ['{}', () => ({})],
  ['[]', () => []],
  ['[5]', () => [5]],
  ["['a', 5]", () => ['a', 5]],
  ['{ data: 5 }', () => ({ data: 5 })],
  ['{ result: 2**40, data: 5 }', () => ({ result: 2 ** 40, data: 5 })],
  ['{ retry: { in: [5], out: [] } }', () => ({ retry: { in: [5], out: [] } })],
  ['a Date', () => new Date(0)],
  ['ino NaN', () => ({ ino: NaN, attr })],
  ['ino 2**70', () => ({ ino: 2 ** 70, attr })],
  ['ino -1', () => ({ ino: -1, attr })],
  ["mode 'rwx'", () => ({ ino: 5, attr: { mode: 'rwx' } })],
  ['attr without mode', () => ({ ino: 5, attr: {} })],
  ['size -5', () => ({ ino: 5, attr: { mode: 0o100644, size: -5 } })],
  ['mtime NaN', () => ({ ino: 5, attr: { mode: 0o100644, mtime: NaN } })],
  ['attrTimeout -1', () => ({ ino: 5, attr, attrTimeout: -1 })],
  ['fh -1', () => ({ fh: -1 })],
  ['statx mask "x"', () => ({ statx: { mask: 'x' } })],
  ['entry with a slash', () => [{ ino: 1, name: 'a/b', offset: 1 }]],
  ['entry with a bad entry', () => [{ name: 'a', offset: 1, entry: { ino: 1 } }]],
  ['a thenable whose then throws', () => ({ then() { throw new Error('then threw'); } })],
  ['a thenable whose then getter throws', () => ({ get then(): never { throw new Error('getter threw'); } })],
  ['a thenable that resolves twice', () => ({ then(ok: (v: unknown) => void) { ok(NaN); ok(1); } })],
  ['a revoked proxy', () => revoked.proxy],
  ['a promise of NaN', () => Promise.resolve(NaN)],
  ['a promise of [5]', () => Promise.resolve([5])],
  ['a rejection with a number', () => Promise.reject(700)],
  ['a rejection with an object', () => Promise.reject({ weird: true })],
  ['a sync throw of undefined', () => { throw undefined; }],
];

const handlerRows = OPCODES.filter((r) => r.method !== undefined && r.session === undefined);

test('the matrix covers every opcode row that has a handler', () => {
  const missing = handlerRows.filter((r) => BODIES[r.name] === undefined || !(r.method! in VALID)).map((r) => r.name);
  assert.deepEqual(missing, []);
  assert.ok(handlerRows.length >= 44, `only ${handlerRows.length} rows`);
});

/** One fake kernel whose every handler returns what `current` says. */
function matrixKernel(): { k: FakeKernel; set: (f: () => unknown) => void; warnings: string[] } {
  let current: () => unknown = () => undefined;
  const warnings: string[] = [];
  const ops: Record<string, unknown> = {};
  for (const r of handlerRows) ops[r.method!] = () => current();
  const k = new FakeKernel(ops as LowLevelOperations, { onWarning: (m) => warnings.push(m) });
  return { k, set: (f) => { current = f; }, warnings };
}

async function ask(k: FakeKernel, row: (typeof handlerRows)[number]) {
  const unique = k.nextUnique();
  const frame = k.frame(row.name, 2, BODIES[row.name]!(), { unique });
  return k.send(frame, unique, row.noReply ? { expectNoReply: true, timeoutMs: 5 } : {});
}

test('sanity: each row answers its valid result with success', async () => {
  const { k, set, warnings } = matrixKernel();
  await k.init();
  for (const row of handlerRows) {
    set(() => VALID[row.method!]);
    const r = await ask(k, row);
    if (row.noReply) assert.equal(r, undefined, row.name);
    else assert.equal(r.error, 0, `${row.name}: ${warnings.join('; ')}`);
  }
  assert.deepEqual(warnings, []);
  k.check();
});

test('bad results × every handler row: exactly one reply, EIO (with a warning naming the handler) or a valid reply', async () => {
  const { k, set, warnings } = matrixKernel();
  await k.init();
  const rejections: unknown[] = [];
  const onRejection = (e: unknown): void => { rejections.push(e); };
  process.on('unhandledRejection', onRejection);
  let cases = 0;
  let eio = 0;
  try {
    for (const row of handlerRows) {
      for (const [label, make] of BAD) {
        warnings.length = 0;
        set(make);
        const what = `${row.name} ← ${label}`;
        const r = await ask(k, row);
        // A second reply (or a reply to FORGET) would arrive by now: the fake kernel fails on it.
        await new Promise((resolve) => setImmediate(resolve));
        k.check();
        cases++;
        if (row.noReply) {
          assert.equal(r, undefined, what);
          continue;
        }
        const allowed = [0, EIO, ...(row.name.endsWith('XATTR') ? [ERANGE] : [])];
        assert.ok(allowed.includes(r.error), `${what}: error ${r.error}`);
        if (r.error === EIO) {
          eio++;
          assert.ok(warnings.some((w) => w.includes(`${row.name}: ${row.method}()`)), `${what}: EIO without a warning naming the handler (${warnings.join('; ')})`);
        }
      }
    }
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  assert.deepEqual(rejections, []);
  assert.equal(cases, handlerRows.length * BAD.length);
  assert.ok(eio > cases / 2, `expected most bad results to be refused, got ${eio} EIO of ${cases}`);
  assert.equal(k.core.pending, 0);
});

test('the warning for an invalid result names the handler, the field and what was expected', async () => {
  const { k, set, warnings } = matrixKernel();
  await k.init();
  const lookup = handlerRows.find((r) => r.name === 'LOOKUP')!;
  const cases: [() => unknown, RegExp][] = [
    [() => ({ ino: NaN, attr }), /LOOKUP: lookup\(\) returned an invalid result: ino: expected a non-negative integer .*, got NaN/],
    [() => ({ ino: 2 ** 70, attr }), /ino: expected .*, got 1\.1805916207174113e\+21/],
    [() => ({ ino: -1, attr }), /ino: expected .*, got -1/],
    [() => ({ ino: 5, attr: { mode: 0o100644, size: -5 } }), /attr\.size: expected an offset 0\.\.2\^63 − 1 .*, got -5/],
    [() => ({ ino: 5, attr: { mode: 'rwx' } }), /attr\.mode: expected a file mode with its type .*, got "rwx"/],
    [() => ({ ino: 5, attr: {} }), /attr\.mode: expected a file mode with its type .*, got undefined/],
    [() => ({ ino: 5, attr: { mode: 0o644 } }), /attr\.mode: expected a file mode with its type/],
    [() => ({ ino: 5, attr, entryTimeout: 'long' }), /entryTimeout: expected seconds \(a number\), got "long"/],
  ];
  for (const [make, pattern] of cases) {
    warnings.length = 0;
    set(make);
    assert.equal((await ask(k, lookup)).error, EIO);
    assert.match(warnings.join('\n'), pattern);
  }
  const read = handlerRows.find((r) => r.name === 'READ')!;
  set(() => [Buffer.from('ok'), 'no']);
  warnings.length = 0;
  assert.equal((await ask(k, read)).error, EIO);
  assert.match(warnings.join('\n'), /READ: read\(\) returned an invalid result: result\[1\]: expected a Uint8Array, got "no"/);
  const getxattr = handlerRows.find((r) => r.name === 'GETXATTR')!;
  set(() => 42);
  warnings.length = 0;
  assert.equal((await ask(k, getxattr)).error, EIO);
  assert.match(warnings.join('\n'), /GETXATTR: getxattr\(\) returned an invalid result: result: expected bytes \(a Uint8Array or a string\), got 42/);
  k.check();
});
