import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel } from '../../src/testing.ts';
import type { LowLevelOperations, ReadyInfo } from '../../src/index.ts';

test('ready() receives what was agreed and the notifier, usable from inside the handlers', async () => {
  let info: ReadyInfo | undefined;
  const ops: LowLevelOperations = {
    ready(i) { info = i; },
    async getattr({ ino }) {
      await info!.notify.invalInode(ino); // a handler reaching the notifications
      return { attr: { mode: 0o100644 } };
    },
  };
  const k = new FakeKernel(ops);
  await k.init();
  assert.ok(info !== undefined, 'ready was called');
  assert.equal(info.negotiated.minor, 45);
  assert.ok(info.audit.length > 0 && info.audit.every((a) => typeof a.name === 'string'));
  assert.equal(typeof info.notify.invalEntry, 'function');
  const r = await k.request('GETATTR', 7, Buffer.alloc(16));
  assert.equal(r.error, 0);
  assert.equal(k.notifications.length, 1);
  const n = k.notifications[0]!;
  assert.equal(n.readInt32LE(4), 2, 'FUSE_NOTIFY_INVAL_INODE');
  assert.equal(n.readBigUInt64LE(16), 7n, 'about the node the request named');
});
