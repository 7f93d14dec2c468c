// A path filesystem without any mutating method is read-only: every mutation answers EROFS (like a
// read-only mount), not ENOSYS, while reads work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameBuilder } from '../protocol/frame-builder.ts';
import { Harness, S_IFREG } from './harness.ts';
import { hello } from '../../examples/hello-path.ts';

const EROFS = 30;

test('read-only: every mutation answers EROFS', async () => {
  const h = await Harness.start(hello);
  const f = await h.lookup(1, 'hello');
  const r = await h.open(f.nodeid, 0);
  assert.equal(r.error, 0, 'reading is fine');
  const results: Record<string, number> = {
    mknod: (await h.mknod(1, 'n', S_IFREG | 0o644)).error,
    mkdir: (await h.mkdir(1, 'd')).error,
    symlink: (await h.symlink(1, 's', 'hello')).error,
    link: (await h.link(f.nodeid, 1, 'l')).error,
    unlink: (await h.unlink(1, 'hello')).error,
    rmdir: (await h.unlink(1, 'hello', 'RMDIR')).error,
    rename: (await h.rename(1, 'hello', 1, 'other')).error,
    create: (await h.create(1, 'c', S_IFREG | 0o644, 0o101)).entry.error,
    'setattr (touch)': (await h.setattr(f.nodeid, { atime: 'now', mtime: 'now' })).error,
    'setattr (chmod)': (await h.setattr(f.nodeid, { mode: 0o777 })).error,
    'setattr (truncate)': (await h.setattr(f.nodeid, { size: 0 })).error,
    write: (await h.write(f.nodeid, r.fh, 0, 'x')).error,
    'open O_WRONLY': (await h.open(f.nodeid, 1)).error,
    'open O_RDWR': (await h.open(f.nodeid, 2)).error,
    'open O_TRUNC': (await h.open(f.nodeid, 0o1000)).error,
    setxattr: (await h.req('SETXATTR', f.nodeid, new FrameBuilder().u32(1).u32(0).u32(0).u32(0).cstring('user.x').bytes('y'))).error,
    removexattr: (await h.req('REMOVEXATTR', f.nodeid, new FrameBuilder().cstring('user.x'))).error,
    fallocate: (await h.req('FALLOCATE', f.nodeid, new FrameBuilder().u64(r.fh).u64(0).u64(10).u32(0).u32(0))).error,
    'access W_OK': (await h.req('ACCESS', f.nodeid, new FrameBuilder().u32(2).u32(0))).error,
  };
  for (const [op, errno] of Object.entries(results)) assert.equal(errno, EROFS, `${op} → ${errno}`);
  assert.equal((await h.req('ACCESS', f.nodeid, new FrameBuilder().u32(4).u32(0))).error, 0, 'access R_OK is fine');
  assert.equal((await h.read(f.nodeid, r.fh, 0, 5)).body.toString(), 'Hello');
  assert.equal(h.nodes, 2, 'nothing was registered by the refused requests');
  assert.deepEqual(h.warnings, []);
});

test('ready(): accepts { negotiated, audit, notify } and the older positional form without failing', async () => {
  const h = await Harness.start(hello);
  const ready = h.ops.ready!.bind(h.ops) as (...args: unknown[]) => void;
  assert.doesNotThrow(() => ready(h.k.core.negotiated, []));
  assert.doesNotThrow(() => ready(undefined));
});
