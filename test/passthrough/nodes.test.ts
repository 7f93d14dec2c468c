// The passthrough's node table (src/passthrough/nodes.ts): how a backing inode is found again (through
// its id st_ino + 1, or by key when that id was taken), names kept as exact bytes, and a handoff's
// export/import. Real O_PATH descriptors of files in a temp dir; no mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { closeSync, fstatSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchingCloses } from '../support/watch-closes.ts';
import { COUNTED_IDS_FROM, NodeTable, O_PATH, identityOf, keyOf, type InodeIdentity, type PassthroughNode } from '../../src/passthrough/nodes.ts';

function withSource(files: readonly string[], f: (source: string) => void): void {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-nodes-'));
  try {
    for (const name of files) writeFileSync(join(source, name), name);
    f(source);
  } finally {
    rmSync(source, { recursive: true, force: true });
  }
}

/** An O_PATH descriptor of `source/name` and its identity. */
function openNode(source: string, name: string): { fd: number; st: InodeIdentity } {
  const fd = openSync(join(source, name), O_PATH);
  return { fd, st: identityOf(fstatSync(fd, { bigint: true })) };
}

test('a node is found again through its id st_ino + 1, the root through its identity; FORGET drops it', () => {
  withSource(['a'], (source) => {
    const table = new NodeTable(source);
    try {
      const { fd, st } = openNode(source, 'a');
      const a = table.adopt(fd, st, table.root, Buffer.from('a'));
      assert.equal(a.id, Number(st.ino) + 1);
      assert.equal(a.key, st.key);
      assert.equal(a.self, `/proc/self/fd/${fd}`);
      assert.equal(a.prefix.toString(), `/proc/self/fd/${fd}/`);
      assert.equal(table.find(st), a);
      assert.equal(table.find(identityOf(statSync(source, { bigint: true }))), table.root);
      // A second lookup of the same inode takes the count and closes the new descriptor.
      const again = openNode(source, 'a');
      assert.equal(table.adopt(again.fd, again.st, table.root, Buffer.from('a')), a);
      assert.throws(() => fstatSync(again.fd), { code: 'EBADF' });
      assert.equal(a.nlookup, 2);
      table.forget(a.id, 1);
      assert.equal(table.find(st), a, 'one lookup still held');
      table.forget(a.id, 1);
      assert.equal(table.find(st), undefined);
      assert.equal(table.get(a.id), undefined);
      assert.equal(a.fd, -1);
    } finally {
      table.clear();
    }
  });
});

test('an inode whose id st_ino + 1 is taken gets a counted id and is still found, by key', () => {
  withSource(['a', 'b'], (source) => {
    const old = new NodeTable(source);
    const a = openNode(source, 'a');
    const b = openNode(source, 'b');
    closeSync(b.fd);
    // A table from an older version that gave a the id b's inode would get now.
    const bId = Number(b.st.ino) + 1;
    const exported = old.exportNodes((fd) => fd);
    const table = new NodeTable(source);
    try {
      table.importNodes({
        nextId: exported.nextId,
        nodes: [...exported.nodes, { id: bId, fd: a.fd, key: a.st.key, type: a.st.mode & 0o170000, nlookup: 1, parent: 1, name: Buffer.from('a'), olderNames: undefined }],
      }, (token) => token);
      const aNode = table.get(bId)!;
      assert.equal(table.find(a.st), aNode, 'found by key: its id is not its own st_ino + 1');
      assert.equal(table.find(b.st), undefined, 'the node at b\'s id is another inode');
      const bAgain = openNode(source, 'b');
      const bNode = table.adopt(bAgain.fd, bAgain.st, table.root, Buffer.from('b'));
      assert.ok(bNode.id >= COUNTED_IDS_FROM, `counted id ${bNode.id}`);
      assert.equal(table.find(bAgain.st), bNode);
      assert.equal(table.find(a.st), aNode);
      table.forget(bNode.id, 1);
      assert.equal(table.find(bAgain.st), undefined);
      table.forget(aNode.id, 1);
      assert.equal(table.find(a.st), undefined);
      assert.equal(table.size, 1, 'the root alone');
    } finally {
      table.clear();
      old.clear();
    }
  });
});

test('names are kept as their exact bytes (not UTF-8), compared in place, and survive an export and import', () => {
  const odd = Buffer.from([0x66, 0xff, 0x80, 0x00 + 0x41, 0xc3]); // not valid UTF-8
  withSource(['a'], (source) => {
    const table = new NodeTable(source);
    const copy = new NodeTable(source);
    try {
      const { fd, st } = openNode(source, 'a');
      const a = table.adopt(fd, st, table.root, odd);
      assert.deepEqual(a.name, odd);
      assert.ok(a.isNamed(table.root, odd));
      assert.ok(!a.isNamed(table.root, Buffer.from('a')));
      assert.ok(!a.isNamed(a, odd), 'another parent');
      // A hard link seen under a second name: the newest first, the older kept.
      table.rename(a, table.root, Buffer.from('link'));
      assert.deepEqual(table.namesOf(a).map((n) => n.name), [Buffer.from('link'), odd]);
      table.unnamed(a, table.root, Buffer.from('link'));
      assert.deepEqual(a.name, odd);
      const exported = table.exportNodes((n) => n);
      assert.deepEqual(exported.nodes.find((n) => n.id === a.id)?.key, keyOf(fstatSync(fd, { bigint: true })));
      const fds = new Map<number, number>();
      copy.importNodes(exported, (token) => { const dup = openSync(`/proc/self/fd/${token}`, O_PATH); fds.set(token, dup); return dup; });
      const imported = copy.find(st)!;
      assert.equal(imported.id, a.id);
      assert.deepEqual(imported.name, odd);
      assert.equal(imported.parent, copy.root);
      assert.equal(copy.find(identityOf(statSync(source, { bigint: true }))), copy.root);
    } finally {
      table.clear();
      copy.clear();
    }
  });
});

test('an exported table without a root is refused: its descriptors are closed and the table keeps its own nodes', () => {
  withSource(['a'], (source) => {
    const table = new NodeTable(source);
    try {
      const a = openNode(source, 'a');
      const node = table.adopt(a.fd, a.st, table.root, Buffer.from('a'));
      const other = openNode(source, 'a');
      assert.throws(() => table.importNodes({
        nextId: COUNTED_IDS_FROM,
        nodes: [{ id: 5, fd: other.fd, key: other.st.key, type: other.st.mode & 0o170000, nlookup: 1, parent: undefined, name: undefined, olderNames: undefined }],
      }, (token) => token), /no root node/);
      assert.throws(() => fstatSync(other.fd), { code: 'EBADF' }, 'the imported descriptor is closed');
      assert.equal(table.find(a.st), node, 'the table is as it was');
      assert.equal(table.root.id, 1);
      assert.equal(fstatSync(table.root.fd).isDirectory(), true);
    } finally {
      table.clear();
    }
  });
});

interface Adopted { readonly fd: number; readonly node: PassthroughNode }

test('a node whose last link was removed has its descriptor closed on the thread pool at FORGET; others, and any at clear(), in line', async () => {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-nodes-'));
  const table = new NodeTable(source);
  try {
    await watchingCloses(async (closed) => {
      for (const name of ['gone', 'kept', 'late']) writeFileSync(join(source, name), name);
      const [gone, kept, late] = ['gone', 'kept', 'late'].map((name) => {
        const { fd, st } = openNode(source, name);
        return { fd, node: table.adopt(fd, st, table.root, Buffer.from(name)) };
      }) as [Adopted, Adopted, Adopted];
      rmSync(join(source, 'gone'));
      rmSync(join(source, 'late'));
      table.lastLinkRemoved(gone.node);
      table.lastLinkRemoved(late.node);
      table.forget(gone.node.id, 1);
      table.forget(kept.node.id, 1);
      assert.equal(table.get(gone.node.id), undefined, 'dropped from the table at once');
      assert.equal(gone.node.fd, -1);
      assert.deepEqual(closed.pool, [gone.fd], 'the unlinked node: on the thread pool');
      assert.deepEqual(closed.inLine, [kept.fd], 'a node with links left: in line');
      for (let i = 0; i < 200; i++) {
        try { fs.fstatSync(gone.fd); } catch { break; }
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.throws(() => fs.fstatSync(gone.fd), { code: 'EBADF' }, 'and closed');
      // Unmount: everything closed before clear() returns, unlinked or not.
      table.clear();
      assert.deepEqual(closed.pool, [gone.fd]);
      assert.ok(closed.inLine.includes(late.fd), 'clear() closes in line');
      assert.throws(() => fs.fstatSync(late.fd), { code: 'EBADF' });
    });
  } finally {
    table.clear();
    rmSync(source, { recursive: true, force: true });
  }
});
