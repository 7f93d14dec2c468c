// Busy polling in the epoll transport, over a FIFO (no /dev/fuse needed): after a frame whose request was
// answered, the transport reads the next one itself instead of sleeping in epoll; never while a request
// is unanswered, before INIT is decided, while paused, or once stopped (clone queues). And a bad busyPoll is refused before mounting.
// Polling reads through fs.readSync, or through libc's read once node:ffi is in use (Node 26: the last
// tests, as node:ffi stays in use once bound), then with no exception per empty read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs, { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport, type Transport } from '../../src/session/transport.ts';
import { mount } from '../../src/session/fuse-mount.ts';
import { pollRead } from '../../src/session/poll-read.ts';
import { bindLibc, ffiInUse, signature } from '../../src/ffi.ts';
import { NODE_MAJOR as MAJOR, NODE26_SKIP, passUnderNode26 } from '../support/mount-helpers.ts';

const THIS_FILE = fileURLToPath(import.meta.url);

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

/**
 * `count` requests once serving, each sent once the last was delivered (a client waiting for each reply),
 * with busy polling at `busyPoll` µs and every request answered or not (`idle`): how many were polled.
 */
async function polledOf(count: number, busyPoll: number, idle: boolean): Promise<number> {
  let polled = -1;
  await withFifo(busyPoll, async (t, write, frames, setOnFrame) => {
    t.watchIdle!(() => idle);
    t.serve(SIZE);
    setOnFrame((n) => { if (n < count) write(frame(GETATTR)); });
    write(frame(GETATTR));
    await until(() => frames.length === count, `${count} requests`);
    polled = t.framesPolled ?? 0;
  });
  return polled;
}

const hasMkfifo = (() => { try { execFileSync('sh', ['-c', 'command -v mkfifo']); return true; } catch { return false; } })();
const skip = hasMkfifo ? false : 'needs mkfifo (coreutils)';

test('busy polling takes the next frame of a client that waits for each reply, without a wake-up', { skip, timeout: 10_000 }, async () => {
  await polledOf(10, 5000, true); // compiles the path (see the fs.readSync case below)
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

test('no busy polling while a request is unanswered, before INIT is decided, while paused, with busyPoll 0, or while pollOnlyWhile holds it back (clone queues)', { skip, timeout: 10_000 }, async () => {
  // Unanswered: the client of a request still in a handler sends nothing more, so polling would only burn CPU.
  assert.equal(await polledOf(5, 5000, false), 0);
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
  // busyPoll 0: never.
  assert.equal(await polledOf(5, 0, true), 0);
  // Held back (clone queues started: other readers share the queue), after it had polled; then allowed again.
  await withFifo(5000, async (t, write, frames, setOnFrame) => {
    t.watchIdle!(() => true);
    t.serve(SIZE);
    setOnFrame((n) => { if (n < 3 || (n > 3 && n < 8) || (n > 8 && n < 13)) write(frame(GETATTR)); });
    write(frame(GETATTR));
    await until(() => frames.length === 3, 'three requests');
    const polled = t.framesPolled ?? 0;
    assert.ok(polled > 0, 'it polled before');
    assert.equal(t.busyPolling, true);
    let mayPoll = false;
    t.pollOnlyWhile!(() => mayPoll);
    assert.equal(t.busyPolling, false);
    write(frame(GETATTR));
    await until(() => frames.length === 8, 'five more requests');
    assert.equal(t.framesPolled, polled, 'none polled while held back');
    mayPoll = true;
    assert.equal(t.busyPolling, true);
    write(frame(GETATTR));
    await until(() => frames.length === 13, 'five more requests');
    assert.ok((t.framesPolled ?? 0) > polled, 'it polls again once allowed');
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

/** Counts fs.readSync calls while `body` runs (the transport calls it through the module object). */
async function countingReadSync(body: () => Promise<void>): Promise<number> {
  const original = fs.readSync;
  let calls = 0;
  fs.readSync = ((...args: Parameters<typeof fs.readSync>) => { calls++; return original(...args); }) as typeof fs.readSync;
  try {
    await body();
  } finally {
    fs.readSync = original;
  }
  return calls;
}

test('without node:ffi in use, polling reads through fs.readSync', { skip: skip || (ffiInUse() !== undefined && 'node:ffi is in use in this process') }, async () => {
  assert.equal(pollRead(), undefined, 'pollRead never loads node:ffi itself');
  // A first run compiles the path: its first poll could outlast the 2 ms a poll may hold the thread, and
  // epoll would then read the next frame (2 runs in ~33 failed so).
  await polledOf(10, 5000, true);
  let polled = 0;
  const calls = await countingReadSync(async () => { polled = await polledOf(10, 5000, true); });
  assert.equal(polled, 9);
  assert.ok(calls >= 9, `fs.readSync read the polled frames (${calls} calls)`);
});

test('with node:ffi in use: libc read returns bytes or minus the errno, with no exception', { skip: MAJOR >= 26 ? skip : 'needs node:ffi: run in a child under TSFUSE_NODE26 (last test)' }, () => {
  // Any binding puts node:ffi in use, as the passthrough's do.
  assert.notEqual(typeof bindLibc('the test needs', { getpid: signature([], 'int32') }), 'string');
  const libc = pollRead();
  assert.ok(libc !== undefined, 'pollRead binds read once node:ffi is in use');
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-poll-read-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const rfd = openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  try {
    const buffer = Buffer.allocUnsafeSlow(64);
    const at = libc.pointerOf(buffer);
    assert.equal(libc.read(rfd, at, buffer.length), -11, 'EAGAIN on an empty non-blocking FIFO');
    writeSync(rfd, Buffer.from('frame bytes'));
    assert.equal(libc.read(rfd, at, buffer.length), 11);
    assert.equal(buffer.toString('latin1', 0, 11), 'frame bytes');
    assert.equal(libc.read(-1, at, buffer.length), -9, 'EBADF');
  } finally {
    closeSync(rfd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with node:ffi in use, polling reads through libc: frames intact across buffer swaps, no fs.readSync', { skip: MAJOR >= 26 ? skip : 'needs node:ffi: run in a child under TSFUSE_NODE26 (last test)', timeout: 10_000 }, async () => {
  assert.notEqual(typeof bindLibc('the test needs', { getpid: signature([], 'int32') }), 'string');
  await polledOf(10, 5000, true); // compiles the path (see the fs.readSync case)
  // Each empty read is followed by a yield of the CPU (poll-read.ts yieldCpu), counted here.
  const libc = pollRead()!;
  const yieldCpu = libc.yieldCpu;
  let yields = 0;
  libc.yieldCpu = () => { yields++; yieldCpu(); };
  let polled = 0;
  let calls = 0;
  try {
    calls = await countingReadSync(async () => { polled = await polledOf(10, 5000, true); });
  } finally {
    libc.yieldCpu = yieldCpu;
  }
  assert.equal(polled, 9);
  assert.equal(calls, 0, 'no fs.readSync while polling');
  assert.ok(yields > 0, 'the CPU was yielded between empty reads');
  // Frames above the copy limit (16 KiB) are lent: the next read goes into another buffer, whose address
  // the poll takes anew. Each frame's bytes must arrive whole, big and small alternating.
  const big = 40_000;
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-busy-poll-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const t = createTransport(openSync(path, 'r+'), big + 4096, 'epoll', 5000);
  const wfd = openSync(path, 'r+');
  const seen: string[] = [];
  const expected: string[] = [];
  const send = (i: number): void => {
    const f = frame(GETATTR, i % 2 === 0 ? big : 64);
    f.fill(0x41 + i, 8);
    expected.push(`${f.length}:${String.fromCharCode(0x41 + i)}`);
    writeSync(wfd, f);
  };
  // Which frames polling read (framesPolled counts up before the frame is handed over). How many depends
  // on the machine: a poll gives the event loop back after 2 ms, and epoll reads the next frame then.
  const polledAfterSwap: number[] = [];
  let polledSoFar = 0;
  try {
    t.watchIdle!(() => true);
    t.start((f, sink) => {
      const uniform = f.subarray(8).every((b) => b === f[8]);
      seen.push(`${f.length}:${uniform ? String.fromCharCode(f[8]!) : 'torn'}`);
      const polled = (t.framesPolled ?? 0) > polledSoFar;
      polledSoFar = t.framesPolled ?? 0;
      // An odd frame follows a big (lent) one: it was read into another buffer than the frame before.
      if (polled && seen.length % 2 === 0) polledAfterSwap.push(seen.length - 1);
      sink.release?.();
      if (seen.length < 12) send(seen.length);
    }, () => {});
    t.serve(big + 4096);
    send(0);
    await until(() => seen.length === 12, 'twelve frames');
    assert.deepEqual(seen, expected);
    assert.ok(polledAfterSwap.length > 0, `some frame after a buffer swap was read by polling (polled ${t.framesPolled} of 11)`);
  } finally {
    t.close();
    closeSync(wfd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('under Node >= 26 (TSFUSE_NODE26): the node:ffi cases above pass there', { skip: MAJOR >= 26 ? 'this Node has node:ffi: run above' : NODE26_SKIP, timeout: 120_000 }, () => {
  assert.match(passUnderNode26(THIS_FILE, 'with node:ffi in use'), /^# pass 2$/m);
});
