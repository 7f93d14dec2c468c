// Regressions found by the soak (test/conformance/soak.ts) and pjdfstest mkdir/00.t on memfs: the path
// layer freed nodes the kernel still held, so the kernel's next request about them got ESTALE, and a name
// looked up again got a second node id for the same file (two kernel inodes, two page caches: stale
// sizes and contents). Each case replays, through the fake kernel, the exact frames that did it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemfs } from '../../src/memfs/index.ts';
import { Harness, S_IFREG } from './harness.ts';

const ESTALE = 116;

test('READDIRPLUS "." and ".." carry node id 0, so the core forgets no lookup for them', async () => {
  // memfs numbers inodes 1, 2, 3, … and the layer numbers nodes 1, 2, 3, …: /a is inode 2 and node 2,
  // /a/b inode 3 and node 3. The dot entries of /a/b carried node ids 3 and 2 (the inode numbers), and
  // the core, which hands the dots' lookups back (the kernel takes none), forgot one lookup of each.
  const h = await Harness.start(createMemfs({ uid: 0, gid: 0 }));
  const a = await h.mkdir(1, 'a');
  const b = await h.mkdir(a.nodeid, 'b');
  const f = await h.create(b.nodeid, 'f', S_IFREG | 0o644, 0o101);
  assert.equal(f.entry.error, 0);
  await h.release(f.entry.nodeid, f.fh);
  assert.deepEqual([a.nodeid, b.nodeid, a.attr.ino, b.attr.ino], [2, 3, 2, 3], 'node ids equal to inode numbers: the case that bit');
  const held = h.nodes;

  const d = await h.open(b.nodeid, 0, 'OPENDIR');
  const page = await h.readdirplus(b.nodeid, d.fh, 0);
  assert.deepEqual(page.entries.map((e) => e.name), ['.', '..', 'f']);
  const [dot, dotdot, file] = page.entries;
  assert.equal(dot!.nodeid, 0, '"." is not a lookup: node id 0');
  assert.equal(dotdot!.nodeid, 0, '".." is not a lookup: node id 0');
  assert.equal(dot!.ino, b.attr.ino, 'd_ino of "." is the directory\'s inode number');
  assert.equal(dotdot!.ino, a.attr.ino, 'd_ino of ".." is the parent\'s inode number');
  assert.equal(file!.nodeid, f.entry.nodeid, 'the file keeps its node');
  await h.release(b.nodeid, d.fh, 'RELEASEDIR');

  // The kernel still holds a, b (one lookup each from MKDIR) and f (CREATE + READDIRPLUS).
  assert.equal(h.nodes, held);
  for (const id of [a.nodeid, b.nodeid, f.entry.nodeid]) assert.equal((await h.getattr(id)).error, 0, `node ${id} still known`);
  // And a lookup of a listed name answers the node the kernel has, not a new one.
  assert.equal((await h.lookup(a.nodeid, 'b')).nodeid, b.nodeid);

  // The kernel's own counts bring everything back to the root.
  h.batchForget([[f.entry.nodeid, 2], [b.nodeid, 2], [a.nodeid, 1]]);
  assert.equal(h.nodes, 1);
  assert.equal((await h.getattr(b.nodeid)).error, ESTALE, 'forgotten for real now');
});

test('READDIRPLUS repeated over a tree: every node the kernel holds stays known (pjdfstest mkdir/00.t cwd)', async () => {
  // pjdfstest works in a directory it made, below directories the earlier tests made: every `ls` of
  // any directory below the root used to take a lookup from two unrelated nodes, until the test's own
  // working directory went (chmod . → ESTALE).
  const h = await Harness.start(createMemfs({ uid: 0, gid: 0 }));
  const dirs: number[] = [];
  const files: [dir: number, name: string, id: number][] = [];
  let dir = 1;
  for (let depth = 0; depth < 6; depth++) {
    const sub = await h.mkdir(dir, `d${depth}`);
    dirs.push(sub.nodeid);
    for (let i = 0; i < 3; i++) files.push([sub.nodeid, `n${i}`, (await h.mknod(sub.nodeid, `n${i}`, S_IFREG | 0o644)).nodeid]);
    dir = sub.nodeid;
  }
  const before = h.nodes;
  for (let round = 0; round < 4; round++) {
    for (const id of dirs) {
      const d = await h.open(id, 0, 'OPENDIR');
      const page = await h.readdirplus(id, d.fh, 0);
      await h.release(id, d.fh, 'RELEASEDIR');
      // Give back what the listing added, as the kernel does once it drops those dentries.
      h.batchForget(page.entries.filter((e) => e.nodeid !== 0).map((e) => [e.nodeid, 1] as const));
    }
  }
  assert.equal(h.nodes, before);
  // The files go (rm), and the kernel forgets them: the directories, still held by MKDIR's lookup, stay.
  for (const [parent, name, id] of files) {
    assert.equal((await h.unlink(parent, name)).error, 0);
    h.forget(id, 1);
  }
  assert.equal(h.nodes, 1 + dirs.length);
  for (const id of dirs) {
    assert.equal((await h.getattr(id)).error, 0, `directory node ${id} still known`);
    assert.equal((await h.setattr(id, { mode: 0o777 })).error, 0, `chmod of directory node ${id}`);
  }
});

test('READDIRPLUS pages after the first carry attributes as of that request, not as of the listing', async () => {
  // memfs hands its listing over with every entry's stat. The listing is kept for the handle (offsets
  // stay valid), but the kernel trusts the attributes of a READDIRPLUS reply when nothing changed the
  // inode since it sent that request (fs/fuse/inode.c fuse_change_attributes_common, attr_version):
  // a write between two getdents(2) calls of one listing was undone by the next page (a file read back
  // short: the soak's "wrong size"), and a name unlinked in between came back to life in the dcache
  // (the soak's "unlinked name still there").
  for (const statEntries of ['always', 'auto'] as const) {
  const h = await Harness.start(createMemfs({ uid: 0, gid: 0 }), { statEntries });
  const d = await h.mkdir(1, 'd');
  const ids = new Map<string, number>();
  for (let i = 0; i < 40; i++) ids.set(`file-${i}`, (await h.mknod(d.nodeid, `file-${i}`, S_IFREG | 0o644)).nodeid);
  const o = await h.open(d.nodeid, 0, 'OPENDIR');
  const first = await h.readdirplus(d.nodeid, o.fh, 0, 1024);
  const seen = new Set(first.entries.map((e) => e.name));
  const later = [...ids.keys()].filter((n) => !seen.has(n));
  assert.ok(later.length >= 3, `${later.length} names left for the next page`);
  // Between the two getdents calls: one file grows, one is unlinked (and forgotten by the kernel).
  const [grown, gone] = later as [string, string];
  assert.equal((await h.setattr(ids.get(grown)!, { size: 12345 })).error, 0);
  assert.equal((await h.unlink(d.nodeid, gone)).error, 0);
  h.forget(ids.get(gone)!, 1);
  const second = await h.readdirplus(d.nodeid, o.fh, first.entries.at(-1)!.off, 65536);
  const byName = new Map(second.entries.map((e) => [e.name, e]));
  if (statEntries === 'always') {
    assert.equal(byName.get(grown)?.attr.size, 12345, 'the size as it is now');
    assert.equal(byName.has(gone), false, 'an unlinked name is not handed to the kernel as an entry with a lookup');
  } else {
    // Names only for the entries whose stats are as old as the listing: nothing stale reaches the kernel.
    assert.equal(byName.get(grown)?.nodeid, 0, 'no attributes rather than old ones');
    assert.equal(byName.get(gone)?.nodeid ?? 0, 0, 'an unlinked name carries no lookup');
  }
  assert.equal((await h.lookup(d.nodeid, gone)).error, 2, 'and it stays gone');
  await h.release(d.nodeid, o.fh, 'RELEASEDIR');
  }
});
