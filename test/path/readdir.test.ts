// Directory reading through the path layer: paging by offsets, a listing kept per open handle so that
// concurrent changes never make an entry that exists throughout be skipped or repeated, rewinds, async
// iterables pulled lazily, and READDIRPLUS with exact lookup counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FuseError, type PathDirEntry, type PathFilesystem } from '../../src/index.ts';
import { Harness, S_IFDIR, S_IFREG } from './harness.ts';
import { ModelFs } from './model-fs.ts';

/** A deterministic pseudo-random sequence (no Math.random: failures must replay). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

test('paging under concurrent changes: entries present throughout appear exactly once', async () => {
  for (const seed of [1, 2, 3]) {
    const fs = new ModelFs();
    for (let i = 0; i < 300; i++) fs.add(`/f${i}`, S_IFREG | 0o644);
    const h = await Harness.start(fs);
    const rand = lcg(seed);
    const removed = new Set<string>();
    let added = 0;
    // Between pages, delete some names and create new ones (through the kernel, as other processes would).
    const names = await h.listAll(1, 240, async () => {
      for (let k = 0; k < 5; k++) {
        const victim = `f${Math.floor(rand() * 300)}`;
        if (!removed.has(victim)) {
          removed.add(victim);
          assert.equal((await h.unlink(1, victim)).error, 0);
        }
        assert.equal((await h.mknod(1, `new${added++}`, S_IFREG | 0o644)).error, 0);
      }
    });
    assert.ok(removed.size > 20 && added > 20, 'the directory changed a lot while being read');
    const seen = new Set(names);
    assert.equal(seen.size, names.length, 'no name repeated');
    for (let i = 0; i < 300; i++) {
      if (!removed.has(`f${i}`)) assert.ok(seen.has(`f${i}`), `f${i} existed throughout and was listed`);
    }
    assert.deepEqual(names.slice(0, 2), ['.', '..']);
  }
});

test('a rewind (offset 0) takes a fresh listing; telldir offsets stay valid on the same handle', async () => {
  const fs = new ModelFs();
  for (let i = 0; i < 10; i++) fs.add(`/a${i}`, S_IFREG | 0o644);
  const h = await Harness.start(fs);
  const d = await h.open(1, 0, 'OPENDIR');
  const first = await h.readdir(1, d.fh, 0);
  assert.equal(first.entries.length, 12);
  fs.add('/late', S_IFREG | 0o644);
  // seekdir(telldir()) to the 5th entry: the same listing, so the same entries follow.
  const again = await h.readdir(1, d.fh, 5);
  assert.deepEqual(again.entries.map((e) => e.name), first.entries.slice(5).map((e) => e.name));
  const rewound = await h.readdir(1, d.fh, 0);
  assert.ok(rewound.entries.some((e) => e.name === 'late'), 'rewinddir shows the new entry');
  assert.equal((await h.readdir(1, d.fh, 999)).entries.length, 0, 'past the end: nothing');
  await h.release(1, d.fh, 'RELEASEDIR');
  assert.deepEqual(fs.calls.filter((c) => c.startsWith('readdir') || c.startsWith('releasedir') || c.startsWith('opendir')), [
    'opendir /', 'readdir / fh=55', 'readdir / fh=55', 'releasedir / fh=55',
  ]);
  assert.equal(h.ops.handleCount, 0);
});

test('an async iterable is pulled only as far as the kernel reads, and closed at releasedir', async () => {
  let pulled = 0;
  let finished = false;
  const fs: PathFilesystem = {
    getattr: (p) => (p === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o644 }),
    async *readdir(): AsyncGenerator<PathDirEntry> {
      try {
        for (let i = 0; i < 100_000; i++) {
          pulled++;
          yield i % 2 === 0 ? `file-${i}` : { name: `file-${i}`, stat: { mode: S_IFREG | 0o600, ino: 5000 + i } };
        }
      } finally {
        finished = true;
      }
    },
  };
  const h = await Harness.start(fs);
  const d = await h.open(1, 0, 'OPENDIR');
  const page = await h.readdir(1, d.fh, 0, 4096);
  assert.ok(page.entries.length > 50);
  assert.ok(pulled < 500, `pulled ${pulled} entries for one 4 KiB page`);
  const odd = page.entries.find((e) => e.name === 'file-1')!;
  assert.deepEqual([odd.ino, odd.type], [5001, 8], 'an entry with a stat: its ino and type');
  const even = page.entries.find((e) => e.name === 'file-2')!;
  assert.deepEqual([even.ino, even.type], [0xffff_ffff, 0], 'a plain name: unknown ino and type');
  const next = await h.readdir(1, d.fh, page.entries.at(-1)!.off, 4096);
  assert.equal(next.entries[0]!.name, `file-${page.entries.length - 2}`, 'the next page continues where the first stopped');
  await h.release(1, d.fh, 'RELEASEDIR');
  await new Promise((r) => setImmediate(r));
  assert.ok(finished, 'the generator was closed');
});

test('READDIRPLUS: attributes from the listing or from getattr, one lookup per entry sent, none for "." and ".."', async () => {
  const fs = new ModelFs();
  fs.add('/d', S_IFDIR | 0o755);
  for (let i = 0; i < 200; i++) fs.add(`/d/file-with-a-longish-name-${i}`, S_IFREG | 0o644, 'x'.repeat(i));
  const h = await Harness.start(fs);
  const d = await h.lookup(1, 'd');
  const o = await h.open(d.nodeid, 0, 'OPENDIR');
  fs.calls.length = 0;
  const page = await h.readdirplus(d.nodeid, o.fh, 0, 4096);
  const real = page.entries.filter((e) => e.name !== '.' && e.name !== '..');
  assert.ok(real.length > 5 && real.length < 200, `${real.length} entries fit`);
  assert.equal(page.entries[0]!.name, '.');
  // The dot names are not linked by the kernel; their d_ino is the inode number stat shows (use_ino).
  assert.equal(page.entries[0]!.ino, fs.find('/d').ino);
  assert.equal(page.entries[1]!.ino, 1, '".." of /d is the root');
  for (const e of real) {
    const i = Number(e.name.split('-').at(-1));
    assert.equal(e.attr.size, i);
    assert.equal(e.type, 8);
  }
  // getattr was asked only about entries in (or about to be in) this page.
  const asked = fs.calls.filter((c) => c.startsWith('getattr'));
  assert.ok(asked.length >= real.length && asked.length <= real.length + 2, `${asked.length} getattrs for ${real.length} entries`);
  // Each entry sent holds one lookup (and the core forgot those that did not fit): the table holds
  // root, d, and the entries sent, nothing else.
  assert.equal(h.nodes, 2 + real.length);
  // A lookup of a listed name answers the same node.
  const again = await h.lookup(d.nodeid, real[0]!.name);
  assert.equal(again.nodeid, real[0]!.nodeid);
  h.forget(again.nodeid, 1);
  h.batchForget(real.map((e) => [e.nodeid, 1] as const));
  assert.equal(h.nodes, 2);
  // Continue from where the kernel stopped.
  const next = await h.readdirplus(d.nodeid, o.fh, page.entries.at(-1)!.off, 4096);
  assert.equal(next.entries[0]!.name, `file-with-a-longish-name-${real.length}`);
});

test('READDIRPLUS skips entries that vanished between the listing and their getattr; stats in the listing are used as given', async () => {
  const fs: PathFilesystem = {
    getattr(path) {
      if (path === '/') return { mode: S_IFDIR | 0o755 };
      if (path === '/gone') throw new FuseError('ENOENT');
      return { mode: S_IFREG | 0o600, size: 3 };
    },
    readdir: () => ['a', 'gone', { name: 'b', stat: { mode: S_IFDIR | 0o711, ino: 42 } }],
  };
  const h = await Harness.start(fs);
  const o = await h.open(1, 0, 'OPENDIR');
  const page = await h.readdirplus(1, o.fh, 0);
  assert.deepEqual(page.entries.map((e) => [e.name, e.off]), [['.', 1], ['..', 2], ['a', 3], ['b', 5]]);
  const b = page.entries[3]!;
  assert.deepEqual([b.attr.mode, b.attr.ino, b.type], [S_IFDIR | 0o711, 42, 4]);
  assert.equal(h.nodes, 3);
});
