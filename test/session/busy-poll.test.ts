// Busy polling in the epoll transport, over a FIFO (no /dev/fuse needed): after a frame whose request was
// answered, the transport reads the next one itself instead of sleeping in epoll; never while a request
// is unanswered, before INIT is decided, while paused, or once stopped (clone queues). And a bad busyPoll is refused before mounting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport, type Transport } from '../../src/session/transport.ts';
import { mount } from '../../src/session/fuse-mount.ts';

const SIZE = 8192;
const INIT = 26;
const GETATTR = 3;

function frame(opcode: number, length = 64): Buffer {
  const b = Buffer.alloc(length, 0x22);
  b.writeUInt32LE(length, 0);
  b.writeUInt32LE(opcode, 4);
  return b;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

/**
 * A FIFO behind an epoll transport whose frame handler is `onFrame` (it gets the write end, to play the
 * client that sends its next request as soon as the last one is answered).
 */
async function withFifo(busyPoll: number, body: (t: Transport, write: (b: Buffer) => void, frames: number[], setOnFrame: (f: (n: number) => void) => void) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-busy-poll-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const rfd = openSync(path, 'r+');
  const wfd = openSync(path, 'r+');
  const t = createTransport(rfd, SIZE, 'epoll', busyPoll);
  const frames: number[] = [];
  let onFrame: (n: number) => void = () => {};
  try {
    t.start((f) => { frames.push(f.readUInt32LE(4)); onFrame(frames.length); }, () => {});
    await body(t, (b) => { writeSync(wfd, b); }, frames, (f) => { onFrame = f; });
  } finally {
    t.close();
    closeSync(wfd);
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasMkfifo = (() => { try { execFileSync('sh', ['-c', 'command -v mkfifo']); return true; } catch { return false; } })();
const skip = hasMkfifo ? false : 'needs mkfifo (coreutils)';

test('busy polling takes the next frame of a client that waits for each reply, without a wake-up', { skip, timeout: 10_000 }, async () => {
  await withFifo(5000, async (t, write, frames, setOnFrame) => {
    t.watchIdle!(() => true);
    write(frame(INIT));
    await until(() => frames.length === 1, 'INIT');
    t.serve(SIZE);
    // Each "reply" (the handler returning) lets the client send its next request at once.
    setOnFrame((n) => { if (n < 11) write(frame(GETATTR)); });
    write(frame(GETATTR));
    await until(() => frames.length === 11, 'ten requests');
    assert.deepEqual(frames, [INIT, ...Array(10).fill(GETATTR)]);
    // The first came through epoll; the nine after it were each written while the transport polled.
    assert.equal(t.framesPolled, 9);
  });
});

test('no busy polling while a request is unanswered, before INIT is decided, while paused, with busyPoll 0, or once stopped (clone queues)', { skip, timeout: 10_000 }, async () => {
  // Unanswered: the client of a request still in a handler sends nothing more, so polling would only burn CPU.
  await withFifo(5000, async (t, write, frames, setOnFrame) => {
    t.watchIdle!(() => false);
    t.serve(SIZE);
    setOnFrame((n) => { if (n < 5) write(frame(GETATTR)); });
    write(frame(GETATTR));
    await until(() => frames.length === 5, 'five requests');
    assert.equal(t.framesPolled, 0);
  });
  // Before serve(): frames after INIT must wait for the buffer size INIT agrees (Transport.serve).
  await withFifo(5000, async (t, write, frames, setOnFrame) => {
    t.watchIdle!(() => true);
    setOnFrame((n) => { if (n < 5) write(frame(GETATTR)); });
    write(frame(INIT));
    await until(() => frames.length === 5, 'five frames');
    assert.equal(t.framesPolled, 0);
  });
  // Paused (a handoff): nothing is read, by epoll or by polling, until resumed.
  await withFifo(5000, async (t, write, frames, setOnFrame) => {
    t.watchIdle!(() => true);
    t.serve(SIZE);
    setOnFrame((n) => { if (n === 1) { t.pause!(); write(frame(GETATTR)); } });
    write(frame(GETATTR));
    await until(() => frames.length === 1, 'the first request');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(frames.length, 1);
    assert.equal(t.framesPolled, 0);
    t.resume!();
    await until(() => frames.length === 2, 'the request read after resume');
  });
  await withFifo(0, async (t, write, frames, setOnFrame) => {
    t.watchIdle!(() => true);
    t.serve(SIZE);
    setOnFrame((n) => { if (n < 5) write(frame(GETATTR)); });
    write(frame(GETATTR));
    await until(() => frames.length === 5, 'five requests');
    assert.equal(t.framesPolled, 0);
  });
  // Stopped (clone queues started: other readers share the queue), after it had polled.
  await withFifo(5000, async (t, write, frames, setOnFrame) => {
    t.watchIdle!(() => true);
    t.serve(SIZE);
    setOnFrame((n) => { if (n < 3 || (n > 3 && n < 8)) write(frame(GETATTR)); });
    write(frame(GETATTR));
    await until(() => frames.length === 3, 'three requests');
    const polled = t.framesPolled ?? 0;
    assert.ok(polled > 0, 'it polled before');
    assert.equal(t.busyPolling, true);
    t.stopBusyPolling!();
    assert.equal(t.busyPolling, false);
    write(frame(GETATTR));
    await until(() => frames.length === 8, 'five more requests');
    assert.equal(t.framesPolled, polled, 'none polled after stopBusyPolling');
  });
});

test('busy polling hands the event loop back within milliseconds however fast requests come', { skip, timeout: 10_000 }, async () => {
  await withFifo(5000, async (t, write, frames, setOnFrame) => {
    t.watchIdle!(() => true);
    t.serve(SIZE);
    // A client that never pauses: every frame's handler sends the next one. A timer must still run.
    let stop = false;
    setOnFrame(() => { if (!stop) write(frame(GETATTR)); });
    const timerRan = new Promise<number>((resolve) => setTimeout(() => { stop = true; resolve(frames.length); }, 20));
    write(frame(GETATTR));
    const seen = await timerRan;
    assert.ok(seen > 1, `requests were served before the timer (${seen})`);
    assert.ok((t.framesPolled ?? 0) > 0);
  });
});

test('a bad busyPoll is refused before anything is mounted', async () => {
  const mountpoint = mkdtempSync(join(tmpdir(), 'tsfuse-busy-poll-mnt-'));
  try {
    for (const busyPoll of [-1, Number.NaN, 10_001, '50' as unknown as number]) {
      await assert.rejects(mount(mountpoint, {}, { busyPoll }), (e: NodeJS.ErrnoException) => {
        assert.equal(e.code, 'ERR_INVALID_ARG_VALUE');
        assert.match(e.message, /busyPoll must be a number of microseconds from 0 to 10000/);
        return true;
      });
    }
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${mountpoint} `), 'nothing mounted');
    assert.ok(existsSync(mountpoint));
  } finally {
    rmSync(mountpoint, { recursive: true, force: true });
  }
});
