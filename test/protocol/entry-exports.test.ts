/**
 * What the two entry points export beyond the codec: the types a filesystem author writes against
 * (root), and explain mode's codec for experimenters (`tsfuse/protocol`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as protocol from '../../src/protocol-entry.ts';
import type {
  TimeLike, ReaddirResult, ReaddirplusResult, UnnumberedDirEntry, LowLevelOperations, StatsSnapshot, SessionPhase, InHeaderFields,
} from '../../src/index.ts';
import type { RequestSink, SessionClock, ExplainedFrame } from '../../src/protocol-entry.ts';
import { FakeKernel } from '../../src/testing.ts';

test('tsfuse/protocol explains a frame and formats it', () => {
  const frame = Buffer.alloc(45);
  frame.writeUInt32LE(45, 0);
  frame.writeUInt32LE(protocol.Opcode['LOOKUP']!, 4);
  frame.writeUInt32LE(9, 8);
  frame.writeUInt32LE(1, 16);
  frame.write('file\0', 40);
  const e: ExplainedFrame = protocol.explainFrame(frame, { direction: 'request' });
  assert.equal(e.name, 'LOOKUP');
  assert.deepEqual(e.problems, []);
  const text = protocol.formatExplained(e);
  assert.match(text, /LOOKUP/);
  assert.match(text, /"file"/);
});

test('the root export names what a readdir handler returns, in every form the core accepts', async () => {
  const times: TimeLike[] = [new Date(0), 1.5, 10n ** 9n, { sec: 1, nsec: 2 }];
  const whole: readonly UnnumberedDirEntry[] = ['.', '..', { name: 'a', ino: 7 }, Buffer.from('b')];
  const forms: ReaddirResult[] = [whole, [{ ino: 2, name: 'c', offset: 1 }], new Uint8Array(0)];
  const plus: ReaddirplusResult = [{ name: 'x', entry: { ino: 3, attr: { mode: 0o100644, mtime: times[0]! } } }];
  const ops: LowLevelOperations = { readdir: () => forms[0]!, readdirplus: () => plus };
  const k = new FakeKernel(ops);
  await k.init();
  const r = await k.request('READDIR', 1, FakeKernel.read(0, 0, 4096));
  assert.equal(r.error, 0);
  assert.equal(r.body.includes(Buffer.from('b')), true);
  // Types only: these compile, which is the point.
  const phase: SessionPhase = 'serving';
  const unused: [StatsSnapshot | undefined, InHeaderFields | undefined, RequestSink | undefined, SessionClock | undefined] = [undefined, undefined, undefined, undefined];
  assert.equal(phase, 'serving');
  assert.equal(unused.length, 4);
});
