// mountFake against memfs through the path layer: every client method, Node-style errors, the lookup
// counts given back at close (the path layer's node table is back to the root alone), CREATE falling
// back to MKNOD + OPEN, READDIRPLUS only when negotiated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountFake, type FakeMount, type FakeSystemError, type MountFakeOptions } from '../../src/testing/client.ts';
import { createMemfs } from '../../src/memfs/index.ts';
import { pathOperations } from '../../src/ops/path/layer.ts';
import type { LowLevelOperations } from '../../src/ops/lowlevel.ts';
import type { PathOperations } from '../../src/ops/path/types.ts';

const memfs = () => createMemfs({ size: 1 << 22, uid: 0, gid: 0, groups: (ctx) => [ctx.gid] });

/** Low-level operations that count the calls of each method (a Proxy, so `nodeCount` stays live). */
function counted(ops: LowLevelOperations): { ops: PathOperations; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(ops, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => { calls.set(prop, (calls.get(prop) ?? 0) + 1); return v.apply(target, args); };
    },
  });
  return { ops: proxy as PathOperations, calls };
}

/** Asserts that `p` rejects with a Node-style error. */
async function rejects(p: Promise<unknown>, code: string, syscall: string, path?: string): Promise<void> {
  await assert.rejects(p, (e: FakeSystemError) => {
    assert.equal(e.code, code, e.message);
    assert.equal(e.syscall, syscall, e.message);
    if (path !== undefined) assert.equal(e.path, path);
    assert.ok(e.errno < 0, 'errno is negative, as in Node');
    assert.match(e.message, new RegExp(`^${code}: .+, ${syscall}`));
    return true;
  });
}

async function withMemfs(fn: (m: FakeMount, ops: PathOperations) => Promise<void>, options: MountFakeOptions = {}): Promise<void> {
  const ops = pathOperations(memfs());
  const m = await mountFake(ops, options);
  try {
    await fn(m, ops);
  } finally {
    await m.close();
  }
  assert.equal(ops.nodeCount, 1, 'every lookup reference was given back: only the root is left');
  assert.equal(ops.handleCount, 0, 'every handle released');
}

test('a PathFilesystem directly: write, read, append, stat, readdir', async () => {
  const m = await mountFake(memfs());
  try {
    await m.writeFile('/a.txt', 'hello');
    await m.appendFile('/a.txt', ', world');
    assert.equal(await m.readFile('/a.txt', 'utf8'), 'hello, world');
    assert.deepEqual(await m.readFile('/a.txt'), Buffer.from('hello, world'));
    const st = await m.stat('/a.txt');
    assert.ok(st.isFile() && !st.isDirectory());
    assert.equal(st.size, 12);
    assert.equal(st.mode & 0o7777, 0o644, 'the umask 022 applied to 0666');
    assert.equal(st.nlink, 1);
    assert.ok((await m.stat('/')).isDirectory());
    await m.mkdir('/d');
    assert.deepEqual((await m.readdir('/')).sort(), ['a.txt', 'd']);
    assert.deepEqual(await m.readdir('/d'), []);
    assert.equal((m.ops as PathOperations).nodeCount > 1, true, 'wrapped with pathOperations, whose node table holds what was looked up');
  } finally {
    await m.close();
  }
});

test('a large file crosses several READ and WRITE requests', async () => {
  await withMemfs(async (m) => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    await m.writeFile('/big', big);
    assert.ok(big.length > m.negotiated.maxWrite, 'more than one WRITE');
    assert.deepEqual(await m.readFile('/big'), big);
    assert.equal((await m.stat('/big')).size, big.length);
  });
});

test('directories: mkdir (mode, recursive), rmdir, and their errors', async () => {
  await withMemfs(async (m) => {
    await m.mkdir('/x', { mode: 0o750 });
    assert.equal((await m.stat('/x')).mode & 0o7777, 0o750);
    assert.equal(await m.mkdir('/x/y/z', { recursive: true }), '/x/y');
    assert.equal(await m.mkdir('/x/y/z', { recursive: true }), undefined, 'already there');
    assert.ok((await m.stat('/x/y/z')).isDirectory());
    await rejects(m.mkdir('/x'), 'EEXIST', 'mkdir', '/x');
    await rejects(m.mkdir('/nope/a'), 'ENOENT', 'mkdir', '/nope/a');
    await rejects(m.rmdir('/x'), 'ENOTEMPTY', 'rmdir', '/x');
    await m.writeFile('/x/f', '');
    await rejects(m.mkdir('/x/f/g', { recursive: true }), 'ENOTDIR', 'mkdir');
    await rejects(m.rmdir('/x/f'), 'ENOTDIR', 'rmdir');
    await rejects(m.readdir('/x/f'), 'ENOTDIR', 'scandir', '/x/f');
    await rejects(m.readFile('/x'), 'EISDIR', 'read');
    await m.rmdir('/x/y/z');
    await rejects(m.stat('/x/y/z'), 'ENOENT', 'stat', '/x/y/z');
    await rejects(m.rmdir('/'), 'EBUSY', 'rmdir');
  });
});

test('unlink, rename (plain, NOREPLACE, EXCHANGE)', async () => {
  await withMemfs(async (m) => {
    await m.writeFile('/a', 'A');
    await m.writeFile('/b', 'B');
    await rejects(m.rename('/a', '/b', 1), 'EEXIST', 'rename', '/a');
    await m.rename('/a', '/b', 2);
    assert.equal(await m.readFile('/a', 'utf8'), 'B');
    assert.equal(await m.readFile('/b', 'utf8'), 'A');
    await m.mkdir('/d');
    await m.rename('/a', '/d/c');
    assert.deepEqual((await m.readdir('/')).sort(), ['b', 'd']);
    assert.equal(await m.readFile('/d/c', 'utf8'), 'B');
    await m.rename('/b', '/d/c');
    assert.equal(await m.readFile('/d/c', 'utf8'), 'A');
    await rejects(m.rename('/nope', '/x'), 'ENOENT', 'rename', '/nope');
    await m.unlink('/d/c');
    await rejects(m.unlink('/d/c'), 'ENOENT', 'unlink', '/d/c');
    await rejects(m.unlink('/d'), 'EISDIR', 'unlink', '/d');
  });
});

test('symlinks: followed in paths and by stat/readFile, not by lstat/readlink; loops are ELOOP', async () => {
  await withMemfs(async (m) => {
    await m.mkdir('/d');
    await m.writeFile('/d/f', 'data');
    await m.symlink('d/f', '/rel');
    await m.symlink('/d', '/abs');
    await m.mkdir('/e');
    await m.symlink('../d/f', '/e/up');
    assert.equal(await m.readlink('/rel'), 'd/f');
    assert.ok((await m.lstat('/rel')).isSymbolicLink());
    assert.ok((await m.stat('/rel')).isFile());
    assert.equal(await m.readFile('/rel', 'utf8'), 'data');
    assert.equal(await m.readFile('/abs/f', 'utf8'), 'data');
    assert.equal(await m.readFile('/e/up', 'utf8'), 'data');
    assert.equal(await m.readFile('/e/../d/./f', 'utf8'), 'data');
    assert.deepEqual(await m.readdir('/abs'), ['f']);
    await m.symlink('/loop2', '/loop1');
    await m.symlink('/loop1', '/loop2');
    await rejects(m.stat('/loop1'), 'ELOOP', 'stat', '/loop1');
    await rejects(m.readlink('/d/f'), 'EINVAL', 'readlink', '/d/f');
    await m.symlink('/nowhere', '/dangling');
    await rejects(m.readFile('/dangling'), 'ENOENT', 'open', '/dangling');
    await rejects(m.symlink('x', '/rel'), 'EEXIST', 'symlink');
  });
});

test('hard links share the inode; directories cannot be linked', async () => {
  await withMemfs(async (m) => {
    await m.writeFile('/a', 'x');
    await m.link('/a', '/b');
    const [a, b] = [await m.stat('/a'), await m.stat('/b')];
    assert.equal(a.ino, b.ino);
    assert.equal(b.nlink, 2);
    await m.mkdir('/d');
    await rejects(m.link('/d', '/e'), 'EPERM', 'link', '/d');
    await rejects(m.link('/a', '/b'), 'EEXIST', 'link', '/a');
  });
});

test('chmod, chown, truncate, utimes, access', async () => {
  await withMemfs(async (m) => {
    await m.writeFile('/f', 'abcdef');
    await m.chmod('/f', 0o4700);
    assert.equal((await m.stat('/f')).mode, 0o104700);
    await m.chown('/f', 1000, -1);
    let st = await m.stat('/f');
    assert.deepEqual([st.uid, st.gid], [1000, 0]);
    await m.chown('/f', -1, 50);
    st = await m.stat('/f');
    assert.deepEqual([st.uid, st.gid], [1000, 50]);
    await m.truncate('/f', 2);
    assert.equal(await m.readFile('/f', 'utf8'), 'ab');
    await m.truncate('/f');
    assert.equal((await m.stat('/f')).size, 0);
    await m.utimes('/f', new Date(1_000_000_000_000), { sec: 2_000_000_000, nsec: 5 });
    st = await m.stat('/f');
    assert.equal(st.atimeMs, 1_000_000_000_000);
    assert.equal(st.mtimeNs, 2_000_000_000_000_000_005n);
    assert.equal(st.mtime.getTime(), 2_000_000_000_000);
    await m.chmod('/', 0o711);
    assert.equal((await m.stat('/')).mode, 0o040711, 'the root, never looked up, keeps its type');
    await m.access('/f');
    await m.access('/f', 4);
    await rejects(m.access('/nope'), 'ENOENT', 'access', '/nope');
    await rejects(m.truncate('/'), 'EISDIR', 'open');
  });
});

test('open: handles with positions, O_APPEND, O_EXCL, O_TRUNC, fstat, ftruncate, fsync, close', async () => {
  await withMemfs(async (m) => {
    const h = await m.open('/f', 'w+', 0o600);
    assert.equal(await h.write('hello'), 5);
    assert.equal(await h.write('!!', 10), 2);
    assert.equal(await h.write(' world'), 6, 'at the file position, after "hello"');
    assert.deepEqual(await h.read(5, 0), Buffer.from('hello'));
    assert.equal((await h.stat()).size, 12);
    assert.equal((await h.stat()).mode & 0o777, 0o600);
    await h.truncate(5);
    await h.sync();
    await h.sync(true);
    await h.close();
    await h.close();
    await rejects(h.read(1, 0), 'EBADF', 'read');
    await rejects(m.open('/f', 'wx'), 'EEXIST', 'open', '/f');
    const a = await m.open('/f', 'a');
    await a.write('++');
    await rejects(a.read(1, 0), 'EBADF', 'read');
    await a.close();
    assert.equal(await m.readFile('/f', 'utf8'), 'hello++');
    await using r = await m.open('/f');
    assert.deepEqual(await r.read(3), Buffer.from('hel'));
    assert.deepEqual(await r.read(100), Buffer.from('lo++'), 'from the file position, short at the end');
    await rejects(r.write('x'), 'EBADF', 'write');
    const t = await m.open('/f', 'r+');
    await t.close();
    await m.writeFile('/f', 'new');
    assert.equal(await m.readFile('/f', 'utf8'), 'new', 'O_TRUNC');
    await rejects(m.open('/nope'), 'ENOENT', 'open', '/nope');
    await rejects(m.open('/', 'w'), 'EISDIR', 'open', '/');
    await rejects(m.open('/f/x', 'w'), 'ENOTDIR', 'open');
    await assert.rejects(m.open('/f', 'bogus'), { code: 'ERR_INVALID_ARG_VALUE' });
  });
});

test('extended attributes', async () => {
  await withMemfs(async (m) => {
    await m.writeFile('/f', '');
    assert.deepEqual(await m.listxattr('/f'), []);
    await m.setxattr('/f', 'user.a', 'one');
    await m.setxattr('/f', 'user.b', Buffer.from([0, 1, 2]));
    await m.setxattr('/f', 'user.empty', '');
    assert.deepEqual(await m.getxattr('/f', 'user.a'), Buffer.from('one'));
    assert.deepEqual(await m.getxattr('/f', 'user.b'), Buffer.from([0, 1, 2]));
    assert.deepEqual(await m.getxattr('/f', 'user.empty'), Buffer.alloc(0));
    assert.deepEqual((await m.listxattr('/f')).sort(), ['user.a', 'user.b', 'user.empty']);
    await rejects(m.setxattr('/f', 'user.a', 'two', 1), 'EEXIST', 'setxattr', '/f');
    await rejects(m.setxattr('/f', 'user.zz', 'two', 2), 'ENODATA', 'setxattr', '/f');
    await m.removexattr('/f', 'user.a');
    await rejects(m.getxattr('/f', 'user.a'), 'ENODATA', 'getxattr', '/f');
    await rejects(m.removexattr('/f', 'user.a'), 'ENODATA', 'removexattr', '/f');
    assert.ok(m.negotiated.setxattrExt, 'the SETXATTR_EXT form was agreed and used');
  });
});

test('statfs', async () => {
  await withMemfs(async (m) => {
    const before = await m.statfs('/');
    await m.writeFile('/f', Buffer.alloc(64 * 1024));
    const after = await m.statfs();
    assert.equal(before.bsize, 4096);
    assert.equal(Number(before.bfree) - Number(after.bfree), 16);
    assert.equal(before.namelen, 255);
  });
});

test('Node-style errors: code, negative errno, syscall, path, message', async () => {
  await withMemfs(async (m) => {
    const e = await m.readFile('/missing').catch((err: FakeSystemError) => err);
    assert.ok(e instanceof Error);
    assert.deepEqual([e.code, e.errno, e.syscall, e.path], ['ENOENT', -2, 'open', '/missing']);
    assert.equal(e.message, "ENOENT: no such file or directory, open '/missing'");
    await m.writeFile('/file', '');
    await rejects(m.stat('/file/child'), 'ENOTDIR', 'stat', '/file/child');
    const r = await m.rename('/nope', '/x').catch((err: FakeSystemError) => err);
    assert.equal((r as FakeSystemError).dest, '/x');
    await assert.rejects(m.stat('/a\0b'), { code: 'ERR_INVALID_ARG_VALUE' });
  });
});

test('permissions are checked with the caller given', async () => {
  const ops = pathOperations(memfs());
  const root = await mountFake(ops);
  await root.mkdir('/private', 0o700);
  await root.writeFile('/private/secret', 's');
  await root.close();
  const user = await mountFake(ops, { uid: 1000, gid: 1000 });
  try {
    await rejects(user.readFile('/private/secret'), 'EACCES', 'open', '/private/secret');
    await rejects(user.writeFile('/mine', 'x'), 'EACCES', 'open', '/mine');
  } finally {
    await user.close();
  }
  assert.equal(ops.nodeCount, 1);
});

test('lookup counts are kept and given back: close() leaves the node table with the root only', async () => {
  const ops = pathOperations(memfs());
  const m = await mountFake(ops);
  await m.mkdir('/d');
  await m.writeFile('/d/f', 'x');
  await m.stat('/d/f');
  await m.stat('/d/f');
  await m.readdir('/d');
  assert.ok(m.lookupCount >= 6, `references taken: ${m.lookupCount}`);
  const d = await m.stat('/d');
  assert.ok(m.lookupsOf(d.ino) >= 3, 'each LOOKUP of /d took one more');
  assert.ok(ops.nodeCount > 1);
  await m.forgetAll();
  assert.equal(m.lookupCount, 0);
  assert.equal(ops.nodeCount, 1);
  await m.readFile('/d/f');
  await m.close();
  assert.equal(ops.nodeCount, 1);
  await m.close();
  await assert.rejects(m.stat('/'), { code: 'ERR_INVALID_STATE' });
});

test('a filesystem that loses FORGETs is caught: its node table is not empty after close', async () => {
  const ops = pathOperations(memfs());
  const leaky: LowLevelOperations = new Proxy(ops, {
    get: (t, p, r) => (p === 'forget' ? () => {} : Reflect.get(t, p, r)),
  });
  const m = await mountFake(leaky);
  await m.writeFile('/f', 'x');
  await m.stat('/f');
  await m.close();
  assert.ok(ops.nodeCount > 1, 'the leak shows');
});

test('CREATE answered ENOSYS: MKNOD + OPEN from then on, CREATE not sent again', async () => {
  const inner = pathOperations(memfs());
  const { ops, calls } = counted(new Proxy(inner, { get: (t, p, r) => (p === 'create' ? undefined : Reflect.get(t, p, r)) }));
  await withMemfsOps(ops, async (m) => {
    await m.writeFile('/a', 'one');
    await m.writeFile('/b', 'two');
    await m.writeFile('/a', 'uno');
    assert.equal(await m.readFile('/a', 'utf8'), 'uno');
    assert.equal(await m.readFile('/b', 'utf8'), 'two');
    assert.equal(calls.get('create'), undefined, 'no create handler reached');
    assert.equal(calls.get('mknod'), 2);
    await rejects(m.open('/a', 'wx'), 'EEXIST', 'open', '/a');
  });
  assert.equal(inner.nodeCount, 1);
});

test('CREATE is used when the filesystem has it', async () => {
  const { ops, calls } = counted(pathOperations(memfs()));
  await withMemfsOps(ops, async (m) => {
    await m.writeFile('/a', 'one');
    assert.equal(calls.get('create'), 1);
    assert.equal(calls.get('mknod'), undefined);
  });
});

test('READDIRPLUS when negotiated (its entries counted as lookups), READDIR when not', async () => {
  const plus = counted(pathOperations(memfs()));
  await withMemfsOps(plus.ops, async (m) => {
    for (let i = 0; i < 200; i++) await m.writeFile(`/file-with-a-long-name-${i}`, '');
    const names = await m.readdir('/');
    assert.equal(names.length, 200);
    assert.equal(new Set(names).size, 200);
    assert.ok((plus.calls.get('readdirplus') ?? 0) > 1, 'several rounds');
    assert.equal(plus.calls.get('readdir'), undefined);
  });
  assert.equal(plus.ops.nodeCount, 1, 'the READDIRPLUS references were forgotten too');
  const bare = counted(pathOperations(memfs()));
  await withMemfsOps(bare.ops, async (m) => {
    await m.writeFile('/a', '');
    assert.deepEqual(await m.readdir('/'), ['a']);
    assert.equal(bare.calls.get('readdirplus'), undefined);
    assert.ok((bare.calls.get('readdir') ?? 0) >= 1);
  }, { offer: ['ASYNC_READ', 'POSIX_LOCKS', 'ATOMIC_O_TRUNC', 'BIG_WRITES', 'MAX_PAGES', 'SETXATTR_EXT'] });
});

async function withMemfsOps(ops: PathOperations, fn: (m: FakeMount) => Promise<void>, options: MountFakeOptions = {}): Promise<void> {
  const m = await mountFake(ops, options);
  try { await fn(m); } finally { await m.close(); }
  assert.equal(ops.handleCount, 0);
}
