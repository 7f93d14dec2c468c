// mountFake against the low-level hello filesystem (src/hello.ts) and the path-level one of
// examples/hello-path.ts: what each serves, and the errors a read-only filesystem gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountFake, type FakeSystemError } from '../../src/testing/client.ts';
import { helloFilesystem } from '../../src/hello.ts';
import { hello as helloPath } from '../../examples/hello-path.ts';

const STARTED = 1_700_000_000;

async function code(p: Promise<unknown>): Promise<[string, string]> {
  const e = await p.then(() => assert.fail('expected an error'), (err: FakeSystemError) => err);
  return [e.code, e.syscall];
}

test('low-level hello: read, list, stat, statfs', async () => {
  await using m = await mountFake(helloFilesystem(STARTED));
  assert.equal(await m.readFile('/hello.txt', 'utf8'), 'Hello from FUSE!\n');
  assert.deepEqual(await m.readdir('/'), ['hello.txt']);
  const st = await m.stat('/hello.txt');
  assert.ok(st.isFile());
  assert.deepEqual([st.ino, st.size, st.mode, st.mtimeMs], [2, 17, 0o100444, STARTED * 1000]);
  const root = await m.stat('/');
  assert.deepEqual([root.isDirectory(), root.mode, root.nlink], [true, 0o040555, 2]);
  const h = await m.open('/hello.txt');
  assert.deepEqual(await h.read(5, 6), Buffer.from('from '));
  await h.close();
  const fs = await m.statfs();
  assert.deepEqual([fs.blocks, fs.bsize, fs.files, fs.namelen], [1, 4096, 2, 255]);
  assert.equal(m.lookupsOf(2), 3, 'one reference for each walk to /hello.txt (readFile, stat, open); plain READDIR takes none');
});

test('low-level hello: read-only errors as Node errors', async () => {
  await using m = await mountFake(helloFilesystem(STARTED));
  assert.deepEqual(await code(m.readFile('/nope')), ['ENOENT', 'open']);
  assert.deepEqual(await code(m.writeFile('/new', 'x')), ['EROFS', 'open']);
  assert.deepEqual(await code(m.writeFile('/hello.txt', 'x')), ['EROFS', 'open']);
  assert.deepEqual(await code(m.mkdir('/d')), ['EROFS', 'mkdir']);
  assert.deepEqual(await code(m.unlink('/hello.txt')), ['EROFS', 'unlink']);
  assert.deepEqual(await code(m.rename('/hello.txt', '/x')), ['EROFS', 'rename']);
  assert.deepEqual(await code(m.symlink('hello.txt', '/l')), ['EROFS', 'symlink']);
  assert.deepEqual(await code(m.chmod('/hello.txt', 0o644)), ['EROFS', 'chmod']);
  assert.deepEqual(await code(m.setxattr('/hello.txt', 'user.a', 'v')), ['EROFS', 'setxattr']);
  assert.deepEqual(await code(m.getxattr('/hello.txt', 'user.a')), ['ENOSYS', 'getxattr']);
  assert.deepEqual(await code(m.readFile('/')), ['EISDIR', 'read']);
  assert.deepEqual(await code(m.readdir('/hello.txt')), ['ENOTDIR', 'scandir']);
  assert.deepEqual(await code(m.stat('/hello.txt/x')), ['ENOTDIR', 'stat']);
});

test('a minimal path filesystem (examples/hello-path.ts) is taken as a PathFilesystem', async () => {
  await using m = await mountFake(helloPath);
  assert.deepEqual(await m.readdir('/'), ['hello']);
  assert.equal(await m.readFile('/hello', 'utf8'), 'Hello World!\n');
  assert.deepEqual(await code(m.writeFile('/hello', 'x')), ['EROFS', 'open']);
  assert.ok('nodeCount' in m.ops);
});

test('mountFake refuses what is not a filesystem', async () => {
  await assert.rejects(mountFake(null as unknown as object), { code: 'ERR_INVALID_ARG_VALUE' });
});
