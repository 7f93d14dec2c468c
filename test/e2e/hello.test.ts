// The hello example mounted for real (root, mount(8)), used from other processes and from the daemon's
// own process through async fs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import { mount, type FuseMount } from '../../src/index.ts';
import { helloFilesystem } from '../../examples/hello.ts';
import { freshMountpoint, isFuseMount, leftoverMounts, mountSkip, pyJson, rejectAfter, run, safeUnmount } from '../support/mount-helpers.ts';

const skip = mountSkip();

test('hello: ls, cat, stat and a refused write, from other processes; unmount leaves a plain dir', { skip, timeout: 30000 }, async () => {
  const dir = freshMountpoint();
  let m: FuseMount | undefined;
  try {
    m = await mount(dir, helloFilesystem(), { method: 'mount' });
    assert.equal(m.method, 'mount');
    assert.ok(isFuseMount(dir), 'mounted');

    const ls = await run('ls', ['-a', dir]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(ls.stdout.split('\n').filter(Boolean), ['.', '..', 'hello.txt']);

    const cat = await run('cat', [`${dir}/hello.txt`]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'Hello from FUSE!\n');

    const st = await run('stat', ['-c', '%a %s %F', `${dir}/hello.txt`]);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(st.stdout.trim(), '444 17 regular file');
    const root = await run('stat', ['-c', '%a %F', dir]);
    assert.equal(root.stdout.trim(), '555 directory');

    // Root bypasses mode bits (no default_permissions), so the refusal comes from the open handler.
    const write = await pyJson(`
import sys, json, errno
try:
    open(sys.argv[1], 'w').write('x'); print(json.dumps({'ok': True}))
except OSError as e:
    print(json.dumps({'errno': errno.errorcode[e.errno]}))
`, `${dir}/hello.txt`);
    assert.deepEqual(write, { errno: 'EACCES' });
    const sh = await run('sh', ['-c', `echo x > ${dir}/hello.txt`]);
    assert.notEqual(sh.code, 0);
    assert.match(sh.stderr, /Permission denied/);
    // The content is unchanged.
    assert.equal((await run('cat', [`${dir}/hello.txt`])).stdout, 'Hello from FUSE!\n');

    const missing = await run('stat', [`${dir}/nope`]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No such file or directory/);

    await m.unmount();
    m = undefined;
    assert.ok(!isFuseMount(dir), 'unmounted');
    const after = await run('ls', ['-A', dir]);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, '', 'the mountpoint is empty again');
    assert.ok((await fsp.stat(dir)).isDirectory());
  } finally {
    await safeUnmount(m, dir);
    await fsp.rmdir(dir).catch(() => {});
  }
});

for (const transport of ['epoll', 'worker'] as const) {
  test(`hello: the daemon's own process uses async fs on its mount without deadlocking (${transport})`, { skip, timeout: 30000 }, async () => {
    const dir = freshMountpoint();
    let m: FuseMount | undefined;
    try {
      m = await mount(dir, helloFilesystem(), { method: 'mount', transport });
      assert.equal(m.transport, transport);
      // 20 concurrent operations, more than libuv's 4 pool threads: each occupies a pool thread while
      // the kernel waits for this very process to answer.
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        const k = i % 4;
        ops.push(
          k === 0 ? fsp.readFile(`${dir}/hello.txt`, 'utf8') :
          k === 1 ? fsp.readdir(dir) :
          k === 2 ? fsp.stat(`${dir}/hello.txt`).then((s) => [s.size, s.mode & 0o7777]) :
          fsp.stat(`${dir}/missing-${i}`).then(() => 'exists', (e: NodeJS.ErrnoException) => e.code),
        );
      }
      const results = await Promise.race([
        Promise.all(ops),
        rejectAfter(10_000, 'deadlock: async fs on the own mount did not finish in 10 s'),
      ]) as unknown[];
      results.forEach((r, i) => {
        const k = i % 4;
        if (k === 0) assert.equal(r, 'Hello from FUSE!\n');
        else if (k === 1) assert.deepEqual(r, ['hello.txt']);
        else if (k === 2) assert.deepEqual(r, [17, 0o444]);
        else assert.equal(r, 'ENOENT');
      });
      // And a sequential round afterwards still works.
      assert.equal(await fsp.readFile(`${dir}/hello.txt`, 'utf8'), 'Hello from FUSE!\n');
    } finally {
      await safeUnmount(m, dir);
      await fsp.rmdir(dir).catch(() => {});
    }
  });
}

test('hello: no FUSE mount of these tests remains', { skip, timeout: 30000 }, () => {
  assert.deepEqual(leftoverMounts(), []);
});
