/**
 * The JavaScript cost of one request, without the kernel: LOOKUP and GETATTR frames (what a stat(2)
 * with timeouts 0 sends) fed straight into `SessionCore.handleFrame` of the do-nothing filesystem
 * (bench/lib/filesystems.ts statTree), replies dropped. Optionally READ frames into the passthrough.
 *
 *   node --import tsx bench/profile-core.ts [ITERATIONS] [TREE…]
 *
 * Prints ns per request (wall time on one core) for each tsfuse tree given (default: this one), the
 * trees taking turns so that a shared machine's noise hits them alike.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RequestSink } from '../src/session/context.ts';
import type { LowLevelOperations } from '../src/index.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const trees = process.argv.length > 3 ? process.argv.slice(3) : ['.'];
const IN_HEADER = 40;

function frame(opcode: number, nodeid: number, body: Buffer, unique: number): Buffer {
  const b = Buffer.alloc(IN_HEADER + body.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeUInt32LE(unique, 8);
  b.writeUInt32LE(nodeid, 16);
  body.copy(b, IN_HEADER);
  return b;
}

let replies = 0;
let bytes = 0;
const sink: RequestSink = { reply: (iov) => { replies++; for (const p of iov) bytes += p.byteLength; return 0; } };
const lookup = frame(1, 1, Buffer.from('file\0'), 100);
const getattr = frame(3, 2, Buffer.alloc(16), 102);

interface Core { handleFrame(frame: Buffer, sink: RequestSink): void }
const cores: Core[] = [];
for (const tree of trees) {
  const url = (p: string): string => pathToFileURL(resolve(tree, p)).href;
  const { FakeKernel } = (await import(url('src/testing.ts'))) as { FakeKernel: new (ops: LowLevelOperations) => { init(): Promise<unknown>; core: Core } };
  const { statTree } = (await import(url('bench/lib/filesystems.ts'))) as { statTree(): { ops: LowLevelOperations } };
  const k = new FakeKernel(statTree().ops);
  await k.init();
  cores.push(k.core);
}

function run(core: Core, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    core.handleFrame(Buffer.from(lookup), sink);
    core.handleFrame(Buffer.from(getattr), sink);
  }
  return Number(process.hrtime.bigint() - t0) / (2 * n);
}
for (const c of cores) run(c, Math.min(N, 100_000));
const results: number[][] = cores.map(() => []);
for (let i = 0; i < 5; i++) cores.forEach((c, j) => { results[j]!.push(run(c, N / 5)); });
trees.forEach((t, j) => {
  const r = results[j]!.sort((a, b) => a - b);
  process.stdout.write(`${t}: ns per request (LOOKUP/GETATTR, do-nothing fs, no kernel): min ${r[0]!.toFixed(0)} median ${r[2]!.toFixed(0)}\n`);
});
process.stdout.write(`replies ${replies}, ${bytes} bytes\n`);
