// The protocol core driven through the fake kernel: no root, no mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { FakeKernel, decodeEntryOut, decodeAttrOut, decodeOpenOut, decodeDirents } from '../../src/testing.ts';
import { helloFilesystem } from '../../examples/hello.ts';
import { FuseError, type LowLevelOperations, type BatchForgetRequest } from '../../src/index.ts';

const ENOENT = 2, EIO = 5, EINTR = 4, ENOSYS = 38, EACCES = 13, EPROTO = 71, ERANGE = 34;

function collectWarnings(): { warnings: string[]; onWarning: (m: string) => void } {
  const warnings: string[] = [];
  return { warnings, onWarning: (m) => warnings.push(m) };
}

test('INIT agrees on 7.45, derives capabilities from the implemented methods, and audits every bit', async () => {
  const ops: LowLevelOperations = { ...helloFilesystem(), readdirplus: () => [], setlk: () => {} };
  const k = new FakeKernel(ops);
  const n = await k.init();
  assert.equal(n.minor, 45);
  assert.equal(n.maxWrite, 1 << 20);
  assert.equal(n.maxPages, 256);
  const granted = new Set(k.core.audit.filter((a) => a.granted).map((a) => a.name));
  for (const f of ['ASYNC_READ', 'DO_READDIRPLUS', 'POSIX_LOCKS', 'FLOCK_LOCKS', 'INIT_EXT', 'MAX_PAGES']) assert.ok(granted.has(f as never), f);
  assert.ok(!granted.has('WRITEBACK_CACHE'));
  assert.equal(k.core.audit.length, 43);
});

test('INIT from a kernel older than 7.27 is refused with EPROTO and a clear error', async () => {
  const k = new FakeKernel({}, { minor: 26 });
  await assert.rejects(k.init(), /INIT answered 71/);
  await assert.rejects(k.core.initialized, (e: Error & { code?: string }) => e.code === 'ERR_FUSE_KERNEL_TOO_OLD' && /7\.26/.test(e.message));
  void EPROTO;
});

test('the hello filesystem answers lookup, getattr, readdir, open, read and statfs', async () => {
  const k = new FakeKernel(helloFilesystem(1000));
  await k.init();
  const look = await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'));
  assert.equal(look.error, 0);
  const entry = decodeEntryOut(look.body);
  assert.equal(entry.nodeid, 2);
  assert.equal(entry.attr.size, 17);
  assert.equal(entry.attr.mode, 0o100444);
  assert.equal(entry.attr.mtime, 1000);
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('nope'))).error, ENOENT);
  const attr = decodeAttrOut((await k.request('GETATTR', 1, FakeKernel.getattr())).body);
  assert.equal(attr.attr.mode, 0o040555);
  const dir = await k.request('READDIR', 1, FakeKernel.read(0, 0, 4096));
  assert.deepEqual(decodeDirents(dir.body).map((d) => [d.name, d.off, d.type]), [['.', 1, 4], ['..', 2, 4], ['hello.txt', 3, 8]]);
  const rest = await k.request('READDIR', 1, FakeKernel.read(0, 2, 4096));
  assert.deepEqual(decodeDirents(rest.body).map((d) => d.name), ['hello.txt']);
  assert.equal((await k.request('OPEN', 2, FakeKernel.open(1))).error, EACCES);
  assert.equal(decodeOpenOut((await k.request('OPEN', 2, FakeKernel.open(0))).body).fh, 0);
  const read = await k.request('READ', 2, FakeKernel.read(0, 6, 4));
  assert.equal(read.body.toString(), 'from');
  const statfs = await k.request('STATFS', 1);
  assert.equal(statfs.body.readUInt32LE(44), 255); // namelen
});

test('handler errors become errnos: FuseError, SystemError, plain Error (EIO + warning), invalid result, sync throw', async () => {
  const { warnings, onWarning } = collectWarnings();
  const ops: LowLevelOperations = {
    lookup: async ({ name }) => {
      const n = name.toString();
      if (n === 'fuse') throw new FuseError('EACCES');
      if (n === 'system') await fsp.stat('/definitely/not/here');
      if (n === 'plain') throw new Error('boom');
      if (n === 'nothing') return undefined as never;
      return { ino: 5, attr: { mode: 0o100644 } };
    },
    getattr: () => { throw new FuseError(ENOENT); },
  };
  const k = new FakeKernel(ops, { onWarning });
  await k.init();
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('fuse'))).error, EACCES);
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('system'))).error, ENOENT);
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('plain'))).error, EIO);
  assert.ok(warnings.some((w) => w.includes('LOOKUP: lookup() threw Error: boom, which names no errno')), warnings.join('\n'));
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('nothing'))).error, EIO);
  assert.ok(warnings.some((w) => w.includes('LOOKUP: lookup() returned an invalid result: result: expected an EntryReply object ({ ino, attr, … }), got undefined')), warnings.join('\n'));
  assert.equal((await k.request('GETATTR', 7, FakeKernel.getattr())).error, ENOENT);
  // and it keeps serving
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('fine'))).error, 0);
});

test('absent handlers get the documented defaults', async () => {
  const k = new FakeKernel({});
  await k.init();
  assert.equal(decodeAttrOut((await k.request('GETATTR', 1, FakeKernel.getattr())).body).attr.mode, 0o040755);
  assert.equal((await k.request('GETATTR', 9, FakeKernel.getattr())).error, ENOSYS);
  assert.equal((await k.request('OPEN', 9, FakeKernel.open(0))).error, 0);
  assert.equal((await k.request('OPENDIR', 1, FakeKernel.open(0))).error, 0);
  assert.equal((await k.request('RELEASE', 9, FakeKernel.release(0))).error, 0);
  assert.equal((await k.request('FLUSH', 9, Buffer.alloc(24))).error, ENOSYS);
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('x'))).error, ENOSYS);
  assert.equal((await k.request('SETUPMAPPING', 1, Buffer.alloc(40))).error, ENOSYS);
  const statfs = await k.request('STATFS', 1);
  assert.equal(statfs.error, 0);
  assert.equal(statfs.body.readUInt32LE(40), 512); // bsize
});

test('INTERRUPT aborts the signal; a handler that honours it answers EINTR', async () => {
  let seen: AbortSignal | undefined;
  const ops: LowLevelOperations = {
    read: (_req, ctx) => new Promise((_resolve, reject) => {
      seen = ctx.signal;
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
    }),
  };
  const k = new FakeKernel(ops);
  await k.init();
  const unique = k.nextUnique();
  const pending = k.send(k.frame('READ', 2, FakeKernel.read(0, 0, 10), { unique }), unique);
  await new Promise((r) => setImmediate(r));
  assert.equal(k.core.pending, 1);
  k.interrupt(unique);
  const reply = await pending;
  assert.equal(reply.error, EINTR);
  assert.equal(seen?.aborted, true);
  assert.equal((seen?.reason as Error | undefined)?.name, 'AbortError');
  assert.equal(k.core.pending, 0);
});

test('a handler that ignores the interrupt still leaves the caller with EINTR after the grace period, and its late result is dropped', async () => {
  let finish!: (v: Buffer) => void;
  const { warnings, onWarning } = collectWarnings();
  const k = new FakeKernel({ read: () => new Promise<Buffer>((r) => { finish = r; }) }, { interruptGraceMs: 20, onWarning });
  await k.init();
  const unique = k.nextUnique();
  const pending = k.send(k.frame('READ', 2, FakeKernel.read(0, 0, 10), { unique }), unique);
  await new Promise((r) => setImmediate(r));
  k.interrupt(unique);
  assert.equal((await pending).error, EINTR);
  finish(Buffer.from('late'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(k.strayReplies, [], 'the late result must not be sent as a second reply');
  assert.deepEqual(warnings, []);
});

test('an INTERRUPT for an unknown request is ignored', async () => {
  const k = new FakeKernel(helloFilesystem());
  await k.init();
  k.interrupt(12345);
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'))).error, 0);
});

test('FORGET and BATCH_FORGET reach forget with the same shape and get no reply', async () => {
  const calls: BatchForgetRequest[] = [];
  const k = new FakeKernel({ forget: (req) => { calls.push(req); } });
  await k.init();
  assert.equal(await k.request('FORGET', 7, FakeKernel.forget(3), { expectNoReply: true }), undefined);
  const batch = Buffer.alloc(8 + 32);
  batch.writeUInt32LE(2, 0);
  batch.writeUInt32LE(8, 8); batch.writeUInt32LE(1, 16);
  batch.writeUInt32LE(9, 24); batch.writeUInt32LE(2, 32);
  assert.equal(await k.request('BATCH_FORGET', 0, batch, { expectNoReply: true }), undefined);
  assert.deepEqual(calls.map((c) => c.items.map((i) => [i.ino, i.nlookup])), [[[7, 3]], [[8, 1], [9, 2]]]);
});

test('READDIRPLUS hands back the lookups the kernel did not take (dots, and entries that did not fit)', async () => {
  const forgotten: [unknown, unknown][] = [];
  const entry = (ino: number) => ({ ino, attr: { mode: 0o100644 } });
  const ops: LowLevelOperations = {
    readdirplus: () => [
      { name: '.', offset: 1, entry: entry(1) },
      { name: 'a', offset: 2, entry: entry(10) },
      { name: 'b', offset: 3, entry: entry(11) },
      { name: 'c', offset: 4, entry: entry(12) },
    ],
    forget: (req) => { for (const i of req.items) forgotten.push([i.ino, i.nlookup]); },
  };
  const k = new FakeKernel(ops);
  await k.init();
  // 160 bytes per record (152 + name, padded): room for two records.
  const r = await k.request('READDIRPLUS', 1, FakeKernel.read(0, 0, 330));
  assert.equal(r.error, 0);
  assert.equal(r.body.length, 320);
  assert.deepEqual(forgotten, [[1, 1], [11, 1], [12, 1]]);
});

test('malformed frames: unknown opcode → ENOSYS, bad name → EIO, short header and wrong length → no reply; the core keeps serving', async () => {
  const { warnings, onWarning } = collectWarnings();
  const k = new FakeKernel(helloFilesystem(), { onWarning });
  await k.init();
  assert.equal((await k.request(777, 1)).error, ENOSYS);
  assert.equal((await k.request('LOOKUP', 1, Buffer.from('no-nul'))).error, EIO);
  k.core.handleFrame(Buffer.alloc(10));
  const bad = k.frame('LOOKUP', 1, FakeKernel.name('hello.txt'), { unique: 999 });
  bad.writeUInt32LE(bad.length + 4, 0);
  k.core.handleFrame(bad);
  assert.equal(warnings.length, 4);
  assert.match(warnings[2]!, /shorter than the 40-byte header/);
  assert.match(warnings[3]!, /header says/);
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'))).error, 0);
});

test('GETXATTR size probe and ERANGE are handled for the filesystem', async () => {
  const k = new FakeKernel({ getxattr: () => Buffer.from('value!') });
  await k.init();
  const probe = Buffer.alloc(8);
  const r0 = await k.request('GETXATTR', 1, [probe, FakeKernel.name('user.x')]);
  assert.equal(r0.body.readUInt32LE(0), 6);
  const small = Buffer.alloc(8); small.writeUInt32LE(3, 0);
  assert.equal((await k.request('GETXATTR', 1, [small, FakeKernel.name('user.x')])).error, ERANGE);
  const big = Buffer.alloc(8); big.writeUInt32LE(64, 0);
  assert.equal((await k.request('GETXATTR', 1, [big, FakeKernel.name('user.x')])).body.toString(), 'value!');
});

test('DESTROY calls destroy once and is answered', async () => {
  let destroyed = 0;
  const k = new FakeKernel({ destroy: () => { destroyed++; } });
  await k.init();
  assert.equal((await k.request('DESTROY', 0)).error, 0);
  await k.core.shutdown();
  assert.equal(destroyed, 1);
  assert.equal(k.core.destroyed, true);
});

test('notifications are framed with unique 0 and the code; RETRIEVE resolves with the NOTIFY_REPLY data', async () => {
  const k = new FakeKernel({});
  await k.init();
  await k.core.invalInode(5, 0, 0);
  await k.core.invalEntry(1, 'a');
  await k.core.expireEntry(1, 'b');
  await k.core.delete(1, 5, 'c');
  await k.core.store(5, 0, Buffer.from('xyz'));
  await k.core.pollWakeup(0xabcn);
  await k.core.resend();
  await k.core.incEpoch();
  await k.core.prune([5, 6]);
  assert.deepEqual(k.notifications.map((f) => f.readInt32LE(4)), [2, 3, 3, 6, 4, 1, 7, 8, 9]);
  assert.equal(k.notifications[2]!.readUInt32LE(16 + 12), 1); // EXPIRE_ONLY
  const data = k.core.retrieve(5, 0, 3);
  await new Promise((r) => setImmediate(r));
  const retrieveFrame = k.notifications.at(-1)!;
  assert.equal(retrieveFrame.readInt32LE(4), 5);
  const notifyUnique = retrieveFrame.readUInt32LE(16);
  const body = Buffer.alloc(40);
  body.writeUInt32LE(3, 16);
  const u = notifyUnique;
  k.core.handleFrame(k.frame('NOTIFY_REPLY', 5, [body, Buffer.from('abc')], { unique: u }));
  assert.equal((await data).toString(), 'abc');
});

test('a notification the kernel refuses rejects with a FuseError naming the errno', async () => {
  const { SessionCore } = await import('../../src/session/core.ts');
  const core = new SessionCore({}, { write: () => 0, writeAsync: async () => 'ENOENT' });
  await assert.rejects(core.invalInode(99), (e: Error & { code?: string }) => e.code === 'ENOENT' && /INVAL_INODE/.test(e.message));
});

test('ownerOnly (allow_root) refuses other users with EACCES but lets the kernel finish open files', async () => {
  const k = new FakeKernel(helloFilesystem(), { ownerOnly: 1000 });
  await k.init();
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'), { uid: 1000 })).error, 0);
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'), { uid: 0 })).error, 0);
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'), { uid: 1001 })).error, EACCES);
  assert.equal((await k.request('READ', 2, FakeKernel.read(0, 0, 5), { uid: 1001 })).body.toString(), 'Hello');
});

test('an INTERRUPT of a resent request finds it (the RESEND bit is not part of the match)', async () => {
  const k = new FakeKernel({ read: (_r, ctx) => new Promise((_ok, fail) => ctx.signal.addEventListener('abort', () => fail(ctx.signal.reason))) });
  await k.init();
  const unique = (1n << 63n) | 0x40n;
  const pending = k.send(k.frame('READ', 2, FakeKernel.read(0, 0, 10), { unique }), unique);
  await new Promise((r) => setImmediate(r));
  const body = Buffer.alloc(8);
  body.writeBigUInt64LE(unique);
  k.core.handleFrame(k.frame('INTERRUPT', 0, body, { unique: 0x41 }));
  assert.equal((await pending).error, EINTR);
});

test('a lent frame is released once, after the handler settled — even when EINTR went out first', async () => {
  let finish!: () => void;
  const events: string[] = [];
  const k = new FakeKernel({
    write: async ({ data }) => { await new Promise<void>((r) => { finish = r; }); events.push('handler done'); return data.length; },
  }, { interruptGraceMs: 10 });
  await k.init();
  let released = 0;
  const unique = k.nextUnique();
  const frame = k.frame('WRITE', 2, FakeKernel.write(0, 0, Buffer.alloc(50)), { unique });
  const reply = k.send(frame, unique, { release: () => { released++; events.push('released'); } });
  await new Promise((r) => setImmediate(r));
  k.interrupt(unique);
  assert.equal((await reply).error, EINTR);
  assert.equal(released, 0, 'EINTR went out, but the handler still holds the frame');
  finish();
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(released, 1);
  assert.deepEqual(events, ['handler done', 'released']);
});

test('a lent frame that fails to decode is released at once', async () => {
  const k = new FakeKernel({}, { onWarning: () => {} });
  await k.init();
  let released = 0;
  k.core.handleFrame(Buffer.alloc(12), { reply: () => 0, release: () => { released++; } });
  assert.equal(released, 1);
  const reply = k.send(k.frame('GETATTR', 1, FakeKernel.getattr(), { unique: 7 }), 7, { release: () => { released++; } });
  assert.equal(released, 2);
  assert.equal((await reply).error, 0);
});

test('notifications after the session closed fail with ERR_INVALID_STATE', async () => {
  const { SessionCore } = await import('../../src/session/core.ts');
  const core = new SessionCore({}, { write: () => 'EBADF', writeAsync: async () => 'EBADF' });
  await assert.rejects(core.incEpoch(), (e: Error & { code?: string }) => e.code === 'ERR_INVALID_STATE');
});
