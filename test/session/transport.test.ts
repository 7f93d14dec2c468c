// The transports' post-INIT phase over a FIFO (no /dev/fuse needed): read buffers take the size INIT
// agreed, and the worker reads nothing after an INIT frame until the session has decided it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, writeSync, rmSync } from 'node:fs';
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
