// The tree lock: a path handed to the filesystem stays true until the request is done. Requests are held
// at the filesystem by gates (promises the test opens), so every interleaving here is chosen, not timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FuseError, type PathFilesystem, type PathStat } from '../../src/index.ts';
import { FakeKernel } from '../../src/testing.ts';
import { Harness, S_IFDIR, S_IFREG } from './harness.ts';

const EINTR = 4;

/** Lets the event loop run until nothing is left to do now (requests reach their gates or wait). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A tree of names whose getattr and read can be held at a gate; every call is logged with its path. */
class GatedFs implements PathFilesystem {
  readonly log: string[] = [];
  readonly gates = new Map<string, Promise<void>>();
  readonly dirs = new Set(['/', '/d']);
  readonly files = new Map<string, number>([['/d/x', 10], ['/d/y', 11]]);

  /** Holds the next calls on `path` until the returned function is called. */
  gate(path: string): () => void {
    let open!: () => void;
    this.gates.set(path, new Promise((resolve) => { open = resolve; }));
    return () => { this.gates.delete(path); open(); };
  }
  async #pass(op: string, path: string): Promise<void> {
    this.log.push(`${op} ${path}`);
    await this.gates.get(path);
    this.log.push(`${op} ${path} done`);
  }
  async getattr(path: string): Promise<PathStat> {
    await this.#pass('getattr', path);
    if (this.dirs.has(path)) return { mode: S_IFDIR | 0o755, ino: path === '/' ? 1 : path.length };
    const ino = this.files.get(path);
    if (ino === undefined) throw new FuseError('ENOENT');
    return { mode: S_IFREG | 0o644, ino, size: 3 };
  }
  open(): number { return 7; }
  async read(path: string): Promise<string> {
    await this.#pass('read', path);
    return 'abc';
  }
  rename(from: string, to: string): void {
    this.log.push(`rename ${from} ${to}`);
    const moved = (p: string): string => (p === from || p.startsWith(`${from}/`) ? to + p.slice(from.length) : p);
    for (const d of [...this.dirs]) { this.dirs.delete(d); this.dirs.add(moved(d)); }
    for (const [f, ino] of [...this.files]) { this.files.delete(f); this.files.set(moved(f), ino); }
  }
  unlink(path: string): void {
    this.log.push(`unlink ${path}`);
    if (!this.files.delete(path)) throw new FuseError('ENOENT');
  }
}

test('a rename waits for requests using a path through the renamed directory; requests after it use the new path', async () => {
  const fs = new GatedFs();
  const h = await Harness.start(fs);
  const d = await h.lookup(1, 'd');
  fs.log.length = 0;
  const open = fs.gate('/d/x');
  const lookup = h.lookup(d.nodeid, 'x'); //                        holds /d while its getattr is at the gate
  await settle();
  const rename = h.rename(1, 'd', 1, 'e'); //                        must wait: /d/x is in use
  await settle();
  const later = h.lookup(d.nodeid, 'y'); //                          arrives after the rename: must follow it
  await settle();
  assert.deepEqual(fs.log, ['getattr /d/x']);
  open();
  const [l, r, y] = await Promise.all([lookup, rename, later]);
  assert.equal(l.error, 0);
  assert.equal(l.attr.ino, 10, 'the file that was at /d/x when the lookup started');
  assert.equal(r.error, 0);
  assert.equal(y.error, 0);
  assert.deepEqual(fs.log, ['getattr /d/x', 'getattr /d/x done', 'rename /d /e', 'getattr /e/y', 'getattr /e/y done']);
});

test('unlink waits for a request about the same name; reads through a handle never wait', async () => {
  const fs = new GatedFs();
  const h = await Harness.start(fs);
  const d = await h.lookup(1, 'd');
  const x = await h.lookup(d.nodeid, 'x');
  const o = await h.open(x.nodeid, 0);
  fs.log.length = 0;
  const open = fs.gate('/d/x');
  const stat = h.getattr(x.nodeid);
  await settle();
  const unlink = h.unlink(d.nodeid, 'x');
  await settle();
  assert.deepEqual(fs.log, ['getattr /d/x'], 'unlink waits');
  // A rename of /d queued behind it does not hold up READ on the open file (fh-based requests take no lock).
  const rename = h.rename(1, 'd', 1, 'e');
  fs.gates.delete('/d/x'); // the read itself is not gated
  const read = await h.read(x.nodeid, o.fh, 0, 10);
  assert.equal(read.body.toString(), 'abc');
  open();
  assert.equal((await stat).error, 0);
  assert.equal((await unlink).error, 0);
  assert.equal((await rename).error, 0);
  assert.deepEqual(fs.log, ['getattr /d/x', 'read /d/x', 'read /d/x done', 'getattr /d/x done', 'unlink /d/x', 'rename /d /e']);
});

test('a request waiting for the lock is interrupted with EINTR and holds nothing afterwards', async () => {
  const fs = new GatedFs();
  const h = await Harness.start(fs);
  const d = await h.lookup(1, 'd');
  const open = fs.gate('/d/x');
  const lookup = h.lookup(d.nodeid, 'x');
  await settle();
  const rename = h.rename(1, 'd', 1, 'e');
  await settle();
  const unique = h.k.nextUnique();
  const waiting = h.k.send(h.k.frame('LOOKUP', d.nodeid, FakeKernel.name('y'), { unique }), unique);
  await settle();
  h.k.interrupt(unique);
  assert.equal((await waiting).error, EINTR);
  open();
  assert.equal((await lookup).error, 0);
  assert.equal((await rename).error, 0);
  assert.equal((await h.lookup(d.nodeid, 'y')).error, 0, 'nothing left held');
  assert.ok(!fs.log.includes('getattr /d/y'), 'the interrupted lookup never reached the filesystem');
});

test('rename of a directory over another: both names are held; EXCHANGE too', async () => {
  const fs = new GatedFs();
  fs.dirs.add('/ff');
  const h = await Harness.start(fs);
  const d = await h.lookup(1, 'd');
  const f = await h.lookup(1, 'ff');
  assert.notEqual(f.nodeid, d.nodeid);
  fs.log.length = 0;
  const open = fs.gate('/ff');
  const stat = h.getattr(f.nodeid);
  await settle();
  const exchange = h.rename(1, 'd', 1, 'ff', 2 /* RENAME_EXCHANGE */);
  await settle();
  assert.deepEqual(fs.log, ['getattr /ff'], 'the exchange waits for the request on its target');
  open();
  assert.equal((await stat).error, 0);
  assert.equal((await exchange).error, 0);
  assert.equal(fs.log.at(-1), 'rename /d /ff');
});
