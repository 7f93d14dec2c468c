// memfs through the path layer and the real protocol core, frame by frame (no mount): hard links share
// one node id, offsets past 4 GiB, unlink while open, readdir, errors as errnos.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel, decodeAttrOut, decodeDirents, decodeEntryOut, decodeOpenOut } from '../../src/testing.ts';
import { pathOperations } from '../../src/ops/path/layer.ts';
import { newFs, S_IFDIR, S_IFREG } from './helpers.ts';

const ROOT = 1;
const ENTRY_OUT = 128;
const name = (s: string): Buffer => Buffer.from(`${s}\0`);

function u64(b: Buffer, at: number, v: number | bigint): void {
  b.writeBigUInt64LE(BigInt(v), at);
}

async function start(): Promise<FakeKernel> {
  const k = new FakeKernel(pathOperations(newFs({ size: 1 << 20 })));
  await k.init();
  return k;
}

async function ok(k: FakeKernel, op: string, node: number | bigint, body: Buffer | Buffer[] = []): Promise<Buffer> {
  const r = await k.request(op, BigInt(node), body);
  assert.equal(r.error, 0, `${op} failed with errno ${r.error}`);
  return r.body;
}

function mkdirIn(mode: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(mode, 0);
  return b;
}

function createIn(flags: number, mode: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(flags, 0);
  b.writeUInt32LE(mode, 4);
  return b;
}

function rwIn(fh: bigint, offset: number, size: number): Buffer {
  const b = Buffer.alloc(40);
  u64(b, 0, fh);
  u64(b, 8, offset);
  b.writeUInt32LE(size, 16);
  return b;
}

function fhIn(fh: bigint, size = 24): Buffer {
  const b = Buffer.alloc(size);
  u64(b, 0, fh);
  return b;
}

test('hard links share one node id and inode number; data past 4 GiB; unlink while open', async () => {
  const k = await start();
  const dir = decodeEntryOut(await ok(k, 'MKDIR', ROOT, [mkdirIn(0o755), name('d')]));
  assert.equal(dir.attr.mode, S_IFDIR | 0o755);
  const created = await ok(k, 'CREATE', dir.nodeid, [createIn(2 /* O_RDWR */, S_IFREG | 0o644), name('a')]);
  const file = decodeEntryOut(created.subarray(0, ENTRY_OUT));
  const { fh } = decodeOpenOut(created.subarray(ENTRY_OUT));

  const far = 2 ** 32 + 10;
  const data = Buffer.from('beyond four gigabytes');
  const written = await ok(k, 'WRITE', file.nodeid, [rwIn(BigInt(fh), far, data.length), data]);
  assert.equal(written.readUInt32LE(0), data.length);
  assert.deepEqual(await ok(k, 'READ', file.nodeid, rwIn(BigInt(fh), far, 100)), data);
  assert.deepEqual(await ok(k, 'READ', file.nodeid, rwIn(BigInt(fh), 4096, 4)), Buffer.alloc(4), 'a hole');

  const linkIn = Buffer.alloc(8);
  u64(linkIn, 0, file.nodeid);
  const link = decodeEntryOut(await ok(k, 'LINK', ROOT, [linkIn, name('b')]));
  assert.equal(link.nodeid, file.nodeid, 'one node for both names');
  assert.equal(link.attr.nlink, 2);
  const looked = decodeEntryOut(await ok(k, 'LOOKUP', ROOT, name('b')));
  assert.equal(looked.nodeid, file.nodeid);
  assert.equal(looked.attr.ino, file.attr.ino);
  assert.equal(looked.attr.size, far + data.length);

  await ok(k, 'UNLINK', dir.nodeid, name('a'));
  await ok(k, 'UNLINK', ROOT, name('b'));
  assert.equal((await k.request('LOOKUP', ROOT, name('b'))).error, 2, 'ENOENT');
  assert.deepEqual(await ok(k, 'READ', file.nodeid, rwIn(BigInt(fh), far, 7)), data.subarray(0, 7), 'still readable through the handle');
  const getattrIn = Buffer.alloc(16); // fstat: FUSE_GETATTR_FH with the handle
  getattrIn.writeUInt32LE(1, 0);
  u64(getattrIn, 8, fh);
  const attr = decodeAttrOut(await ok(k, 'GETATTR', file.nodeid, getattrIn));
  assert.equal(attr.attr.nlink, 0);
  await ok(k, 'RELEASE', file.nodeid, fhIn(BigInt(fh)));
  k.check();
});

test('readdir lists entries with their inode numbers and types; errors arrive as errnos', async () => {
  const k = await start();
  const d = decodeEntryOut(await ok(k, 'MKDIR', ROOT, [mkdirIn(0o755), name('dir')]));
  const created = await ok(k, 'CREATE', ROOT, [createIn(1, S_IFREG | 0o600), name('file')]);
  const file = decodeEntryOut(created.subarray(0, ENTRY_OUT));
  await ok(k, 'RELEASE', file.nodeid, fhIn(BigInt(decodeOpenOut(created.subarray(ENTRY_OUT)).fh)));
  const { fh } = decodeOpenOut(await ok(k, 'OPENDIR', ROOT, Buffer.alloc(8)));
  const entries = decodeDirents(await ok(k, 'READDIR', ROOT, rwIn(BigInt(fh), 0, 4096)));
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.equal(byName.get('dir')?.ino, d.attr.ino);
  assert.equal(byName.get('dir')?.type, 4);
  assert.equal(byName.get('file')?.ino, file.attr.ino);
  assert.equal(byName.get('file')?.type, 8);
  assert.ok(byName.has('.') && byName.has('..'));
  await ok(k, 'RELEASEDIR', ROOT, fhIn(BigInt(fh)));

  assert.equal((await k.request('MKDIR', ROOT, [mkdirIn(0o755), name('dir')])).error, 17, 'EEXIST');
  assert.equal((await k.request('RMDIR', ROOT, name('file'))).error, 20, 'ENOTDIR');
  assert.equal((await k.request('LOOKUP', ROOT, name('x'.repeat(256)))).error, 36, 'ENAMETOOLONG');
  const renameIn = Buffer.alloc(8);
  u64(renameIn, 0, d.nodeid);
  assert.equal((await k.request('RENAME', ROOT, [renameIn, name('dir'), name('inside')])).error, 22, 'EINVAL: into itself');
  k.check();
});
