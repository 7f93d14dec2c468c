// The clone-queue worker (src/session/clone-queues.ts WORKER_SOURCE) on a socket standing in for its
// clone: an AF_UNIX SOCK_SEQPACKET pair carries one frame per read(2) and one reply per writev(2), as a
// /dev/fuse clone does, and lets the test make the worker's failures happen on demand, which a real mount
// cannot: a pread64 or pwrite64 that fails (a handle mapped to a directory, a write-only or a read-only
// descriptor) is answered with its errno, and a reply the "kernel" refuses (larger than the socket's send
// buffer: EMSGSIZE) is sent again as a bare EIO. Frames the worker does not answer reach the main thread,
// whose reply goes out on the same clone. Needs node:ffi: under Node 20 the cases run in a Node 26 child
// (TSFUSE_NODE26), as the last test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HandleDescriptors } from '../../src/ops/handle-descriptors.ts';
import { CloneQueues } from '../../src/session/clone-queues.ts';
import type { RequestSink } from '../../src/session/context.ts';
import { frameReply } from '../../src/protocol/header.ts';
import { PRE_INIT } from '../../src/protocol/negotiated.ts';
import { Errno } from '../../src/errors.ts';
import { bindLibc, signature } from '../../src/ffi.ts';
import { FakeKernel } from '../../src/testing.ts';
import { build } from '../../src/testing/builders.ts';
import { NODE_MAJOR as MAJOR, NODE26_SKIP, passUnderNode26 } from '../support/mount-helpers.ts';
import { openDescriptors } from '../support/descriptors.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const skip = MAJOR >= 26 ? undefined : 'needs node:ffi: run in a child under TSFUSE_NODE26 (last test)';

// Linux's values, the same on every architecture clone queues support.
const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;

const GETATTR = 3;
const READ = 15;
const WRITE = 16;

interface Reply { readonly unique: number; readonly error: number; readonly body: Buffer }

/** A SOCK_SEQPACKET pair through libc: [the worker's "clone" end (non-blocking), the test's "kernel" end]. */
function seqpacketPair(sendBuffer?: number): [number, number] {
  const libc = bindLibc('the clone-worker test needs', {
    socketpair: signature(['int32', 'int32', 'int32', 'buffer'], 'int32'),
    setsockopt: signature(['int32', 'int32', 'int32', 'buffer', 'uint32'], 'int32'),
  });
  if (typeof libc === 'string') throw new Error(libc);
  const sv = Buffer.alloc(8);
  assert.equal(libc.fn.socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0, `socketpair: errno ${libc.errno()}`);
  const [clone, kernel] = [sv.readInt32LE(0), sv.readInt32LE(4)];
  if (sendBuffer !== undefined) {
    const v = Buffer.alloc(4);
    v.writeInt32LE(sendBuffer);
    assert.equal(libc.fn.setsockopt(clone, SOL_SOCKET, SO_SNDBUF, v, 4), 0, `setsockopt: errno ${libc.errno()}`);
  }
  return [clone, kernel];
}

/** The next reply on the kernel end (non-blocking: polled), or a failure after 5 s. */
async function nextReply(kernel: number): Promise<Reply> {
  const buf = Buffer.alloc(256 * 1024);
  for (let i = 0; i < 1000; i++) {
    try {
      const n = readSync(kernel, buf, 0, buf.length, null);
      assert.equal(buf.readUInt32LE(0), n, 'a reply is one message whose header gives its length');
      return { unique: Number(buf.readBigUInt64LE(8)), error: -buf.readInt32LE(4) || 0, body: Buffer.from(buf.subarray(16, n)) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  assert.fail('no reply from the worker within 5 s');
}

let dir: string;
before(() => { if (skip === undefined) dir = mkdtempSync(join(tmpdir(), 'tsfuse-clone-worker-')); });
after(() => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }); });

/**
 * One worker on a socket pair, its handle table given `handles` (handle → descriptor); `forwarded` gets
 * each frame it passes to the main thread. Closes the queues (which close the worker's end), the kernel
 * end and the descriptors.
 */
async function withWorker(
  options: { handles: Record<number, number>; writes?: boolean; sendBuffer?: number },
  body: (io: { send: (f: Buffer) => void; kernel: number; forwarded: Buffer[]; clone: number }) => Promise<void>,
): Promise<void> {
  const table = new HandleDescriptors({ writes: options.writes ?? false });
  for (const [h, fd] of Object.entries(options.handles)) assert.ok(table.set(Number(h), fd));
  const [clone, kernel] = seqpacketPair(options.sendBuffer);
  const forwarded: Buffer[] = [];
  const warnings: string[] = [];
  let queues: CloneQueues | undefined;
  try {
    queues = CloneQueues.start({
      deviceFd: -1, workers: 1, workerIo: table, negotiated: PRE_INIT, bufferSize: 256 * 1024,
      deliver: (frame: Buffer, sink: RequestSink) => {
        forwarded.push(Buffer.from(frame));
        // The main thread's answer to a forwarded frame: written on the clone it came from.
        assert.equal(sink.reply(frameReply(frame.readUInt32LE(8), frame.readUInt32LE(12), Errno.ENOSYS, [])), 0);
      },
      onWarning: (m) => warnings.push(m),
      openQueue: () => clone,
    });
    assert.equal(queues.workers, 1);
    await body({ send: (f) => { writeSync(kernel, f); }, kernel, forwarded, clone });
  } finally {
    await queues?.close();
    closeSync(kernel);
    for (const fd of Object.values(options.handles)) closeSync(fd);
  }
  assert.throws(() => fstatSync(clone), { code: 'EBADF' }, 'the queue closed its descriptor once the worker exited');
  assert.deepEqual(warnings, []);
}

const k = new FakeKernel({});
const frame = (opcode: number, unique: number, body: Uint8Array | readonly Uint8Array[]): Buffer =>
  k.frame(opcode, 2, body, { unique });

test('a READ whose pread64 fails is answered with its errno: a directory (EISDIR), a write-only descriptor (EBADF); a good one with the bytes', { skip }, async () => {
  const file = join(dir, 'data');
  const content = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
  writeFileSync(file, content);
  const handles = { 7: openSync(dir, 'r'), 8: openSync(file, 'w'), 9: openSync(file, 'r') };
  // 'w' truncated the file: write it again through the read-only one's path.
  writeFileSync(file, content);
  await withWorker({ handles }, async ({ send, kernel, forwarded }) => {
    send(frame(READ, 101, build.read({ fh: 7, offset: 0, size: 4096 })));
    assert.deepEqual(await nextReply(kernel), { unique: 101, error: Errno.EISDIR, body: Buffer.alloc(0) });
    send(frame(READ, 102, build.read({ fh: 8, offset: 0, size: 4096 })));
    assert.deepEqual(await nextReply(kernel), { unique: 102, error: Errno.EBADF, body: Buffer.alloc(0) });
    send(frame(READ, 103, build.read({ fh: 9, offset: 100, size: 1000 })));
    assert.deepEqual(await nextReply(kernel), { unique: 103, error: 0, body: content.subarray(100, 1100) });
    // Short at the end of the file, as pread(2) is.
    send(frame(READ, 104, build.read({ fh: 9, offset: 4000, size: 1000 })));
    assert.deepEqual(await nextReply(kernel), { unique: 104, error: 0, body: content.subarray(4000) });
    assert.deepEqual(forwarded, [], 'the worker answered every READ of a mapped handle itself');
  });
});

test('a WRITE whose pwrite64 fails is answered with its errno (a read-only descriptor: EBADF); a good one with the count written', { skip }, async () => {
  const file = join(dir, 'written');
  writeFileSync(file, 'x'.repeat(10));
  const handles = { 5: openSync(file, 'r'), 6: openSync(file, 'r+') };
  await withWorker({ handles, writes: true }, async ({ send, kernel, forwarded }) => {
    send(frame(WRITE, 201, build.write({ fh: 5, offset: 0, data: 'abc' })));
    assert.deepEqual(await nextReply(kernel), { unique: 201, error: Errno.EBADF, body: Buffer.alloc(0) });
    send(frame(WRITE, 202, build.write({ fh: 6, offset: 4, data: 'abc' })));
    const ok = await nextReply(kernel);
    assert.deepEqual([ok.unique, ok.error, ok.body.length, ok.body.readUInt32LE(0)], [202, 0, 8, 3], 'fuse_write_out: size 3');
    assert.equal(readFileSync(file, 'utf8'), 'xxxxabcxxx');
    assert.deepEqual(forwarded, []);
  });
});

test('a reply the kernel refuses (EMSGSIZE here) is sent again as a bare EIO, and the worker goes on serving', { skip }, async () => {
  const file = join(dir, 'big');
  const content = Buffer.alloc(64 * 1024, 0x5a);
  writeFileSync(file, content);
  // A send buffer of 4 KiB (the kernel doubles it): a 64 KiB reply cannot be one message, a 16-byte one can.
  await withWorker({ handles: { 3: openSync(file, 'r') }, sendBuffer: 4096 }, async ({ send, kernel }) => {
    send(frame(READ, 301, build.read({ fh: 3, offset: 0, size: 64 * 1024 })));
    assert.deepEqual(await nextReply(kernel), { unique: 301, error: Errno.EIO, body: Buffer.alloc(0) });
    send(frame(READ, 302, build.read({ fh: 3, offset: 10, size: 100 })));
    assert.deepEqual(await nextReply(kernel), { unique: 302, error: 0, body: content.subarray(10, 110) });
  });
});

test('frames the worker does not answer reach the main thread, whose reply goes out on the same clone: another opcode, an unknown handle, a WRITE without writes', { skip }, async () => {
  const file = join(dir, 'other');
  writeFileSync(file, 'hello');
  await withWorker({ handles: { 4: openSync(file, 'r+') } }, async ({ send, kernel, forwarded }) => {
    const frames = [
      frame(GETATTR, 401, build.getattr({})),
      frame(READ, 402, build.read({ fh: 99, offset: 0, size: 10 })),
      frame(WRITE, 403, build.write({ fh: 4, offset: 0, data: 'HELLO' })),
    ];
    for (const f of frames) {
      send(f);
      const r = await nextReply(kernel);
      assert.deepEqual([r.unique, r.error], [Number(f.readBigUInt64LE(8)), Errno.ENOSYS]);
    }
    assert.deepEqual(forwarded, frames, 'each frame reached the main thread intact');
    assert.equal(readFileSync(file, 'utf8'), 'hello', 'the WRITE was not done by the worker');
  });
});

test('a queue that cannot be opened: the first throws and leaves nothing open; a later one warns, and the queues opened serve', { skip }, async () => {
  const table = new HandleDescriptors();
  const base = { deviceFd: -1, workerIo: table, negotiated: PRE_INIT, bufferSize: 64 * 1024, deliver: () => {} };
  const eventfds = (): number => openDescriptors((target) => target === 'anon_inode:[eventfd]');
  const openBefore = eventfds();
  assert.throws(() => CloneQueues.start({
    ...base, workers: 2, onWarning: () => assert.fail('no warning when the first queue fails'),
    openQueue: () => { throw new Error('opening /dev/fuse for queue 1 failed: EACCES'); },
  }), { message: 'opening /dev/fuse for queue 1 failed: EACCES' });
  assert.equal(eventfds(), openBefore, 'the eventfd was closed again');

  const [clone, kernel] = seqpacketPair();
  const warnings: string[] = [];
  const queues = CloneQueues.start({
    ...base, workers: 3, onWarning: (m) => warnings.push(m),
    openQueue: (i) => { if (i === 0) return clone; throw new Error(`FUSE_DEV_IOC_CLONE failed with errno ${Errno.EINVAL}`); },
  });
  try {
    assert.equal(queues.workers, 1);
    assert.deepEqual(warnings, [`clone_fd: FUSE_DEV_IOC_CLONE failed with errno ${Errno.EINVAL}; serving with 2 queue(s)`]);
  } finally {
    await queues.close();
    closeSync(kernel);
  }
});

test('under Node >= 26 (TSFUSE_NODE26): the node:ffi cases above pass there', { skip: MAJOR >= 26 ? 'this Node has node:ffi: run above' : NODE26_SKIP, timeout: 120_000 }, () => {
  assert.match(passUnderNode26(THIS_FILE), /^# pass 5$/m);
});
