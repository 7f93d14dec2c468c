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
  const h = await Harness.start(fs, { statEntries: 'always' });
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
  const h = await Harness.start(fs, { statEntries: 'always' });
  const o = await h.open(1, 0, 'OPENDIR');
  const page = await h.readdirplus(1, o.fh, 0);
  assert.deepEqual(page.entries.map((e) => [e.name, e.off]), [['.', 1], ['..', 2], ['a', 3], ['b', 5]]);
  const b = page.entries[3]!;
  assert.deepEqual([b.attr.mode, b.attr.ino, b.type], [S_IFDIR | 0o711, 42, 4]);
  assert.equal(h.nodes, 3);
});

/** A directory of `n` names (no stats in the listing), counting getattr calls. */
function namesOnlyFs(n: number): PathFilesystem & { getattrs: number } {
  const fs = {
    getattrs: 0,
    getattr(path: string) {
      fs.getattrs++;
      if (path === '/' || path === '/d') return { mode: S_IFDIR | 0o755 };
      if (path.startsWith('/d/n')) return { mode: S_IFREG | 0o644, size: 7 };
      throw new FuseError('ENOENT');
    },
    readdir: (path: string): PathDirEntry[] => (path === '/d' ? [...Array.from({ length: n }, (_, i) => `n${i}`), { name: 'given', stat: { mode: S_IFDIR | 0o700, size: 9 } }] : ['d']),
  };
  return fs;
}

test("READDIRPLUS with statEntries 'auto': names only (node id 0, no getattr) until the listed names are looked up, then attributes", async () => {
  const fs = namesOnlyFs(10);
  const h = await Harness.start(fs);
  const d = await h.lookup(1, 'd');
  const nodes = h.nodes;
  const list = async (): Promise<Awaited<ReturnType<Harness['readdirplus']>>['entries']> => {
    const o = await h.open(d.nodeid, 0, 'OPENDIR');
    const page = await h.readdirplus(d.nodeid, o.fh, 0, 65536);
    await h.release(d.nodeid, o.fh, 'RELEASEDIR');
    return page.entries;
  };
  fs.getattrs = 0;
  const bare = await list();
  assert.equal(bare.length, 2 + 11);
  assert.equal(fs.getattrs, 0, 'no getattr for a names-only page');
  assert.equal(h.nodes, nodes + 1, 'and no node but the one listed with its stat: the kernel links nothing for node id 0');
  const n0 = bare.find((e) => e.name === 'n0')!;
  assert.deepEqual([n0.nodeid, n0.ino, n0.type], [0, 0xffff_ffff, 0], 'unknown inode, unknown type');
  const given = bare.find((e) => e.name === 'given')!;
  assert.ok(given.nodeid > 0, 'an entry listed with its stat carries it');
  assert.deepEqual([given.attr.size, given.type], [9, 4]);
  h.forget(given.nodeid, 1);
  // One lookup (opening a file after `ls`) leaves the directory names-only …
  const a = await h.lookup(d.nodeid, 'n1');
  const mid = await list();
  assert.equal(mid.find((e) => e.name === 'n2')!.nodeid, 0);
  h.forget(mid.find((e) => e.name === 'given')!.nodeid, 1);
  // … a second one (`ls -l` stats them all) turns attributes on for the directory.
  const b = await h.lookup(d.nodeid, 'n2');
  assert.equal((await h.lookup(d.nodeid, 'missing')).error, 2);
  fs.getattrs = 0;
  const full = await list();
  assert.equal(fs.getattrs, 10, 'a getattr per entry listed without a stat');
  for (const e of full.filter((x) => x.name.startsWith('n'))) assert.deepEqual([e.nodeid > 0, e.attr.size, e.type], [true, 7, 8], e.name);
  assert.equal(full.find((e) => e.name === 'n1')!.nodeid, a.nodeid, 'a known name keeps its node');
  // Every entry sent holds one lookup: hand them all back and only the root, d, n1 and n2 remain.
  h.batchForget(full.filter((e) => e.nodeid > 0).map((e) => [e.nodeid, 1] as const));
  assert.equal(h.nodes, nodes + 2);
  h.forget(a.nodeid, 1);
  h.forget(b.nodeid, 1);
  assert.equal(h.nodes, nodes);
});

test("READDIRPLUS with statEntries 'never' stays names only; a known node gives d_ino and d_type", async () => {
  const fs = namesOnlyFs(5);
  const h = await Harness.start(fs, { statEntries: 'never', useIno: false });
  const d = await h.lookup(1, 'd');
  const known = await h.lookup(d.nodeid, 'n3');
  await h.lookup(d.nodeid, 'n4');
  for (let round = 0; round < 2; round++) {
    const o = await h.open(d.nodeid, 0, 'OPENDIR');
    fs.getattrs = 0;
    const page = await h.readdirplus(d.nodeid, o.fh, 0, 65536);
    await h.release(d.nodeid, o.fh, 'RELEASEDIR');
    assert.equal(fs.getattrs, 0);
    const n3 = page.entries.find((e) => e.name === 'n3')!;
    assert.deepEqual([n3.nodeid, n3.ino, n3.type], [0, known.nodeid, 8]);
    assert.equal(page.entries.find((e) => e.name === 'n0')!.nodeid, 0);
  }
});

test("entryTimeout 0: no READDIRPLUS (unless statEntries is 'always'), READDIR pages give a known node's d_ino and d_type", async () => {
  for (const statEntries of ['auto', 'never', 'always'] as const) {
    const fs = namesOnlyFs(5);
    const h = await Harness.start(fs, { entryTimeout: 0, statEntries, useIno: false });
    assert.equal(typeof h.ops.readdirplus, statEntries === 'always' ? 'function' : 'undefined', statEntries);
    if (statEntries === 'always') continue;
    // Without the operation the kernel is never offered READDIRPLUS, and the core answers a stray one ENOSYS.
    const d = await h.lookup(1, 'd');
    const known = await h.lookup(d.nodeid, 'n3');
    const o = await h.open(d.nodeid, 0, 'OPENDIR');
    assert.equal((await h.readdirplus(d.nodeid, o.fh, 0, 65536)).error, 38, "ENOSYS");
    fs.getattrs = 0;
    const page = await h.readdir(d.nodeid, o.fh, 0, 65536);
    await h.release(d.nodeid, o.fh, 'RELEASEDIR');
    assert.equal(fs.getattrs, 0, statEntries);
    assert.deepEqual(page.entries.map((e) => e.name), ['.', '..', 'n0', 'n1', 'n2', 'n3', 'n4', 'given']);
    const n3 = page.entries.find((e) => e.name === 'n3')!;
    assert.deepEqual([n3.ino, n3.type], [known.nodeid, 8]);
    assert.deepEqual([page.entries[2]!.ino, page.entries[2]!.type], [0xffff_ffff, 0], 'unknown');
  }
});

test('READDIR pages are packed by the layer: names in UTF-8 or latin1, d_ino and d_type from the listing or the table, paging exact', async () => {
  const names = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `é-${i}` : i % 3 === 1 ? `plain-${i}` : `a-much-longer-name-to-vary-record-sizes-${i}`));
  const fs: PathFilesystem = {
    getattr: (path) => (path === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o644, ino: 77 }),
    readdir: () => names.map((n, i) => (i === 5 ? { name: n, stat: { mode: S_IFDIR | 0o755, ino: 5000 } } : n)),
  };
  for (const nameEncoding of ['utf8', 'latin1'] as const) {
    const h = await Harness.start(fs, { nameEncoding });
    const known = await h.lookup(1, Buffer.from(names[1]!, nameEncoding));
    const o = await h.open(1, 0, 'OPENDIR');
    const seen: { ino: number; off: number; type: number; name: string }[] = [];
    for (let off = 0; ;) {
      const page = await h.readdir(1, o.fh, off, 4096);
      assert.equal(page.error, 0);
      if (page.entries.length === 0) break;
      seen.push(...page.entries);
      off = page.entries.at(-1)!.off;
    }
    assert.deepEqual(seen.map((e) => e.off), Array.from({ length: 302 }, (_, i) => i + 1), 'offsets 1…n, each once');
    const decoded = seen.slice(2).map((e) => (nameEncoding === 'latin1' ? Buffer.from(e.name, 'utf8').toString('latin1') : e.name));
    if (nameEncoding === 'utf8') assert.deepEqual(decoded, names);
    assert.deepEqual([seen[0]!.name, seen[1]!.name, seen[0]!.type], ['.', '..', 4]);
    assert.deepEqual([seen[7]!.ino, seen[7]!.type], [5000, 4], 'from the stat given with the entry');
    assert.deepEqual([seen[3]!.ino, seen[3]!.type], [77, 8], 'from the node the table has');
    assert.deepEqual([seen[4]!.ino, seen[4]!.type], [0xffff_ffff, 0], 'unknown');
    h.forget(known.nodeid, 1);
    await h.release(1, o.fh, 'RELEASEDIR');
  }
});

test('a names-only READDIRPLUS page stops after 16 names; READDIR pages carry the rest', async () => {
  const fs = namesOnlyFs(100);
  const h = await Harness.start(fs);
  const d = await h.lookup(1, 'd');
  const o = await h.open(d.nodeid, 0, 'OPENDIR');
  const first = await h.readdirplus(d.nodeid, o.fh, 0, 65536);
  assert.deepEqual(first.entries.map((e) => e.name), ['.', '..', ...Array.from({ length: 16 }, (_, i) => `n${i}`)]);
  assert.equal(fs.getattrs, 1, 'only the lookup of d');
  const rest = await h.readdir(d.nodeid, o.fh, first.entries.at(-1)!.off, 65536);
  assert.deepEqual(rest.entries.map((e) => e.name), [...Array.from({ length: 84 }, (_, i) => `n${i + 16}`), 'given']);
  assert.equal((await h.readdir(d.nodeid, o.fh, rest.entries.at(-1)!.off, 65536)).entries.length, 0);
  await h.release(d.nodeid, o.fh, 'RELEASEDIR');
});

test('READDIR of a listing packed once: names of 3-byte characters (more than the packing first allows for), pages of any size, seeks back and past the end', async () => {
  const names = Array.from({ length: 200 }, (_, i) => `${'目录'.repeat(20)}-${i}`);
  const fs: PathFilesystem = {
    getattr: (path) => (path === '/' ? { mode: S_IFDIR | 0o755 } : { mode: S_IFREG | 0o644 }),
    readdir: () => names,
  };
  const h = await Harness.start(fs);
  const o = await h.open(1, 0, 'OPENDIR');
  for (const size of [4096, 200, 65536]) {
    const seen: { off: number; name: string }[] = [];
    for (let off = 0; ;) {
      const page = await h.readdir(1, o.fh, off, size);
      assert.equal(page.error, 0);
      if (page.entries.length === 0) break;
      seen.push(...page.entries);
      off = page.entries.at(-1)!.off;
    }
    assert.deepEqual(seen.map((e) => e.off), Array.from({ length: 202 }, (_, i) => i + 1), `offsets 1…n, each once (size ${size})`);
    assert.deepEqual(seen.slice(2).map((e) => e.name), names);
  }
  // A seek back (telldir/seekdir) to the middle, and offsets at and past the end.
  const middle = await h.readdir(1, o.fh, 100, 4096);
  assert.equal(middle.entries[0]!.name, names[98]);
  assert.equal((await h.readdir(1, o.fh, 202, 4096)).entries.length, 0);
  assert.equal((await h.readdir(1, o.fh, 5000, 4096)).entries.length, 0);
  // A buffer too small for the next record: nothing, rather than a cut record.
  assert.equal((await h.readdir(1, o.fh, 2, 64)).entries.length, 0);
  await h.release(1, o.fh, 'RELEASEDIR');
});
