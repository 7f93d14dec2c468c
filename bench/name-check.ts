/**
 * The cost of checking request names: LOOKUP frames through `decodeRequest` and `checkRequestNames`
 * (src/session/validate.ts), the only code the check adds to a request, for each tsfuse tree given
 * (default: this one), the trees taking turns round by round. CPU time (process.cpuUsage), not wall time,
 * so a shared machine's other load counts less.
 *
 *   node --import tsx bench/name-check.ts [ITERATIONS] [TREE…]      NAMES=file,a.txt to choose the names
 *
 * For an A/B, give a copy of the tree with the change undone, and one with the check disabled, as more trees.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const N = Number(process.argv[2] ?? 10_000_000);
const trees = process.argv.length > 3 ? process.argv.slice(3) : ['.'];
const names = (process.env['NAMES'] ?? 'file').split(',');
const ROUNDS = 31;
const IN_HEADER = 40;
const LOOKUP = 1;

type Check = (row: unknown, args: unknown, frame: Buffer, header: unknown) => string | undefined;
const runs: (() => number)[] = [];
for (const tree of trees) {
  const url = (p: string): string => pathToFileURL(resolve(tree, p)).href;
  const P = (await import(url('src/protocol/index.ts'))) as typeof import('../src/protocol/index.ts');
  // Older trees took (row, args, frame, header); extra arguments are ignored by newer ones.
  const { checkRequestNames } = (await import(url('src/session/validate.ts'))) as { checkRequestNames: Check };
  const negotiated = { ...P.PRE_INIT, minor: 45 };
  const reader = new P.FrameReader();
  const frames = names.map((name) => {
    const b = Buffer.alloc(IN_HEADER + Buffer.byteLength(name) + 1);
    b.writeUInt32LE(b.length, 0);
    b.writeUInt32LE(LOOKUP, 4);
    b.writeUInt32LE(2, 8);
    b.writeUInt32LE(1, 16);
    b.write(name, IN_HEADER);
    return b;
  });
  let i = 0;
  runs.push(() => {
    const frame = frames[i++ % frames.length]!;
    const d = P.decodeRequest(frame, negotiated, reader);
    if ('error' in d) return 1;
    return checkRequestNames(d.row, d.args, frame, d.header) === undefined ? 0 : 1;
  });
}

function nsPerFrame(run: () => number, n: number): number {
  let refused = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) refused += run();
  const d = process.cpuUsage(t0);
  if (refused !== 0) throw new Error(`${refused} of the frames were refused`);
  return ((d.user + d.system) * 1000) / n;
}

for (const run of runs) nsPerFrame(run, 1_000_000);
const results: number[][] = runs.map(() => []);
for (let r = 0; r < ROUNDS; r++) runs.forEach((run, j) => { results[j]!.push(nsPerFrame(run, Math.ceil(N / ROUNDS))); });
trees.forEach((tree, j) => {
  const s = results[j]!.sort((a, b) => a - b);
  process.stdout.write(`${tree}: ns per LOOKUP (${names.join(',')}), decode + name check: min ${s[0]!.toFixed(1)} median ${s[s.length >> 1]!.toFixed(1)}\n`);
});
