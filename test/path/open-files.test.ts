// Requests about open files whose name is gone (unlinked while open, O_TMPFILE), STATX with the birth
// time, the lock owner at FLUSH and the UTIME_NOW mark: what the filesystem is called with, through the
// fake kernel. The filesystem here is a few lines of maps, sharing nothing with the layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FuseError, type PathContext, type PathFilesystem, type PathLock, type PathStat, type Timestamp } from '../../src/index.ts';
import { Harness, S_IFDIR, S_IFREG } from './harness.ts';
import { FrameBuilder } from '../protocol/frame-builder.ts';
import { StatxOut, Statx } from '../../src/protocol/structs.ts';

const O_RDWR = 2;
const O_TMPFILE = 0o20200000;
const STATX_BASIC_STATS = 0x7ff;
const STATX_BTIME = 0x800;

interface File { ino: number; mode: number; nlink: number; data: string; btime?: Timestamp; atime?: Timestamp }

/** Files by path and by handle; every call that names an open file records how it found it. */
class TinyFs implements PathFilesystem {
  readonly calls: string[] = [];
  readonly files = new Map<string, File>();
  readonly handles = new Map<number, File>();
  readonly locks: string[] = [];
  #nextIno = 100;
  #nextFh = 10;

  #file(path: string, fh: number | undefined): File {
    const f = fh !== undefined ? this.handles.get(fh) : this.files.get(path);
    if (f === undefined) throw new FuseError('ENOENT');
    return f;
  }
  getattr(path: string, fh: number | undefined): PathStat {
    this.calls.push(`getattr ${JSON.stringify(path)} ${fh}`);
    if (path === '/') return { mode: S_IFDIR | 0o755, ino: 1 };
    const f = this.#file(path, fh);
    return { ino: f.ino, mode: f.mode, nlink: f.nlink, size: f.data.length, mtime: 1000, ...(f.btime && { birthtime: f.btime }), ...(f.atime && { atime: f.atime }) };
  }
  create(path: string, mode: number): number {
    const f: File = { ino: this.#nextIno++, mode, nlink: 1, data: '', btime: { sec: 1_700_000_000, nsec: 123 } };
    this.files.set(path, f);
    return this.#open(f);
  }
  open(path: string): number { return this.#open(this.#file(path, undefined)); }
  tmpfile(dirPath: string, mode: number, flags: number): number {
    this.calls.push(`tmpfile ${dirPath} ${mode.toString(8)} ${(flags & O_TMPFILE) === O_TMPFILE}`);
    return this.#open({ ino: this.#nextIno++, mode, nlink: 0, data: '' });
  }
  #open(f: File): number {
    const fh = this.#nextFh++;
    this.handles.set(fh, f);
    return fh;
  }
  write(path: string, fh: number, data: Uint8Array): number {
    this.#file(path, fh).data += Buffer.from(data).toString();
    return data.length;
  }
  read(path: string, fh: number): string { return this.#file(path, fh).data; }
  unlink(path: string): void {
    const f = this.#file(path, undefined);
    f.nlink--;
    this.files.delete(path);
  }
  link(existingPath: string, newPath: string, fh: number | undefined): void {
    this.calls.push(`link ${JSON.stringify(existingPath)} ${newPath} ${fh}`);
    const f = this.#file(existingPath, fh);
    f.nlink++;
    this.files.set(newPath, f);
  }
  chmod(path: string, mode: number, fh: number | undefined): void {
    this.calls.push(`chmod ${JSON.stringify(path)} ${mode.toString(8)} ${fh}`);
    const f = this.#file(path, fh);
    f.mode = (f.mode & ~0o7777) | mode;
  }
  utimens(path: string, atime: Timestamp | undefined, mtime: Timestamp | undefined, fh: number | undefined): void {
    this.calls.push(`utimens ${path} ${atime?.now === true ? 'now' : atime?.sec} ${mtime?.now === true ? 'now' : mtime?.sec} ${fh}`);
    if (atime !== undefined) this.#file(path, fh).atime = atime;
  }
  flush(path: string, fh: number, owner: bigint, ctx: PathContext): void { this.calls.push(`flush ${path} ${fh} ${owner} pid ${ctx.pid}`); }
  setlk(path: string, fh: number, lock: PathLock, owner: bigint, wait: boolean): void {
    this.calls.push(`setlk ${path} ${fh} type ${lock.type} ${lock.start}-${lock.end} ${owner} ${wait}`);
  }
  release(_path: string, fh: number): void { this.handles.delete(fh); }
}

/** fuse_statx_in: getattr_flags, reserved, fh, sx_flags, sx_mask. */
function statxIn(fh?: number): FrameBuilder {
  return new FrameBuilder().u32(fh === undefined ? 0 : 1).u32(0).u64(fh ?? 0).u32(0).u32(STATX_BASIC_STATS | STATX_BTIME);
}

function readStatx(b: Buffer): { valid: number; mask: number; ino: number; mode: number; nlink: number; btime: [number, number]; rdev: [number, number] } {
  const s = StatxOut.off.stat;
  const o = Statx.off;
  return {
    valid: Number(b.readBigUInt64LE(StatxOut.off.attr_valid)),
    mask: b.readUInt32LE(s + o.mask), ino: Number(b.readBigUInt64LE(s + o.ino)), mode: b.readUInt16LE(s + o.mode),
    nlink: b.readUInt32LE(s + o.nlink),
    btime: [Number(b.readBigInt64LE(s + o.btime)), b.readUInt32LE(s + o.btime + 8)],
    rdev: [b.readUInt32LE(s + o.rdev_major), b.readUInt32LE(s + o.rdev_minor)],
  };
}

test('an unlinked file still open: GETATTR and SETATTR without fh reach it through one of its handles', async () => {
  const fs = new TinyFs();
  const h = await Harness.start(fs);
  const c = await h.create(1, 'f', S_IFREG | 0o644, O_RDWR);
  assert.equal(c.entry.error, 0);
  const ino = c.entry.nodeid;
  assert.equal((await h.unlink(1, 'f')).error, 0);
  // Another file takes the old name: the unlinked one must not be answered with its attributes.
  const other = await h.create(1, 'f', S_IFREG | 0o600, O_RDWR);
  fs.calls.length = 0;
  const g = await h.getattr(ino); // fstat(2): no fh in the request
  assert.equal(g.error, 0);
  assert.deepEqual([g.attr.nlink, g.attr.mode, g.attr.ino], [0, S_IFREG | 0o644, 100]);
  const s = await h.setattr(ino, { mode: 0o640 }); // fchmod(2): no FATTR_FH
  assert.equal(s.error, 0);
  assert.equal(s.attr.mode, S_IFREG | 0o640);
  assert.deepEqual(fs.calls, ['getattr "/f" 10', 'chmod "/f" 640 10', 'getattr "/f" 10']);
  assert.equal(fs.files.get('/f')!.mode, S_IFREG | 0o600, 'the new /f is untouched');
  // A name that still exists is looked up by name, as before.
  fs.calls.length = 0;
  assert.equal((await h.getattr(other.entry.nodeid)).error, 0);
  assert.deepEqual(fs.calls, ['getattr "/f" undefined']);
});

test('STATX: getattr\'s answer with the birth time, STATX_BTIME only when there is one; the handle of fstat', async () => {
  const fs = new TinyFs();
  const h = await Harness.start(fs, { attrTimeout: 3 });
  const c = await h.create(1, 'born', S_IFREG | 0o644, O_RDWR);
  const r = await h.req('STATX', c.entry.nodeid, statxIn(c.fh));
  assert.equal(r.error, 0);
  const x = readStatx(r.body);
  assert.deepEqual(x, { valid: 3, mask: STATX_BASIC_STATS | STATX_BTIME, ino: 100, mode: S_IFREG | 0o644, nlink: 1, btime: [1_700_000_000, 123], rdev: [0, 0] });
  assert.equal(fs.calls.at(-1), 'getattr "/born" 10');
  const t = await h.create(1, 'plain', S_IFREG | 0o644, O_RDWR);
  fs.files.get('/plain')!.btime = undefined;
  const p = readStatx((await h.req('STATX', t.entry.nodeid, statxIn())).body);
  assert.deepEqual([p.mask, p.btime], [STATX_BASIC_STATS, [0, 0]]);
  assert.equal((await h.req('STATX', 1, statxIn())).error, 0, 'the root');
  // Device numbers split as the kernel's new_decode_dev does: 0x12345 is major 0x123, minor 0x45.
  const dev = await Harness.start({ getattr: (p) => (p === '/' ? { mode: S_IFDIR | 0o755 } : { mode: 0o020644, rdev: 0x12345, birthtime: new Date(5000) }) });
  const d = await dev.lookup(1, 'tty');
  const dx = readStatx((await dev.req('STATX', d.nodeid, statxIn())).body);
  assert.deepEqual([dx.rdev, dx.btime, dx.mask & STATX_BTIME], [[0x123, 0x45], [5, 0], STATX_BTIME]);
  assert.equal((await dev.req('STATX', 99, statxIn())).error, 116, 'ESTALE for a node the kernel was never given');
});

test('FLUSH hands the lock owner to flush, then clears that owner\'s POSIX locks through setlk (also without flush)', async () => {
  const fs = new TinyFs();
  const h = await Harness.start(fs);
  const c = await h.create(1, 'f', S_IFREG | 0o644, O_RDWR);
  fs.calls.length = 0;
  const owner = 0xfeed_beef_cafe_f00dn;
  const r = await h.req('FLUSH', c.entry.nodeid, new FrameBuilder().u64(c.fh).u32(0).u32(0).u64(owner));
  assert.equal(r.error, 0);
  assert.deepEqual(fs.calls, [`flush /f 10 ${owner} pid 1`, `setlk /f 10 type 2 0-${(1n << 63n) - 1n} ${owner} false`]);
  // A filesystem with setlk and no flush gets FLUSH answered all the same, with the unlock.
  const calls: string[] = [];
  const locking = await Harness.start({
    getattr: (p) => (p === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o644 }),
    open: () => 4,
    setlk(path, fh, lock, o) { calls.push(`setlk ${path} ${fh} ${lock.type} ${o}`); },
  });
  const e = await locking.lookup(1, 'x');
  const o = await locking.open(e.nodeid, 0);
  assert.equal((await locking.req('FLUSH', e.nodeid, new FrameBuilder().u64(o.fh).u32(0).u32(0).u64(7))).error, 0);
  assert.deepEqual(calls, ['setlk /x 4 2 7']);
  // Without either, FLUSH stays unanswered by the layer (ENOSYS: the kernel stops sending it).
  const plain = await Harness.start({ getattr: () => ({ mode: S_IFDIR | 0o755 }) });
  assert.equal((await plain.req('FLUSH', 1, new FrameBuilder().u64(0).u32(0).u32(0).u64(7))).error, 38);
});

test('UTIME_NOW arrives marked now: true; explicit times are plain', async () => {
  const fs = new TinyFs();
  const h = await Harness.start(fs);
  const c = await h.create(1, 'f', S_IFREG | 0o644, O_RDWR);
  fs.calls.length = 0;
  assert.equal((await h.setattr(c.entry.nodeid, { atime: 'now', mtime: [5, 6] })).error, 0);
  assert.equal(fs.calls[0], 'utimens /f now 5 undefined');
  const a = fs.files.get('/f')!.atime!;
  assert.equal(a.now, true);
  assert.ok(Math.abs(a.sec - Date.now() / 1000) < 60, `UTIME_NOW carries the current time, got ${a.sec}`);
  assert.equal((await h.setattr(c.entry.nodeid, { atime: [7, 8] })).error, 0);
  assert.deepEqual(fs.files.get('/f')!.atime, { sec: 7, nsec: 8 });
});

test('TMPFILE: a node without a name, reached by its handle; LINK gives it one; FORGET and RELEASE free it', async () => {
  const fs = new TinyFs();
  const h = await Harness.start(fs);
  const r = await h.req('TMPFILE', 1, new FrameBuilder().u32(O_TMPFILE | O_RDWR).u32(S_IFREG | 0o600).u32(0o022).u32(0).cstring('/'));
  assert.equal(r.error, 0);
  const e = Harness.entry(r);
  const fh = Number(r.body.readBigUInt64LE(128));
  assert.deepEqual([e.attr.nlink, e.attr.mode], [0, S_IFREG | 0o600]);
  assert.deepEqual(fs.calls, ['tmpfile / 100600 true', 'getattr "" 10']);
  assert.equal((await h.write(e.nodeid, fh, 0, 'hidden')).error, 0);
  assert.equal((await h.getattr(e.nodeid)).attr.size, 6);
  // linkat(fd, "", AT_FDCWD, "/named", AT_EMPTY_PATH) or via /proc/self/fd/N: LINK with the node id.
  const l = await h.link(e.nodeid, 1, 'named');
  assert.equal(l.error, 0);
  assert.equal(l.nodeid, e.nodeid, 'the same node');
  assert.equal(l.attr.nlink, 1);
  assert.ok(fs.calls.includes('link "" /named 10'));
  fs.calls.length = 0;
  const g = await h.getattr(e.nodeid);
  assert.equal(g.attr.size, 6);
  assert.deepEqual(fs.calls, ['getattr "/named" undefined'], 'named now: found by its path');
  assert.equal((await h.lookup(1, 'named')).nodeid, e.nodeid);
  const before = h.nodes;
  await h.release(e.nodeid, fh);
  h.forget(e.nodeid, 3);
  await h.getattr(1);
  assert.equal(h.nodes, before - 1);
  assert.equal(h.ops.handleCount, 0);
  // A filesystem without tmpfile: ENOSYS (the caller sees EOPNOTSUPP); a read-only one: EROFS.
  const plain = await Harness.start({ getattr: () => ({ mode: S_IFDIR | 0o755 }), mkdir() {} });
  assert.equal((await plain.req('TMPFILE', 1, new FrameBuilder().u32(O_TMPFILE | O_RDWR).u32(S_IFREG | 0o600).u32(0).u32(0).cstring('/'))).error, 38);
  const ro = await Harness.start({ getattr: () => ({ mode: S_IFDIR | 0o755 }) });
  assert.equal((await ro.req('TMPFILE', 1, new FrameBuilder().u32(O_TMPFILE | O_RDWR).u32(S_IFREG | 0o600).u32(0).u32(0).cstring('/'))).error, 30);
});
