// Large requests through the real kernel: 1 MiB WRITEs arrive in lent read buffers (src/session/transport.ts),
// so a slow async write handler that keeps a view must see its data intact until it settles, and the
// bytes read back must be exactly the bytes written, on both transports. Lent frames are poisoned once
// released (`poisonLentBuffers`), so a frame given back too early shows as corrupt data.
// Also: read buffers follow what INIT agreed when the filesystem's init() raises maxWrite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { mount, FuseError, ROOT_ID, type LowLevelOperations, type FuseMount, type TransportKind } from '../../src/index.ts';
import { mountSkip, freshMountpoint, run, safeUnmount } from '../support/mount-helpers.ts';

const NAMES = ['f', 'g'];

/** Two files, so two writers keep two big WRITEs (and two lent buffers) in flight at once. */
function bulkFilesystem(sizes: number[]): LowLevelOperations {
  const content = new Map<number, Buffer>([[2, Buffer.alloc(0)], [3, Buffer.alloc(0)]]);
  const attr = (ino: number) => ({ ino, mode: 0o100644, nlink: 1, size: content.get(ino)!.length });
  let inFlight = 0;
  return {
    lookup: ({ parent, name }) => {
      const i = NAMES.indexOf(name.toString());
      if (parent !== ROOT_ID || i < 0) throw new FuseError('ENOENT');
      return { ino: i + 2, attr: attr(i + 2), entryTimeout: 0, attrTimeout: 0 };
    },
    getattr: ({ ino }) => (ino === ROOT_ID ? { attr: { mode: 0o040755, nlink: 2 }, timeout: 0 } : { attr: attr(Number(ino)), timeout: 0 }),
    setattr: ({ ino, size }) => {
      if (size !== undefined) content.set(Number(ino), content.get(Number(ino))!.subarray(0, Number(size)));
      return { attr: attr(Number(ino)), timeout: 0 };
    },
    open: () => ({ fh: 1 }),
    read: ({ ino, offset, size }) => content.get(Number(ino))!.subarray(Number(offset), Number(offset) + size),
    // Awaits before touching the data, while the other writer's WRITEs are read into other buffers.
    write: async ({ ino, offset, data }) => {
      inFlight++;
      sizes.push(data.length * (inFlight > 1 ? -1 : 1));
      await new Promise((r) => setTimeout(r, 3));
      inFlight--;
      let c = content.get(Number(ino))!;
      const end = Number(offset) + data.length;
      if (end > c.length) {
        const grown = Buffer.alloc(end);
        c.copy(grown);
        c = grown;
        content.set(Number(ino), c);
      }
      data.copy(c, Number(offset));
      return data.length;
    },
  };
}

for (const transport of ['epoll', 'worker'] as TransportKind[]) {
  test(`bulk (${transport}): two files of 8 MiB written at once in 1 MiB requests read back byte for byte`, { skip: mountSkip(), timeout: 60_000 }, async () => {
    const dir = freshMountpoint();
    // Different bytes per file: a frame overwritten by the other writer's WRITE would show.
    const sources = NAMES.map((n) => join(tmpdir(), `tsfuse-bulk-${process.pid}-${transport}-${n}`));
    for (const source of sources) await writeFile(source, randomBytes(8 << 20));
    const sizes: number[] = [];
    let m: FuseMount | undefined;
    try {
      // Poisoned: a frame reused or handed back while its handler still reads it would corrupt the file.
      m = await mount(dir, bulkFilesystem(sizes), { transport, poisonLentBuffers: true });
      const writes = await Promise.all(NAMES.map((n, i) => run('dd', [`if=${sources[i]}`, `of=${join(dir, n)}`, 'bs=4M', 'conv=notrunc'], { timeout: 30_000 })));
      for (const w of writes) assert.equal(w.code, 0, w.stderr);
      assert.ok(sizes.some((s) => Math.abs(s) === 1 << 20), `expected 1 MiB WRITEs, got sizes ${[...new Set(sizes)].join(',')}`);
      assert.ok(sizes.some((s) => s < 0), 'expected WRITEs of the two files to overlap');
      for (const [i, n] of NAMES.entries()) {
        const r = await run('cmp', [sources[i]!, join(dir, n)], { timeout: 30_000 });
        assert.equal(r.code, 0, `${n} read back differs: ${r.stdout}${r.stderr}`);
      }
    } finally {
      await safeUnmount(m, dir);
      for (const source of sources) await rm(source, { force: true });
    }
  });
}

for (const transport of ['epoll', 'worker'] as TransportKind[]) {
  test(`bulk (${transport}): init() raising maxWrite above the mount option gets read buffers of the new size`, { skip: mountSkip(), timeout: 60_000 }, async () => {
    const dir = freshMountpoint();
    const source = join(tmpdir(), `tsfuse-bulk-init-${process.pid}-${transport}`);
    await writeFile(source, randomBytes(4 << 20));
    const sizes: number[] = [];
    let m: FuseMount | undefined;
    try {
      const ops: LowLevelOperations = { ...bulkFilesystem(sizes), init: ({ wants }) => ({ ...wants, maxWrite: 1 << 20 }) };
      // max_write=65536 sizes the buffers before INIT; the 1 MiB WRITEs after it need the bigger ones.
      m = await mount(dir, ops, { transport, options: 'max_write=65536', poisonLentBuffers: true });
      assert.equal(m.negotiated.maxWrite, 1 << 20);
      const w = await run('dd', [`if=${source}`, `of=${join(dir, 'f')}`, 'bs=1M', 'conv=notrunc'], { timeout: 30_000 });
      assert.equal(w.code, 0, w.stderr);
      assert.ok(sizes.some((s) => Math.abs(s) === 1 << 20), `expected 1 MiB WRITEs, got sizes ${[...new Set(sizes)].join(',')}`);
      const r = await run('cmp', [source, join(dir, 'f')], { timeout: 30_000 });
      assert.equal(r.code, 0, `read back differs: ${r.stdout}${r.stderr}`);
    } finally {
      await safeUnmount(m, dir);
      await rm(source, { force: true });
    }
  });
}
