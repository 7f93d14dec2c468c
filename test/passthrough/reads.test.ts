// The passthrough's READ path (src/passthrough/reads.ts) and listings with inode numbers (getdents.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { NODE26_SKIP, passUnderNode26 } from '../support/mount-helpers.ts';
import { ASYNC_FOR_MS, BackingReader, POOLED_READ_MIN, SLOW_READ_MS, SLOW_STRIKES } from '../../src/passthrough/reads.ts';
import { D_NAME, D_RECLEN, D_TYPE, canListWithInodes, readDirectory } from '../../src/passthrough/getdents.ts';

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

/**
 * Runs `fn` with performance.now() under the test's control: each call returns `clock.at`, then moves it
 * on by `clock.step` ms, so a synchronous read (a call before and one after it) takes that long.
 */
async function withClock(fn: (clock: { at: number; step: number }) => Promise<void>): Promise<void> {
  const clock = { at: 1_000_000, step: 0 };
  const original = Object.getOwnPropertyDescriptor(performance, 'now');
  Object.defineProperty(performance, 'now', { configurable: true, writable: true, value: () => { const t = clock.at; clock.at += clock.step; return t; } });
  try {
    await fn(clock);
  } finally {
    if (original) Object.defineProperty(performance, 'now', original);
    else delete (performance as { now?: unknown }).now;
  }
}

test('BackingReader: after slow reads in a row a descriptor reads on the thread pool for a while, then synchronously again', async () => {
  await withFile(1 << 20, async (fd, data) => {
    await withClock(async (clock) => {
      const r = new BackingReader();
      const size = POOLED_READ_MIN;
      clock.step = SLOW_READ_MS + 1; // every synchronous read now looks as if it waited for the disk
      for (let i = 0; i < SLOW_STRIKES; i++) assert.ok(Buffer.isBuffer(r.read(fd, size, i * size)), `slow read ${i + 1} still synchronous`);
      const pending = r.read(fd, size, 0);
      assert.ok(pending instanceof Promise, 'after the strikes: on the thread pool');
      assert.deepEqual(await pending, data.subarray(0, size));
      // Another descriptor of the same file is not affected.
      const other = fs.openSync(`/proc/self/fd/${fd}`, 'r');
      try {
        assert.ok(Buffer.isBuffer(r.read(other, 4096, 0)), 'strikes are per descriptor');
      } finally {
        fs.closeSync(other);
      }
      // Past ASYNC_FOR_MS the descriptor is tried synchronously again; a fast read clears its strikes.
      clock.at += ASYNC_FOR_MS + 1;
      clock.step = 0;
      const again = r.read(fd, 4096, 4096);
      assert.ok(Buffer.isBuffer(again), 'synchronous again');
      assert.deepEqual(again, data.subarray(4096, 8192));
      // One slow read, then a fast one: the strike is forgotten, so one more slow read stays synchronous.
      clock.step = SLOW_READ_MS + 1;
      assert.ok(Buffer.isBuffer(r.read(fd, 4096, 0)));
      clock.step = 0;
      assert.ok(Buffer.isBuffer(r.read(fd, 4096, 0)));
      clock.step = SLOW_READ_MS + 1;
      assert.ok(Buffer.isBuffer(r.read(fd, 4096, 0)));
      clock.step = 0;
      assert.ok(Buffer.isBuffer(r.read(fd, 4096, 0)), 'strikes must be in a row');
      // forget(): a closed descriptor's state goes with it (its number will be reused).
      clock.step = SLOW_READ_MS + 1;
      for (let i = 0; i < SLOW_STRIKES; i++) r.read(fd, 4096, 0);
      clock.step = 0;
      const late = r.read(fd, 4096, 0);
      assert.ok(late instanceof Promise);
      await late;
      r.forget(fd);
      assert.ok(Buffer.isBuffer(r.read(fd, 4096, 0)), 'forgotten: synchronous');
    });
  });
});

test('BackingReader: a failed read on the thread pool rejects with the errno', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-reads-'));
  try {
    writeFileSync(join(dir, 'f'), 'x'.repeat(8192));
    await withClock(async (clock) => {
      const r = new BackingReader();
      // Strike a file's descriptor, then reuse its number for a directory without forget() (the
      // passthrough calls it on close; here the state is left on purpose): its next read goes to the
      // thread pool, and the error comes back through the promise.
      const fd = fs.openSync(join(dir, 'f'), 'r');
      clock.step = SLOW_READ_MS + 1;
      for (let i = 0; i < SLOW_STRIKES; i++) r.read(fd, POOLED_READ_MIN, 0);
      fs.closeSync(fd);
      const dirFd = fs.openSync(dir, 'r');
      try {
        assert.equal(dirFd, fd, 'the lowest free descriptor number is reused');
        clock.step = 0;
        const pending = r.read(dirFd, POOLED_READ_MIN, 0);
        assert.ok(pending instanceof Promise);
        await assert.rejects(pending, { code: 'EISDIR' });
      } finally {
        fs.closeSync(dirFd);
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The records of one readDirectory() buffer, read here independently of src/passthrough/listing.ts. */
function records(buf: Buffer, n: number): { name: string; type: number; ino: bigint }[] {
  const out: { name: string; type: number; ino: bigint }[] = [];
  for (let at = 0; at < n;) {
    const reclen = buf.readUInt16LE(at + D_RECLEN);
    const end = buf.indexOf(0, at + D_NAME);
    out.push({ name: buf.toString('utf8', at + D_NAME, end), type: buf[at + D_TYPE]!, ino: buf.readBigUInt64LE(at) });
    at += reclen;
  }
  return out;
}

test('readDirectory: every entry with its type and inode number as lstat gives them, over several getdents64 calls (Node >= 26)', (t) => {
  if (!canListWithInodes()) {
    assert.equal(readDirectory(tmpdir(), () => Buffer.alloc(4096), () => assert.fail('no records without getdents64')), false);
    t.skip(`getdents64 needs node:ffi (Node >= 26); this is Node ${process.version}: checked that readDirectory() declines`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-getdents-'));
  try {
    const names = Array.from({ length: 3000 }, (_, i) => `entry-${i}-${'x'.repeat(i % 50)}`);
    for (const n of names) writeFileSync(join(dir, n), '');
    fs.mkdirSync(join(dir, 'sub'));
    fs.symlinkSync('nowhere', join(dir, 'link'));
    const listed: { name: string; type: number; ino: bigint }[] = [];
    let calls = 0;
    // A small buffer, so that the listing takes many calls.
    assert.equal(readDirectory(dir, () => Buffer.alloc(4096), (buf, n) => { calls++; listed.push(...records(buf, n)); }), true);
    assert.ok(calls > 10, `${calls} getdents64 calls`);
    assert.equal(listed.length, names.length + 4, '. and .. included');
    const types: Record<string, number> = { sub: 4, link: 10, '.': 4, '..': 4 };
    for (const e of listed) {
      assert.equal(e.ino, fs.lstatSync(join(dir, e.name), { bigint: true }).ino, e.name);
      assert.equal(e.type, types[e.name] ?? 8, e.name);
    }
    assert.deepEqual(new Set(listed.map((e) => e.name)), new Set([...names, 'sub', 'link', '.', '..']));
    assert.throws(() => readDirectory(join(dir, 'missing'), () => Buffer.alloc(4096), () => {}), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    // A failing getdents64 (here EINVAL: a buffer too small for one record) comes back as a Node-style error.
    assert.throws(() => readDirectory(dir, () => Buffer.alloc(8), () => {}), (e: NodeJS.ErrnoException) => e.code === 'EINVAL' && e.syscall === 'getdents64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('under Node >= 26 (TSFUSE_NODE26): readDirectory passes there too', {
  skip: canListWithInodes() ? 'this Node lists with getdents64: run above' : NODE26_SKIP,
  timeout: 60_000,
}, () => {
  assert.match(passUnderNode26(fileURLToPath(import.meta.url), 'readDirectory', 50_000), /^# pass 1$/m);
});
