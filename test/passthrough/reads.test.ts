// The passthrough's READ path (src/passthrough/reads.ts) and listings with inode numbers (getdents.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BackingReader, POOLED_READ_MIN } from '../../src/passthrough/reads.ts';
import { listDirectory, canListWithInodes } from '../../src/passthrough/getdents.ts';

function withFile(size: number, fn: (fd: number, data: Buffer) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-reads-'));
  const data = randomBytes(size);
  writeFileSync(join(dir, 'f'), data);
  const fd = openSync(join(dir, 'f'), 'r');
  return fn(fd, data).finally(() => { closeSync(fd); rmSync(dir, { recursive: true, force: true }); });
}

test('BackingReader: cached reads answer synchronously with the right bytes, short at end of file', async () => {
  await withFile(300_000, async (fd, data) => {
    const r = new BackingReader();
    const small = r.read(fd, 4096, 8192);
    assert.ok(Buffer.isBuffer(small), 'a cached read is answered synchronously');
    assert.deepEqual(small, data.subarray(8192, 8192 + 4096));
    const tail = await r.read(fd, POOLED_READ_MIN * 2, 300_000 - 1000);
    assert.equal(tail.length, 1000);
    assert.deepEqual(tail, data.subarray(300_000 - 1000));
    assert.equal((await r.read(fd, 4096, 400_000)).length, 0);
  });
});

test('BackingReader: a synchronous read\'s pooled buffer serves the next READ (its reply is written by then): no allocation per READ', async () => {
  await withFile(1 << 20, async (fd, data) => {
    const r = new BackingReader();
    const size = POOLED_READ_MIN * 2;
    const a = r.read(fd, size, 0);
    assert.ok(!(a instanceof Promise), 'a cached read is synchronous');
    // What the session does with a synchronous reply: writes (here: checks) it before the next request.
    assert.deepEqual(a, data.subarray(0, size));
    const first = a.buffer;
    const b = r.read(fd, size, size) as Buffer;
    assert.equal(b.buffer, first, 'the next READ reuses the buffer, without waiting for the event loop');
    assert.deepEqual(b, data.subarray(size, 2 * size));
    // A burst with no turn of the event loop in between (busy polling) keeps using the one buffer.
    for (let i = 2; i < 8; i++) {
      const c = r.read(fd, size, i * size) as Buffer;
      assert.equal(c.buffer, first, `READ ${i}`);
      assert.deepEqual(c, data.subarray(i * size, (i + 1) * size));
    }
  });
});

test('BackingReader: a failed read throws the errno', async () => {
  const r = new BackingReader();
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-reads-'));
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      assert.throws(() => r.read(fd, POOLED_READ_MIN, 0), (e: NodeJS.ErrnoException) => e.code === 'EISDIR');
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('listDirectory: names, types and inode numbers as lstat gives them, without . and .. (Node >= 26)', (t) => {
  if (!canListWithInodes()) {
    assert.equal(listDirectory(tmpdir()), undefined);
    t.skip(`getdents64 needs node:ffi (Node >= 26); this is Node ${process.version}: checked that listDirectory() declines`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-getdents-'));
  try {
    const names = Array.from({ length: 3000 }, (_, i) => `entry-${i}-${'x'.repeat(i % 50)}`);
    for (const n of names) writeFileSync(join(dir, n), '');
    fs.mkdirSync(join(dir, 'sub'));
    fs.symlinkSync('nowhere', join(dir, 'link'));
    const listed = listDirectory(dir)!;
    assert.equal(listed.length, names.length + 2);
    const types: Record<string, number> = { sub: 4, link: 10 };
    for (const e of listed) {
      const name = e.name.toString();
      assert.equal(e.ino, fs.lstatSync(join(dir, name)).ino, name);
      assert.equal(e.type, types[name] ?? 8, name);
    }
    assert.deepEqual(new Set(listed.map((e) => e.name.toString())), new Set([...names, 'sub', 'link']));
    assert.throws(() => listDirectory(join(dir, 'missing')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
