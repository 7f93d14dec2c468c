import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildLoadGen } from '../lib/loadgen.ts';
import { serve, type BenchTransport } from '../lib/serve.ts';
import { statTree, totalCount } from '../lib/filesystems.ts';
const kind = (process.argv[2] ?? 'epoll') as BenchTransport;
const secs = Number(process.argv[3] ?? 3);
const lg = buildLoadGen();
const base = mkdtempSync('/tmp/tsfuse-bench-prof-'); const mp = join(base, 'mnt'); mkdirSync(mp);
const { ops, counts } = statTree();
const s = await serve(kind, mp, ops);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
try {
  const res = await lg.run(['stat', join(mp, 'file'), secs, 0.2], 60000); const [n, ns] = res.values; console.log('bg', res.backgroundCores.toFixed(2));
  const cpu = process.cpuUsage(cpu0); const wall = performance.now() - t0;
  console.log(kind, 'stat/s', (n! / (ns! / 1e9)).toFixed(0), 'requests', totalCount(counts), 'cpu user ms', (cpu.user/1000).toFixed(0), 'sys ms', (cpu.system/1000).toFixed(0), 'wall ms', wall.toFixed(0), 'µs cpu/request', ((cpu.user+cpu.system)/totalCount(counts)).toFixed(2));
} finally { await s.unmount(); lg.dispose(); }
