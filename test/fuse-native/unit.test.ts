// The adapter without a mount: option mapping, timeouts, errno constants, the callback bridge, stat
// conversion, and the static methods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import Fuse from '../../src/fuse-native/index.ts';
import { adapterSettings, DEFAULT_TIMEOUT_MS } from '../../src/fuse-native/options.ts';
import { invoke, statusOnly } from '../../src/fuse-native/callback.ts';
import { pathStatOf, pathStatfsOf } from '../../src/fuse-native/stat.ts';
import { ERRNO_CONSTANTS } from '../../src/fuse-native/errno.ts';
import { parseMountOptions } from '../../src/index.ts';

test('options: fuse-native names become -o options, only when truthy', () => {
  const s = adapterSettings({
    allowOther: true, defaultPermissions: true, autoUnmount: true, kernelCache: true, autoCache: true, maxRead: 65536,
    fsname: 'my,fs', subtype: 'demo', uid: 1000, gid: 1000, umask: 0o022, entryTimeout: 2, attrTimeout: 3,
    directIO: true, negativeTimeout: 4, displayFolder: 'Folder', name: 'x', acAttrTimeout: 5, noforget: true, remember: 1,
  }, {});
  assert.deepEqual(s.mountOptions, [
    'allow_other', 'default_permissions', 'auto_unmount', 'kernel_cache', 'auto_cache', 'max_read=65536', 'fsname=my\\,fs',
    'subtype=demo', 'uid=1000', 'gid=1000', 'umask=22', 'entry_timeout=2', 'attr_timeout=3', 'direct_io', 'negative_timeout=4',
  ]);
  const parsed = parseMountOptions([...s.mountOptions]);
  assert.equal(parsed.mount.fsname, 'my,fs');
  assert.equal(parsed.fs.umask, 0o022);
  assert.equal(parsed.fs.directIo, true);
  assert.equal(parsed.fs.negativeTimeout, 4);
  // Falsy values are "not set", as in fuse-native: attrTimeout 0 keeps libfuse's 1 s, uid 0 is no override.
  assert.deepEqual(adapterSettings({ attrTimeout: 0, uid: 0, allowOther: false, fsname: '' }, {}).mountOptions, []);
  assert.deepEqual(adapterSettings({ umask: '0027' }, {}).mountOptions, ['umask=0027']);
  // Keys that are no option of either are ignored, as fuse-native ignores them.
  assert.deepEqual(adapterSettings({ notAnOption: true } as never, {}).mountOptions, []);
});

test('options: what tsfuse cannot honour is ERR_FUSE_INVALID_OPTION naming the option', () => {
  for (const [key, value] of [['fd', 3], ['userId', 1000], ['modules', 'subdir'], ['blkdev', true], ['blksize', 4096]] as const) {
    assert.throws(() => adapterSettings({ [key]: value }, {}), { code: 'ERR_FUSE_INVALID_OPTION', message: new RegExp(`'${key}' is not supported`) });
  }
});

test('options: debug, force, mkdir, and DEBUG from the environment', () => {
  assert.equal(adapterSettings({}, {}).debug, false);
  assert.equal(adapterSettings({ debug: true }, {}).debug, true);
  assert.equal(adapterSettings({}, { DEBUG: '*' }).debug, true);
  assert.equal(adapterSettings({}, { DEBUG: 'express,fuse-native' }).debug, true);
  assert.equal(adapterSettings({}, { DEBUG: 'express' }).debug, false);
  const s = adapterSettings({ force: true, mkdir: true }, {});
  assert.equal(s.force, true);
  assert.equal(s.mkdir, true);
  assert.equal(adapterSettings(undefined, {}).force, false);
});

test('options: timeouts per operation as fuse-native reads them', () => {
  assert.equal(DEFAULT_TIMEOUT_MS, 15_000);
  assert.equal(adapterSettings({}, {}).timeoutOf('read'), 15_000);
  assert.equal(adapterSettings({ timeout: 0 }, {}).timeoutOf('read'), 15_000, '0 is falsy: the default');
  assert.equal(adapterSettings({ timeout: false }, {}).timeoutOf('read'), 0, 'false: none');
  assert.equal(adapterSettings({ timeout: 500 }, {}).timeoutOf('getattr'), 500);
  const o = adapterSettings({ timeout: { default: 700, read: 100, write: false, open: 0 } }, {});
  assert.equal(o.timeoutOf('read'), 100);
  assert.equal(o.timeoutOf('write'), 0);
  assert.equal(o.timeoutOf('open'), 700, 'a falsy per-op value takes the default');
  assert.equal(o.timeoutOf('getattr'), 700);
  assert.equal(adapterSettings({ timeout: { default: false, read: 100 } }, {}).timeoutOf('getattr'), 15_000, 'default false means 15 s');
  assert.equal(new Fuse('/x', {}, { timeout: false }).timeout, 0);
  assert.equal(new Fuse('/x', {}).timeout, 15_000);
});

test('errno constants: every Linux errno 1…124, negated, with the aliases', () => {
  assert.equal(Fuse.EPERM, -1);
  assert.equal(Fuse.ENOENT, -2);
  assert.equal(Fuse.EWOULDBLOCK, -11);
  assert.equal(Fuse.EDEADLOCK, -35);
  assert.equal(Fuse.EMEDIUMTYPE, -124);
  assert.equal(Fuse.ETIMEDOUT, -110);
  assert.equal(Object.keys(ERRNO_CONSTANTS).length, 124, '122 numbers plus two aliases');
  for (const [name, n] of Object.entries(constants.errno)) {
    if (n <= 124 && Object.hasOwn(ERRNO_CONSTANTS, name)) assert.equal((Fuse as unknown as Record<string, number>)[name], -n, name);
  }
  for (const [name, v] of Object.entries(ERRNO_CONSTANTS)) {
    const os = (constants.errno as Record<string, number | undefined>)[name];
    if (os !== undefined) assert.equal(v, -os, name);
  }
  const fuse = new Fuse('/x', {});
  assert.equal(fuse.errno('enoent'), -2);
  assert.equal(fuse.errno('ENOSPC'), -28);
  assert.equal(fuse.errno('nothing'), -1);
  assert.equal(fuse.mnt, '/x');
});

test('callback bridge: sync values, async promises, errors, late and second calls, timeouts', async () => {
  assert.equal(invoke(0, (cb) => cb(0, 'v'), (s, a) => { statusOnly(s, a, undefined); return a; }), 'v', 'sync: a plain value');
  assert.throws(() => invoke(0, (cb) => cb(-2), statusOnly), (e) => e === -2);
  const p = invoke(0, (cb) => setImmediate(cb, null, 7), (_s, a) => a);
  assert.ok(p instanceof Promise);
  assert.equal(await p, 7);
  await assert.rejects(Promise.resolve(invoke(0, (cb) => setImmediate(cb, 5000), statusOnly)), (e) => e === -34, 'ERANGE beyond ±999');
  await assert.rejects(Promise.resolve(invoke(20, () => {}, statusOnly)), (e) => e === -110, 'ETIMEDOUT');
  let seen = 0;
  const twice = invoke(0, (cb) => { cb(0, 1); cb(0, 2); }, (_s, a) => { seen++; return a; });
  assert.equal(twice, 1);
  assert.equal(seen, 1, 'a second call is ignored');
  assert.throws(() => invoke(0, () => { throw new Error('boom'); }, statusOnly), /boom/);
  // A callback after the timeout does nothing.
  let late: ((s?: unknown) => void) | undefined;
  const timed = invoke(10, (cb) => { late = cb; }, statusOnly);
  await assert.rejects(Promise.resolve(timed), (e) => e === -110);
  late!(0);
});

test('callback bridge timeouts, many at once: those that call back succeed, the others fail with ETIMEDOUT, late calls are ignored', async () => {
  const late: ((s?: unknown, v?: unknown) => void)[] = [];
  const calls = Array.from({ length: 300 }, (_, i) => {
    const timeoutMs = [15, 40, 0][i % 3]!;
    const p = invoke(timeoutMs, (cb) => {
      if (i % 2 === 0) setImmediate(cb, 0, i); // answers at once
      else if (timeoutMs === 0) setTimeout(cb, 60, 0, i); // no timeout: answers whenever
      else late.push(cb); // never answers in time
    }, (status, v) => { statusOnly(status, v, undefined); return v; });
    return Promise.resolve(p).then((v) => ({ i, v }), (e: unknown) => ({ i, e }));
  });
  for (const r of await Promise.all(calls)) {
    const answered = r.i % 2 === 0 || r.i % 3 === 2;
    if (answered) assert.deepEqual(r, { i: r.i, v: r.i });
    else assert.deepEqual(r, { i: r.i, e: -110 });
  }
  for (const cb of late) cb(0, 'too late'); // does nothing, throws nothing
  // The bridge is usable again after every wait ended (its check stops while nothing waits).
  await assert.rejects(Promise.resolve(invoke(5, () => {}, statusOnly)), (e) => e === -110);
});

test('stat conversion: fuse-native defaults, Dates and millisecond numbers', () => {
  const d = new Date(1_600_000_000_123);
  const s = pathStatOf({ mode: 0o100644, size: 10, mtime: d, atime: 1_500_000_000_456, ctime: d, ino: 99, dev: 3 });
  assert.equal(s.mode, 0o100644);
  assert.equal(s.size, 10);
  assert.equal(s.nlink, 1);
  assert.equal(s.mtime, d);
  assert.deepEqual(s.atime, { sec: 1_500_000_000, nsec: 456_000_000 });
  assert.equal(s.ino, undefined, 'ino is not used (libfuse 2 without use_ino)');
  assert.equal(s.blocks, undefined, 'the layer computes ceil(size / 512)');
  const before = Date.now();
  const empty = pathStatOf(undefined);
  assert.equal(empty.mode, 0);
  assert.equal(empty.uid, 0);
  const mt = empty.mtime as { sec: number };
  assert.ok(mt.sec >= Math.floor(before / 1000), 'a missing time is now');
  assert.deepEqual(pathStatfsOf({ bsize: 1, namemax: 9 }), { bsize: 1, frsize: 0, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 9 });
});

test('isConfigured / configure / unconfigure: nothing to do, answered as configured', async () => {
  const configured = await new Promise((resolve) => Fuse.isConfigured((err, yes) => resolve([err, yes])));
  assert.deepEqual(configured, [null, true]);
  for (const f of [Fuse.configure, Fuse.unconfigure, Fuse.beforeMount, Fuse.beforeUnmount]) {
    assert.equal(await new Promise((resolve) => f((err) => resolve(err))), null);
  }
});

test('unmount before mount: closed, and mounting afterwards fails', async () => {
  const fuse = new Fuse('/nonexistent-tsfuse', {});
  await new Promise<void>((resolve) => fuse.unmount(() => resolve()));
  assert.equal(fuse.closed, true);
  const err = await new Promise((resolve) => fuse.mount(resolve));
  assert.match(String(err), /Resource is closed/);
});

test('read buffers: answered at once, reused by the next read; answered later, not handed out again before a macrotask turn; timed out, never', async () => {
  const { fuseNativeFilesystem } = await import('../../src/fuse-native/filesystem.ts');
  const content = Buffer.from('abcdefghijklmnopqrstuvwxyz');
  let late: ((n: number) => void)[] = [];
  let mode: 'sync' | 'later' = 'sync';
  let handed: Buffer | undefined;
  const fs = fuseNativeFilesystem({
    read(_path, _fd, buf, len, pos, cb) {
      handed = buf;
      const n = content.copy(buf, 0, pos, pos + len);
      if (mode === 'sync') cb(n);
      else late.push(() => cb(n));
    },
  }, (op) => (op === 'read' ? 50 : 0), () => {});
  const ctx = {} as never;
  const read = (pos: number): Uint8Array | Promise<Uint8Array> => fs.read!('/f', 1, 4, pos, ctx) as Uint8Array | Promise<Uint8Array>;

  // Synchronous answers: the reply (written before the handler's caller returns) is done with the buffer.
  const a = read(0) as Uint8Array;
  assert.equal(Buffer.from(a).toString(), 'abcd');
  const b = read(4) as Uint8Array;
  assert.equal(Buffer.from(b).toString(), 'efgh');
  assert.equal(a.buffer, b.buffer, 'the next read fills the same buffer');

  // Answered later: the session writes that reply in the microtasks after the callback, so the buffer
  // must not be taken by a read that starts before a macrotask turn.
  mode = 'later';
  const pending = read(8);
  assert.ok(pending instanceof Promise);
  late.shift()!(4);
  mode = 'sync';
  const c = read(12) as Uint8Array;
  const settled = await pending;
  assert.equal(Buffer.from(settled).toString(), 'ijkl', 'not overwritten by the next read');
  assert.equal(Buffer.from(c).toString(), 'mnop');
  assert.notEqual(settled.buffer, c.buffer);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal((read(16) as Uint8Array).buffer, settled.buffer, 'back in the pool after a macrotask turn');

  // Timed out: the user may still write into it, so it never goes back.
  mode = 'later';
  const timedOut = read(20);
  await assert.rejects(Promise.resolve(timedOut), (e: unknown) => e === -constants.errno.ETIMEDOUT);
  const keptByUser = handed!;
  late.shift()!(4);
  late = [];
  await new Promise((resolve) => setImmediate(resolve));
  mode = 'sync';
  for (let i = 0; i < 20; i++) {
    const r = read(0) as Uint8Array;
    assert.equal(Buffer.from(r).toString(), 'abcd');
    assert.notEqual(r.buffer, keptByUser.buffer);
  }
});
