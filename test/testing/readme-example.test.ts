// test/my-filesystem.test.ts: run with `node --import tsx --test test/my-filesystem.test.ts`
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemfs, pathOperations, ROOT_ID } from '../../src/index.ts';
import { mountFake, FakeKernel, build, reply } from '../../src/testing.ts';

test('memfs keeps what it is given', async () => {
  await using fs = await mountFake(createMemfs()); // INIT done: no root, no /dev/fuse, no mount
  await fs.mkdir('/docs');
  await fs.writeFile('/docs/a.txt', 'hello');
  await fs.rename('/docs/a.txt', '/docs/b.txt');
  assert.deepEqual(await fs.readdir('/docs'), ['b.txt']);
  assert.equal(await fs.readFile('/docs/b.txt', 'utf8'), 'hello');
  assert.equal((await fs.stat('/docs')).mode, 0o040755); // 0o777 less the umask, 0o022
  await assert.rejects(fs.readFile('/docs/a.txt'), { code: 'ENOENT', syscall: 'open' });
});

test('one request, field by field', async () => {
  const kernel = new FakeKernel(pathOperations(createMemfs()));
  await kernel.init();
  const r = await kernel.request('MKDIR', ROOT_ID, build.mkdir('dir', { mode: 0o750, umask: 0o022 }));
  assert.equal(r.error, 0);
  assert.equal(reply.entry(r.body).attr.mode, 0o040750);
});
