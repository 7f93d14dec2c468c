// The 20-line hello of examples/hello-path.ts, mounted for real through pathOperations, used from other
// processes: cat, ls, stat, and touch refused with "Read-only file system".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { mount, pathOperations, type FuseMount } from '../../src/index.ts';
import { hello } from '../../examples/hello-path.ts';
import { freshMountpoint, isFuseMount, leftoverMounts, mountSkip, run, safeUnmount } from '../support/mount-helpers.ts';

const skip = mountSkip();

test('examples/hello-path.ts is at most 20 lines', () => {
  const source = readFileSync(fileURLToPath(new URL('../../examples/hello-path.ts', import.meta.url)), 'utf8');
  const lines = source.trimEnd().split('\n').length;
  assert.ok(lines <= 20, `${lines} lines`);
});

test('hello-path mounted: cat, ls, stat from other processes; touch says "Read-only file system"', { skip, timeout: 30_000 }, async () => {
  const dir = freshMountpoint();
  let m: FuseMount | undefined;
  try {
    m = await mount(dir, pathOperations(hello), { method: 'mount' });
    assert.ok(isFuseMount(dir));

    const cat = await run('cat', [`${dir}/hello`]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'Hello World!\n');

    const ls = await run('ls', ['-a', dir]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(ls.stdout.split('\n').filter(Boolean), ['.', '..', 'hello']);

    const ll = await run('ls', ['-ln', dir]);
    assert.equal(ll.code, 0, ll.stderr);
    assert.match(ll.stdout, /^-r--r--r-- 1 0 0 13 .* hello$/m);

    const st = await run('stat', ['-c', '%a %s %F', `${dir}/hello`, dir]);
    assert.equal(st.stdout, '444 13 regular file\n755 0 directory\n');

    const touchNew = await run('touch', [`${dir}/new`]);
    assert.notEqual(touchNew.code, 0);
    assert.match(touchNew.stderr, /Read-only file system/);
    const touchOld = await run('touch', [`${dir}/hello`]);
    assert.notEqual(touchOld.code, 0);
    assert.match(touchOld.stderr, /Read-only file system/);
    const mkdir = await run('mkdir', [`${dir}/d`]);
    assert.match(mkdir.stderr, /Read-only file system/);
    const rm = await run('rm', ['-f', `${dir}/hello`]);
    assert.match(rm.stderr, /Read-only file system/);

    const missing = await run('cat', [`${dir}/nope`]);
    assert.match(missing.stderr, /No such file or directory/);
    assert.equal((await run('cat', [`${dir}/hello`])).stdout, 'Hello World!\n', 'unchanged');
  } finally {
    await safeUnmount(m, dir);
    await fsp.rmdir(dir).catch(() => {});
  }
});

test('hello-path: no FUSE mount of this file remains', { skip, timeout: 30_000 }, () => {
  assert.deepEqual(leftoverMounts(), []);
});
