/**
 * Bench-only variants of tsfuse's two transports, each differing from src/session/transport.ts in one
 * allocation decision, to measure what that decision costs (bench/experiments.ts):
 *  - 'epoll-nocopy': like 'epoll', but hands SessionCore a view of the read buffer instead of copying
 *    every frame into a fresh Buffer. Only valid for handlers that settle synchronously (all the bench
 *    filesystems do): an async handler would see its WRITE data overwritten by the next read.
 *  - 'worker-rightsized': like 'worker', but the worker reads into one reused buffer and transfers a
 *    copy of just the frame, instead of allocating a new max-size (~1 MiB) buffer for every request.
 */
import fs from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { SessionCore } from '../../src/session/core.ts';
import { readBufferSize } from '../../src/session/session.ts';
import { mountDevice, parseMountOptions } from '../../src/mount/index.ts';
import { applyFsOptions, initWantsFrom } from '../../src/ops/fs-options.ts';
import { INIT_DEFAULTS } from '../../src/protocol/init.ts';
import type { LowLevelOperations } from '../../src/ops/lowlevel.ts';
import type { Served } from './serve.ts';

export type Variant = 'epoll-nocopy' | 'worker-rightsized';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { fd, size } = workerData;
const buf = Buffer.allocUnsafeSlow(size);
for (;;) {
  let n;
  try { n = fs.readSync(fd, buf, 0, size, null); }
  catch (e) { if (e.code === 'EINTR' || e.code === 'EAGAIN' || e.code === 'ENOENT') continue; parentPort.postMessage({ error: e.code }); break; }
  const frame = new Uint8Array(n);
  frame.set(buf.subarray(0, n));
  parentPort.postMessage(frame, [frame.buffer]);
}
`;

export async function mountVariant(kind: Variant, mountpoint: string, ops: LowLevelOperations, options?: string): Promise<Served> {
  const parsed = parseMountOptions(options ?? []);
  const wants = initWantsFrom(parsed.fs);
  const device = await mountDevice(mountpoint, { options: parsed, method: 'mount' });
  const fd = device.fd;
  let closed = false;
  const core = new SessionCore(applyFsOptions(ops, parsed.fs), {
    write: (iov) => {
      if (closed) return 'EBADF';
      try { fs.writevSync(fd, iov as Uint8Array[]); return 0; } catch (e) { return (e as NodeJS.ErrnoException).code ?? 'EIO'; }
    },
    writeAsync: (iov) => new Promise((resolve) => fs.writev(fd, iov as Uint8Array[], (err) => resolve(err ? (err.code ?? 'EIO') : 0))),
  }, { wants, capabilities: wants.want });
  const size = readBufferSize(wants.maxWrite ?? INIT_DEFAULTS.maxWrite);
  let ended!: () => void;
  const done = new Promise<void>((r) => { ended = r; });
  let stop: () => void;
  if (kind === 'epoll-nocopy') {
    const binding = (process as unknown as { binding(n: string): { Pipe: new (t: number) => { open(fd: number): number }; constants: { SOCKET: number } } }).binding('pipe_wrap');
    const handle = new binding.Pipe(binding.constants.SOCKET);
    if (handle.open(fd) !== 0) throw new Error('pipe_wrap open failed');
    const buffer = Buffer.allocUnsafeSlow(size);
    const socket = new net.Socket({
      handle, readable: true, writable: false,
      onread: { buffer, callback: (n: number) => { core.handleFrame(buffer.subarray(0, n)); return true; } },
    } as unknown as net.SocketConstructorOpts);
    const end = () => { closed = true; ended(); };
    socket.on('error', end).on('end', end).on('close', end);
    stop = () => { closed = true; socket.destroy(); };
  } else {
    const worker = new Worker(WORKER, { eval: true, workerData: { fd, size } });
    worker.on('message', (m: Uint8Array | { error: string }) => {
      if (m instanceof Uint8Array) core.handleFrame(Buffer.from(m.buffer, m.byteOffset, m.byteLength));
      else { closed = true; ended(); }
    });
    worker.on('exit', () => { closed = true; ended(); });
    stop = () => { closed = true; try { fs.closeSync(fd); } catch { /* closed */ } void worker.terminate(); };
  }
  await core.initialized;
  let unmounting: Promise<void> | undefined;
  return {
    transport: kind,
    mountpoint,
    unmount: () => (unmounting ??= device.unmount().then(() => Promise.race([done, new Promise<void>((r) => setTimeout(r, 2000))])).finally(stop)),
  };
}
