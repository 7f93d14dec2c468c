// The passthrough's open-file map indexed by node (src/passthrough/open-files.ts): descriptorOf gives an
// open descriptor of a node for exactly as long as one is open, through every way the map changes, and
// the clone-queue workers' table stays mirrored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFiles, type NodeHandle } from '../../src/passthrough/open-files.ts';

interface Node { readonly id: number }
type Handle = NodeHandle<Node>;
const a: Node = { id: 1 };
const b: Node = { id: 2 };
const open = (fd: number, node: Node, passthrough = false): Handle => ({ fd, node, passthrough });

test('descriptorOf: the earliest descriptor still open on the node, none once all are released', () => {
  const files = new OpenFiles<Node, Handle>();
  assert.equal(files.descriptorOf(a), undefined);
  files.set(100, open(10, a));
  files.set(101, open(11, b));
  files.set(102, open(12, a));
  files.set(103, open(13, a));
  assert.equal(files.descriptorOf(a), 10);
  assert.equal(files.descriptorOf(b), 11);
  files.delete(100);
  assert.equal(files.descriptorOf(a), 12);
  files.delete(103);
  assert.equal(files.descriptorOf(a), 12, 'a later one going leaves the earlier');
  files.delete(102);
  assert.equal(files.descriptorOf(a), undefined);
  assert.equal(files.descriptorOf(b), 11);
  assert.equal(files.delete(999), false, 'an unknown handle changes nothing');
  assert.equal(files.descriptorOf(b), 11);
});

test('a handle set again under the same number moves its descriptor; lost handles (fd -1) are not indexed; clear forgets all', () => {
  const files = new OpenFiles<Node, Handle>();
  files.set(1, open(20, a));
  files.set(1, open(21, b));
  assert.equal(files.descriptorOf(a), undefined);
  assert.equal(files.descriptorOf(b), 21);
  files.set(2, open(-1, a));
  assert.equal(files.descriptorOf(a), undefined, 'a crash-lost handle has no descriptor to offer');
  files.set(3, open(22, a));
  files.set(4, open(23, a));
  files.delete(2);
  assert.equal(files.descriptorOf(a), 22);
  files.clear();
  assert.equal(files.size, 0);
  assert.equal(files.descriptorOf(a), undefined);
  assert.equal(files.descriptorOf(b), undefined);
  files.set(5, open(24, a));
  assert.equal(files.descriptorOf(a), 24, 'indexing goes on after clear');
});

test('the workers\' table is still mirrored: daemon-served handles in it, passed-through ones not', () => {
  const files = new OpenFiles<Node, Handle>();
  files.set(7, open(30, a));
  files.set(8, open(31, a, true));
  assert.equal(files.table.get(7), 30);
  assert.equal(files.table.get(8), undefined);
  assert.equal(files.descriptorOf(a), 30, 'a passed-through handle\'s descriptor is open on the node too');
  files.delete(7);
  assert.equal(files.table.get(7), undefined);
  assert.equal(files.descriptorOf(a), 31);
});
