// The raw-frame diagnostics channel and the recorder on it, through the fake kernel (no mount): every
// frame both ways of one session, copied (lent frames included), other sessions left out, nothing
// subscribed once stopped; the session id on the request and reply channels; and the injectable clock
// deciding the interrupt grace, RETRIEVE timeouts, latencies and frame times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import { FakeKernel } from '../../src/testing.ts';
import { FRAME_CHANNEL, REPLY_CHANNEL, REQUEST_CHANNEL, type FrameMessage, type ReplyMessage, type RequestMessage } from '../../src/session/core.ts';
import { startRecording } from '../../src/record/recorder.ts';
import { decodeRecording, type Recording } from '../../src/record/format.ts';
import { VirtualClock } from '../../src/record/replay.ts';
import { FuseError } from '../../src/errors.ts';
import type { LowLevelOperations } from '../../src/ops/lowlevel.ts';

const ENOENT = 2;
const EINTR = 4;

/** One file, `a` (node 2); lookups of anything else fail with ENOENT. */
const oneFile: LowLevelOperations = {
  lookup: (req) => {
    if (Buffer.from(req.name).toString() !== 'a') throw new FuseError('ENOENT');
    return { ino: 2, attr: { mode: 0o100644, size: 5 } };
  },
};

function decode(chunks: readonly Uint8Array[]): Recording {
  const r = decodeRecording(Buffer.concat(chunks));
  assert.ok(!('error' in r), 'error' in r ? r.error.message : '');
  return r;
}

test('recorder: every frame of its session both ways, in order, with relative times; other sessions left out', async () => {
  const k = new FakeKernel(oneFile);
  const other = new FakeKernel(oneFile);
  assert.notEqual(k.core.id, other.core.id);
  const chunks: Uint8Array[] = [];
  const recorder = startRecording({ write: (c) => chunks.push(c) }, { session: k.core.id, metadata: { filesystem: 'one-file' } });
  await k.init();
  await other.init();
  const lookupA = k.frame('LOOKUP', 1, FakeKernel.name('a'), { unique: 100 });
  const found = await k.send(lookupA, 100);
  const missing = await k.request('LOOKUP', 1, FakeKernel.name('zz'));
  await other.request('LOOKUP', 1, FakeKernel.name('a'));
  await k.core.invalEntry(1, 'a');
  assert.equal(recorder.frames, 7);
  await recorder.stop();
  await recorder.stop(); // idempotent
  await k.request('LOOKUP', 1, FakeKernel.name('a')); // after stop: not recorded
  const r = decode(chunks);
  assert.equal(r.metadata.filesystem, 'one-file');
  assert.equal(r.metadata.tool, 'tsfuse');
  assert.equal(r.metadata.node, process.version);
  assert.deepEqual(r.frames.map((f) => f.direction), ['request', 'reply', 'request', 'reply', 'request', 'reply', 'notify']);
  assert.equal(r.frames[0]!.timeNs, 0n);
  for (let i = 1; i < r.frames.length; i++) assert.ok(r.frames[i]!.timeNs >= r.frames[i - 1]!.timeNs);
  // The bytes are the frames themselves: the request as sent, the replies as the kernel got them.
  assert.equal(r.frames[0]!.bytes.readUInt32LE(4), 26); // INIT
  assert.deepEqual(r.frames[2]!.bytes, lookupA);
  assert.deepEqual(r.frames[3]!.bytes.subarray(16), found.body);
  assert.equal(r.frames[5]!.bytes.readInt32LE(4), -ENOENT);
  assert.equal(missing.error, ENOENT);
  assert.deepEqual(r.frames[6]!.bytes, k.notifications[0]);
  assert.equal(r.frames.every((f) => f.refusedErrno === 0), true);
});

test('recorder: a lent frame is copied before the transport reuses it', async () => {
  const k = new FakeKernel(oneFile);
  const chunks: Uint8Array[] = [];
  const recorder = startRecording({ write: (c) => chunks.push(c) }, { session: k.core.id });
  await k.init();
  const frame = k.frame('LOOKUP', 1, FakeKernel.name('a'), { unique: 40 });
  const original = Buffer.from(frame);
  // The transport reuses the memory as soon as the core releases it.
  await k.send(frame, 40, { release: () => frame.fill(0xee) });
  assert.equal(frame[0], 0xee);
  await recorder.stop();
  assert.deepEqual(decode(chunks).frames[2]!.bytes, original);
});

test('frame channel: nothing subscribed unless recording, so an unrecorded session pays one check', async () => {
  const frames = channel(FRAME_CHANNEL);
  assert.equal(frames.hasSubscribers, false);
  const k = new FakeKernel(oneFile);
  const recorder = startRecording({ write: () => {} }, { session: k.core.id });
  assert.equal(frames.hasSubscribers, true);
  await recorder.stop();
  assert.equal(frames.hasSubscribers, false);
});

test('frame channel: messages carry the session, direction, time and iovecs; request/reply messages carry the session', async () => {
  const k = new FakeKernel(oneFile);
  const seen: FrameMessage[] = [];
  const sessions: number[] = [];
  const onFrame = (m: unknown) => { seen.push(m as FrameMessage); };
  const onRequest = (m: unknown) => { sessions.push((m as RequestMessage).session); };
  const onReply = (m: unknown) => { sessions.push((m as ReplyMessage).session); };
  subscribe(FRAME_CHANNEL, onFrame);
  subscribe(REQUEST_CHANNEL, onRequest);
  subscribe(REPLY_CHANNEL, onReply);
  try {
    await k.init();
    await k.request('LOOKUP', 1, FakeKernel.name('a'));
  } finally {
    unsubscribe(FRAME_CHANNEL, onFrame);
    unsubscribe(REQUEST_CHANNEL, onRequest);
    unsubscribe(REPLY_CHANNEL, onReply);
  }
  const mine = seen.filter((m) => m.session === k.core.id);
  assert.deepEqual(mine.map((m) => m.direction), ['request', 'reply', 'request', 'reply']);
  assert.equal(mine.every((m) => typeof m.time === 'bigint' && m.writeError === 0), true);
  // A reply's iovecs: the out-header and the entry_out, unjoined.
  assert.equal(mine[3]!.iov.length, 2);
  assert.equal(mine[3]!.iov[0]!.byteLength, 16);
  assert.deepEqual(sessions, [k.core.id, k.core.id, k.core.id, k.core.id]);
});

test('clock: the interrupt grace runs on the session clock', async () => {
  const clock = new VirtualClock();
  const never: LowLevelOperations = { lookup: () => new Promise(() => {}) };
  const k = new FakeKernel(never, { clock, interruptGraceMs: 100 });
  await k.init();
  const unique = k.nextUnique();
  let settled = false;
  const reply = k.send(k.frame('LOOKUP', 1, FakeKernel.name('x'), { unique }), unique, { timeoutMs: 5000 }).finally(() => { settled = true; });
  k.interrupt(unique);
  clock.advanceTo(99_999_999n);
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'answered before the grace was over');
  clock.advanceTo(100_000_000n);
  assert.equal((await reply).error, EINTR);
});

test('clock: RETRIEVE times out on the session clock; latencies and frame times are its readings', async () => {
  const clock = new VirtualClock();
  let finish!: () => void;
  const slow: LowLevelOperations = { lookup: () => new Promise((resolve) => { finish = () => resolve({ ino: 2, attr: { mode: 0o100644 } }); }) };
  const k = new FakeKernel(slow, { clock });
  const chunks: Uint8Array[] = [];
  const recorder = startRecording({ write: (c) => chunks.push(c) }, { session: k.core.id });
  const latencies: number[] = [];
  const onReply = (m: unknown) => { if ((m as ReplyMessage).session === k.core.id) latencies.push((m as ReplyMessage).latencyNs); };
  // The core times requests while someone listens to both channels (as the trace and the stats do).
  const onRequest = () => {};
  subscribe(REQUEST_CHANNEL, onRequest);
  subscribe(REPLY_CHANNEL, onReply);
  try {
    clock.advanceTo(1_000n);
    await k.init();
    clock.advanceTo(2_000_000n);
    const reply = k.request('LOOKUP', 1, FakeKernel.name('a'));
    clock.advanceTo(7_000_000n);
    finish();
    assert.equal((await reply).error, 0);

    let outcome: unknown;
    const retrieve = k.core.retrieve(2, 0, 16, 1000).then(() => 'answered', (e: unknown) => e);
    void retrieve.then((v) => { outcome = v; });
    clock.advanceTo(7_000_000n + 999_999_999n);
    await new Promise((r) => setImmediate(r));
    assert.equal(outcome, undefined, 'timed out early');
    clock.advanceTo(7_000_000n + 1_000_000_000n);
    assert.match(String((await retrieve as Error).message), /did not answer RETRIEVE within 1000 ms/);
  } finally {
    unsubscribe(REQUEST_CHANNEL, onRequest);
    unsubscribe(REPLY_CHANNEL, onReply);
    await recorder.stop();
  }
  assert.deepEqual(latencies, [0, 5_000_000]);
  const r = decode(chunks);
  // INIT at 1 µs is the origin; the LOOKUP arrived 2 ms − 1 µs later and was answered 5 ms after that.
  assert.deepEqual(r.frames.map((f) => [f.direction, f.timeNs]), [
    ['request', 0n], ['reply', 0n], ['request', 1_999_000n], ['reply', 6_999_000n], ['notify', 6_999_000n],
  ]);
});
