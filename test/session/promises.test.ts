// The promises of the session core, each shown through the fake kernel: guarded forget after
// READDIRPLUS, replies through each request's own sink, INIT as a state, names checked before handlers,
// poisoned lent frames, a strict fake kernel, listings that cannot loop, thrown errno values, times in
// every form, and a narrow ctx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel, decodeEntryOut, decodeAttrOut, decodeDirents } from '../../src/testing.ts';
import { SessionCore, POISON_BYTE, type RequestSink } from '../../src/session/core.ts';
import type { LowLevelOperations, RequestContext, EntryReply, OpenReply } from '../../src/index.ts';

const ENOENT = 2, EIO = 5, EINTR = 4, EINVAL = 22;

function collectWarnings(): { warnings: string[]; onWarning: (m: string) => void } {
  const warnings: string[] = [];
  return { warnings, onWarning: (m) => warnings.push(m) };
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const entry = (ino: number) => ({ ino, attr: { mode: 0o100644 } });

/** Records unhandled rejections and uncaught exceptions while `fn` runs (the daemon would die of either). */
async function noCrash(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const record = (e: unknown): void => { seen.push(e); };
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 10));
  } finally {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
  }
  return seen;
}

test('forget after READDIRPLUS goes through the guarded dispatch: a throwing or rejecting forget is a warning', async () => {
  for (const forget of [
    (): void => { throw new Error('sync forget failed'); },
    async (): Promise<void> => { throw new Error('async forget failed'); },
  ]) {
    const { warnings, onWarning } = collectWarnings();
    const ops: LowLevelOperations = {
      readdirplus: () => [{ name: '.', offset: 1, entry: entry(1) }, { name: 'a', offset: 2, entry: entry(10) }],
      forget,
    };
    const k = new FakeKernel(ops, { onWarning });
    await k.init();
    const crashes = await noCrash(async () => {
      const r = await k.request('READDIRPLUS', 1, FakeKernel.read(0, 0, 4096));
      assert.equal(r.error, 0);
      await tick();
    });
    assert.deepEqual(crashes, []);
    assert.ok(warnings.some((w) => /BATCH_FORGET: forget\(\) failed .*forget failed/.test(w)), warnings.join('\n'));
    // and it keeps serving
    assert.equal((await k.request('READDIRPLUS', 1, FakeKernel.read(0, 0, 4096))).error, 0);
    k.check();
  }
});

test('a FORGET frame whose handler throws warns (there is no reply to carry an error)', async () => {
  const { warnings, onWarning } = collectWarnings();
  const k = new FakeKernel({ forget: () => { throw new Error('nope'); } }, { onWarning });
  await k.init();
  assert.equal(await k.request('FORGET', 7, FakeKernel.forget(1), { expectNoReply: true }), undefined);
  assert.match(warnings.join('\n'), /FORGET: forget\(\) failed \(Error: nope\)/);
});

test('each request replies through its own sink; EINTR follows the interrupted request; notifications use the session writer', async () => {
  const session: string[] = [];
  const core = new SessionCore({
    read: (_req, ctx) => new Promise((_ok, fail) => ctx.signal.addEventListener('abort', () => fail(ctx.signal.reason))),
    getattr: () => ({ attr: { mode: 0o040755 } }),
  }, { write: () => { session.push('reply'); return 0; }, writeAsync: async () => { session.push('notify'); return 0; } });
  const sinkOf = (label: string, got: { label: string; error: number; unique: number }[]): RequestSink => ({
    reply: (iov) => {
      const head = Buffer.from(iov[0]!);
      got.push({ label, error: -head.readInt32LE(4) || 0, unique: head.readUInt32LE(8) });
      return 0;
    },
  });
  const got: { label: string; error: number; unique: number }[] = [];
  const k = new FakeKernel({});
  const init = Buffer.alloc(64);
  init.writeUInt32LE(7, 0); init.writeUInt32LE(45, 4); init.writeUInt32LE(1 << 30, 12);
  core.handleFrame(k.frame('INIT', 0, init, { unique: 2 }), sinkOf('init', got));
  await core.initialized;
  core.handleFrame(k.frame('READ', 2, FakeKernel.read(0, 0, 10), { unique: 4 }), sinkOf('queue A', got));
  core.handleFrame(k.frame('GETATTR', 1, FakeKernel.getattr(), { unique: 6 }), sinkOf('queue B', got));
  // The INTERRUPT arrives on another queue; the EINTR must go back on the READ's.
  const body = Buffer.alloc(8);
  body.writeUInt32LE(4, 0);
  core.handleFrame(k.frame('INTERRUPT', 0, body, { unique: 9 }), sinkOf('queue C', got));
  await new Promise((r) => setTimeout(r, 20));
  await core.invalInode(2);
  assert.deepEqual(got, [
    { label: 'init', error: 0, unique: 2 },
    { label: 'queue B', error: 0, unique: 6 },
    { label: 'queue A', error: EINTR, unique: 4 },
  ]);
  assert.deepEqual(session, ['notify']);
});

test('a reply the kernel refuses is retried once as EIO, so the caller is answered', async () => {
  const { warnings, onWarning } = collectWarnings();
  const sent: number[] = [];
  let refuse = true;
  const core = new SessionCore({ getattr: () => ({ attr: { mode: 0o040755 } }) }, { write: () => 0, writeAsync: async () => 0 }, { onWarning });
  const sink: RequestSink = {
    reply: (iov) => {
      const error = -Buffer.from(iov[0]!).readInt32LE(4) || 0;
      sent.push(error);
      if (error === 0 && refuse) return 'EINVAL';
      return 0;
    },
  };
  const k = new FakeKernel({});
  const init = Buffer.alloc(64);
  init.writeUInt32LE(7, 0); init.writeUInt32LE(45, 4);
  core.handleFrame(k.frame('INIT', 0, init, { unique: 2 }), { reply: () => 0 });
  await core.initialized;
  core.handleFrame(k.frame('GETATTR', 1, FakeKernel.getattr(), { unique: 4 }), sink);
  assert.deepEqual(sent, [0, EIO]);
  assert.match(warnings.join('\n'), /writing the GETATTR reply \(unique 4\) failed: EINVAL; answering EIO instead/);
  // A write that throws (as Node's writev does for a non-buffer) is treated the same way.
  refuse = false;
  sent.length = 0;
  core.handleFrame(k.frame('GETATTR', 1, FakeKernel.getattr(), { unique: 6 }), { reply: (iov) => { sent.push(-Buffer.from(iov[0]!).readInt32LE(4) || 0); if (sent.length === 1) throw Object.assign(new TypeError('bad'), { code: 'ERR_INVALID_ARG_TYPE' }); return 0; } });
  assert.deepEqual(sent, [0, EIO]);
});

test('an errno the kernel cannot take (≥ 512) becomes EIO with a warning', async () => {
  const { warnings, onWarning } = collectWarnings();
  const k = new FakeKernel({ getattr: () => { throw Object.assign(new Error('x'), { errno: 600 }); } }, { onWarning });
  await k.init();
  assert.equal((await k.request('GETATTR', 1, FakeKernel.getattr())).error, EIO);
  assert.match(warnings.join('\n'), /errno 600, which the kernel does not take/);
});

test('requests before INIT get EIO without reaching handlers; a second INIT is refused, not renegotiated', async () => {
  const { warnings, onWarning } = collectWarnings();
  let calls = 0;
  const k = new FakeKernel({ getattr: () => { calls++; return { attr: { mode: 0o040755 } }; }, forget: () => { calls++; } }, { onWarning });
  assert.equal((await k.request('GETATTR', 1, FakeKernel.getattr())).error, EIO);
  assert.equal(await k.request('FORGET', 1, FakeKernel.forget(1), { expectNoReply: true }), undefined);
  assert.equal(calls, 0);
  assert.match(warnings.join('\n'), /refused GETATTR \(unique \d+\) before INIT with EIO/);
  const n = await k.init();
  assert.equal(n.minor, 45);
  // A second INIT (as from a 7.27 kernel) is refused and changes nothing.
  const body = Buffer.alloc(64);
  body.writeUInt32LE(7, 0); body.writeUInt32LE(27, 4);
  assert.equal((await k.request('INIT', 0, body)).error, EIO);
  assert.equal(k.core.negotiated.minor, 45);
  assert.match(warnings.join('\n'), /refused a second INIT/);
  assert.equal((await k.request('GETATTR', 1, FakeKernel.getattr())).error, 0);
  assert.equal(calls, 1);
});

test('names a kernel never sends are refused with EINVAL before any handler sees them', async () => {
  const { warnings, onWarning } = collectWarnings();
  const seen: string[] = [];
  const ok = (req: { name?: Buffer; newName?: Buffer }) => { seen.push(String(req.name ?? req.newName)); return entry(5); };
  const k = new FakeKernel({ lookup: ok, mkdir: ok, unlink: ok as never, link: ok, rename: ok as never, symlink: ok, create: (req) => ({ entry: ok(req), open: {} }), tmpfile: (req) => ({ entry: ok(req), open: {} }) }, { onWarning });
  await k.init();
  const mkdirIn = Buffer.alloc(8);
  const cases: [string, number, Buffer[], number][] = [
    ['LOOKUP', 1, [FakeKernel.name('')], EINVAL],
    ['LOOKUP', 1, [FakeKernel.name('a/b')], EINVAL],
    ['LOOKUP', 1, [Buffer.from('a\0b\0')], EINVAL],
    ['LOOKUP', 1, [FakeKernel.name('..')], 0], // NFS export: fs/fuse/inode.c fuse_get_parent
    ['LOOKUP', 1, [FakeKernel.name('.')], 0], // NFS export: fuse_get_dentry
    ['MKDIR', 1, [mkdirIn, FakeKernel.name('..')], EINVAL],
    ['MKDIR', 1, [mkdirIn, FakeKernel.name('.')], EINVAL],
    ['MKDIR', 1, [mkdirIn, FakeKernel.name('x/y')], EINVAL],
    ['MKDIR', 1, [mkdirIn, FakeKernel.name('ok')], 0],
    ['UNLINK', 1, [FakeKernel.name('..')], EINVAL],
    ['CREATE', 1, [Buffer.alloc(16), FakeKernel.name('.')], EINVAL],
    ['SYMLINK', 1, [FakeKernel.name('l'), FakeKernel.name('')], EINVAL],
    ['SYMLINK', 1, [FakeKernel.name('l'), FakeKernel.name('../a/b')], 0], // a target is a path
    ['RENAME', 1, [Buffer.alloc(8), FakeKernel.name('a'), FakeKernel.name('..')], EINVAL],
    ['LINK', 1, [Buffer.alloc(8), FakeKernel.name('')], EINVAL],
    ['TMPFILE', 1, [Buffer.alloc(16), FakeKernel.name('/')], 0], // fs/namei.c vfs_tmpfile names it "/"
  ];
  for (const [op, node, body, want] of cases) {
    const r = await k.request(op, node, body);
    assert.equal(r.error, want, `${op} ${JSON.stringify(Buffer.concat(body).toString())}`);
  }
  assert.deepEqual(seen, ['..', '.', 'ok', 'l', '/']);
  assert.match(warnings.join('\n'), /refused LOOKUP \(unique \d+\) with EINVAL: name "a\/b" contains '\/'/);
  assert.match(warnings.join('\n'), /2 bytes follow the NUL that ends name \(a NUL inside a name\)/);
  k.check();
});

test('poisonLentBuffers: a handler that keeps a borrowed view past its end reads the poison pattern', async () => {
  for (const options of [{ poisonLentBuffers: true }, {}]) {
    if (!('poisonLentBuffers' in options)) process.env['TSFUSE_POISON'] = '1';
    try {
      let kept: Buffer | undefined;
      let released = 0;
      const k = new FakeKernel({ write: async ({ data }) => { kept = data; await tick(); return data.length; } }, options);
      await k.init();
      const unique = k.nextUnique();
      const frame = k.frame('WRITE', 2, FakeKernel.write(0, 0, Buffer.from('secret')), { unique });
      const r = await k.send(frame, unique, { release: () => { released++; } });
      assert.equal(r.error, 0);
      await tick();
      assert.equal(released, 1);
      assert.equal(kept!.toString('latin1'), String.fromCharCode(POISON_BYTE).repeat(6));
    } finally {
      delete process.env['TSFUSE_POISON'];
    }
  }
  // Off by default: the frame is left alone.
  let kept: Buffer | undefined;
  const k = new FakeKernel({ write: ({ data }) => { kept = data; return data.length; } });
  await k.init();
  await k.request('WRITE', 2, FakeKernel.write(0, 0, Buffer.from('plain')));
  assert.equal(kept!.toString(), 'plain');
});

test('the fake kernel fails on a stray or duplicate reply by default, and collects them when asked', async () => {
  const ops = { getattr: () => ({ attr: { mode: 0o040755 } }) };
  const strict = new FakeKernel(ops);
  await strict.init();
  const pending = strict.send(strict.frame('GETATTR', 1, FakeKernel.getattr(), { unique: 100 }), 100, { timeoutMs: 500 });
  // A reply to a frame nobody sent through send(): as if the filesystem answered something twice.
  strict.core.handleFrame(strict.frame('GETATTR', 1, FakeKernel.getattr(), { unique: 102 }));
  assert.equal((await pending).error, 0); // answered before the stray one
  assert.throws(() => strict.check(), /stray reply to request 102 \(error 0, 104 body bytes\)/);
  await assert.rejects(strict.request('GETATTR', 1, FakeKernel.getattr()), /stray reply to request 102/);

  const relaxed = new FakeKernel(ops, { allowStrayReplies: true });
  await relaxed.init();
  relaxed.core.handleFrame(relaxed.frame('GETATTR', 1, FakeKernel.getattr(), { unique: 102 }));
  assert.equal(relaxed.strayReplies.length, 1);
  relaxed.check();
  assert.equal((await relaxed.request('GETATTR', 1, FakeKernel.getattr())).error, 0);
});

test('a readdir that ignores offset ends the listing with a warning instead of looping', async () => {
  const { warnings, onWarning } = collectWarnings();
  const k = new FakeKernel({ readdir: () => [{ ino: 1, name: '.', offset: 1 }, { ino: 1, name: '..', offset: 2 }, { ino: 2, name: 'a', offset: 3 }] }, { onWarning });
  await k.init();
  const first = await k.request('READDIR', 1, FakeKernel.read(0, 0, 4096));
  assert.deepEqual(decodeDirents(first.body).map((d) => d.name), ['.', '..', 'a']);
  const again = await k.request('READDIR', 1, FakeKernel.read(0, 3, 4096));
  assert.equal(again.error, 0);
  assert.equal(again.body.length, 0);
  assert.match(warnings.join('\n'), /READDIR: readdir\(\) returned a listing that does not advance: entry 2 \("a"\) has offset 3, the offset the kernel asked to continue from/);
});

test('readdir may return the whole listing: plain names or entries without offset, numbered and sliced', async () => {
  const k = new FakeKernel({ readdir: () => ['.', '..', { name: 'a', ino: 7, type: 8 }, Buffer.from('b')] });
  await k.init();
  const all = decodeDirents((await k.request('READDIR', 1, FakeKernel.read(0, 0, 4096))).body);
  assert.deepEqual(all.map((d) => [d.name, d.off, d.ino, d.type]), [['.', 1, 0xffffffff, 0], ['..', 2, 0xffffffff, 0], ['a', 3, 7, 8], ['b', 4, 0xffffffff, 0]]);
  // Only what fits (two 32-byte records), then the rest from where the kernel continues.
  const head = decodeDirents((await k.request('READDIR', 1, FakeKernel.read(0, 0, 64))).body);
  assert.deepEqual(head.map((d) => d.name), ['.', '..']);
  const rest = decodeDirents((await k.request('READDIR', 1, FakeKernel.read(0, 2, 4096))).body);
  assert.deepEqual(rest.map((d) => d.name), ['a', 'b']);
  assert.equal((await k.request('READDIR', 1, FakeKernel.read(0, 4, 4096))).body.length, 0);
});

test('a mixed listing (some offsets) is an invalid result; readdirplus whole listings hand back skipped lookups', async () => {
  const { warnings, onWarning } = collectWarnings();
  const forgotten: unknown[] = [];
  const k = new FakeKernel({
    // @ts-expect-error mixing the two forms is an invalid result, refused by the types too
    readdir: () => [{ ino: 2, name: 'a', offset: 1 }, { ino: 3, name: 'b' }],
    readdirplus: () => [{ name: 'x', entry: entry(20) }, { name: 'y', entry: entry(21) }, { name: 'z', entry: entry(22) }],
    forget: (req) => { for (const i of req.items) forgotten.push(i.ino); },
  }, { onWarning });
  await k.init();
  assert.equal((await k.request('READDIR', 1, FakeKernel.read(0, 0, 4096))).error, EIO);
  assert.match(warnings.join('\n'), /READDIR: readdir\(\) returned an invalid result: \[1\]\.offset: expected an offset/);
  const r = await k.request('READDIRPLUS', 1, FakeKernel.read(0, 2, 4096));
  assert.equal(r.error, 0);
  assert.equal(decodeEntryOut(r.body).nodeid, 22);
  // x and y were skipped (before offset 2): the kernel never saw them, so their lookups come back.
  assert.deepEqual(forgotten, [20, 21]);
});

test('throw "ENOENT" and throw -2 / 2 mean ENOENT; other thrown values show in the warning', async () => {
  const { warnings, onWarning } = collectWarnings();
  let thrown: unknown;
  const k = new FakeKernel({ getattr: () => { throw thrown; } }, { onWarning });
  await k.init();
  for (const v of ['ENOENT', -2, 2]) {
    thrown = v;
    assert.equal((await k.request('GETATTR', 1, FakeKernel.getattr())).error, ENOENT, String(v));
  }
  assert.deepEqual(warnings, []);
  thrown = 'no such thing';
  assert.equal((await k.request('GETATTR', 1, FakeKernel.getattr())).error, EIO);
  thrown = { reason: 'odd' };
  assert.equal((await k.request('GETATTR', 1, FakeKernel.getattr())).error, EIO);
  assert.match(warnings[0]!, /GETATTR: getattr\(\) threw "no such thing", which names no errno; answering EIO/);
  assert.match(warnings[1]!, /threw an object \{reason\}/);
});

test('times may be numbers, Dates, bigint nanoseconds or { sec, nsec }, in attrs and statx', async () => {
  let attr: Record<string, unknown> = {};
  const k = new FakeKernel({
    getattr: () => ({ attr: { mode: 0o100644, ...attr } }),
    statx: () => ({ statx: { mask: 0xfff, atime: new Date(1500), btime: 2_500_000_001n, ctime: { sec: -3n, nsec: 7 }, mtime: 4.25 } }),
  });
  await k.init();
  attr = { atime: new Date(-1500), mtime: 1_700_000_000_123_456_789n, ctime: { sec: 5, nsec: 6 } };
  const a = decodeAttrOut((await k.request('GETATTR', 2, FakeKernel.getattr())).body).attr;
  assert.deepEqual([a.atime, a.atimensec], [2n ** 64n - 2n, 500_000_000]); // −2 s + 0.5 s = −1.5 s (u64 bytes of an i64)
  assert.deepEqual([a.mtime, a.mtimensec], [1_700_000_000, 123_456_789]);
  assert.deepEqual([a.ctime, a.ctimensec], [5, 6]);
  attr = { mtime: 10, mtimensec: 20 };
  const b = decodeAttrOut((await k.request('GETATTR', 2, FakeKernel.getattr())).body).attr;
  assert.deepEqual([b.mtime, b.mtimensec], [10, 20]);
  const sx = (await k.request('STATX', 2, Buffer.alloc(24))).body;
  const stat = 32; // fuse_statx_out: attr_valid, attr_valid_nsec, flags, spare[2], then fuse_statx
  const time = (off: number): [bigint, number] => [sx.readBigInt64LE(stat + off), sx.readUInt32LE(stat + off + 8)];
  assert.deepEqual(time(64), [1n, 500_000_000]); // atime
  assert.deepEqual(time(80), [2n, 500_000_001]); // btime
  assert.deepEqual(time(96), [-3n, 7]); // ctime
  assert.deepEqual(time(112), [4n, 250_000_000]); // mtime
});

test('ids: a plain number is accepted wherever a filesystem returns one (types and bytes)', async () => {
  // Compile-time: these are the public reply types with the user's own numbers.
  const e: EntryReply = { ino: 12, generation: 3, attr: { mode: 0o100644, ino: 12 } };
  const o: OpenReply = { fh: 77 };
  const k = new FakeKernel({ lookup: () => e, open: () => o, create: () => ({ entry: e, open: { fh: 2n ** 63n } }) });
  await k.init();
  assert.equal(decodeEntryOut((await k.request('LOOKUP', 1, FakeKernel.name('x'))).body).nodeid, 12);
  assert.equal((await k.request('OPEN', 12, FakeKernel.open(0))).body.readUInt32LE(0), 77);
  const created = (await k.request('CREATE', 1, [Buffer.alloc(16), FakeKernel.name('c')])).body;
  assert.equal(created.readBigUInt64LE(128), 2n ** 63n);
  // A negative entry needs no attr.
  const neg = new FakeKernel({ lookup: () => ({ ino: 0, entryTimeout: 5 }) });
  await neg.init();
  const r = await neg.request('LOOKUP', 1, FakeKernel.name('missing'));
  assert.equal(r.error, 0);
  assert.equal(decodeEntryOut(r.body).entryValid, 5);
});

test('ctx is a narrow read-only object; ready() gets { negotiated, audit, notify }', async () => {
  let ctx: RequestContext | undefined;
  let info: { negotiated: { minor: number }; audit: readonly unknown[]; notify: object } | undefined;
  const k = new FakeKernel({
    getattr: (_req, c) => { ctx = c; return { attr: { mode: 0o040755 } }; },
    ready: (i) => { info = i; },
  });
  await k.init();
  await k.request('GETATTR', 1, FakeKernel.getattr(), { uid: 1000, gid: 100, pid: 42 });
  assert.ok(ctx);
  assert.deepEqual([ctx.uid, ctx.gid, ctx.pid, ctx.resend, ctx.extensions], [1000, 100, 42, false, undefined]);
  assert.equal(typeof ctx.unique, 'number');
  assert.equal(ctx.signal.aborted, false);
  assert.notEqual(ctx.constructor.name, 'Request');
  // The session's state is not the handler's to change.
  assert.throws(() => { (ctx as unknown as { settled: boolean }).settled = false; }, TypeError);
  assert.throws(() => { (ctx as unknown as { uid: number }).uid = 0; }, TypeError);
  assert.equal(info?.negotiated.minor, 45);
  assert.ok(info.audit.length > 0);
  assert.deepEqual(Object.keys(info.notify).sort(), ['delete', 'expireEntry', 'incEpoch', 'invalEntry', 'invalInode', 'pollWakeup', 'prune', 'resend', 'retrieve', 'store']);
  await (info.notify as { invalInode(ino: number): Promise<void> }).invalInode(5);
  assert.equal(k.notifications.length, 1);
});

test('a ready() that throws or rejects is a warning, and INIT still succeeds', async () => {
  for (const ready of [() => { throw new Error('r1'); }, async () => { throw new Error('r2'); }]) {
    const { warnings, onWarning } = collectWarnings();
    const k = new FakeKernel({ ready: ready as () => void }, { onWarning });
    const crashes = await noCrash(async () => { await k.init(); });
    assert.deepEqual(crashes, []);
    assert.match(warnings.join('\n'), /the ready\(\) handler failed/);
  }
});
