// Filesystem-level -o options, the trace formatter, and the error table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel, decodeEntryOut, decodeAttrOut, decodeOpenOut } from '../../src/testing.ts';
import { applyFsOptions, initWantsFrom } from '../../src/ops/fs-options.ts';
import { parseMountOptions } from '../../src/mount/options.ts';
import { startTrace, formatReply } from '../../src/session/trace.ts';
import { helloFilesystem } from '../../examples/hello.ts';
import { FuseError, TsfuseError, errnoOf, errnoName, ERROR_CODES, type LowLevelOperations } from '../../src/index.ts';

const fsOptions = (s: string) => parseMountOptions(s).fs;

test('attr_timeout, entry_timeout and uid/gid/umask rewrite replies that do not set them', async () => {
  const ops = applyFsOptions(helloFilesystem(), fsOptions('attr_timeout=2.5,entry_timeout=7,uid=1000,gid=1001,umask=077'));
  const k = new FakeKernel(ops);
  await k.init();
  const e = decodeEntryOut((await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'))).body);
  assert.equal(e.entryValid, 7);
  assert.equal(e.attrValid, 2);
  assert.equal(e.attrValidNsec, 500_000_000);
  assert.equal(e.attr.uid, 1000);
  assert.equal(e.attr.gid, 1001);
  assert.equal(e.attr.mode, 0o100400);
  const a = decodeAttrOut((await k.request('GETATTR', 1, FakeKernel.getattr())).body);
  assert.equal(a.attrValid, 2);
  assert.equal(a.attr.mode, 0o040500);
});

test('negative_timeout turns ENOENT into a cached negative entry', async () => {
  const k = new FakeKernel(applyFsOptions(helloFilesystem(), fsOptions('negative_timeout=30')));
  await k.init();
  const r = await k.request('LOOKUP', 1, FakeKernel.name('missing'));
  assert.equal(r.error, 0);
  const e = decodeEntryOut(r.body);
  assert.equal(e.nodeid, 0);
  assert.equal(e.entryValid, 30);
});

test('kernel_cache and direct_io set FOPEN bits; without options the filesystem object is used as is', async () => {
  const base = helloFilesystem();
  assert.equal(applyFsOptions(base, fsOptions('')), base);
  const k = new FakeKernel(applyFsOptions(base, fsOptions('kernel_cache,direct_io')));
  await k.init();
  assert.equal(decodeOpenOut((await k.request('OPEN', 2, FakeKernel.open(0))).body).openFlags, 0b11);
});

test('writeback_cache, auto_cache and size options become INIT wants', async () => {
  const w = initWantsFrom(fsOptions('writeback_cache,auto_cache,max_write=65536,max_background=20,congestion_threshold=15'));
  assert.deepEqual(w.want, ['WRITEBACK_CACHE', 'AUTO_INVAL_DATA']);
  assert.equal(w.maxWrite, 65536);
  const k = new FakeKernel({}, { wants: w, capabilities: w.want });
  const n = await k.init();
  assert.equal(n.maxWrite, 65536);
  assert.equal(n.maxPages, 16);
  assert.equal(n.maxBackground, 20);
  assert.ok(k.core.audit.find((a) => a.name === 'WRITEBACK_CACHE')?.granted);
});

test('the trace prints one line per request and per reply, with errno names and latency', async () => {
  const lines: string[] = [];
  const stop = startTrace((l) => lines.push(l));
  try {
    const k = new FakeKernel(helloFilesystem());
    await k.init();
    await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'));
    await k.request('LOOKUP', 1, FakeKernel.name('nope'));
  } finally {
    stop();
  }
  assert.match(lines[0]!, /^rx 2: INIT n0 \{major: 7, minor: 45/);
  assert.match(lines[1]!, /^tx 2: OK 64 B in [\d.]+ µs \{flags: ASYNC_READ\|/);
  assert.match(lines[2]!, /^rx 4: LOOKUP n1 \{name: "hello\.txt"\}/);
  assert.match(lines[3]!, /^tx 4: OK 128 B/);
  assert.match(lines[5]!, /^tx 6: ENOENT 0 B/);
  assert.equal(formatReply({ session: 1, unique: 8, opcode: 2, name: 'FORGET', error: 0, bodyLength: -1, latencyNs: 1500 }), '-- 8: FORGET (no reply) after 1.5 µs');
});

test('errors: FuseError by name or number, errnoOf for Node errors and AbortError, permanent codes', () => {
  assert.equal(new FuseError('ENOENT').errno, 2);
  assert.equal(new FuseError(13).code, 'EACCES');
  assert.throws(() => new FuseError('ENOTANERRNO'), (e: TsfuseError) => e.code === 'ERR_FUSE_INVALID_ERRNO');
  assert.throws(() => new FuseError(0), TsfuseError);
  assert.equal(errnoOf(Object.assign(new Error('x'), { code: 'EEXIST' })), 17);
  assert.equal(errnoOf(Object.assign(new Error('x'), { errno: -28 })), 28);
  assert.equal(errnoOf(new DOMException('stop', 'AbortError')), 4);
  assert.equal(errnoOf(new Error('plain')), undefined);
  assert.equal(errnoOf('string'), undefined);
  assert.equal(errnoName(2), 'ENOENT');
  assert.equal(errnoName(4000), 'E4000');
  for (const [code, text] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^ERR_/);
    assert.ok(text.length > 10);
  }
});

test('a sync handler result needs no promise; an async one is tracked until it settles', async () => {
  let resolve!: () => void;
  const ops: LowLevelOperations = { unlink: () => new Promise<void>((r) => { resolve = r; }) };
  const k = new FakeKernel(ops);
  await k.init();
  const p = k.request('UNLINK', 1, FakeKernel.name('x'));
  await new Promise((r) => setImmediate(r));
  assert.equal(k.core.pending, 1);
  resolve();
  assert.equal((await p).error, 0);
  assert.equal(k.core.pending, 0);
});
