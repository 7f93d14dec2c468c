// -o max_threads: the limit on requests inside handlers at once (src/ops/concurrency.ts), through the fake kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel, decodeAttrOut } from '../../src/testing.ts';
import { limitConcurrency } from '../../src/ops/concurrency.ts';
import { FuseError, type LowLevelOperations } from '../../src/index.ts';

test('max_threads: at most N handlers run at once, the rest wait in arrival order, and all are answered', async () => {
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const gates: (() => void)[] = [];
  const ops: LowLevelOperations = {
    getattr: async ({ ino }) => {
      running++;
      peak = Math.max(peak, running);
      started.push(Number(ino));
      await new Promise<void>((resolve) => gates.push(resolve));
      running--;
      return { attr: { ino, mode: 0o100644, size: Number(ino) } };
    },
  };
  const k = new FakeKernel(limitConcurrency(ops, 2));
  await k.init();
  const replies = [2, 3, 4, 5, 6].map((ino) => k.request('GETATTR', ino, FakeKernel.getattr()));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [2, 3], 'two run, three wait');
  while (started.length < 5 || gates.length > 0) {
    gates.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  const sizes = (await Promise.all(replies)).map((r) => decodeAttrOut(r.body).attr.size);
  assert.deepEqual(sizes, [2, 3, 4, 5, 6]);
  assert.deepEqual(started, [2, 3, 4, 5, 6], 'waiting requests start in arrival order');
  assert.equal(peak, 2);
});

test('max_threads: synchronous handlers and errors free their slot; no limit returns the operations themselves', async () => {
  const ops: LowLevelOperations = {
    getattr: ({ ino }) => {
      if (ino === 9) throw new FuseError('ENOENT');
      return { attr: { ino, mode: 0o100644 } };
    },
    lookup: async () => { throw new FuseError('EACCES'); },
  };
  assert.equal(limitConcurrency(ops, undefined), ops);
  const k = new FakeKernel(limitConcurrency(ops, 1));
  await k.init();
  for (let i = 0; i < 3; i++) {
    assert.equal((await k.request('GETATTR', 9, FakeKernel.getattr())).error, 2);
    assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('x'))).error, 13);
    assert.equal((await k.request('GETATTR', 1, FakeKernel.getattr())).error, 0);
  }
});
