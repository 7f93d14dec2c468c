// The transports' post-INIT phase over a FIFO (no /dev/fuse needed): read buffers take the size INIT
// agreed, and the worker reads nothing after an INIT frame until the session has decided it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, writeSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport, type TransportKind, type Transport } from '../../src/session/transport.ts';

const SMALL = 8192;
const BIG = 65536;

/** A frame whose opcode field (bytes 4..8) says `opcode`. */
function frame(length: number, opcode: number): Buffer {
  const b = Buffer.alloc(length, 0x11);
  b.writeUInt32LE(length, 0);
  b.writeUInt32LE(opcode, 4);
  return b;
}

async function until(cond: () => boolean, what: string, extra?: () => string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for ${what}${extra ? `: ${extra()}` : ""}`);
}

async function withFifo(kind: TransportKind, body: (t: Transport, write: (b: Buffer) => void, frames: number[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-transport-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  // O_RDWR on a FIFO never blocks in open (Linux); the transport owns `rfd` and closes it.
  const rfd = openSync(path, 'r+');
  const wfd = openSync(path, 'r+');
  const t = createTransport(rfd, SMALL, kind);
  const frames: number[] = [];
  try {
    t.start((f, sink) => { frames.push(f.length); sink.release?.(); }, () => {});
    await body(t, (b) => { writeSync(wfd, b); }, frames);
  } finally {
    t.close();
    // Closing the fd does not wake a read(2) already blocked on it (the worker's): a byte does, and the
    // worker then sees the closed fd and ends, so the test process can exit.
    writeSync(wfd, Buffer.alloc(1));
    closeSync(wfd);
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasMkfifo = (() => { try { execFileSync('sh', ['-c', 'command -v mkfifo']); return true; } catch { return false; } })();
const skip = hasMkfifo ? false : 'needs mkfifo (coreutils)';

test('epoll: after serve(), frames are read into buffers of the agreed size', { skip, timeout: 10_000 }, async () => {
  await withFifo('epoll', async (t, write, frames) => {
    assert.equal(t.kind, 'epoll');
    write(frame(100, 26));
    await until(() => frames.length === 1, 'the INIT frame');
    // Before serve(): a 20000-byte write comes in pieces of the small buffer.
    write(frame(20_000, 16));
    await until(() => frames.reduce((a, b) => a + b, 0) === 20_100, 'the split frame');
    assert.deepEqual(frames.slice(1), [SMALL, SMALL, 20_000 - 2 * SMALL]);
    t.serve(BIG);
    frames.length = 0;
    write(frame(20_000, 16));
    await until(() => frames.length === 1, "the whole frame", () => frames.join(","));
    assert.deepEqual(frames, [20_000]);
  });
});

test('worker: nothing is read after an INIT frame until serve(), then with the agreed size', { skip, timeout: 10_000 }, async () => {
  await withFifo('worker', async (t, write, frames) => {
    assert.equal(t.kind, 'worker');
    write(frame(100, 26));
    await until(() => frames.length === 1, 'the INIT frame');
    write(frame(20_000, 16));
    // The worker holds: were it reading, the frame would arrive within these 100 ms (in 8 KiB pieces).
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(frames, [100]);
    t.serve(BIG);
    await until(() => frames.length === 2, "the frame after serve()", () => frames.join(","));
    assert.deepEqual(frames, [100, 20_000]);
  });
});

test('epoll: a reply goes out as one write of all its parts; bad parts and a closed transport give errno names', { skip, timeout: 10_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-transport-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const tfd = openSync(path, 'r+');
  const rfd = openSync(path, 'r+');
  const t = createTransport(tfd, SMALL, 'epoll');
  try {
    // Not started: replies can be written before reading begins (and the handle is not yet a socket).
    assert.equal(t.write([Buffer.from('ab'), new Uint8Array([0x63, 0x64]), Buffer.alloc(0), Buffer.from('e')]), 0);
    const got = Buffer.alloc(16);
    assert.equal(readSync(rfd, got, 0, got.length, null), 5);
    assert.equal(got.subarray(0, 5).toString(), 'abcde');
    t.start(() => {}, () => {});
    assert.equal(t.write([Buffer.from('xyz')]), 0);
    assert.equal(readSync(rfd, got, 0, got.length, null), 3);
    assert.equal(got.subarray(0, 3).toString(), 'xyz');
    // A part that is not bytes is refused with a code, never handed to the native writer.
    const bad = t.write([Buffer.from('a'), 'b' as unknown as Uint8Array]);
    assert.equal(typeof bad, 'string');
    assert.notEqual(bad, 0);
  } finally {
    t.close();
    assert.equal(t.write([Buffer.from('late')]), 'EBADF');
    closeSync(rfd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('epoll: a write the fd refuses comes back as its errno name', { skip, timeout: 10_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-transport-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const wfd = openSync(path, 'r+');
  // A read-only descriptor: writev(2) fails with EBADF from the kernel, not from the closed check.
  const tfd = openSync(path, 'r');
  const t = createTransport(tfd, SMALL, 'epoll');
  try {
    assert.equal(t.write([Buffer.from('x')]), 'EBADF');
  } finally {
    t.close();
    closeSync(wfd);
    rmSync(dir, { recursive: true, force: true });
  }
});
