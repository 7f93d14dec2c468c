/**
 * The experiment that led to clone queues (src/session/clone-queues.ts), kept for its figures in
 * bench/RESULTS.md; the shipped code is measured by bench/clone-queues.ts.
 *
 * Experiment: several /dev/fuse reader queues (FUSE_DEV_IOC_CLONE, libfuse's clone_fd) against the one
 * queue, with 4 parallel clients. Needs Node >= 26 (ioctl through node:ffi) and root.
 *
 *   node26 --import tsx bench/profile-clone.ts [--queues 2] [--seconds 2] [--rounds 3] [--mode forward|read-in-worker]
 *
 * Serves the passthrough (kernel passthrough off, so READs reach the daemon) from this process twice:
 * mount A reads /dev/fuse on the main thread only (the epoll transport); mount B adds QUEUES cloned
 * descriptors, each read by a worker thread that blocks in read(2). `forward`: the worker posts every
 * frame to the main thread, whose core answers it on the clone it came from (handlers run on the main
 * thread). `read-in-worker`: the worker answers READ itself (pread on the passthrough's descriptor, the
 * fh's low 24 bits, and writev to its clone), forwarding everything else: what a filesystem that opts in
 * with a worker-side READ could do. Clients: 4 stat loops, 4 sequential readers (128 KiB reads), 4
 * random 4 KiB readers. Prints aggregate throughput and this process's CPU per operation, per mount.
 */
import fs from 'node:fs';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { mountDevice } from '../src/mount/mount.ts';
import { parseMountOptions } from '../src/mount/options.ts';
import { SessionCore } from '../src/session/core.ts';
import { createTransport } from '../src/session/transport.ts';
import { readBufferSize } from '../src/session/session.ts';
import { createPassthrough } from '../src/passthrough/index.ts';
import { DevIoctl } from '../src/protocol/constants.ts';
import { buildLoadGen, runProcess } from './lib/loadgen.ts';
import { FOUR_CLIENT_WORKLOADS, fourClients } from './lib/four-clients.ts';
import { median } from './lib/analysis.ts';

const { values: args } = parseArgs({
  options: {
    queues: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    mode: { type: 'string', default: 'forward' },
  },
});
const QUEUES = Number(args.queues);
const SECONDS = Number(args.seconds);
const MODE = args.mode as 'forward' | 'read-in-worker';

interface Ffi { dlopen(p: null, d: Record<string, unknown>): { functions: Record<string, (...a: unknown[]) => unknown> } }
const ffi = process.getBuiltinModule?.('node:ffi') as Ffi | undefined;
if (ffi === undefined) { process.stderr.write('needs node:ffi (Node >= 26)\n'); process.exit(2); }
const sig = (a: string[], r: string) => ({ arguments: a, return: r, parameters: a, result: r });
const ioctl = ffi.dlopen(null, { ioctl: sig(['int32', 'uint64', 'buffer'], 'int32') }).functions['ioctl']!;

/** Opens /dev/fuse again and attaches it to the session of `fd` (fs/fuse/dev.c fuse_dev_ioctl_clone). */
function cloneFd(fd: number): number {
  const c = fs.openSync('/dev/fuse', fs.constants.O_RDWR);
  const arg = Buffer.alloc(4);
  arg.writeUInt32LE(fd);
  if (ioctl(c, BigInt(DevIoctl.CLONE), arg) !== 0) throw new Error('FUSE_DEV_IOC_CLONE failed');
  return c;
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { fd, size, readInWorker } = workerData;
const buf = Buffer.allocUnsafeSlow(size);
const out = Buffer.allocUnsafeSlow(size);
const hdr = Buffer.alloc(16);
for (;;) {
  let n;
  try { n = fs.readSync(fd, buf, 0, size, null); }
  catch (e) { if (e.code === 'EINTR' || e.code === 'EAGAIN' || e.code === 'ENOENT') continue; parentPort.postMessage({ error: e.code }); break; }
  // READ (15): fuse_read_in after the 40-byte header: fh u64 @40, offset u64 @48, size u32 @56.
  if (readInWorker && buf.readUInt32LE(4) === 15) {
    const fh = buf.readUInt32LE(40) & 0xffffff;
    const off = Number(buf.readBigUInt64LE(48));
    const want = buf.readUInt32LE(56);
    let got = 0, err = 0;
    try { got = fs.readSync(fh, out, 0, want, off); } catch (e) { err = -(e.errno ?? 5); if (err > 0) err = -err; }
    hdr.writeUInt32LE(16 + (err ? 0 : got), 0); hdr.writeInt32LE(err, 4);
    hdr.writeUInt32LE(buf.readUInt32LE(8), 8); hdr.writeUInt32LE(buf.readUInt32LE(12), 12);
    try { fs.writevSync(fd, err ? [hdr] : [hdr, out.subarray(0, got)]); } catch {}
    continue;
  }
  const f = new Uint8Array(n); f.set(buf.subarray(0, n));
  parentPort.postMessage(f, [f.buffer]);
}
`;

interface Served { dir: string; stop(): Promise<void> }

async function serve(mp: string, source: string, queues: number): Promise<Served> {
  const device = await mountDevice(mp, { options: parseMountOptions('default_permissions'), method: 'mount', cleanStale: false, watchdog: false });
  const ops = createPassthrough(source, { entryTimeout: 0, attrTimeout: 0, kernelPassthrough: false });
  const transport = createTransport(device.fd, readBufferSize(1 << 20), 'epoll');
  const workers: Worker[] = [];
  const clones: number[] = [];
  const core = new SessionCore(ops, {
    write: (iov) => transport.write(iov),
    writeAsync: (iov) => transport.writeAsync(iov),
    initDecided: (n) => transport.serve(n === undefined ? undefined : readBufferSize(n.maxWrite)),
  });
  transport.start((frame, sink) => core.handleFrame(frame, sink), () => {});
  const n = await core.initialized;
  for (let i = 0; i < queues; i++) {
    const cfd = cloneFd(device.fd);
    clones.push(cfd);
    const sink = { reply: (iov: readonly Uint8Array[]) => { try { fs.writevSync(cfd, iov as Uint8Array[]); return 0 as const; } catch (e) { return (e as NodeJS.ErrnoException).code ?? 'EIO'; } } };
    const w = new Worker(WORKER, { eval: true, workerData: { fd: cfd, size: readBufferSize(n.maxWrite), readInWorker: MODE === 'read-in-worker' } });
    w.on('message', (m: Uint8Array | { error: string }) => { if (m instanceof Uint8Array) core.handleFrame(Buffer.from(m.buffer, m.byteOffset, m.byteLength), sink); });
    w.on('error', () => {});
    workers.push(w);
  }
  return {
    dir: mp,
    async stop() {
      await device.unmount({ lazy: true }).catch(() => {});
      transport.close();
      for (const w of workers) void w.terminate();
      for (const c of clones) try { fs.closeSync(c); } catch { /* closed */ }
    },
  };
}

const base = mkdtempSync(join(tmpdir(), 'tsfuse-clone-'));
const source = join(base, 'source');
mkdirSync(source);
writeFileSync(join(source, 'file'), Buffer.alloc(4096, 1));
const lg = buildLoadGen();
await lg.run(['exec', 'dd', 'if=/dev/urandom', `of=${join(source, 'big')}`, 'bs=1M', 'count=256', 'status=none'], 120_000);
mkdirSync(join(base, 'a'));
mkdirSync(join(base, 'b'));
const mounts = [await serve(join(base, 'a'), source, 0), await serve(join(base, 'b'), source, QUEUES)];
const names = ['1 queue', `${QUEUES + 1} queues (${MODE})`];
const results = new Map<string, { rate: number[]; cpu: number[] }>();
try {
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const w of FOUR_CLIENT_WORKLOADS) {
      for (let i = 0; i < mounts.length; i++) {
        const k = (i + round) % mounts.length;
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        const units = await fourClients(lg, w, mounts[k]!.dir, SECONDS, ['--invalidate=1']);
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        const c = process.cpuUsage(c0);
        const key = `${w}/${k}`;
        const e = results.get(key) ?? { rate: [], cpu: [] };
        e.rate.push(units / wall);
        e.cpu.push((c.user + c.system) / units);
        results.set(key, e);
      }
    }
  }
  const lines = ['| workload (4 clients) | ' + names.map((n) => `${n}: units/s, µs CPU/unit`).join(' | ') + ' | ratio (throughput) |', '|---|---:|---:|---:|'];
  for (const w of FOUR_CLIENT_WORKLOADS) {
    const a = results.get(`${w}/0`)!;
    const b = results.get(`${w}/1`)!;
    const ratio = median(b.rate.map((x, i) => x / a.rate[i]!));
    lines.push(`| ${w} | ${Math.round(median(a.rate))}, ${median(a.cpu).toFixed(1)} | ${Math.round(median(b.rate))}, ${median(b.cpu).toFixed(1)} | ${ratio.toFixed(2)}× |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const m of mounts) await m.stop();
  lg.dispose();
  await runProcess('rm', ['-rf', base], 60_000).catch(() => {});
  process.exit(0);
}
