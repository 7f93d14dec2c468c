// How the passthrough's LOOKUP finds a name (passthrough.ts lookupEntry): stat'ed first (one statx for a
// node the table holds), or, in a directory whose recent lookups found new inodes, opened first (openat,
// then the descriptor's statx). Through the fake kernel: which calls each lookup makes (counted on the
// node:ffi calls, so under Node >= 26; a child runs them under TSFUSE_NODE26), and that either order
// answers the same entries, counts the same lookups and leaves no descriptor open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeKernel, build, decodeEntryOut } from '../../src/testing.ts';
import { createPassthrough } from '../../src/passthrough/index.ts';
import { atCalls, type AtCalls } from '../../src/passthrough/at-calls.ts';
import { NODE26_SKIP, passUnderNode26 } from '../support/mount-helpers.ts';
import { openDescriptors } from '../support/descriptors.ts';
import { Errno } from '../../src/errors.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const calls = atCalls();

/** Descriptors of this process open on files below `dir` (not `dir` itself: the root node's). */
const openUnder = (dir: string): number => openDescriptors((target) => target.startsWith(`${dir}/`));

/** A passthrough of a fresh SOURCE holding d/f0…f5, d/a and its hard link d/a2, through the fake kernel. */
interface Fixture {
  readonly lookup: (parent: number, name: string) => Promise<number>;
  readonly forget: (nodeid: number, nlookup: number) => Promise<void>;
  readonly nodeCount: () => number;
  readonly source: string;
}

async function withSource(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const source = fs.mkdtempSync(join(tmpdir(), 'tsfuse-lookup-order-'));
  fs.mkdirSync(join(source, 'd'));
  for (let i = 0; i < 6; i++) fs.writeFileSync(join(source, 'd', `f${i}`), '');
  fs.writeFileSync(join(source, 'd', 'a'), '');
  fs.linkSync(join(source, 'd', 'a'), join(source, 'd', 'a2'));
  const ops = createPassthrough(source, { kernelPassthrough: false });
  try {
    const k = new FakeKernel(ops);
    await k.init();
    const lookup = async (parent: number, name: string): Promise<number> => {
      const r = await k.request('LOOKUP', parent, build.lookup(name));
      if (r.error !== 0) return -r.error;
      return Number(decodeEntryOut(r.body).nodeid);
    };
    const forget = async (nodeid: number, nlookup: number): Promise<void> => {
      const unique = k.nextUnique();
      await k.send(k.frame('FORGET', nodeid, build.forget(nlookup), { unique }), unique, { expectNoReply: true, timeoutMs: 0 });
    };
    await fn({ lookup, forget, nodeCount: () => ops.nodeCount, source });
    k.check();
  } finally {
    ops.close();
    fs.rmSync(source, { recursive: true, force: true });
  }
}

/** Counts the *at calls the passthrough makes while `body` runs (they go through the one bound object). */
async function counting(c: AtCalls, body: () => Promise<void>): Promise<{ statAt: number; openAt: number }> {
  const n = { statAt: 0, openAt: 0 };
  const { statAt, openAt } = c;
  c.statAt = (...a) => { n.statAt++; return statAt(...a); };
  c.openAt = (...a) => { n.openAt++; return openAt(...a); };
  try {
    await body();
  } finally {
    c.statAt = statAt;
    c.openAt = openAt;
  }
  return n;
}

test('new inodes turn a directory\'s lookups to open-first, known ones turn them back to stat-first', { skip: calls === undefined && 'without node:ffi: run in a child under TSFUSE_NODE26 (last test)' }, async () => {
  const c = calls!;
  await withSource(async ({ lookup, source }) => {
    const d = await lookup(1, 'd');
    const ids: number[] = [];
    const each = async (name: string) => counting(c, async () => { ids.push(await lookup(d, name)); });
    // Two new inodes stat'ed first: statx by name, then the open (and the descriptor's statx, not counted here).
    assert.deepEqual(await each('f0'), { statAt: 1, openAt: 1 });
    assert.deepEqual(await each('f1'), { statAt: 1, openAt: 1 });
    // From then on (the count is 2), opened first: no statx by name.
    assert.deepEqual(await each('f2'), { statAt: 0, openAt: 1 });
    assert.deepEqual(await each('f3'), { statAt: 0, openAt: 1 });
    // Known nodes, opened first while the count stays at 2 or more (3 → 2 → 1), then stat'ed first.
    const fds = openUnder(source);
    assert.deepEqual(await each('f0'), { statAt: 0, openAt: 1 });
    assert.deepEqual(await each('f1'), { statAt: 0, openAt: 1 });
    assert.equal(openUnder(source), fds, 'the descriptor opened for a known node is closed');
    assert.deepEqual(await each('f0'), { statAt: 1, openAt: 0 });
    assert.deepEqual(ids, [ids[0], ids[1], ids[2], ids[3], ids[0], ids[1], ids[0]]);
    assert.equal(new Set(ids).size, 4);
    // The root's lookups of the known "d" stay stat-first all along.
    assert.deepEqual(await counting(c, async () => { assert.equal(await lookup(1, 'd'), d); }), { statAt: 1, openAt: 0 });
  });
});

test('opened first: a missing name is ENOENT, a hard link of a known inode is that node, nothing leaks', async () => {
  await withSource(async ({ lookup, forget, nodeCount, source }) => {
    const d = await lookup(1, 'd');
    const f = await Promise.all([lookup(d, 'f0'), lookup(d, 'f1'), lookup(d, 'f2')]);
    const a = await lookup(d, 'a');
    const fds = openUnder(source);
    assert.equal(fds, 5, 'one descriptor per node: d, f0, f1, f2, a');
    assert.equal(await lookup(d, 'missing'), -Errno.ENOENT);
    // a2 names the inode of a: the same node, counted twice (FORGET 2 below drops it).
    assert.equal(await lookup(d, 'a2'), a);
    assert.equal(openUnder(source), fds, 'no descriptor left open');
    // The name replaced in SOURCE since the last lookup: a new inode, a new node.
    fs.rmSync(join(source, 'd', 'f1'));
    fs.writeFileSync(join(source, 'd', 'f1'), 'new');
    const f1 = await lookup(d, 'f1');
    assert.notEqual(f1, f[1]);
    assert.equal(fs.statSync(join(source, 'd', 'f1')).ino + 1, f1, 'ids follow st_ino');
    // Every lookup forgotten: the table holds the root alone, and every descriptor it opened is closed.
    assert.equal(nodeCount(), 7);
    for (const [id, n] of [[d, 1], [f[0]!, 1], [f[1]!, 1], [f[2]!, 1], [a, 2], [f1, 1]] as const) await forget(id, n);
    assert.equal(nodeCount(), 1);
    assert.equal(openUnder(source), 0, 'every node\'s descriptor closed');
  });
});

test('under Node >= 26 (TSFUSE_NODE26): the node:ffi cases pass there too', { skip: calls !== undefined ? 'this Node has node:ffi: run above' : NODE26_SKIP, timeout: 120_000 }, () => {
  passUnderNode26(THIS_FILE);
});
