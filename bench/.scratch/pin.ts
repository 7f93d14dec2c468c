import { mkdtempSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildLoadGen, pinSelf, waitForQuiet } from '../lib/loadgen.ts';
import { serve, type BenchTransport } from '../lib/serve.ts';
import { statTree, totalCount, resetCounts } from '../lib/filesystems.ts';
const kinds = (process.argv[2] ?? 'epoll').split(',') as BenchTransport[];
const secs = Number(process.argv[3] ?? 1);
const lg = buildLoadGen();
const base = mkdtempSync('/tmp/tsfuse-bench-pin-'); const mp = join(base, 'mnt'); mkdirSync(mp);
const variants: [string, string | undefined, number | undefined][] = [['free', undefined, undefined], ['same0', '0', 0], ['split', '0', 1]];
for (let rep = 0; rep < 2; rep++) for (const kind of kinds) for (const [name, d, c] of variants) {
  pinSelf(d);
  const q = await waitForQuiet(0.15, 3000);
  const { ops, counts } = statTree();
  const s = await serve(kind, mp, ops);
  try {
    resetCounts(counts);
    const res = await lg.run(['stat', join(mp, 'file'), secs, 0.2], 60000, c);
    const [n, ns] = res.values;
    console.log(kind.padEnd(6), name.padEnd(6), 'stat/s', (n! / (ns! / 1e9)).toFixed(0).padStart(6), 'cpu µs/req', (res.daemonCpuUs / totalCount(counts)).toFixed(1).padStart(5), 'bg before', q.toFixed(2), 'bg during', res.backgroundCores.toFixed(2));
  } finally { await s.unmount(); }
}
pinSelf(undefined);
lg.dispose();
